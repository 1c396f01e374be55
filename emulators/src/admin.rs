//! The admin endpoint every emulator serves beside its API, under `/_admin`:
//! read and change faults while running, read and reset counters. Admin
//! requests are neither counted nor subject to faults.
//!
//! - `GET  /_admin/faults`          -> the FaultConfig as JSON
//! - `PUT  /_admin/faults`          <- a FaultConfig as JSON (omitted fields = defaults)
//! - `GET  /_admin/counters`        -> the CounterSnapshot as JSON
//! - `POST /_admin/counters/reset`  -> zeroes the counters

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::faults::{CounterSnapshot, FaultConfig, Faults};

/// The admin routes over one emulator's faults and counters.
pub fn router(faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/_admin/faults", get(get_faults).put(put_faults))
        .route("/_admin/counters", get(get_counters))
        .route("/_admin/counters/reset", post(reset_counters))
        .with_state(faults)
}

async fn get_faults(State(faults): State<Arc<Faults>>) -> Json<FaultConfig> {
    Json(faults.config())
}

async fn put_faults(
    State(faults): State<Arc<Faults>>,
    Json(config): Json<FaultConfig>,
) -> Result<Json<FaultConfig>, (StatusCode, String)> {
    config
        .validate()
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    faults.set_config(config.clone());
    Ok(Json(config))
}

async fn get_counters(State(faults): State<Arc<Faults>>) -> Json<CounterSnapshot> {
    Json(faults.snapshot())
}

async fn reset_counters(State(faults): State<Arc<Faults>>) -> Json<CounterSnapshot> {
    faults.reset_counters();
    Json(faults.snapshot())
}
