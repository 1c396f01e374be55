//! The `POST /api/v2/bmc` handler: one request, in order: fault injection
//! (throttle -> 429 `REQUEST_LIMIT_EXCEEDED`, server error -> 503
//! `SERVICE_TEMPORARY_UNAVAILABLE`), body read (at most 1 MiB), signature
//! check (see `verify`; failures counted), action from `X-ZC-Action`
//! (unknown -> 401 `AUTHFAILURE_UNAUTHORIZED_OPERATION`), JSON body, the
//! action itself. After a performed allocation or release the fault core may
//! ask for the connection to be dropped: the change is made, the answer is
//! lost.
//!
//! Under the strict reading the headers are checked too ([`super::strict`]).

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::errors::{ApiError, INVALID_PARAMETER_EXCEED_LENGTH, printable};
use super::params::Params;
use super::{ZenlayerEmulator, actions, response, strict, verify};
use crate::{ConnectionDropper, Verdict};

/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn handle(State(emulator): State<Arc<ZenlayerEmulator>>, request: Request) -> Response {
    let request_id = response::new_request_id();
    let (parts, body) = request.into_parts();
    let action = parts
        .headers
        .get("x-zc-action")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("")
        .to_owned();

    let answer = match emulator.faults.admit().await {
        Verdict::Throttle => Err(ApiError::throttled()),
        Verdict::ServerError => Err(ApiError::unavailable()),
        Verdict::Proceed => Ok(()),
    };
    if let Err(error) = answer {
        return finish(&request_id, &action, Err(error));
    }
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let error = ApiError::new(
                StatusCode::BAD_REQUEST,
                INVALID_PARAMETER_EXCEED_LENGTH,
                format!("The request body could not be read or exceeds {MAX_BODY_BYTES} bytes."),
            );
            return finish(&request_id, &action, Err(error));
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(error) = verify::verify(&parts.headers, &body, &emulator.credentials, now) {
        if error.is_auth_failure() {
            emulator.faults.auth_failed();
        }
        return finish(&request_id, &action, Err(error));
    }
    if !actions::is_known(&action) {
        return finish(
            &request_id,
            &action,
            Err(ApiError::unauthorized_operation(&action)),
        );
    }
    if emulator.reading.is_strict()
        && let Err(error) = strict::check_headers(&parts.headers, &action)
    {
        return finish(&request_id, &action, Err(error));
    }
    let params = match Params::parse_body(&body, emulator.reading) {
        Ok(params) => params,
        Err(error) => return finish(&request_id, &action, Err(error)),
    };
    let performed = match actions::perform(&emulator, &action, &params) {
        Ok(performed) => performed,
        Err(error) => return finish(&request_id, &action, Err(error)),
    };
    if emulator.faults.record(performed.effect) {
        tracing::info!(request_id = %request_id, effect = ?performed.effect, "dropping the connection after an emulated change");
        if let Some(dropper) = parts.extensions.get::<ConnectionDropper>() {
            dropper.drop_connection();
        }
        std::future::pending::<()>().await;
    }
    let answer = Ok(response::success(&request_id, &performed.fields));
    finish(&request_id, &action, answer)
}

/// Logs the outcome (never a secret) and builds the answer.
fn finish(request_id: &str, action: &str, answer: Result<Response, ApiError>) -> Response {
    match answer {
        Ok(response) => {
            tracing::debug!(request_id, action = %printable(action), status = 200, "emulated zenlayer request");
            response
        }
        Err(error) => {
            tracing::debug!(
                request_id,
                action = %printable(action),
                status = error.status.as_u16(),
                code = error.code,
                "emulated zenlayer request failed"
            );
            response::error(request_id, &error)
        }
    }
}
