//! The gateway's own decisions as data: one row per situation in which the
//! gateway itself (not a provider) answers with an error, with its gRPC
//! code, ErrorInfo reason, whether RetryInfo is attached and the metadata
//! keys it adds to the common ones. `api::error` builds every such status
//! from its row (one named constructor per row); README's "gateway's own
//! decisions" table is generated from [`DECISIONS`] and checked by a test.

use tonic::Code;

use crate::provider::error_table::code_name;

/// ErrorInfo domain of errors the gateway itself decides.
pub const GATEWAY_DOMAIN: &str = "ipalloc-gateway";

/// Metadata keys every ErrorInfo the gateway sends carries, provider errors
/// and gateway decisions alike (empty strings where they do not apply).
pub const COMMON_METADATA: [&str; 7] = [
    "provider",
    "providerKind",
    "providerAction",
    "providerCode",
    "providerMessage",
    "providerRequestId",
    "httpStatus",
];

/// Whether a decision's status carries RetryInfo, and with what delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// No RetryInfo: retrying the same request does not help (or, for an
    /// unknown outcome, the caller decides when to retry with the key).
    No,
    /// RetryInfo with the delay described.
    After(&'static str),
}

/// One gateway decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// When the gateway answers this (README's "Situation").
    pub situation: &'static str,
    pub code: Code,
    /// `google.rpc.ErrorInfo.reason`.
    pub reason: &'static str,
    /// Other detail messages besides ErrorInfo (and RetryInfo).
    pub also: Option<&'static str>,
    pub retry: Retry,
    /// Metadata keys added to [`COMMON_METADATA`].
    pub metadata: &'static [&'static str],
    /// The gRPC code is the one the gRPC library chose (`code` is only the
    /// usual one).
    pub library_code: bool,
}

pub static INVALID_REQUEST: Decision = Decision {
    situation: "Bad request fields",
    code: Code::InvalidArgument,
    reason: "INVALID_REQUEST",
    also: Some("BadRequest"),
    retry: Retry::No,
    metadata: &["fields", "violationCount"],
    library_code: false,
};

pub static KEY_REUSED: Decision = Decision {
    situation: "Idempotency key reused with other parameters",
    code: Code::InvalidArgument,
    reason: "IDEMPOTENCY_KEY_REUSED",
    also: Some("BadRequest naming what differs"),
    retry: Retry::No,
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static KEY_IN_PROGRESS: Decision = Decision {
    situation: "A call with the same key is still running and the deadline comes first",
    code: Code::Aborted,
    reason: "IDEMPOTENCY_KEY_IN_PROGRESS",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static OUTCOME_PENDING: Decision = Decision {
    situation: "The last attempt's outcome is unknown and the provider does not show it yet \
                (nothing is re-sent before `reconcile_grace_ms`)",
    code: Code::Aborted,
    reason: "PROVIDER_OUTCOME_PENDING",
    also: None,
    retry: Retry::After("the rest of the grace period"),
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static RECONCILE_FAILED: Decision = Decision {
    situation: "The last attempt's outcome is unknown and asking the provider failed \
                (throttled, 5xx, timeout): nothing is re-sent; the failed lookup is in \
                `providerAction`, `providerCode`, ...",
    code: Code::Aborted,
    reason: "PROVIDER_OUTCOME_PENDING",
    also: None,
    retry: Retry::After("the provider's, else 1 s"),
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static OUTCOME_UNKNOWN: Decision = Decision {
    situation: "The caller's deadline passed while an allocation was in flight",
    code: Code::DeadlineExceeded,
    reason: "PROVIDER_OUTCOME_UNKNOWN",
    also: None,
    retry: Retry::No,
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static ALLOCATION_INTERRUPTED: Decision = Decision {
    situation: "A gateway fault (a panic) interrupted an allocation; its outcome is recorded \
                as unknown, retry with the key",
    code: Code::Internal,
    reason: "ALLOCATION_INTERRUPTED",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static RATE_LIMITED: Decision = Decision {
    situation: "The provider account's rate limit has no slot that leaves time for the call \
                before the deadline (nothing sent)",
    code: Code::ResourceExhausted,
    reason: "GATEWAY_RATE_LIMITED",
    also: None,
    retry: Retry::After("until the slot"),
    metadata: &[],
    library_code: false,
};

pub static CALLER_UNAUTHENTICATED: Decision = Decision {
    situation: "Callers are configured (`[callers.NAME]`) and the call carries no identity of \
                one: no bearer token and no matching client certificate or Unix socket peer, \
                a token that matches no caller, or `authorization` metadata that is not \
                `Bearer <token>` (health and reflection stay open; nothing sent)",
    code: Code::Unauthenticated,
    reason: "CALLER_UNAUTHENTICATED",
    also: None,
    retry: Retry::No,
    metadata: &["grpcMethod"],
    library_code: false,
};

pub static CALLER_NOT_ALLOWED: Decision = Decision {
    situation: "The caller may not call this RPC (its `rpcs`) or use this provider account \
                (its `providers`; nothing sent)",
    code: Code::PermissionDenied,
    reason: "CALLER_NOT_ALLOWED",
    also: None,
    retry: Retry::No,
    metadata: &["caller", "grpcMethod"],
    library_code: false,
};

/// The metadata keys of both spend limit refusals.
const SPEND_METADATA: &[&str] = &[
    "caller",
    "idempotencyKey",
    "spendScope",
    "spendWindow",
    "spendLimit",
    "spendUsed",
    "spendRequested",
];

pub static SPEND_LIMIT_REACHED: Decision = Decision {
    situation: "The allocation would take the caller or the provider account past its \
                `max_addresses_per_hour` or `max_addresses_per_day` (nothing sent; a replay \
                of a completed key is still answered)",
    code: Code::ResourceExhausted,
    reason: "SPEND_LIMIT_REACHED",
    also: None,
    retry: Retry::After("until enough of the window's allocations are an hour (a day) old"),
    metadata: SPEND_METADATA,
    library_code: false,
};

pub static SPEND_LIMIT_TOO_SMALL: Decision = Decision {
    situation: "One request asks for more addresses than a spend limit allows in its whole \
                window (nothing sent; it never fits)",
    code: Code::ResourceExhausted,
    reason: "SPEND_LIMIT_REACHED",
    also: None,
    retry: Retry::No,
    metadata: SPEND_METADATA,
    library_code: false,
};

pub static ZONE_SOLD_OUT: Decision = Decision {
    situation: "`validate_only`: Zenlayer reports the zone's EIPs of that netmask SOLD_OUT (the \
                allocation would be accepted and end CREATE_FAILED)",
    code: Code::FailedPrecondition,
    reason: "ZONE_SOLD_OUT",
    also: None,
    retry: Retry::No,
    metadata: &["zoneId"],
    library_code: false,
};

pub static OVERLOADED: Decision = Decision {
    situation: "Over `server.max_concurrent_calls` (open watches count)",
    code: Code::Unavailable,
    reason: "GATEWAY_OVERLOADED",
    also: None,
    retry: Retry::After("100 ms"),
    metadata: &["maxConcurrentCalls"],
    library_code: false,
};

pub static DEADLINE_EXCEEDED: Decision = Decision {
    situation: "The caller's deadline passed before anything was sent, during a read, or \
                during a watch",
    code: Code::DeadlineExceeded,
    reason: "DEADLINE_EXCEEDED",
    also: None,
    retry: Retry::No,
    metadata: &[],
    library_code: false,
};

pub static WATCH_LIFETIME_ENDED: Decision = Decision {
    situation: "A watch reached `server.watch_max_lifetime_ms`: watch again to continue",
    code: Code::Unavailable,
    reason: "WATCH_LIFETIME_ENDED",
    also: None,
    retry: Retry::After("0 s"),
    metadata: &["watchMaxLifetimeMs"],
    library_code: false,
};

pub static STORE_UNAVAILABLE: Decision = Decision {
    situation: "The idempotency store is full, unusable (a disk fault; being reopened) or \
                failed (nothing sent)",
    code: Code::Unavailable,
    reason: "IDEMPOTENCY_STORE_UNAVAILABLE",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &[],
    library_code: false,
};

pub static SHARED_STATE_UNAVAILABLE: Decision = Decision {
    situation: "Fleet mode: the provider account's shared rate limit (in the database) cannot \
                be reached for an allocation (nothing sent)",
    code: Code::Unavailable,
    reason: "IDEMPOTENCY_STORE_UNAVAILABLE",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &[],
    library_code: false,
};

pub static RECORD_CORRUPT: Decision = Decision {
    situation: "The key's stored record cannot be read (the key stays unusable)",
    code: Code::Internal,
    reason: "IDEMPOTENCY_RECORD_CORRUPT",
    also: None,
    retry: Retry::No,
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static INTERNAL: Decision = Decision {
    situation: "A fault inside the gateway (a panic in a handler, a broken invariant)",
    code: Code::Internal,
    reason: "GATEWAY_INTERNAL",
    also: None,
    retry: Retry::No,
    metadata: &[],
    library_code: false,
};

pub static REQUEST_UNDECODABLE: Decision = Decision {
    situation: "The request message cannot be decoded (malformed protobuf, invalid UTF-8 in a \
                string, no message, a message cut short, a bad compressed-flag)",
    code: Code::InvalidArgument,
    reason: "REQUEST_UNDECODABLE",
    also: None,
    retry: Retry::No,
    metadata: &["messageType", "problem", "grpcMethod"],
    library_code: false,
};

pub static REQUEST_TOO_LARGE: Decision = Decision {
    situation: "The request message is over `server.max_request_bytes` (refused from its \
                length prefix, nothing buffered)",
    code: Code::InvalidArgument,
    reason: "REQUEST_TOO_LARGE",
    also: None,
    retry: Retry::No,
    metadata: &["maxRequestBytes", "requestBytes"],
    library_code: false,
};

pub static CONTENT_TYPE_UNSUPPORTED: Decision = Decision {
    situation: "Not a gRPC request: content type other than `application/grpc[+proto]` \
                (HTTP 415, as grpc-go)",
    code: Code::InvalidArgument,
    reason: "CONTENT_TYPE_UNSUPPORTED",
    also: None,
    retry: Retry::No,
    metadata: &["contentType"],
    library_code: false,
};

pub static HTTP_METHOD_NOT_ALLOWED: Decision = Decision {
    situation: "Not a POST (HTTP 405, as grpc-go)",
    code: Code::InvalidArgument,
    reason: "HTTP_METHOD_NOT_ALLOWED",
    also: None,
    retry: Retry::No,
    metadata: &["httpMethod"],
    library_code: false,
};

pub static COMPRESSION_UNSUPPORTED: Decision = Decision {
    situation: "A compressed request (`grpc-encoding` other than identity)",
    code: Code::Unimplemented,
    reason: "COMPRESSION_UNSUPPORTED",
    also: None,
    retry: Retry::No,
    metadata: &["grpcMethod"],
    library_code: false,
};

pub static METHOD_NOT_FOUND: Decision = Decision {
    situation: "A method or service the server does not have",
    code: Code::Unimplemented,
    reason: "METHOD_NOT_FOUND",
    also: None,
    retry: Retry::No,
    metadata: &["grpcMethod"],
    library_code: false,
};

pub static REQUEST_REJECTED: Decision = Decision {
    situation: "Any other status the gRPC library produces itself (its code kept)",
    code: Code::Cancelled,
    reason: "REQUEST_REJECTED",
    also: None,
    retry: Retry::No,
    metadata: &["grpcMethod"],
    library_code: true,
};

pub static SHUTTING_DOWN: Decision = Decision {
    situation: "The gateway is stopping: a `WatchAllocation` (or health watch, reflection \
                stream) or an `AllocateIp` `wait` was cut short (a wait's allocation is \
                recorded: retry with the same key, `metadata.idempotencyKey`)",
    code: Code::Unavailable,
    reason: "GATEWAY_SHUTTING_DOWN",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &["idempotencyKey"],
    library_code: false,
};

pub static REQUEST_BODY_TIMEOUT: Decision = Decision {
    situation: "The request's headers came but its message did not within \
                `server.request_body_timeout_ms` (nothing was done)",
    code: Code::DeadlineExceeded,
    reason: "REQUEST_BODY_TIMEOUT",
    also: None,
    retry: Retry::No,
    metadata: &["requestBodyTimeoutMs"],
    library_code: false,
};

pub static TIMEOUT_EXPIRED: Decision = Decision {
    situation: "The caller's `grpc-timeout` passed with no answer yet, message `Timeout \
                expired` as tonic's own (a backstop: handlers answer before it with a \
                meaningful status; what the call did is not known)",
    code: Code::Cancelled,
    reason: "GRPC_TIMEOUT_EXPIRED",
    also: None,
    retry: Retry::No,
    metadata: &["grpcTimeoutMs"],
    library_code: false,
};

/// Every decision, in README order.
pub static DECISIONS: [&Decision; 30] = [
    &INVALID_REQUEST,
    &KEY_REUSED,
    &KEY_IN_PROGRESS,
    &OUTCOME_PENDING,
    &RECONCILE_FAILED,
    &OUTCOME_UNKNOWN,
    &ALLOCATION_INTERRUPTED,
    &RATE_LIMITED,
    &CALLER_UNAUTHENTICATED,
    &CALLER_NOT_ALLOWED,
    &SPEND_LIMIT_REACHED,
    &SPEND_LIMIT_TOO_SMALL,
    &ZONE_SOLD_OUT,
    &OVERLOADED,
    &DEADLINE_EXCEEDED,
    &WATCH_LIFETIME_ENDED,
    &STORE_UNAVAILABLE,
    &SHARED_STATE_UNAVAILABLE,
    &RECORD_CORRUPT,
    &INTERNAL,
    &REQUEST_UNDECODABLE,
    &REQUEST_TOO_LARGE,
    &CONTENT_TYPE_UNSUPPORTED,
    &HTTP_METHOD_NOT_ALLOWED,
    &COMPRESSION_UNSUPPORTED,
    &METHOD_NOT_FOUND,
    &REQUEST_REJECTED,
    &SHUTTING_DOWN,
    &REQUEST_BODY_TIMEOUT,
    &TIMEOUT_EXPIRED,
];

/// [`DECISIONS`] as a Markdown table, as published in README.md.
pub fn to_markdown() -> String {
    let mut out = String::from(
        "| Situation | gRPC code | ErrorInfo reason | RetryInfo | Metadata besides the common keys |\n\
         |---|---|---|---|---|\n",
    );
    for decision in DECISIONS {
        let reason = match decision.also {
            Some(also) => format!("`{}` (+ {also})", decision.reason),
            None => format!("`{}`", decision.reason),
        };
        let retry = match decision.retry {
            Retry::No => String::new(),
            Retry::After(delay) => format!("yes ({delay})"),
        };
        let metadata = decision
            .metadata
            .iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let code = if decision.library_code {
            "its own".to_owned()
        } else {
            code_name(decision.code).to_string()
        };
        out.push_str(&format!(
            "| {} | {code} | {reason} | {retry} | {metadata} |\n",
            decision.situation,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::error_table::is_aip_193_reason;

    /// AIP-193: reasons are UPPER_SNAKE_CASE, at most 63 characters, and
    /// metadata keys lowerCamelCase.
    #[test]
    fn reasons_and_metadata_keys_follow_aip_193() {
        for decision in DECISIONS {
            let reason = decision.reason;
            assert!(is_aip_193_reason(reason), "{reason}");
            for key in decision.metadata.iter().chain(COMMON_METADATA.iter()) {
                assert!(
                    key.starts_with(|c: char| c.is_ascii_lowercase())
                        && key.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{key}"
                );
            }
            assert!(
                decision
                    .metadata
                    .iter()
                    .all(|key| !COMMON_METADATA.contains(key)),
                "{reason}: a common key listed again"
            );
        }
    }

    #[test]
    fn every_row_is_published() {
        let markdown = to_markdown();
        assert_eq!(markdown.lines().count(), DECISIONS.len() + 2);
        for decision in DECISIONS {
            assert!(markdown.contains(decision.reason), "{}", decision.reason);
        }
    }
}
