//! The one place where errors become `tonic::Status`: provider errors through
//! the provider's error table, transport failures by whether the request was
//! sent, and the gateway's own decisions, one named constructor per row of
//! [`super::gateway_errors`]. Every status carries exactly one
//! `google.rpc.ErrorInfo` (AIP-193) with the common metadata keys
//! ([`COMMON_METADATA`]) plus its row's, a `RequestInfo` when the provider
//! gave a request id, and a `RetryInfo` where waiting helps.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use super::gateway_errors::{self as decisions, Decision, Retry};
pub use super::gateway_errors::{COMMON_METADATA, GATEWAY_DOMAIN};
use crate::bounded;
use crate::provider::error::{SendPhase, TransportError};
use crate::provider::error_table::{ErrorRule, RetryClass, fallback_for_http_status};
use crate::provider::{Operation, ProviderDescription, ProviderError, ProviderKind};

/// Reason for a mutating call whose outcome the gateway cannot know.
pub const OUTCOME_UNKNOWN: &str = decisions::OUTCOME_UNKNOWN.reason;

/// Delay suggested in RetryInfo when the provider gave none.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Delay suggested to a call shed over the concurrency cap.
pub const OVERLOADED_RETRY_DELAY: Duration = Duration::from_millis(100);

/// True when `error` leaves the outcome of a mutating call unknown: the
/// provider may have performed it. Exactly the errors `provider_status`
/// answers with `PROVIDER_OUTCOME_UNKNOWN`.
pub fn outcome_unknown(kind: ProviderKind, error: &ProviderError) -> bool {
    let Some(op) = error.operation() else {
        return false;
    };
    if !op.mutating {
        return false;
    }
    match error {
        ProviderError::Api(api) => {
            kind.error_table()
                .resolve(&api.code, &api.message, api.http_status)
                .retry
                == RetryClass::IdempotentOnly
        }
        ProviderError::Transport(t) => t.phase == SendPhase::Sent,
        ProviderError::MalformedResponse { http_status, .. } => {
            (200..300).contains(http_status)
                || fallback_for_http_status(*http_status).retry == RetryClass::IdempotentOnly
        }
        ProviderError::DeadlineExceeded { sent, .. } => *sent,
        ProviderError::NotFound { .. }
        | ProviderError::RateLimited { .. }
        | ProviderError::Internal(_) => false,
    }
}

/// INVALID_ARGUMENT for a bad request: ErrorInfo `INVALID_REQUEST` (with
/// the listed `fields` and the `violationCount`) and one BadRequest field
/// violation per listed bad field. The answer is bounded whatever the
/// request: at most [`MAX_LISTED_VIOLATIONS`] violations are listed (the
/// rest are counted), each of bounded length, and the message lists as many
/// as fit in [`MAX_MESSAGE_WIRE_BYTES`].
pub fn invalid_argument(what: &str, violations: FieldViolations) -> Status {
    let FieldViolations { listed, total } = violations;
    let mut message = format!(
        "invalid {what}: {total} bad field{}: ",
        if total == 1 { "" } else { "s" }
    );
    // Room for "; and N more (M listed in the BadRequest details)".
    let reserve = 64;
    let mut shown = 0;
    for (field, description) in &listed {
        let separator = if shown == 0 { "" } else { "; " };
        let piece = format!("{separator}{field}: {description}");
        if bounded::wire_len(&message) + bounded::wire_len(&piece) + reserve
            > MAX_MESSAGE_WIRE_BYTES
        {
            break;
        }
        message.push_str(&piece);
        shown += 1;
    }
    if shown < total {
        message.push_str(&format!(
            "{}and {} more ({} listed in the BadRequest details)",
            if shown == 0 { "" } else { "; " },
            total - shown,
            listed.len()
        ));
    }
    let fields = listed
        .iter()
        .map(|(field, _)| field.as_str())
        .collect::<Vec<_>>()
        .join(",");
    decided(
        &decisions::INVALID_REQUEST,
        message,
        gateway_metadata(
            None,
            None,
            [("fields", fields), ("violationCount", total.to_string())],
        ),
        None,
        listed
            .into_iter()
            .map(|(field, description)| FieldViolation::new(field, description))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// Provider errors
// ---------------------------------------------------------------------------

/// A status for an error the provider adapter returned, outside an
/// allocation (reads, lookups, watches).
///
/// Each kind of error says what happened (facts, a code and reason, whether
/// waiting helps); then one rule applies to all of them: when the outcome of
/// a write is unknown ([`outcome_unknown`]) the answer is DEADLINE_EXCEEDED
/// with reason `PROVIDER_OUTCOME_UNKNOWN`.
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
    let table = provider.kind.error_table();
    let unknown = outcome_unknown(provider.kind, error);
    let facts = Facts::of(error);
    let answer = match error {
        ProviderError::Api(api) => {
            let rule = table.resolve(&api.code, &api.message, api.http_status);
            Answer {
                domain: table.domain,
                mapped: Mapped::from_rule(rule, rule.reason),
                text: format!("{} failed: {}: {}", api.op.name, api.code, api.message),
                retry_after: api.retry_after,
            }
        }
        ProviderError::Transport(t) => transport_answer(table.domain, t),
        ProviderError::MalformedResponse {
            op,
            http_status,
            detail,
            ..
        } => {
            let rule = if (200..300).contains(http_status) {
                // Answered "success" unreadably: the call probably happened.
                &MALFORMED_SUCCESS
            } else if *http_status == 404 {
                // Not the API's own "not found" (that comes in its format):
                // the request went to a path with no API, a misconfigured
                // endpoint. Never the caller's NOT_FOUND.
                &MALFORMED_NOT_FOUND
            } else {
                fallback_for_http_status(*http_status)
            };
            let hint = if *http_status == 404 {
                " (check the provider's endpoint setting)"
            } else {
                ""
            };
            Answer {
                domain: table.domain,
                mapped: Mapped::from_rule(rule, "PROVIDER_RESPONSE_MALFORMED"),
                text: format!(
                    "{}: {} answered HTTP {http_status} with a response that is not its API's format{hint}: {detail}",
                    op.name,
                    provider.request_path()
                ),
                retry_after: None,
            }
        }
        ProviderError::NotFound {
            reason, message, ..
        } => Answer {
            domain: table.domain,
            mapped: Mapped {
                code: Code::NotFound,
                reason,
                retry: RetryClass::Never,
            },
            text: message.clone(),
            retry_after: None,
        },
        ProviderError::RateLimited { op, retry_after } => {
            return rate_limited(provider, *op, *retry_after);
        }
        // `unknown` means it was sent.
        ProviderError::DeadlineExceeded { op, .. } if unknown => Answer {
            domain: GATEWAY_DOMAIN,
            mapped: Mapped {
                code: Code::DeadlineExceeded,
                reason: decisions::OUTCOME_UNKNOWN.reason,
                retry: RetryClass::IdempotentOnly,
            },
            text: format!(
                "the caller's deadline passed while {} was in progress",
                op.name
            ),
            retry_after: None,
        },
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
    build(
        provider,
        answer,
        facts,
        unknown.then_some(key).flatten(),
        unknown,
    )
}

static MALFORMED_NOT_FOUND: ErrorRule = ErrorRule {
    code: "*",
    message: None,
    http_status: Some(404),
    grpc: Code::FailedPrecondition,
    reason: "PROVIDER_RESPONSE_MALFORMED",
    retry: RetryClass::Never,
};

static MALFORMED_SUCCESS: ErrorRule = ErrorRule {
    code: "*",
    message: None,
    http_status: None,
    grpc: Code::Internal,
    reason: "PROVIDER_RESPONSE_MALFORMED",
    retry: RetryClass::IdempotentOnly,
};

fn transport_answer<'a>(domain: &'a str, t: &'a TransportError) -> Answer<'a> {
    let (code, reason, retry, what) = match (t.phase, t.timed_out) {
        (SendPhase::NotSent, _) => (
            Code::Unavailable,
            "PROVIDER_UNREACHABLE",
            RetryClass::Retryable,
            format!("could not reach the provider; {} was not sent", t.op.name),
        ),
        (SendPhase::Sent, true) => (
            Code::DeadlineExceeded,
            "PROVIDER_TIMEOUT",
            RetryClass::IdempotentOnly,
            format!("{} was sent but no answer came back (timeout)", t.op.name),
        ),
        (SendPhase::Sent, false) => (
            Code::Unavailable,
            "PROVIDER_CONNECTION_LOST",
            RetryClass::IdempotentOnly,
            format!(
                "{} was sent but no answer came back (connection lost)",
                t.op.name
            ),
        ),
    };
    Answer {
        domain,
        mapped: Mapped {
            code,
            reason,
            retry,
        },
        text: format!("{what}: {}", t.detail),
        retry_after: None,
    }
}

/// Everything a provider error status is built from, besides its facts.
struct Answer<'a> {
    /// ErrorInfo domain: the provider API's, or the gateway's own.
    domain: &'a str,
    mapped: Mapped,
    /// The human message, before the provider name and request id.
    text: String,
    /// What the provider asked us to wait, for RetryInfo.
    retry_after: Option<Duration>,
}

/// What the provider told us, for ErrorInfo metadata.
struct Facts<'a> {
    op: Option<Operation>,
    code: &'a str,
    message: &'a str,
    request_id: Option<&'a str>,
    http_status: Option<u16>,
}

impl<'a> Facts<'a> {
    /// No provider answer: the gateway itself decided, during `op`.
    fn gateway(op: Option<Operation>) -> Facts<'static> {
        Facts {
            op,
            code: "",
            message: "",
            request_id: None,
            http_status: None,
        }
    }

    /// What `error` records about the provider's answer.
    fn of(error: &'a ProviderError) -> Facts<'a> {
        match error {
            ProviderError::Api(api) => Facts {
                op: Some(api.op),
                code: &api.code,
                message: &api.message,
                request_id: api.request_id.as_deref(),
                http_status: Some(api.http_status),
            },
            ProviderError::Transport(t) => Facts {
                op: Some(t.op),
                code: "",
                message: &t.detail,
                request_id: None,
                http_status: None,
            },
            ProviderError::MalformedResponse {
                op,
                http_status,
                detail,
                request_id,
            } => Facts {
                op: Some(*op),
                code: "",
                message: detail,
                request_id: request_id.as_deref(),
                http_status: Some(*http_status),
            },
            ProviderError::NotFound {
                op,
                message,
                request_id,
                ..
            } => Facts {
                op: Some(*op),
                code: "",
                message,
                request_id: request_id.as_deref(),
                http_status: None,
            },
            other => Facts::gateway(other.operation()),
        }
    }

    /// The common ErrorInfo metadata ([`COMMON_METADATA`]).
    fn metadata(&self, provider: Option<&ProviderDescription>) -> HashMap<String, String> {
        let mut metadata = HashMap::with_capacity(COMMON_METADATA.len() + 1);
        let mut put = |key: &str, value: String| metadata.insert(key.to_owned(), value);
        put(
            "provider",
            provider.map(|p| p.name.clone()).unwrap_or_default(),
        );
        put(
            "providerKind",
            provider
                .map(|p| p.kind.as_str().to_owned())
                .unwrap_or_default(),
        );
        put(
            "providerAction",
            self.op.map(|op| op.name).unwrap_or_default().to_owned(),
        );
        put("providerCode", self.code.to_owned());
        put("providerMessage", self.message.to_owned());
        put(
            "providerRequestId",
            self.request_id.unwrap_or_default().to_owned(),
        );
        put(
            "httpStatus",
            self.http_status.map(|s| s.to_string()).unwrap_or_default(),
        );
        metadata
    }
}

/// How long the provider asked to wait, if it did.
fn provider_retry_after(error: &ProviderError) -> Option<Duration> {
    match error {
        ProviderError::Api(api) => api.retry_after,
        ProviderError::RateLimited { retry_after, .. } => Some(*retry_after),
        _ => None,
    }
}

/// The gateway's answer: gRPC code, reason, retry class.
struct Mapped {
    code: Code,
    reason: &'static str,
    retry: RetryClass,
}

impl Mapped {
    /// A table row, with `reason` for the ErrorInfo.
    fn from_rule(rule: &ErrorRule, reason: &'static str) -> Mapped {
        Mapped {
            code: rule.grpc,
            reason,
            retry: rule.retry,
        }
    }

    /// Waiting helps when the call certainly did not happen, or when it is a
    /// read that may simply be repeated.
    fn waiting_helps(&self, op: Option<Operation>) -> bool {
        match self.retry {
            RetryClass::Retryable => true,
            RetryClass::IdempotentOnly => op.is_some_and(|op| !op.mutating),
            RetryClass::Never => false,
        }
    }
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
        mut mapped,
        text,
        retry_after,
    } = answer;
    if outcome_unknown {
        // The provider may have performed the write: never a blind retry.
        mapped.code = Code::DeadlineExceeded;
        mapped.reason = OUTCOME_UNKNOWN;
    }
    let mut metadata = facts.metadata(Some(provider));
    if let Some(key) = key {
        metadata.insert("idempotencyKey".to_owned(), key.to_owned());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(mapped.reason, domain, metadata);
    if let Some(request_id) = facts.request_id {
        details.set_request_info(request_id, format!("provider {}", provider.name));
    }
    if mapped.waiting_helps(facts.op) {
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
    Status::with_error_details(mapped.code, message, details)
}

// ---------------------------------------------------------------------------
// The gateway's own decisions: one constructor per row of `gateway_errors`
// ---------------------------------------------------------------------------

/// The common metadata of a gateway decision (provider and action when
/// known, the rest empty) plus the row's own keys.
fn gateway_metadata<const N: usize>(
    provider: Option<&ProviderDescription>,
    op: Option<Operation>,
    extra: [(&str, String); N],
) -> HashMap<String, String> {
    let mut metadata = Facts::gateway(op).metadata(provider);
    for (key, value) in extra {
        metadata.insert(key.to_owned(), value);
    }
    metadata
}

/// The status of `decision`. Its row says which metadata keys and whether
/// RetryInfo belong to it; the test over every constructor holds them to it.
fn decided(
    decision: &Decision,
    message: String,
    metadata: HashMap<String, String>,
    retry: Option<Duration>,
    violations: Vec<FieldViolation>,
) -> Status {
    debug_assert_eq!(
        metadata.len(),
        COMMON_METADATA.len() + decision.metadata.len(),
        "{}",
        decision.reason
    );
    debug_assert_eq!(
        retry.is_some(),
        decision.retry != Retry::No,
        "{}",
        decision.reason
    );
    let mut details = ErrorDetails::new();
    details.set_error_info(decision.reason, GATEWAY_DOMAIN, metadata);
    if let Some(retry) = retry {
        details.set_retry_info(Some(retry));
    }
    if !violations.is_empty() {
        details.set_bad_request(violations);
    }
    Status::with_error_details(decision.code, message, details)
}

/// INVALID_ARGUMENT `IDEMPOTENCY_KEY_REUSED`: `key` was first used with
/// other parameters; `differences` names them.
pub fn key_reused(key: &str, differences: &[String]) -> Status {
    let what = if differences.is_empty() {
        "different parameters".to_owned()
    } else {
        differences.join(", ")
    };
    decided(
        &decisions::KEY_REUSED,
        format!(
            "idempotency key {key:?} was already used with other parameters (differs in: {what})"
        ),
        gateway_metadata(None, None, [("idempotencyKey", key.to_owned())]),
        None,
        vec![FieldViolation::new(
            "idempotency_key",
            format!("already used with other parameters; differs in: {what}"),
        )],
    )
}

/// ABORTED `IDEMPOTENCY_KEY_IN_PROGRESS`: another call with `key` is still
/// running in this gateway and this call's deadline came first.
pub fn key_in_progress(provider: &ProviderDescription, key: &str) -> Status {
    decided(
        &decisions::KEY_IN_PROGRESS,
        format!(
            "a call with idempotency key {key:?} is still in progress; retry with the same key"
        ),
        gateway_metadata(Some(provider), None, [("idempotencyKey", key.to_owned())]),
        Some(DEFAULT_RETRY_DELAY),
        Vec::new(),
    )
}

/// ABORTED `PROVIDER_OUTCOME_PENDING`: the last attempt with `key` has an
/// unknown outcome, the provider does not show it, and the grace period
/// has `retry` left.
pub fn outcome_pending(provider: &ProviderDescription, key: &str, retry: Duration) -> Status {
    decided(
        &decisions::OUTCOME_PENDING,
        format!(
            "provider {}: the last attempt with idempotency key {key:?} has an unknown outcome \
             and the provider does not show it yet; retry with the same key after the suggested \
             delay",
            provider.name
        ),
        gateway_metadata(Some(provider), None, [("idempotencyKey", key.to_owned())]),
        Some(retry),
        Vec::new(),
    )
}

/// ABORTED `PROVIDER_OUTCOME_PENDING`: the last attempt with `key` has an
/// unknown outcome and asking the provider about it failed with `error`;
/// nothing was re-sent. The failed lookup's facts are in the metadata.
pub fn reconcile_failed(
    provider: &ProviderDescription,
    key: &str,
    error: &ProviderError,
) -> Status {
    let mut metadata = Facts::of(error).metadata(Some(provider));
    metadata.insert("idempotencyKey".to_owned(), key.to_owned());
    decided(
        &decisions::RECONCILE_FAILED,
        format!(
            "provider {}: the last attempt with idempotency key {key:?} has an unknown outcome \
             and checking it with the provider failed ({error}); nothing was sent again: retry \
             with the same key after the suggested delay",
            provider.name
        ),
        metadata,
        Some(provider_retry_after(error).unwrap_or(DEFAULT_RETRY_DELAY)),
        Vec::new(),
    )
}

/// INTERNAL `ALLOCATION_INTERRUPTED`: a fault inside the gateway (a panic)
/// ended the allocation under `key`; its outcome is recorded as unknown.
pub fn allocation_interrupted(provider: &ProviderDescription, key: &str) -> Status {
    decided(
        &decisions::ALLOCATION_INTERRUPTED,
        format!(
            "provider {}: an internal fault interrupted the allocation with idempotency key \
             {key:?}; its outcome is recorded as unknown: retry with the same key, which never \
             allocates twice",
            provider.name
        ),
        gateway_metadata(Some(provider), None, [("idempotencyKey", key.to_owned())]),
        Some(DEFAULT_RETRY_DELAY),
        Vec::new(),
    )
}

/// RESOURCE_EXHAUSTED `GATEWAY_RATE_LIMITED`: the account's rate limit has
/// no slot for `op` that leaves time for it before the deadline; the first
/// slot is `retry_after` away. Nothing was sent.
pub fn rate_limited(
    provider: &ProviderDescription,
    op: Operation,
    retry_after: Duration,
) -> Status {
    decided(
        &decisions::RATE_LIMITED,
        format!(
            "provider {} ({}): the gateway's rate limit for this provider account has no \
             capacity that leaves time for the call before the deadline; {} was not sent",
            provider.name, provider.kind, op.name
        ),
        gateway_metadata(Some(provider), Some(op), []),
        Some(retry_after),
        Vec::new(),
    )
}

/// UNAVAILABLE `GATEWAY_OVERLOADED`: `limit` calls are already running.
pub fn overloaded(limit: usize) -> Status {
    decided(
        &decisions::OVERLOADED,
        format!(
            "the gateway is at its limit of {limit} concurrent calls; nothing was done, retry shortly"
        ),
        gateway_metadata(None, None, [("maxConcurrentCalls", limit.to_string())]),
        Some(OVERLOADED_RETRY_DELAY),
        Vec::new(),
    )
}

/// DEADLINE_EXCEEDED decided by the gateway itself (no allocation in
/// doubt), with ErrorInfo reason `DEADLINE_EXCEEDED`.
pub fn deadline_exceeded(
    provider: Option<&ProviderDescription>,
    op: Option<Operation>,
    message: &str,
) -> Status {
    let message = match provider {
        Some(provider) => format!("provider {} ({}): {message}", provider.name, provider.kind),
        None => message.to_owned(),
    };
    decided(
        &decisions::DEADLINE_EXCEEDED,
        message,
        gateway_metadata(provider, op, []),
        None,
        Vec::new(),
    )
}

/// UNAVAILABLE `WATCH_LIFETIME_ENDED`: the watch of `id` has streamed for
/// `lifetime`, the longest a watch lasts; watching again continues it.
pub fn watch_lifetime_ended(
    provider: &ProviderDescription,
    id: &str,
    lifetime: Duration,
) -> Status {
    decided(
        &decisions::WATCH_LIFETIME_ENDED,
        format!(
            "provider {}: the watch of {id} reached its maximum lifetime of {} ms; watch again \
             to continue",
            provider.name,
            lifetime.as_millis()
        ),
        gateway_metadata(
            Some(provider),
            None,
            [("watchMaxLifetimeMs", lifetime.as_millis().to_string())],
        ),
        Some(Duration::ZERO),
        Vec::new(),
    )
}

/// UNAVAILABLE `IDEMPOTENCY_STORE_UNAVAILABLE`: the store failed before
/// anything was sent.
pub fn store_unavailable(provider: Option<&ProviderDescription>) -> Status {
    decided(
        &decisions::STORE_UNAVAILABLE,
        "the idempotency store failed; nothing was sent to the provider".to_owned(),
        gateway_metadata(provider, None, []),
        Some(DEFAULT_RETRY_DELAY),
        Vec::new(),
    )
}

/// INTERNAL `IDEMPOTENCY_RECORD_CORRUPT`: the record of `key` cannot be
/// read; the key stays unusable rather than risk a second allocation.
pub fn record_corrupt(provider: Option<&ProviderDescription>, key: &str, detail: &str) -> Status {
    decided(
        &decisions::RECORD_CORRUPT,
        format!(
            "the stored result for idempotency key {key:?} cannot be read ({detail}); the key \
             stays unusable rather than risk a second allocation"
        ),
        gateway_metadata(provider, None, [("idempotencyKey", key.to_owned())]),
        None,
        Vec::new(),
    )
}

/// INTERNAL `GATEWAY_INTERNAL`: a fault inside the gateway.
pub fn internal(provider: Option<&ProviderDescription>, message: &str) -> Status {
    decided(
        &decisions::INTERNAL,
        message.to_owned(),
        gateway_metadata(provider, None, []),
        None,
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tonic_types::ErrorDetail;

    use super::*;
    use crate::provider::{Capabilities, ProviderKind};

    fn zenlayer() -> ProviderDescription {
        ProviderDescription {
            name: "zl".to_owned(),
            kind: ProviderKind::Zenlayer,
            region: None,
            endpoint: "http://127.0.0.1:1".to_owned(),
            capabilities: Capabilities {
                max_allocations_per_request: 100,
                asynchronous: true,
                requires_instance: false,
                requires_instance_restart: false,
                charge_types: Vec::new(),
                api_version: String::new(),
                signature: String::new(),
            },
        }
    }

    const ALLOCATE: Operation = Operation {
        name: "AllocateEipAddresses",
        mutating: true,
    };
    const DESCRIBE: Operation = Operation {
        name: "DescribeEipAddresses",
        mutating: false,
    };

    /// One status per gateway decision, built by its named constructor.
    fn every_decision() -> Vec<(&'static Decision, Status)> {
        let p = zenlayer();
        let throttled = ProviderError::Api(crate::provider::error::ApiError {
            op: DESCRIBE,
            http_status: 429,
            code: "REQUEST_LIMIT_EXCEEDED".to_owned(),
            message: "slow down".to_owned(),
            request_id: Some("R-1".to_owned()),
            retry_after: None,
        });
        let in_flight = ProviderError::DeadlineExceeded {
            op: ALLOCATE,
            sent: true,
        };
        vec![
            (&decisions::INVALID_REQUEST, {
                let mut violations = FieldViolations::default();
                violations.add("amount", "too big");
                invalid_argument("AllocateIpRequest", violations)
            }),
            (
                &decisions::KEY_REUSED,
                key_reused("k", &["zenlayer.amount".to_owned()]),
            ),
            (&decisions::KEY_IN_PROGRESS, key_in_progress(&p, "k")),
            (
                &decisions::OUTCOME_PENDING,
                outcome_pending(&p, "k", Duration::from_millis(300)),
            ),
            (
                &decisions::RECONCILE_FAILED,
                reconcile_failed(&p, "k", &throttled),
            ),
            (
                &decisions::OUTCOME_UNKNOWN,
                allocation_status(&p, &in_flight, "k"),
            ),
            (
                &decisions::ALLOCATION_INTERRUPTED,
                allocation_interrupted(&p, "k"),
            ),
            (
                &decisions::RATE_LIMITED,
                rate_limited(&p, ALLOCATE, Duration::from_millis(50)),
            ),
            (&decisions::OVERLOADED, overloaded(8)),
            (
                &decisions::DEADLINE_EXCEEDED,
                deadline_exceeded(Some(&p), Some(DESCRIBE), "late"),
            ),
            (
                &decisions::WATCH_LIFETIME_ENDED,
                watch_lifetime_ended(&p, "eip-1", Duration::from_secs(3600)),
            ),
            (&decisions::STORE_UNAVAILABLE, store_unavailable(Some(&p))),
            (
                &decisions::RECORD_CORRUPT,
                record_corrupt(Some(&p), "k", "bad bytes"),
            ),
            (&decisions::INTERNAL, internal(None, "a bug")),
            (
                &decisions::REQUEST_UNDECODABLE,
                request_undecodable("AllocateIpRequest", "invalid wire type"),
            ),
            (
                &decisions::REQUEST_UNDECODABLE,
                library_status(
                    Code::Internal,
                    REQUEST_UNDECODABLE,
                    "Missing request message.",
                    "/ipalloc.v1.IpAllocation/AllocateIp",
                ),
            ),
            (
                &decisions::REQUEST_TOO_LARGE,
                request_too_large(262_144, Some(1 << 30)),
            ),
            (
                &decisions::REQUEST_TOO_LARGE,
                request_too_large(262_144, None),
            ),
            (
                &decisions::CONTENT_TYPE_UNSUPPORTED,
                content_type_unsupported(Some("text/plain")),
            ),
            (
                &decisions::HTTP_METHOD_NOT_ALLOWED,
                http_method_not_allowed("GET"),
            ),
            (
                &decisions::COMPRESSION_UNSUPPORTED,
                library_status(Code::Unimplemented, COMPRESSION_UNSUPPORTED, "gzip", "/x"),
            ),
            (
                &decisions::METHOD_NOT_FOUND,
                library_status(Code::Unimplemented, METHOD_NOT_FOUND, "", "/x/Y"),
            ),
            (
                &decisions::REQUEST_REJECTED,
                library_status(Code::Cancelled, REQUEST_REJECTED, "Timeout expired", "/x"),
            ),
            (
                &decisions::INTERNAL,
                library_status(Code::Internal, "GATEWAY_INTERNAL", "h2 error", "/x"),
            ),
            (
                &decisions::SHUTTING_DOWN,
                shutting_down("the wait was cut short", Some("k")),
            ),
            (
                &decisions::SHUTTING_DOWN,
                shutting_down("stream ended", None),
            ),
            (
                &decisions::REQUEST_BODY_TIMEOUT,
                request_body_timeout(Duration::from_secs(10)),
            ),
        ]
    }

    /// Every constructor yields exactly one ErrorInfo, in the gateway's
    /// domain, with its row's code and reason, exactly the common metadata
    /// keys plus its row's, and RetryInfo exactly when its row says so; and
    /// every row has a constructor.
    #[test]
    fn every_constructor_matches_its_published_row() {
        let built = every_decision();
        let covered: BTreeSet<*const Decision> =
            built.iter().map(|(d, _)| *d as *const Decision).collect();
        for decision in decisions::DECISIONS {
            assert!(
                covered.contains(&(decision as *const Decision)),
                "no constructor tested for {}",
                decision.situation
            );
        }
        for (decision, status) in built {
            let what = decision.reason;
            if !decision.library_code {
                assert_eq!(status.code(), decision.code, "{what}");
            }
            let details = status.get_error_details_vec();
            let infos: Vec<_> = details
                .iter()
                .filter_map(|d| match d {
                    ErrorDetail::ErrorInfo(info) => Some(info),
                    _ => None,
                })
                .collect();
            assert_eq!(infos.len(), 1, "{what}: exactly one ErrorInfo");
            let info = infos[0];
            assert_eq!(info.reason, decision.reason);
            assert_eq!(info.domain, GATEWAY_DOMAIN, "{what}");
            let keys: BTreeSet<&str> = info.metadata.keys().map(String::as_str).collect();
            let documented: BTreeSet<&str> = COMMON_METADATA
                .iter()
                .chain(decision.metadata)
                .copied()
                .collect();
            assert_eq!(keys, documented, "{what}");
            let retry_infos = details
                .iter()
                .filter(|d| matches!(d, ErrorDetail::RetryInfo(_)))
                .count();
            assert_eq!(
                retry_infos,
                usize::from(decision.retry != Retry::No),
                "{what}: RetryInfo"
            );
            let bad_requests = details
                .iter()
                .filter(|d| matches!(d, ErrorDetail::BadRequest(_)))
                .count();
            assert_eq!(
                bad_requests,
                usize::from(
                    decision
                        .also
                        .is_some_and(|also| also.starts_with("BadRequest"))
                ),
                "{what}: BadRequest"
            );
            assert!(!status.message().is_empty(), "{what}");
        }
    }

    /// The key to retry with is part of the status from the start, in the
    /// metadata and the message.
    #[test]
    fn an_unknown_allocation_outcome_names_its_key() {
        let status = allocation_status(
            &zenlayer(),
            &ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: true,
            },
            "order-1",
        );
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.metadata["idempotencyKey"], "order-1");
        assert_eq!(info.metadata["provider"], "zl");
        assert_eq!(info.metadata["providerAction"], "AllocateEipAddresses");
        assert!(
            status.message().contains("\"order-1\""),
            "{}",
            status.message()
        );
        // A definite failure frees the key: no key to retry with.
        let definite = allocation_status(
            &zenlayer(),
            &ProviderError::RateLimited {
                op: ALLOCATE,
                retry_after: Duration::from_secs(1),
            },
            "order-1",
        );
        let info = definite.get_error_details().error_info().cloned().unwrap();
        assert!(!info.metadata.contains_key("idempotencyKey"));
    }

    /// A failed reconciliation relays the lookup's facts and the provider's
    /// delay.
    #[test]
    fn a_failed_reconciliation_names_the_failed_lookup() {
        let error = ProviderError::Api(crate::provider::error::ApiError {
            op: DESCRIBE,
            http_status: 400,
            code: "Throttling.User".to_owned(),
            message: "Request was denied due to user flow control.".to_owned(),
            request_id: Some("R-9".to_owned()),
            retry_after: Some(Duration::from_secs(3)),
        });
        let status = reconcile_failed(&zenlayer(), "k-2", &error);
        assert_eq!(status.code(), Code::Aborted);
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.metadata["providerAction"], "DescribeEipAddresses");
        assert_eq!(info.metadata["providerCode"], "Throttling.User");
        assert_eq!(info.metadata["providerRequestId"], "R-9");
        assert_eq!(info.metadata["httpStatus"], "400");
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(3))
        );
    }
}

/// How long a caller is asked to wait after the gateway refused a call
/// because it is shutting down (another replica, or this one restarted).
pub const SHUTDOWN_RETRY_DELAY: Duration = Duration::from_secs(1);

/// UNAVAILABLE with ErrorInfo `GATEWAY_SHUTTING_DOWN` and RetryInfo: a
/// stream or a wait ended because the gateway is stopping. `detail` says
/// what was cut short; `idempotency_key`, when given, is the key to retry
/// with (the allocation itself is recorded).
pub fn shutting_down(detail: &str, idempotency_key: Option<&str>) -> Status {
    decided(
        &decisions::SHUTTING_DOWN,
        format!("the gateway is shutting down: {detail}; retry shortly"),
        gateway_metadata(
            None,
            None,
            [(
                "idempotencyKey",
                idempotency_key.unwrap_or_default().to_owned(),
            )],
        ),
        Some(SHUTDOWN_RETRY_DELAY),
        Vec::new(),
    )
}

/// DEADLINE_EXCEEDED with ErrorInfo `REQUEST_BODY_TIMEOUT`: the request's
/// headers came but its message did not within `timeout`. Nothing was done.
pub fn request_body_timeout(timeout: Duration) -> Status {
    decided(
        &decisions::REQUEST_BODY_TIMEOUT,
        format!(
            "the request message did not arrive within {} ms of its headers; nothing was done",
            timeout.as_millis()
        ),
        gateway_metadata(
            None,
            None,
            [("requestBodyTimeoutMs", timeout.as_millis().to_string())],
        ),
        None,
        Vec::new(),
    )
}

// ---------------------------------------------------------------------------
// Bad requests: bounded field violations, undecodable and refused requests
// ---------------------------------------------------------------------------

/// Most field violations one answer lists; the rest are only counted.
pub const MAX_LISTED_VIOLATIONS: usize = 16;
/// Longest field path kept in a violation, in bytes.
pub const MAX_FIELD_BYTES: usize = 48;
/// Longest violation description kept, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 128;
/// Longest status message the gateway builds from a caller's input, in
/// bytes of `grpc-message` (percent-encoded).
pub const MAX_MESSAGE_WIRE_BYTES: usize = 1024;

/// Bad fields found in a request: the first [`MAX_LISTED_VIOLATIONS`] as
/// (field path, what is wrong), each cut to a bounded length, and how many
/// there were in all.
#[derive(Debug, Default)]
pub struct FieldViolations {
    listed: Vec<(String, String)>,
    total: usize,
}

impl FieldViolations {
    /// Records one bad field; past the cap it is only counted.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_VIOLATIONS {
            self.listed.push((
                bounded::truncate_owned(field.into(), MAX_FIELD_BYTES),
                bounded::truncate_owned(description.into(), MAX_DESCRIPTION_BYTES),
            ));
        }
    }

    /// How many bad fields were found (listed or not).
    pub fn total(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The listed violations, in the order found.
    pub fn listed(&self) -> &[(String, String)] {
        &self.listed
    }
}

/// A caller's value quoted for an error message, bounded (see
/// [`bounded::echo`]).
pub use crate::bounded::echo;

/// Reason of a request whose message cannot be decoded.
pub const REQUEST_UNDECODABLE: &str = "REQUEST_UNDECODABLE";
/// Reason of a request message over `server.max_request_bytes`.
pub const REQUEST_TOO_LARGE: &str = "REQUEST_TOO_LARGE";
/// Reason of a request that is not gRPC (content type).
pub const CONTENT_TYPE_UNSUPPORTED: &str = "CONTENT_TYPE_UNSUPPORTED";
/// Reason of a request that is not a POST.
pub const HTTP_METHOD_NOT_ALLOWED: &str = "HTTP_METHOD_NOT_ALLOWED";
/// Reason of a request compressed with an encoding the gateway does not accept.
pub const COMPRESSION_UNSUPPORTED: &str = "COMPRESSION_UNSUPPORTED";
/// Reason of a call to a method the server does not have.
pub const METHOD_NOT_FOUND: &str = "METHOD_NOT_FOUND";
/// Reason of a status the gRPC library produced that no rule above names.
pub const REQUEST_REJECTED: &str = "REQUEST_REJECTED";

/// A decision about the request itself, its message bounded to
/// [`MAX_MESSAGE_WIRE_BYTES`].
fn request_status<const N: usize>(
    decision: &Decision,
    code: Code,
    message: &str,
    extra: [(&str, String); N],
) -> Status {
    let message = bounded::truncate_wire(message, MAX_MESSAGE_WIRE_BYTES).into_owned();
    let mut status = decided(
        decision,
        message,
        gateway_metadata(None, None, extra),
        None,
        Vec::new(),
    );
    if code != decision.code {
        // Only a row whose code comes from the gRPC library varies.
        debug_assert!(decision.library_code, "{}", decision.reason);
        status = Status::with_details(
            code,
            status.message().to_owned(),
            bytes::Bytes::copy_from_slice(status.details()),
        );
    }
    status
}

/// INVALID_ARGUMENT `REQUEST_UNDECODABLE`: the request message is not a
/// valid protobuf encoding of `message_type` (malformed wire format,
/// invalid UTF-8 in a string field, a truncated or missing message).
pub fn request_undecodable(message_type: &str, problem: &str) -> Status {
    undecodable(message_type, problem, "")
}

fn undecodable(message_type: &str, problem: &str, path: &str) -> Status {
    let problem = bounded::truncate(problem, 256);
    let what = if message_type.is_empty() {
        "the request is not a valid gRPC message".to_owned()
    } else {
        format!("the request is not a valid {message_type} message")
    };
    request_status(
        &decisions::REQUEST_UNDECODABLE,
        Code::InvalidArgument,
        &format!("{what}: {problem}"),
        [
            ("messageType", message_type.to_owned()),
            ("problem", problem.into_owned()),
            ("grpcMethod", bounded::truncate(path, 128).into_owned()),
        ],
    )
}

/// INVALID_ARGUMENT `REQUEST_TOO_LARGE`: the request message is larger than
/// `server.max_request_bytes`; nothing of it was read.
pub fn request_too_large(limit: usize, found: Option<u64>) -> Status {
    let size = found.map_or_else(|| "a request".to_owned(), |n| format!("{n} bytes"));
    request_status(
        &decisions::REQUEST_TOO_LARGE,
        Code::InvalidArgument,
        &format!(
            "the request message ({size}) is larger than this gateway accepts (server.max_request_bytes = {limit})"
        ),
        [
            ("maxRequestBytes", limit.to_string()),
            (
                "requestBytes",
                found.map(|n| n.to_string()).unwrap_or_default(),
            ),
        ],
    )
}

/// INVALID_ARGUMENT `CONTENT_TYPE_UNSUPPORTED`: not a gRPC request (sent
/// with HTTP 415, as grpc-go does).
pub fn content_type_unsupported(content_type: Option<&str>) -> Status {
    let shown = content_type.map_or_else(|| "none".to_owned(), echo);
    request_status(
        &decisions::CONTENT_TYPE_UNSUPPORTED,
        Code::InvalidArgument,
        &format!(
            "invalid gRPC request content-type {shown}: this is a gRPC server (application/grpc or application/grpc+proto)"
        ),
        [(
            "contentType",
            bounded::truncate(content_type.unwrap_or(""), 64).into_owned(),
        )],
    )
}

/// INVALID_ARGUMENT `HTTP_METHOD_NOT_ALLOWED`: gRPC requests are POSTs
/// (sent with HTTP 405).
pub fn http_method_not_allowed(method: &str) -> Status {
    request_status(
        &decisions::HTTP_METHOD_NOT_ALLOWED,
        Code::InvalidArgument,
        &format!(
            "invalid gRPC request method {}: gRPC requests are POST",
            echo(method)
        ),
        [("httpMethod", bounded::truncate(method, 16).into_owned())],
    )
}

/// A status the gRPC library itself produced without details (code and
/// message kept, bounded), given an ErrorInfo with `reason` (one of
/// `REQUEST_UNDECODABLE`, `COMPRESSION_UNSUPPORTED`, `METHOD_NOT_FOUND`,
/// `GATEWAY_INTERNAL`, else `REQUEST_REJECTED`).
pub fn library_status(code: Code, reason: &str, message: &str, path: &str) -> Status {
    let decision = match reason {
        REQUEST_UNDECODABLE => return undecodable("", message, path),
        COMPRESSION_UNSUPPORTED => &decisions::COMPRESSION_UNSUPPORTED,
        METHOD_NOT_FOUND => &decisions::METHOD_NOT_FOUND,
        "GATEWAY_INTERNAL" => return internal(None, &bounded::truncate(message, 512)),
        _ => &decisions::REQUEST_REJECTED,
    };
    let message = if message.is_empty() {
        format!(
            "{}: {}",
            decision.reason.to_ascii_lowercase().replace('_', " "),
            bounded::echo(path)
        )
    } else {
        message.to_owned()
    };
    request_status(
        decision,
        code,
        &message,
        [("grpcMethod", bounded::truncate(path, 128).into_owned())],
    )
}
