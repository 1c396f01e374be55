//! The HTTP handler of the API at `/` (GET and POST): one request, in
//! order: the body is read (at most 1 MiB); faults are applied
//! (`Throttling` / `ServiceUnavailable`); an invalid `Format` is refused;
//! `Action`/`Version` must be present and known; authentication (failures
//! are counted); then the action ([`super::actions`]). After a performed
//! allocation the fault configuration may drop the connection without an
//! answer (likewise after a performed release).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::Response;
use time::OffsetDateTime;

use super::actions::{self, Performed};
use super::errors::EcsError;
use super::params::{ApiRequest, MAX_BODY_BYTES, format_from_query};
use super::response::{Format, Reply};
use super::verify::{self, Verifier};
use super::{API_VERSION, AliyunEmulator};
use crate::faults::Verdict;
use crate::serve::ConnectionDropper;

/// Checks and performs one API request (no I/O, no waiting): returns
/// the action performed and its result.
pub fn handle(
    emulator: &AliyunEmulator,
    request: &ApiRequest,
) -> Result<(String, Performed), EcsError> {
    let (action, version) = verify::api_name(request)?;
    if !actions::is_known(&action) {
        return Err(EcsError::api_not_found());
    }
    if version != API_VERSION {
        return Err(EcsError::invalid_version());
    }
    let verifier = Verifier {
        credentials: &emulator.credentials,
        nonces: &emulator.nonces,
        now_utc: OffsetDateTime::now_utc(),
        now: Instant::now(),
    };
    let access_key_id = verifier.authenticate(request).inspect_err(|error| {
        emulator.faults.auth_failed();
        tracing::debug!(action, code = %error.code, "aliyun emulator rejected a request's authentication");
    })?;
    let performed = actions::perform(emulator, &action, request, &access_key_id).inspect_err(|error| {
        tracing::debug!(action, access_key_id, code = %error.code, "aliyun emulator answered an error");
    })?;
    tracing::debug!(action, access_key_id, "aliyun emulator performed a request");
    Ok((action, performed))
}

pub async fn api(State(emulator): State<Arc<AliyunEmulator>>, request: Request) -> Response {
    let dropper = request.extensions().get::<ConnectionDropper>().cloned();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let format = format_from_query(parts.uri.query());
            return Reply::new(emulator.host_id(), format).error(&EcsError::body_too_large());
        }
    };
    let request = ApiRequest::new(&parts, body);
    let (format, format_error) = match request.format() {
        Ok(format) => (format, None),
        Err(error) => (Format::Xml, Some(error)),
    };
    let reply = Reply::new(emulator.host_id(), format);
    match emulator.faults.admit().await {
        Verdict::Proceed => {}
        Verdict::Throttle => return reply.error(&EcsError::throttling()),
        Verdict::ServerError => return reply.error(&EcsError::service_unavailable()),
    }
    if let Some(error) = format_error {
        return reply.error(&error);
    }
    match handle(&emulator, &request) {
        Ok((action, performed)) => {
            if emulator.faults.record(performed.effect) {
                tracing::debug!(
                    action,
                    effect = ?performed.effect,
                    "aliyun emulator drops the connection after a change"
                );
                if let Some(dropper) = dropper {
                    dropper.drop_connection();
                }
                std::future::pending::<()>().await;
            }
            reply.success(&action, performed.fields)
        }
        Err(error) => reply.error(&error),
    }
}

pub async fn unsupported_method(State(emulator): State<Arc<AliyunEmulator>>, uri: Uri) -> Response {
    Reply::new(emulator.host_id(), format_from_query(uri.query()))
        .error(&EcsError::unsupported_http_method())
}

pub async fn unknown_path(State(emulator): State<Arc<AliyunEmulator>>, uri: Uri) -> Response {
    Reply::new(emulator.host_id(), format_from_query(uri.query())).error(&EcsError::api_not_found())
}
