//! `TerminateEipAddress {eipId}`: moves an AVAILABLE, ASSOCIATED or
//! CREATE_FAILED POSTPAID EIP to the recycle bin (status RECYCLE; its
//! address goes back to the pool). Refusals, in the order checked:
//! unknown id -> 404 `INVALID_EIP_NOT_FOUND`; already RECYCLE -> 403
//! `OPERATION_DENIED_EIP_RECYCLED`; PREPAID -> 403
//! `OPERATION_DENIED_EIP_SUBSCRIPTION`; CREATING -> 403
//! `OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT`.

use std::time::Instant;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ZenlayerEmulator;
use super::error::{
    ApiError, INVALID_EIP_NOT_FOUND, OPERATION_DENIED_EIP_RECYCLED,
    OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT, OPERATION_DENIED_EIP_SUBSCRIPTION, printable,
};
use super::params::Params;
use super::state::TerminateRefusal;

/// The `response` object: nothing besides `requestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terminated {}

/// Validates and performs one call.
pub fn terminate(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<Terminated, ApiError> {
    let p = Params::root(body, emulator.reading);
    p.only(&["eipId"])?;
    let eip_id = p.req_str("eipId")?;
    let result = emulator.store().terminate(eip_id, Instant::now());
    let shown = printable(eip_id);
    match result {
        Ok(()) => {
            tracing::info!(eip_id = %shown, "emulated zenlayer EIP terminated");
            Ok(Terminated {})
        }
        Err(TerminateRefusal::NotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            INVALID_EIP_NOT_FOUND,
            format!("The specified eipId `{shown}` is not found."),
        )),
        Err(TerminateRefusal::Recycled) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            OPERATION_DENIED_EIP_RECYCLED,
            format!("The EIP `{shown}` is already in the recycle bin."),
        )),
        Err(TerminateRefusal::Subscription) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            OPERATION_DENIED_EIP_SUBSCRIPTION,
            format!("The EIP `{shown}` is a subscription (PREPAID) EIP and cannot be terminated."),
        )),
        Err(TerminateRefusal::Creating) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT,
            format!("The EIP `{shown}` is being created; no operation is allowed in this status."),
        )),
    }
}
