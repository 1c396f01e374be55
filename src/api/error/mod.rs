//! The one place where errors become `tonic::Status`: provider errors by
//! the classification each carries (`provider`), the gateway's own
//! decisions, one named constructor per row of [`super::gateway_errors`]
//! (`gateway`), and decisions about the request itself (`request`). Every
//! status carries exactly one `google.rpc.ErrorInfo` (AIP-193) with the
//! common metadata keys ([`COMMON_METADATA`], `metadata`) plus its row's, a
//! `RequestInfo` when the provider gave a request id, and a `RetryInfo`
//! where waiting helps.

use std::time::Duration;

mod gateway;
mod metadata;
mod provider;
mod request;

pub use super::gateway_errors::{COMMON_METADATA, GATEWAY_DOMAIN};
pub use gateway::{
    allocation_interrupted, caller_not_allowed, caller_unauthenticated, deadline_exceeded,
    internal, key_in_progress, key_reused, outcome_pending, overloaded, rate_limited,
    reconcile_failed, record_corrupt, request_body_timeout, shared_state_unavailable,
    shutting_down, spend_limit_reached, store_unavailable, timeout_expired, watch_lifetime_ended,
    zone_sold_out,
};
pub use provider::{allocation_status, provider_status};
pub use request::{
    COMPRESSION_UNSUPPORTED, CONTENT_TYPE_UNSUPPORTED, FieldViolations, HTTP_METHOD_NOT_ALLOWED,
    MAX_DESCRIPTION_BYTES, MAX_FIELD_BYTES, MAX_LISTED_VIOLATIONS, MAX_MESSAGE_WIRE_BYTES,
    METHOD_NOT_FOUND, REQUEST_REJECTED, REQUEST_TOO_LARGE, REQUEST_UNDECODABLE,
    content_type_unsupported, echo, http_method_not_allowed, invalid_argument, library_status,
    request_too_large, request_undecodable,
};

/// Reason for a mutating call whose outcome the gateway cannot know.
pub const OUTCOME_UNKNOWN: &str = super::gateway_errors::OUTCOME_UNKNOWN.reason;

/// Delay suggested in RetryInfo when the provider gave none.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Delay suggested to a call shed over the concurrency cap.
pub const OVERLOADED_RETRY_DELAY: Duration = Duration::from_millis(100);

/// How long a caller is asked to wait after the gateway refused a call
/// because it is shutting down (another replica, or this one restarted).
pub const SHUTDOWN_RETRY_DELAY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests;
