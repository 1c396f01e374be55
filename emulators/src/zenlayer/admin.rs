//! Admin routes specific to the Zenlayer emulator, beside the shared ones
//! (`/_admin/faults`, `/_admin/counters`). Not counted, not subject to
//! faults, not signed.
//!
//! - `GET /_admin/eips`            -> every EIP (newest first), as
//!   DescribeEipAddresses shows them
//! - `GET /_admin/creation-delay`  -> `{"ms": N}`
//! - `PUT /_admin/creation-delay`  <- `{"ms": N}`: how long EIPs allocated
//!   from now on stay CREATING

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ZenlayerEmulator;
use super::eip::EipView;

/// `{"ms": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayMs {
    pub ms: u64,
}

/// The routes above, with their state applied.
pub fn router(emulator: Arc<ZenlayerEmulator>) -> Router {
    Router::new()
        .route("/_admin/eips", get(eips))
        .route("/_admin/creation-delay", get(get_delay).put(put_delay))
        .with_state(emulator)
}

async fn eips(State(emulator): State<Arc<ZenlayerEmulator>>) -> Json<Vec<EipView>> {
    Json(emulator.eips())
}

async fn get_delay(State(emulator): State<Arc<ZenlayerEmulator>>) -> Json<DelayMs> {
    Json(delay_ms(emulator.creation_delay()))
}

async fn put_delay(
    State(emulator): State<Arc<ZenlayerEmulator>>,
    Json(body): Json<DelayMs>,
) -> Json<DelayMs> {
    emulator.set_creation_delay(Duration::from_millis(body.ms));
    Json(delay_ms(emulator.creation_delay()))
}

fn delay_ms(delay: Duration) -> DelayMs {
    DelayMs {
        ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    }
}
