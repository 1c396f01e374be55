//! The one error type every provider adapter returns. It records facts (what
//! the provider said, whether the request left the gateway) and, for an
//! error answer of the provider's API, the row of the provider's error table
//! it matched, chosen once by the wire parser. What each error means for
//! retries and for the caller is [`super::classification`]; `api::error`
//! turns it into a `tonic::Status`.

use std::time::Duration;

use super::error_table::{ErrorRule, ErrorTable};
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
    /// The row `code` and `message` matched in the provider's table, else
    /// the fallback row of `http_status`: looked up once, in [`ApiError::new`].
    rule: &'static ErrorRule,
}

impl ApiError {
    /// An error answer of `op`, classified by the provider's `table` (the
    /// matching row, else the fallback row of `http_status`); no request id
    /// and no delay asked for until they are added.
    pub fn new(
        table: &'static ErrorTable,
        op: Operation,
        http_status: u16,
        code: String,
        message: String,
    ) -> ApiError {
        let rule = table.resolve(&code, &message, http_status);
        ApiError {
            op,
            http_status,
            code,
            message,
            request_id: None,
            retry_after: None,
            rule,
        }
    }

    /// The provider's request id for this answer.
    pub fn with_request_id(mut self, request_id: Option<String>) -> ApiError {
        self.request_id = request_id;
        self
    }

    /// How long the provider asked to wait before trying again.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> ApiError {
        self.retry_after = retry_after;
        self
    }

    /// The error table row this answer matched (or its fallback row).
    pub fn rule(&self) -> &'static ErrorRule {
        self.rule
    }
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
    /// Boxed: the largest variant, kept out of every `Result` that carries
    /// a `ProviderError`.
    #[error("{} failed with {} (HTTP {}): {}", .0.op.name, .0.code, .0.http_status, .0.message)]
    Api(Box<ApiError>),

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

    /// Fleet mode: the account's rate limit, shared by every gateway in
    /// the database, cannot be reached, so the allocation fails closed.
    /// Nothing was sent. `detail` never holds a secret.
    #[error("{op_name}: the shared rate limit of this provider account cannot be reached ({detail}); nothing was sent", op_name = op.name)]
    SharedStateUnavailable { op: Operation, detail: String },

    /// The caller's deadline passed. `sent` says whether a request of this
    /// call may have reached the provider.
    #[error("{op_name}: the caller's deadline passed{}", if *sent { " after the request was sent" } else { " before anything was sent" }, op_name = op.name)]
    DeadlineExceeded { op: Operation, sent: bool },

    /// A gateway-side fault (a request the adapter cannot build).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ApiError> for ProviderError {
    fn from(error: ApiError) -> ProviderError {
        ProviderError::Api(Box::new(error))
    }
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
            | ProviderError::SharedStateUnavailable { .. }
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
            | ProviderError::SharedStateUnavailable { op, .. }
            | ProviderError::DeadlineExceeded { op, .. } => Some(*op),
            ProviderError::Internal(_) => None,
        }
    }
}
