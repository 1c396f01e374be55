//! `ReleaseEipAddresses {eipIds}`: releases EIPs from the recycle bin for
//! good (they were given back by TerminateEipAddress; their addresses are
//! already in the pool). 1 to 100 ids; all or nothing: the first id (in
//! request order) that is unknown (or already released) answers 404
//! `INVALID_EIP_NOT_FOUND`, one that is not RECYCLE (also one still
//! RECYCLING) 403 `OPERATION_DENIED_EIP_NOT_RECYCLED` (the API page's
//! code), and nothing is released.
//!
//! Strict reading: `eipIds: []` is `INVALID_PARAMETER_LESS_LENGTH` and an
//! id given twice `INVALID_PARAMETER_VALUE`. Lenient: `[]` reads as absent
//! (`MISSING_PARAMETER`), a repeated id once. Counted as a release (giving
//! back no address); fault injection may drop the answer after it.

use std::time::Instant;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Effect, Performed, object};
use crate::zenlayer::ZenlayerEmulator;
use crate::zenlayer::errors::{
    ApiError, INVALID_EIP_NOT_FOUND, OPERATION_DENIED_EIP_NOT_RECYCLED, printable,
};
use crate::zenlayer::params::Params;
use crate::zenlayer::state::ReleaseRefusal;

/// The most ids one call releases.
pub const MAX_EIP_IDS: usize = 100;

/// The `response` object: nothing besides `requestId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Released {}

/// Validates and performs one call.
pub fn perform(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<Performed, ApiError> {
    let p = Params::root(body, emulator.reading);
    p.only(&["eipIds"])?;
    let ids = match p.opt_str_array("eipIds", MAX_EIP_IDS)? {
        None => return Err(ApiError::missing("eipIds")),
        Some(ids) if ids.is_empty() && p.is_strict() => {
            return Err(ApiError::less_length("eipIds", 1));
        }
        Some(ids) if ids.is_empty() => return Err(ApiError::missing("eipIds")),
        Some(ids) => ids,
    };
    let mut unique: Vec<&str> = Vec::with_capacity(ids.len());
    for id in ids {
        if unique.contains(&id) {
            if p.is_strict() {
                return Err(ApiError::invalid_value(
                    "eipIds",
                    format_args!("the eipId `{}` is repeated", printable(id)),
                ));
            }
            continue;
        }
        unique.push(id);
    }
    match emulator.store().release(&unique, Instant::now()) {
        Ok(()) => {
            tracing::info!(eips = unique.len(), "emulated zenlayer EIPs released");
            Ok(Performed {
                fields: object(&Released {})?,
                effect: Effect::Released(0),
            })
        }
        Err(ReleaseRefusal::NotFound(id)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            INVALID_EIP_NOT_FOUND,
            format!("The specified eipId `{}` is not found.", printable(&id)),
        )),
        Err(ReleaseRefusal::NotRecycled(id)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            OPERATION_DENIED_EIP_NOT_RECYCLED,
            format!(
                "The EIP `{}` is not in the recycle bin; terminate it first.",
                printable(&id)
            ),
        )),
    }
}
