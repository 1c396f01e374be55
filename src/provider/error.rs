//! The one error type every provider adapter returns. It records facts (what
//! the provider said, whether the request left the gateway) and nothing about
//! gRPC: `api::error` turns it into a `tonic::Status` through the provider's
//! error table.

use std::time::Duration;

use super::model::Operation;

/// An error answer the provider sent in its own API format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub op: Operation,
    pub http_status: u16,
    /// The provider's error code (`InvalidInstanceId.NotFound`,
    /// `INVALID_ZONE_NOT_FOUND`, or a synthetic one such as
    /// `SECURITY_CHALLENGE` for a Cloudflare challenge page).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// How long the provider asked us to wait (Alibaba `x-acs-retry-after`).
    pub retry_after: Option<Duration>,
}

/// Whether the request reached the provider before the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPhase {
    /// Nothing was sent: connection refused, DNS failure, TLS failure.
    NotSent,
    /// The request may have been received and executed.
    Sent,
}

/// A failure below the provider's API: the network or the HTTP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub op: Operation,
    pub phase: SendPhase,
    /// True when a timeout ended the exchange.
    pub timed_out: bool,
    /// What went wrong, without the URL (it carries signed credentials).
    pub detail: String,
}

/// Everything a provider call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("{} failed with {} (HTTP {}): {}", .0.op.name, .0.code, .0.http_status, .0.message)]
    Api(ApiError),

    #[error("{} transport failure ({}): {}", .0.op.name, if .0.timed_out { "timeout" } else { "connection" }, .0.detail)]
    Transport(TransportError),

    /// The provider answered, but not in its API's format: an HTML page from
    /// a proxy, an empty or truncated body, unexpected JSON.
    #[error("{op_name} returned an unreadable response (HTTP {http_status}): {detail}", op_name = op.name)]
    MalformedResponse {
        op: Operation,
        http_status: u16,
        detail: String,
        request_id: Option<String>,
    },

    /// The provider answered successfully, and the thing asked for does not
    /// exist (an EIP id it does not know, an instance without a public IP).
    #[error("{message}")]
    NotFound {
        op: Operation,
        reason: &'static str,
        message: String,
        request_id: Option<String>,
    },

    /// The gateway's own rate limit for this provider account has no token
    /// before the caller's deadline. Nothing was sent.
    #[error("{op_name}: the gateway's rate limit for this provider is exhausted; retry in {retry_after:?}", op_name = op.name)]
    RateLimited {
        op: Operation,
        retry_after: Duration,
    },

    /// The caller's deadline passed. `sent` says whether a request of this
    /// call may have reached the provider.
    #[error("{op_name}: the caller's deadline passed{}", if *sent { " after the request was sent" } else { " before anything was sent" }, op_name = op.name)]
    DeadlineExceeded { op: Operation, sent: bool },

    /// A gateway-side fault (a request the adapter cannot build).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProviderError {
    /// The provider request id, when the provider gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ProviderError::Api(e) => e.request_id.as_deref(),
            ProviderError::MalformedResponse { request_id, .. }
            | ProviderError::NotFound { request_id, .. } => request_id.as_deref(),
            ProviderError::Transport(_)
            | ProviderError::RateLimited { .. }
            | ProviderError::DeadlineExceeded { .. }
            | ProviderError::Internal(_) => None,
        }
    }

    /// The operation that failed, when known.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            ProviderError::Api(e) => Some(e.op),
            ProviderError::Transport(e) => Some(e.op),
            ProviderError::MalformedResponse { op, .. }
            | ProviderError::NotFound { op, .. }
            | ProviderError::RateLimited { op, .. }
            | ProviderError::DeadlineExceeded { op, .. } => Some(*op),
            ProviderError::Internal(_) => None,
        }
    }
}
