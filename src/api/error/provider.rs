//! Provider errors as statuses. Each error already says what it means (its
//! [`Classification`]: gRPC code, reason, retry class, decided once where
//! the error was made); this adds the words, the facts as metadata, a
//! `RequestInfo` when the provider gave a request id and a `RetryInfo` where
//! waiting helps. Then one rule applies to all of them: when the outcome of a
//! write is unknown ([`ProviderError::outcome_unknown`]) the answer is
//! DEADLINE_EXCEEDED with reason `PROVIDER_OUTCOME_UNKNOWN`.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::gateway::{deadline_exceeded, internal, rate_limited, shared_state_unavailable};
use super::metadata::Facts;
use super::{DEFAULT_RETRY_DELAY, GATEWAY_DOMAIN, OUTCOME_UNKNOWN};
use crate::provider::classification::Classification;
use crate::provider::error::{SendPhase, TransportError};
use crate::provider::{ProviderDescription, ProviderError};

/// A status for an error the provider adapter returned, outside an
/// allocation (reads, lookups, watches).
pub fn provider_status(provider: &ProviderDescription, error: &ProviderError) -> Status {
    status_for(provider, error, None)
}

/// A status for an error of the allocation under idempotency key `key`:
/// like [`provider_status`], and when the outcome is unknown the status
/// names the key to retry with (`metadata.idempotencyKey` and the message).
pub fn allocation_status(
    provider: &ProviderDescription,
    error: &ProviderError,
    key: &str,
) -> Status {
    status_for(provider, error, Some(key))
}

fn status_for(provider: &ProviderDescription, error: &ProviderError, key: Option<&str>) -> Status {
    let domain = provider.kind.error_table().domain;
    let class = error.classification();
    let unknown = error.outcome_unknown();
    let (domain, text, retry_after) = match error {
        ProviderError::Api(api) => (
            domain,
            format!("{} failed: {}: {}", api.op.name, api.code, api.message),
            api.retry_after,
        ),
        ProviderError::Transport(t) => (domain, transport_text(t), None),
        ProviderError::MalformedResponse {
            op,
            http_status,
            detail,
            ..
        } => {
            let hint = if *http_status == 404 {
                " (check the provider's endpoint setting)"
            } else {
                ""
            };
            let text = format!(
                "{}: {} answered HTTP {http_status} with a response that is not its API's format{hint}: {detail}",
                op.name,
                provider.request_path()
            );
            (domain, text, None)
        }
        ProviderError::NotFound { message, .. } => (domain, message.clone(), None),
        ProviderError::RateLimited { op, retry_after } => {
            return rate_limited(provider, *op, *retry_after);
        }
        ProviderError::SharedStateUnavailable { op, .. } => {
            return shared_state_unavailable(provider, *op);
        }
        // `unknown` means it was sent.
        ProviderError::DeadlineExceeded { op, .. } if unknown => (
            GATEWAY_DOMAIN,
            format!(
                "the caller's deadline passed while {} was in progress",
                op.name
            ),
            None,
        ),
        ProviderError::DeadlineExceeded { op, sent } => {
            let text = if *sent {
                format!(
                    "the caller's deadline passed while {} was in progress",
                    op.name
                )
            } else {
                format!("the caller's deadline passed before {} was sent", op.name)
            };
            return deadline_exceeded(Some(provider), Some(*op), &text);
        }
        ProviderError::Internal(message) => {
            return internal(
                Some(provider),
                &format!("provider {}: {message}", provider.name),
            );
        }
    };
    let answer = Answer {
        domain,
        class,
        text,
        retry_after,
    };
    build(
        provider,
        answer,
        Facts::of(error),
        unknown.then_some(key).flatten(),
        unknown,
    )
}

/// What happened to a request that got no answer.
fn transport_text(t: &TransportError) -> String {
    let what = match (t.phase, t.timed_out) {
        (SendPhase::NotSent, _) => {
            format!("could not reach the provider; {} was not sent", t.op.name)
        }
        (SendPhase::Sent, true) => {
            format!("{} was sent but no answer came back (timeout)", t.op.name)
        }
        (SendPhase::Sent, false) => format!(
            "{} was sent but no answer came back (connection lost)",
            t.op.name
        ),
    };
    format!("{what}: {}", t.detail)
}

/// Everything a provider error status is built from, besides its facts.
struct Answer<'a> {
    /// ErrorInfo domain: the provider API's, or the gateway's own.
    domain: &'a str,
    class: Classification,
    /// The human message, before the provider name and request id.
    text: String,
    /// What the provider asked us to wait, for RetryInfo.
    retry_after: Option<Duration>,
}

fn build(
    provider: &ProviderDescription,
    answer: Answer<'_>,
    facts: Facts<'_>,
    key: Option<&str>,
    outcome_unknown: bool,
) -> Status {
    let Answer {
        domain,
        class,
        text,
        retry_after,
    } = answer;
    let (code, reason) = if outcome_unknown {
        // The provider may have performed the write: never a blind retry.
        (Code::DeadlineExceeded, OUTCOME_UNKNOWN)
    } else {
        (class.grpc, class.reason)
    };
    let mut metadata = facts.metadata(Some(provider));
    if let Some(key) = key {
        metadata.insert("idempotencyKey".to_owned(), key.to_owned());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, domain, metadata);
    if let Some(request_id) = facts.request_id {
        details.set_request_info(request_id, format!("provider {}", provider.name));
    }
    // Waiting helps when the call certainly did not happen, or when it is a
    // read that may simply be repeated.
    if class.repeatable(facts.op.is_some_and(|op| !op.mutating)) {
        details.set_retry_info(Some(retry_after.unwrap_or(DEFAULT_RETRY_DELAY)));
    }
    let mut message = format!("provider {} ({}): {text}", provider.name, provider.kind);
    if let Some(request_id) = facts.request_id {
        message.push_str(&format!(" [provider request id {request_id}]"));
    }
    if outcome_unknown {
        message
            .push_str("; the outcome is unknown: check with GetAllocation before allocating again");
        if let Some(key) = key {
            message.push_str(&format!("; retry with idempotency_key {key:?}"));
        }
    }
    Status::with_error_details(code, message, details)
}
