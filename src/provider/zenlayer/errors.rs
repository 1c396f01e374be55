//! Zenlayer Cloud BMC error codes -> gRPC code, ErrorInfo reason and retry
//! class. Codes are UPPER_SNAKE_CASE strings on the wire (FACTS §2.2-2.3);
//! `SECURITY_CHALLENGE` and `REQUEST_BLOCKED` are synthetic codes the
//! adapter gives to the Cloudflare front's non-JSON answers (403 challenge,
//! 451). Rows are ordered from most to least specific: the first match wins,
//! so every exact code comes before the wildcard row of its family.
//!
//! `RESOURCE_INSUFFICIENT_PRODUCT_SOLD_OUT` ("resources not for sale", in
//! the SDKs' BMC error enums) is the code a sold-out zone is answered with;
//! no page documents its HTTP status. A zone that sells no EIPs at all is
//! `INVALID_EIP_TYPE_ZONE_NO_SELL` (the AllocateEipAddresses page).

use tonic::Code;

use crate::provider::error_table::{ErrorTable, RetryClass, rule};

use Code::{
    DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, NotFound, PermissionDenied,
    ResourceExhausted, Unavailable,
};
use RetryClass::{IdempotentOnly, Never, Retryable};

/// The Zenlayer BMC error table.
#[rustfmt::skip]
pub static TABLE: ErrorTable = ErrorTable {
    api: "Zenlayer Cloud BMC",
    domain: "bmc.console.zenlayer.com",
    rules: &[
        // AllocateEipAddresses / EIP specific.
        rule("INVALID_EIP_TYPE_ZONE_NO_SELL", None, Some(400), FailedPrecondition, "EIP_NOT_SOLD_IN_ZONE", Never),
        rule("RESOURCE_INSUFFICIENT_PRODUCT_SOLD_OUT", None, None, ResourceExhausted, "EIP_SOLD_OUT", Never),
        rule("INVALID_ZONE_NOT_FOUND", None, Some(404), NotFound, "ZONE_NOT_FOUND", Never),
        rule("INVALID_EIP_NOT_FOUND", None, Some(404), NotFound, "EIP_NOT_FOUND", Never),
        // TerminateEipAddress / ReleaseEipAddresses: the EIP's state refuses.
        rule("OPERATION_DENIED_EIP_SUBSCRIPTION", None, Some(403), FailedPrecondition, "EIP_PREPAID_NOT_RELEASABLE", Never),
        rule("OPERATION_DENIED_EIP_RECYCLED", None, Some(403), FailedPrecondition, "EIP_ALREADY_RECYCLED", Never),
        rule("OPERATION_DENIED_EIP_NOT_RECYCLED", None, Some(403), FailedPrecondition, "EIP_NOT_RECYCLED", Never),
        rule("OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT", None, Some(403), FailedPrecondition, "EIP_STATUS_NOT_SUPPORTED", Never),
        // Throttling and server side.
        rule("REQUEST_LIMIT_EXCEEDED", None, Some(429), ResourceExhausted, "PROVIDER_THROTTLED", Retryable),
        rule("SERVICE_TEMPORARY_UNAVAILABLE", None, Some(503), Unavailable, "PROVIDER_UNAVAILABLE", Retryable),
        rule("INTERNAL_SERVER_ERROR", None, Some(500), Internal, "PROVIDER_INTERNAL_ERROR", IdempotentOnly),
        rule("REQUEST_TIMED_OUT", None, Some(503), DeadlineExceeded, "PROVIDER_REQUEST_TIMED_OUT", IdempotentOnly),
        // Authentication.
        rule("AUTHFAILURE_SIGNATURE_EXPIRED", None, Some(401), FailedPrecondition, "PROVIDER_CLOCK_SKEW", Never),
        rule("AUTHFAILURE_UNAUTHORIZED_OPERATION", None, Some(401), PermissionDenied, "PROVIDER_PERMISSION_DENIED", Never),
        rule("AUTHFAILURE_SIGNATURE_FAILURE", None, Some(401), FailedPrecondition, "PROVIDER_SIGNATURE_REJECTED", Never),
        rule("AUTHFAILURE_INVALID_AUTHORIZATION", None, Some(401), FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", Never),
        rule("AUTHFAILURE_*", None, Some(401), FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", Never),
        // Parameters.
        rule("MISSING_PARAMETER", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_MISSING", Never),
        rule("INVALID_PARAMETER_*", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        // Operations on resources.
        rule("OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND", None, Some(404), NotFound, "RESOURCE_GROUP_NOT_FOUND", Never),
        rule("OPERATION_FAILED_RESOURCE_NOT_FOUND", None, Some(404), NotFound, "PROVIDER_RESOURCE_NOT_FOUND", Never),
        rule("OPERATION_FAILED_FOR_RECYCLE_RESOURCE", None, Some(403), FailedPrecondition, "RESOURCE_RECYCLING", Never),
        rule("OPERATION_FAILED_*", None, Some(403), FailedPrecondition, "OPERATION_FAILED", Never),
        rule("OPERATION_DENIED_*", None, Some(403), FailedPrecondition, "OPERATION_DENIED", Never),
        // Synthetic codes for the Cloudflare front (see wire.rs).
        rule("SECURITY_CHALLENGE", None, Some(403), Unavailable, "PROVIDER_SECURITY_CHALLENGE", Retryable),
        rule("REQUEST_BLOCKED", None, Some(451), FailedPrecondition, "PROVIDER_REQUEST_BLOCKED", Never),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per row, in table order: a realistic provider code, its
    /// HTTP status, and the expected answer written out literally.
    #[rustfmt::skip]
    const CASES: &[(&str, Option<u16>, Code, &str, RetryClass)] = &[
        ("INVALID_EIP_TYPE_ZONE_NO_SELL", Some(400), Code::FailedPrecondition, "EIP_NOT_SOLD_IN_ZONE", RetryClass::Never),
        ("RESOURCE_INSUFFICIENT_PRODUCT_SOLD_OUT", None, Code::ResourceExhausted, "EIP_SOLD_OUT", RetryClass::Never),
        ("INVALID_ZONE_NOT_FOUND", Some(404), Code::NotFound, "ZONE_NOT_FOUND", RetryClass::Never),
        ("INVALID_EIP_NOT_FOUND", Some(404), Code::NotFound, "EIP_NOT_FOUND", RetryClass::Never),
        ("OPERATION_DENIED_EIP_SUBSCRIPTION", Some(403), Code::FailedPrecondition, "EIP_PREPAID_NOT_RELEASABLE", RetryClass::Never),
        ("OPERATION_DENIED_EIP_RECYCLED", Some(403), Code::FailedPrecondition, "EIP_ALREADY_RECYCLED", RetryClass::Never),
        ("OPERATION_DENIED_EIP_NOT_RECYCLED", Some(403), Code::FailedPrecondition, "EIP_NOT_RECYCLED", RetryClass::Never),
        ("OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT", Some(403), Code::FailedPrecondition, "EIP_STATUS_NOT_SUPPORTED", RetryClass::Never),
        ("REQUEST_LIMIT_EXCEEDED", Some(429), Code::ResourceExhausted, "PROVIDER_THROTTLED", RetryClass::Retryable),
        ("SERVICE_TEMPORARY_UNAVAILABLE", Some(503), Code::Unavailable, "PROVIDER_UNAVAILABLE", RetryClass::Retryable),
        ("INTERNAL_SERVER_ERROR", Some(500), Code::Internal, "PROVIDER_INTERNAL_ERROR", RetryClass::IdempotentOnly),
        ("REQUEST_TIMED_OUT", Some(503), Code::DeadlineExceeded, "PROVIDER_REQUEST_TIMED_OUT", RetryClass::IdempotentOnly),
        ("AUTHFAILURE_SIGNATURE_EXPIRED", Some(401), Code::FailedPrecondition, "PROVIDER_CLOCK_SKEW", RetryClass::Never),
        ("AUTHFAILURE_UNAUTHORIZED_OPERATION", Some(401), Code::PermissionDenied, "PROVIDER_PERMISSION_DENIED", RetryClass::Never),
        ("AUTHFAILURE_SIGNATURE_FAILURE", Some(401), Code::FailedPrecondition, "PROVIDER_SIGNATURE_REJECTED", RetryClass::Never),
        ("AUTHFAILURE_INVALID_AUTHORIZATION", Some(401), Code::FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", RetryClass::Never),
        ("AUTHFAILURE_SECRET_ID_NOT_FOUND", Some(401), Code::FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", RetryClass::Never),
        ("MISSING_PARAMETER", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_MISSING", RetryClass::Never),
        ("INVALID_PARAMETER_EXCEED_MAXIMUM", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND", Some(404), Code::NotFound, "RESOURCE_GROUP_NOT_FOUND", RetryClass::Never),
        ("OPERATION_FAILED_RESOURCE_NOT_FOUND", Some(404), Code::NotFound, "PROVIDER_RESOURCE_NOT_FOUND", RetryClass::Never),
        ("OPERATION_FAILED_FOR_RECYCLE_RESOURCE", Some(403), Code::FailedPrecondition, "RESOURCE_RECYCLING", RetryClass::Never),
        ("OPERATION_FAILED_INSUFFICIENT_BALANCE", Some(403), Code::FailedPrecondition, "OPERATION_FAILED", RetryClass::Never),
        ("OPERATION_DENIED_EIP_ZONE_NOT_SAME", Some(403), Code::FailedPrecondition, "OPERATION_DENIED", RetryClass::Never),
        ("SECURITY_CHALLENGE", Some(403), Code::Unavailable, "PROVIDER_SECURITY_CHALLENGE", RetryClass::Retryable),
        ("REQUEST_BLOCKED", Some(451), Code::FailedPrecondition, "PROVIDER_REQUEST_BLOCKED", RetryClass::Never),
    ];

    #[test]
    fn every_row_is_reachable_and_not_shadowed() {
        assert_eq!(CASES.len(), TABLE.rules.len(), "one case per row");
        for (index, &(code, http, grpc, reason, retry)) in CASES.iter().enumerate() {
            let rule = TABLE
                .lookup(code, "some provider message")
                .unwrap_or_else(|| panic!("{code}: no row"));
            assert!(
                std::ptr::eq(rule, &TABLE.rules[index]),
                "{code}: matched row {:?}, expected row {index}",
                rule.code
            );
            assert_eq!(rule.grpc, grpc, "{code}");
            assert_eq!(rule.reason, reason, "{code}");
            assert_eq!(rule.retry, retry, "{code}");
            assert_eq!(rule.http_status, http, "{code}");
            assert_eq!(rule.message, None, "{code}");
            // resolve() agrees with lookup() for known codes.
            let status = http.unwrap_or(400);
            assert!(
                std::ptr::eq(TABLE.resolve(code, "", status), rule),
                "{code}"
            );
        }
    }

    #[test]
    fn unknown_codes_fall_back_by_http_status() {
        let r = TABLE.resolve("SOMETHING_NEW", "", 404);
        assert_eq!(
            (r.grpc, r.reason),
            (Code::NotFound, "PROVIDER_ERROR_UNRECOGNIZED")
        );
        let r = TABLE.resolve("SOMETHING_NEW", "", 429);
        assert_eq!(
            (r.grpc, r.retry),
            (Code::ResourceExhausted, RetryClass::Retryable)
        );
        let r = TABLE.resolve("SOMETHING_NEW", "", 502);
        assert_eq!(r.grpc, Code::Unavailable);
        // A near miss of a wildcard family does not match it.
        assert!(TABLE.lookup("INVALID_PARAMETER", "").is_none());
        assert!(TABLE.lookup("OPERATION_DENIED", "").is_none());
        assert!(TABLE.lookup("Invalid.Zone.Not.Found", "").is_none());
        // Codes are matched case-sensitively, as the wire spells them.
        assert!(TABLE.lookup("invalid_zone_not_found", "").is_none());
    }

    #[test]
    fn markdown_lists_every_row() {
        let md = TABLE.to_markdown();
        assert_eq!(md.lines().count(), TABLE.rules.len() + 2);
        assert!(md.contains("| `AUTHFAILURE_*` |  | 401 | FAILED_PRECONDITION | `PROVIDER_CREDENTIALS_REJECTED` | no |"));
    }
}
