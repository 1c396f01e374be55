//! The gateway's own decisions: one named constructor per row of
//! [`crate::api::gateway_errors`], each status built by [`decided`] from
//! its row (code, reason, RetryInfo, metadata keys).

use std::collections::HashMap;
use std::time::Duration;

use tonic::Status;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use super::metadata::{Facts, gateway_metadata};
use super::{
    COMMON_METADATA, DEFAULT_RETRY_DELAY, GATEWAY_DOMAIN, OVERLOADED_RETRY_DELAY,
    SHUTDOWN_RETRY_DELAY,
};
use crate::api::gateway_errors::{self as decisions, Decision, Retry};
use crate::auth::{Rpc, Unauthenticated};
use crate::provider::{Operation, ProviderDescription, ProviderError};
use crate::spend::{ScopeKind, SpendRefusal};

/// The status of `decision`. Its row says which metadata keys and whether
/// RetryInfo belong to it; the test over every constructor holds them to it.
pub(super) fn decided(
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

/// UNAUTHENTICATED `CALLER_UNAUTHENTICATED`: callers are configured and the
/// call to `rpc` carries no identity of one (`why` says which way).
pub fn caller_unauthenticated(rpc: Rpc, why: Unauthenticated) -> Status {
    decided(
        &decisions::CALLER_UNAUTHENTICATED,
        format!("{}; nothing was done", why.message()),
        gateway_metadata(None, None, [("grpcMethod", rpc.path())]),
        None,
        Vec::new(),
    )
}

/// PERMISSION_DENIED `CALLER_NOT_ALLOWED`: `caller` may not call `rpc`, or
/// (with `provider`) may not use that provider account.
pub fn caller_not_allowed(
    caller: &str,
    rpc: Rpc,
    provider: Option<&ProviderDescription>,
) -> Status {
    let message = match provider {
        Some(provider) => format!(
            "caller {caller} may not use provider account {}; nothing was sent",
            provider.name
        ),
        None => format!(
            "caller {caller} may not call {}; nothing was done",
            rpc.name()
        ),
    };
    decided(
        &decisions::CALLER_NOT_ALLOWED,
        message,
        gateway_metadata(
            provider,
            None,
            [("caller", caller.to_owned()), ("grpcMethod", rpc.path())],
        ),
        None,
        Vec::new(),
    )
}

/// RESOURCE_EXHAUSTED `SPEND_LIMIT_REACHED`: the allocation under `key`
/// would take a caller or the account past a spend limit. With RetryInfo
/// when the window frees up enough; without, when it never fits.
pub fn spend_limit_reached(
    provider: &ProviderDescription,
    caller: Option<&str>,
    key: &str,
    refusal: &SpendRefusal,
) -> Status {
    let (decision, when) = match refusal.retry_after {
        Some(after) => (
            &decisions::SPEND_LIMIT_REACHED,
            format!("retry after {} s", after.as_secs().max(1)),
        ),
        None => (
            &decisions::SPEND_LIMIT_TOO_SMALL,
            "it asks for more than the limit allows in a whole window".to_owned(),
        ),
    };
    let whose = match refusal.scope {
        ScopeKind::Caller => format!("caller {}", refusal.name),
        ScopeKind::Account => format!("provider account {}", refusal.name),
    };
    decided(
        decision,
        format!(
            "{whose} may allocate at most {} addresses per {}; {} were allocated in the last {} \
             and this call asks for {}: {when}; nothing was sent",
            refusal.limit,
            refusal.window.name(),
            refusal.used,
            refusal.window.name(),
            refusal.requested,
        ),
        gateway_metadata(
            Some(provider),
            None,
            [
                ("caller", caller.unwrap_or_default().to_owned()),
                ("idempotencyKey", key.to_owned()),
                ("spendScope", refusal.scope.as_str().to_owned()),
                ("spendWindow", refusal.window.name().to_owned()),
                ("spendLimit", refusal.limit.to_string()),
                ("spendUsed", refusal.used.to_string()),
                ("spendRequested", refusal.requested.to_string()),
            ],
        ),
        refusal.retry_after,
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

/// FAILED_PRECONDITION `ZONE_SOLD_OUT`: a `validate_only` allocation in
/// `zone_id` would be accepted and then fail, the zone's EIPs of `netmask`
/// being sold out.
pub fn zone_sold_out(provider: &ProviderDescription, zone_id: &str, netmask: u32) -> Status {
    decided(
        &decisions::ZONE_SOLD_OUT,
        format!(
            "validate_only: EIPs of netmask {netmask} are SOLD_OUT in zone {zone_id}: the \
             allocation would be accepted and end CREATE_FAILED; nothing was allocated"
        ),
        gateway_metadata(Some(provider), None, [("zoneId", zone_id.to_owned())]),
        None,
        Vec::new(),
    )
}

/// UNAVAILABLE `IDEMPOTENCY_STORE_UNAVAILABLE`: fleet mode, the account's
/// shared rate limit cannot be reached, so `op` was not sent (the cause is
/// logged, not told to the caller).
pub fn shared_state_unavailable(provider: &ProviderDescription, op: Operation) -> Status {
    decided(
        &decisions::SHARED_STATE_UNAVAILABLE,
        format!(
            "provider {} ({}): the rate limit this provider account shares with the other \
             gateways cannot be reached in the database; {} was not sent",
            provider.name, provider.kind, op.name
        ),
        gateway_metadata(Some(provider), Some(op), []),
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

/// CANCELLED `GRPC_TIMEOUT_EXPIRED` "Timeout expired": the caller's
/// `grpc-timeout` of `timeout` passed before the call produced its
/// response headers (the backstop around every call; handlers answer before
/// it with a meaningful status). What the call had done stays unknown.
pub fn timeout_expired(timeout: Duration) -> Status {
    decided(
        &decisions::TIMEOUT_EXPIRED,
        "Timeout expired".to_owned(),
        gateway_metadata(
            None,
            None,
            [("grpcTimeoutMs", timeout.as_millis().to_string())],
        ),
        None,
        Vec::new(),
    )
}

/// How long the provider asked to wait, if it did.
fn provider_retry_after(error: &ProviderError) -> Option<Duration> {
    match error {
        ProviderError::Api(api) => api.retry_after,
        ProviderError::RateLimited { retry_after, .. } => Some(*retry_after),
        _ => None,
    }
}
