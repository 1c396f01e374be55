//! The strict reading's header checks ([`crate::ApiReading::Strict`]),
//! applied after authentication, before the body is read as parameters
//! (the strict reading of the parameters themselves is in
//! [`super::params`]).
//!
//! Both API versions, 2026-02-01 and 2022-11-20, have the same EIP shapes.
//! The strict reading requires what every official SDK sends: an
//! `X-ZC-Version` of one of them and `X-ZC-Service: bmc` (else 401
//! `AUTHFAILURE_UNAUTHORIZED_OPERATION`: no such API), and `Content-Type:
//! application/json`, the only type the docs allow (else 400
//! `INVALID_PARAMETER_TYPE`). The lenient reading checks none of them.

use axum::http::{HeaderMap, StatusCode};

use super::errors::{
    AUTHFAILURE_UNAUTHORIZED_OPERATION, ApiError, INVALID_PARAMETER_TYPE, printable,
};

/// The API versions whose EIP actions the emulator serves.
pub const API_VERSIONS: [&str; 2] = ["2026-02-01", "2022-11-20"];

/// The header checks (see the module documentation).
pub fn check_headers(headers: &HeaderMap, action: &str) -> Result<(), ApiError> {
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
            AUTHFAILURE_UNAUTHORIZED_OPERATION,
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
            INVALID_PARAMETER_TYPE,
            "Only Content-Type: application/json is supported.",
        ));
    }
    Ok(())
}
