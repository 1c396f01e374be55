//! The `POST /api/v2/bmc` handler: one request, in order: fault injection
//! (throttle -> 429 `REQUEST_LIMIT_EXCEEDED`, server error -> 503
//! `SERVICE_TEMPORARY_UNAVAILABLE`), body read (at most 1 MiB), signature
//! check (see `verify`; failures counted), action from `X-ZC-Action`
//! (unknown -> 401 `AUTHFAILURE_UNAUTHORIZED_OPERATION`), JSON body, the
//! action itself. After a performed AllocateEipAddresses the fault core may
//! ask for the connection to be dropped: the EIPs exist, the answer is lost.
//!
//! Both API versions, 2026-02-01 and 2022-11-20, have the same EIP shapes.
//! The strict reading requires what every official SDK sends: an
//! `X-ZC-Version` of one of them and `X-ZC-Service: bmc` (else 401
//! `AUTHFAILURE_UNAUTHORIZED_OPERATION`: no such API), and `Content-Type:
//! application/json`, the only type the docs allow (else 400
//! `INVALID_PARAMETER_TYPE`). The lenient reading checks none of them.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::error::{ApiError, INVALID_PARAMETER_EXCEED_LENGTH, printable};
use super::params::Params;
use super::{ZenlayerEmulator, allocate, describe, response, terminate, verify};
use crate::emulator::{ConnectionDropper, Verdict};

/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const ALLOCATE_EIP_ADDRESSES: &str = "AllocateEipAddresses";
pub const DESCRIBE_EIP_ADDRESSES: &str = "DescribeEipAddresses";
pub const TERMINATE_EIP_ADDRESS: &str = "TerminateEipAddress";

/// The actions the emulator implements.
pub const ACTIONS: [&str; 3] = [
    ALLOCATE_EIP_ADDRESSES,
    DESCRIBE_EIP_ADDRESSES,
    TERMINATE_EIP_ADDRESS,
];

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
    if !ACTIONS.contains(&action.as_str()) {
        return finish(
            &request_id,
            &action,
            Err(ApiError::unauthorized_operation(&action)),
        );
    }
    if emulator.reading.is_strict()
        && let Err(error) = strict_headers(&parts.headers, &action)
    {
        return finish(&request_id, &action, Err(error));
    }
    let params = match Params::parse_body(&body, emulator.reading) {
        Ok(params) => params,
        Err(error) => return finish(&request_id, &action, Err(error)),
    };
    let answer = match action.as_str() {
        ALLOCATE_EIP_ADDRESSES => match allocate::allocate(&emulator, &params) {
            Ok((allocated, amount)) => {
                if emulator.faults.allocated(u64::from(amount)) {
                    tracing::info!(request_id = %request_id, "dropping the connection after an emulated allocation");
                    if let Some(dropper) = parts.extensions.get::<ConnectionDropper>() {
                        dropper.drop_connection();
                    }
                    std::future::pending::<()>().await;
                }
                Ok(response::success(&request_id, &allocated))
            }
            Err(error) => Err(error),
        },
        DESCRIBE_EIP_ADDRESSES => describe::describe(&emulator, &params)
            .map(|described| response::success(&request_id, &described)),
        TERMINATE_EIP_ADDRESS => terminate::terminate(&emulator, &params)
            .map(|terminated| response::success(&request_id, &terminated)),
        _ => Err(ApiError::unauthorized_operation(&action)),
    };
    finish(&request_id, &action, answer)
}

/// The API versions whose EIP actions the emulator serves.
pub const API_VERSIONS: [&str; 2] = ["2026-02-01", "2022-11-20"];

/// The strict reading's header checks (see the module documentation).
fn strict_headers(headers: &axum::http::HeaderMap, action: &str) -> Result<(), ApiError> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let version = text("x-zc-version").unwrap_or("");
    let service = text("x-zc-service").unwrap_or("");
    if !API_VERSIONS.contains(&version) || service != super::SERVICE {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            super::error::AUTHFAILURE_UNAUTHORIZED_OPERATION,
            format!(
                "The action `{}` does not exist in version `{}` of service `{}`.",
                printable(action),
                printable(version),
                printable(service)
            ),
        ));
    }
    let essence = text("content-type")
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            super::error::INVALID_PARAMETER_TYPE,
            "Only Content-Type: application/json is supported.",
        ));
    }
    Ok(())
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
