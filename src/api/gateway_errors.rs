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
}

pub static INVALID_REQUEST: Decision = Decision {
    situation: "Bad request fields",
    code: Code::InvalidArgument,
    reason: "INVALID_REQUEST",
    also: Some("BadRequest"),
    retry: Retry::No,
    metadata: &["fields"],
};

pub static KEY_REUSED: Decision = Decision {
    situation: "Idempotency key reused with other parameters",
    code: Code::InvalidArgument,
    reason: "IDEMPOTENCY_KEY_REUSED",
    also: Some("BadRequest naming what differs"),
    retry: Retry::No,
    metadata: &["idempotencyKey"],
};

pub static KEY_IN_PROGRESS: Decision = Decision {
    situation: "A call with the same key is still running and the deadline comes first",
    code: Code::Aborted,
    reason: "IDEMPOTENCY_KEY_IN_PROGRESS",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &["idempotencyKey"],
};

pub static OUTCOME_PENDING: Decision = Decision {
    situation: "The last attempt's outcome is unknown and the provider does not show it yet \
                (nothing is re-sent before `reconcile_grace_ms`)",
    code: Code::Aborted,
    reason: "PROVIDER_OUTCOME_PENDING",
    also: None,
    retry: Retry::After("the rest of the grace period"),
    metadata: &["idempotencyKey"],
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
};

pub static OUTCOME_UNKNOWN: Decision = Decision {
    situation: "The caller's deadline passed while an allocation was in flight",
    code: Code::DeadlineExceeded,
    reason: "PROVIDER_OUTCOME_UNKNOWN",
    also: None,
    retry: Retry::No,
    metadata: &["idempotencyKey"],
};

pub static ALLOCATION_INTERRUPTED: Decision = Decision {
    situation: "A gateway fault (a panic) interrupted an allocation; its outcome is recorded \
                as unknown, retry with the key",
    code: Code::Internal,
    reason: "ALLOCATION_INTERRUPTED",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &["idempotencyKey"],
};

pub static RATE_LIMITED: Decision = Decision {
    situation: "The provider account's rate limit has no slot that leaves time for the call \
                before the deadline (nothing sent)",
    code: Code::ResourceExhausted,
    reason: "GATEWAY_RATE_LIMITED",
    also: None,
    retry: Retry::After("until the slot"),
    metadata: &[],
};

pub static OVERLOADED: Decision = Decision {
    situation: "Over `server.max_concurrent_calls` (open watches count)",
    code: Code::Unavailable,
    reason: "GATEWAY_OVERLOADED",
    also: None,
    retry: Retry::After("100 ms"),
    metadata: &["maxConcurrentCalls"],
};

pub static DEADLINE_EXCEEDED: Decision = Decision {
    situation: "The caller's deadline passed before anything was sent, during a read, or \
                during a watch",
    code: Code::DeadlineExceeded,
    reason: "DEADLINE_EXCEEDED",
    also: None,
    retry: Retry::No,
    metadata: &[],
};

pub static WATCH_LIFETIME_ENDED: Decision = Decision {
    situation: "A watch reached `server.watch_max_lifetime_ms`: watch again to continue",
    code: Code::Unavailable,
    reason: "WATCH_LIFETIME_ENDED",
    also: None,
    retry: Retry::After("0 s"),
    metadata: &["watchMaxLifetimeMs"],
};

pub static STORE_UNAVAILABLE: Decision = Decision {
    situation: "The idempotency store failed (nothing sent)",
    code: Code::Unavailable,
    reason: "IDEMPOTENCY_STORE_UNAVAILABLE",
    also: None,
    retry: Retry::After("1 s"),
    metadata: &[],
};

pub static RECORD_CORRUPT: Decision = Decision {
    situation: "The key's stored record cannot be read (the key stays unusable)",
    code: Code::Internal,
    reason: "IDEMPOTENCY_RECORD_CORRUPT",
    also: None,
    retry: Retry::No,
    metadata: &["idempotencyKey"],
};

pub static INTERNAL: Decision = Decision {
    situation: "A fault inside the gateway (a panic in a handler, a broken invariant)",
    code: Code::Internal,
    reason: "GATEWAY_INTERNAL",
    also: None,
    retry: Retry::No,
    metadata: &[],
};

/// Every decision, in README order.
pub static DECISIONS: [&Decision; 14] = [
    &INVALID_REQUEST,
    &KEY_REUSED,
    &KEY_IN_PROGRESS,
    &OUTCOME_PENDING,
    &RECONCILE_FAILED,
    &OUTCOME_UNKNOWN,
    &ALLOCATION_INTERRUPTED,
    &RATE_LIMITED,
    &OVERLOADED,
    &DEADLINE_EXCEEDED,
    &WATCH_LIFETIME_ENDED,
    &STORE_UNAVAILABLE,
    &RECORD_CORRUPT,
    &INTERNAL,
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
        out.push_str(&format!(
            "| {} | {} | {reason} | {retry} | {metadata} |\n",
            decision.situation,
            code_name(decision.code),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AIP-193: reasons are UPPER_SNAKE_CASE, at most 63 characters, and
    /// metadata keys lowerCamelCase.
    #[test]
    fn reasons_and_metadata_keys_follow_aip_193() {
        for decision in DECISIONS {
            let reason = decision.reason;
            assert!(!reason.is_empty() && reason.len() <= 63, "{reason}");
            assert!(
                reason
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{reason}"
            );
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
