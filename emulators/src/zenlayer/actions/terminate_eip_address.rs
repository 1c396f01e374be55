//! `TerminateEipAddress {eipId}`: moves an AVAILABLE, ASSOCIATED or
//! CREATE_FAILED POSTPAID EIP to the recycle bin (status RECYCLING for the
//! emulator's recycling delay, then RECYCLE; its address goes back to the
//! pool; after 24 hours, or ReleaseEipAddresses, it is gone). Refusals, in
//! the order checked: unknown (or already released) id -> 404
//! `INVALID_EIP_NOT_FOUND`; already RECYCLING or RECYCLE -> 403
//! `OPERATION_DENIED_EIP_RECYCLED`; PREPAID -> 403
//! `OPERATION_DENIED_EIP_SUBSCRIPTION` (the three codes of the API page);
//! CREATING -> 403 `OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT` (the page
//! allows only AVAILABLE, ASSOCIATED and CREATE_FAILED and names no code for
//! the rest; this is the code the other EIP pages give for a status that
//! does not allow the operation). Counted as a release; fault injection may
//! drop the answer after it.

use std::time::Instant;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Effect, Performed, object};
use crate::zenlayer::ZenlayerEmulator;
use crate::zenlayer::errors::{
    ApiError, INVALID_EIP_NOT_FOUND, OPERATION_DENIED_EIP_RECYCLED,
    OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT, OPERATION_DENIED_EIP_SUBSCRIPTION, printable,
};
use crate::zenlayer::params::Params;
use crate::zenlayer::state::TerminateRefusal;

/// The `response` object: nothing besides `requestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terminated {}

/// Validates and performs one call.
pub fn perform(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<Performed, ApiError> {
    let p = Params::root(body, emulator.reading);
    p.only(&["eipId"])?;
    let eip_id = p.req_str("eipId")?;
    let recycling_delay = emulator.recycling_delay();
    let result = emulator
        .store()
        .terminate(eip_id, Instant::now(), recycling_delay);
    let shown = printable(eip_id);
    match result {
        Ok(()) => {
            tracing::info!(eip_id = %shown, "emulated zenlayer EIP terminated");
            Ok(Performed {
                fields: object(&Terminated {})?,
                effect: Effect::Released(1),
            })
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
