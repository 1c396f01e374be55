//! The errors the emulated Zenlayer API answers with: an HTTP status, an
//! UPPER_SNAKE_CASE code and a message, sent as `{requestId, code, message}`.
//!
//! Codes and statuses are the documented ones (FACTS §2.3 and the
//! AllocateEipAddresses, TerminateEipAddress, ReleaseEipAddresses and other
//! EIP pages). The two codes marked *emulator-specific*
//! below have no documented equivalent; they follow the `OPERATION_DENIED_*`
//! and `INVALID_PARAMETER_*` families.

use axum::http::StatusCode;

// Authentication (HTTP 401).
pub const AUTHFAILURE_INVALID_AUTHORIZATION: &str = "AUTHFAILURE_INVALID_AUTHORIZATION";
pub const AUTHFAILURE_SIGNATURE_FAILURE: &str = "AUTHFAILURE_SIGNATURE_FAILURE";
pub const AUTHFAILURE_SIGNATURE_EXPIRED: &str = "AUTHFAILURE_SIGNATURE_EXPIRED";
pub const AUTHFAILURE_UNAUTHORIZED_OPERATION: &str = "AUTHFAILURE_UNAUTHORIZED_OPERATION";

// Parameters (HTTP 400).
pub const MISSING_PARAMETER: &str = "MISSING_PARAMETER";
pub const INVALID_PARAMETER_TYPE: &str = "INVALID_PARAMETER_TYPE";
pub const INVALID_PARAMETER_VALUE: &str = "INVALID_PARAMETER_VALUE";
pub const INVALID_PARAMETER_EXCEED_MAXIMUM: &str = "INVALID_PARAMETER_EXCEED_MAXIMUM";
pub const INVALID_PARAMETER_LESS_MINIMUM: &str = "INVALID_PARAMETER_LESS_MINIMUM";
pub const INVALID_PARAMETER_EXCEED_LENGTH: &str = "INVALID_PARAMETER_EXCEED_LENGTH";
pub const INVALID_PARAMETER_LESS_LENGTH: &str = "INVALID_PARAMETER_LESS_LENGTH";

// Zones, resource groups, EIPs.
pub const INVALID_ZONE_NOT_FOUND: &str = "INVALID_ZONE_NOT_FOUND";
pub const INVALID_EIP_TYPE_ZONE_NO_SELL: &str = "INVALID_EIP_TYPE_ZONE_NO_SELL";
pub const OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND: &str =
    "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND";
pub const INVALID_EIP_NOT_FOUND: &str = "INVALID_EIP_NOT_FOUND";
pub const OPERATION_DENIED_EIP_SUBSCRIPTION: &str = "OPERATION_DENIED_EIP_SUBSCRIPTION";
pub const OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT: &str = "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT";
pub const OPERATION_DENIED_EIP_RECYCLED: &str = "OPERATION_DENIED_EIP_RECYCLED";
pub const OPERATION_DENIED_EIP_NOT_RECYCLED: &str = "OPERATION_DENIED_EIP_NOT_RECYCLED";
/// *Emulator-specific* (HTTP 403): `marketingOptions.usePocVoucher` is true,
/// and the emulated account has no POC voucher. The docs only say creation
/// fails in that case, without naming a code.
pub const OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE: &str =
    "OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE";

// Throttling and server side.
pub const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";
pub const SERVICE_TEMPORARY_UNAVAILABLE: &str = "SERVICE_TEMPORARY_UNAVAILABLE";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// One error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// True for the errors counted as authentication failures (bad or
    /// missing Authorization, unknown key, wrong signature, expired).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self.code,
            AUTHFAILURE_INVALID_AUTHORIZATION
                | AUTHFAILURE_SIGNATURE_FAILURE
                | AUTHFAILURE_SIGNATURE_EXPIRED
        )
    }

    pub fn invalid_authorization(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            AUTHFAILURE_INVALID_AUTHORIZATION,
            message,
        )
    }

    pub fn signature_failure(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            AUTHFAILURE_SIGNATURE_FAILURE,
            message,
        )
    }

    pub fn signature_expired(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            AUTHFAILURE_SIGNATURE_EXPIRED,
            message,
        )
    }

    pub fn unauthorized_operation(action: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            AUTHFAILURE_UNAUTHORIZED_OPERATION,
            format!(
                "The action `{}` does not exist or is not authorized.",
                printable(action)
            ),
        )
    }

    pub fn missing(param: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            MISSING_PARAMETER,
            format!("The parameter `{param}` is required."),
        )
    }

    pub fn invalid_type(param: &str, expected: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_TYPE,
            format!("The parameter `{param}` must be {expected}."),
        )
    }

    pub fn invalid_value(param: &str, detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_VALUE,
            format!("The value of parameter `{param}` is invalid: {detail}."),
        )
    }

    pub fn exceed_maximum(param: &str, max: i64) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_EXCEED_MAXIMUM,
            format!("The value of parameter `{param}` exceeds the maximum {max}."),
        )
    }

    pub fn less_minimum(param: &str, min: i64) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_LESS_MINIMUM,
            format!("The value of parameter `{param}` is less than the minimum {min}."),
        )
    }

    pub fn exceed_length(param: &str, max: usize) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_EXCEED_LENGTH,
            format!("The length of parameter `{param}` exceeds the maximum {max}."),
        )
    }

    pub fn less_length(param: &str, min: usize) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMETER_LESS_LENGTH,
            format!("The length of parameter `{param}` is less than the minimum {min}."),
        )
    }

    /// 404 `INVALID_ZONE_NOT_FOUND` naming the zone.
    pub fn zone_not_found(zone_id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            INVALID_ZONE_NOT_FOUND,
            format!("The specified zoneId `{}` is not found", printable(zone_id)),
        )
    }

    pub fn throttled() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            REQUEST_LIMIT_EXCEEDED,
            "Request limit exceeded, please try again later.",
        )
    }

    /// 500 `INTERNAL_SERVER_ERROR`: the emulator could not build its
    /// answer (no request can cause it).
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL_SERVER_ERROR,
            "An internal error occurred, please try again later.",
        )
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            SERVICE_TEMPORARY_UNAVAILABLE,
            "The service is temporarily unavailable, please try again later.",
        )
    }
}

/// Request-derived text as it may appear in a message: at most 128
/// characters, control characters replaced.
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(128).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_truncates_and_masks() {
        assert_eq!(printable("SEL-A"), "SEL-A");
        assert_eq!(printable("a\nb"), "a?b");
        let long = "x".repeat(300);
        assert_eq!(printable(&long).chars().count(), 131);
    }

    #[test]
    fn auth_failures_are_classified() {
        assert!(ApiError::signature_failure("m").is_auth_failure());
        assert!(ApiError::signature_expired("m").is_auth_failure());
        assert!(ApiError::invalid_authorization("m").is_auth_failure());
        assert!(!ApiError::unauthorized_operation("X").is_auth_failure());
        assert!(!ApiError::missing("zoneId").is_auth_failure());
    }
}
