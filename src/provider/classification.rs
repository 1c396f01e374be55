//! What a provider error means, decided once, on the error (in the manner
//! of Quickwit's `Retryable` and smithy-rs's `ProvideErrorKind`): the gRPC
//! code and ErrorInfo reason the caller gets, whether the provider may have
//! performed the call, and whether the gateway may send it again at once.
//!
//! An API error carries the row of its provider's error table, chosen by the
//! wire parser when it read the answer ([`ApiError::new`]); every other
//! error (a transport failure, an answer not in the API's format, a
//! not-found result, the gateway's own refusals) has a fixed classification
//! here. The retry policy (`middleware::retry`), the outcome-unknown rule
//! ([`ProviderError::outcome_unknown`]) and the status mapping
//! (`api::error`) all read [`ProviderError::classification`].
//!
//! [`ApiError::new`]: super::error::ApiError::new

use tonic::Code;

use super::error::{ProviderError, SendPhase, TransportError};
use super::error_table::{ErrorRule, RetryClass, fallback_for_http_status};

/// ErrorInfo reason of every answer that is not in the provider API's
/// format, whatever its HTTP status.
pub const RESPONSE_MALFORMED: &str = "PROVIDER_RESPONSE_MALFORMED";

/// The one answer to "what does this provider error mean".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// The gRPC code of the caller's answer (unless the outcome-unknown
    /// rule replaces it).
    pub grpc: Code,
    /// `google.rpc.ErrorInfo.reason` of the caller's answer (likewise).
    pub reason: &'static str,
    /// Whether the provider may have performed the call, and so whether
    /// repeating it can help.
    pub retry: RetryClass,
    /// Whether the retry policy may send the attempt again within the same
    /// call, when `retry` allows it for the call: not after an answer that
    /// an immediate repeat would not change (one not in the API's format,
    /// other than a 5xx), nor after the gateway's own refusals (its rate
    /// limit, the caller's deadline, an internal fault).
    pub resend: bool,
}

impl Classification {
    /// An error table row: its code, reason and retry class, resent when
    /// the retry class allows it.
    const fn row(rule: &ErrorRule) -> Classification {
        Classification {
            grpc: rule.grpc,
            reason: rule.reason,
            retry: rule.retry,
            resend: true,
        }
    }

    /// Whether repeating the call can help: always when it certainly did not
    /// happen, for a `read` when it may have, never when it failed for good.
    pub fn repeatable(&self, read: bool) -> bool {
        match self.retry {
            RetryClass::Retryable => true,
            RetryClass::IdempotentOnly => read,
            RetryClass::Never => false,
        }
    }
}

const fn fixed(
    grpc: Code,
    reason: &'static str,
    retry: RetryClass,
    resend: bool,
) -> Classification {
    Classification {
        grpc,
        reason,
        retry,
        resend,
    }
}

/// Nothing was sent: connection refused, DNS or TLS failure.
const UNREACHABLE: Classification = fixed(
    Code::Unavailable,
    "PROVIDER_UNREACHABLE",
    RetryClass::Retryable,
    true,
);
/// Sent, and a timeout ended the wait for the answer.
const TIMED_OUT: Classification = fixed(
    Code::DeadlineExceeded,
    "PROVIDER_TIMEOUT",
    RetryClass::IdempotentOnly,
    true,
);
/// Sent, and the connection ended without an answer.
const CONNECTION_LOST: Classification = fixed(
    Code::Unavailable,
    "PROVIDER_CONNECTION_LOST",
    RetryClass::IdempotentOnly,
    true,
);
/// Answered "success" unreadably: the call probably happened.
const MALFORMED_SUCCESS: Classification = fixed(
    Code::Internal,
    RESPONSE_MALFORMED,
    RetryClass::IdempotentOnly,
    false,
);
/// A 404 not in the API's format (the API's own "not found" comes in its
/// format): the request went to a path with no API behind it, a
/// misconfigured endpoint. Never the caller's NOT_FOUND.
const MALFORMED_NOT_FOUND: Classification = fixed(
    Code::FailedPrecondition,
    RESPONSE_MALFORMED,
    RetryClass::Never,
    false,
);
/// The gateway's rate limit had no slot before the deadline; nothing sent.
const RATE_LIMITED: Classification = fixed(
    Code::ResourceExhausted,
    "GATEWAY_RATE_LIMITED",
    RetryClass::Retryable,
    false,
);
/// Fleet mode: the account's shared rate limit cannot be reached, so the
/// allocation fails closed; nothing sent. The reason is the one every
/// failure of the fleet's database gets; waiting helps, an immediate repeat
/// does not.
const SHARED_STATE_UNAVAILABLE: Classification = fixed(
    Code::Unavailable,
    "IDEMPOTENCY_STORE_UNAVAILABLE",
    RetryClass::Retryable,
    false,
);
/// The caller's deadline passed before anything was sent.
const DEADLINE_BEFORE_SENDING: Classification = fixed(
    Code::DeadlineExceeded,
    "DEADLINE_EXCEEDED",
    RetryClass::Never,
    false,
);
/// The caller's deadline passed after a request was sent.
const DEADLINE_AFTER_SENDING: Classification = fixed(
    Code::DeadlineExceeded,
    "DEADLINE_EXCEEDED",
    RetryClass::IdempotentOnly,
    false,
);
/// A request the adapter cannot build.
const INTERNAL: Classification =
    fixed(Code::Internal, "GATEWAY_INTERNAL", RetryClass::Never, false);

impl ProviderError {
    /// What this error means; see the module documentation.
    pub fn classification(&self) -> Classification {
        match self {
            ProviderError::Api(api) => Classification::row(api.rule()),
            ProviderError::Transport(transport) => transport_failure(transport),
            ProviderError::MalformedResponse { http_status, .. } => malformed(*http_status),
            ProviderError::NotFound { reason, .. } => {
                fixed(Code::NotFound, reason, RetryClass::Never, false)
            }
            ProviderError::RateLimited { .. } => RATE_LIMITED,
            ProviderError::SharedStateUnavailable { .. } => SHARED_STATE_UNAVAILABLE,
            ProviderError::DeadlineExceeded { sent: true, .. } => DEADLINE_AFTER_SENDING,
            ProviderError::DeadlineExceeded { sent: false, .. } => DEADLINE_BEFORE_SENDING,
            ProviderError::Internal(_) => INTERNAL,
        }
    }

    /// True when this error leaves the outcome of a mutating call unknown:
    /// the provider may have performed it. The allocation flow then asks
    /// the provider instead of answering, and the caller's status says
    /// `PROVIDER_OUTCOME_UNKNOWN`.
    pub fn outcome_unknown(&self) -> bool {
        self.operation().is_some_and(|op| op.mutating)
            && self.classification().retry == RetryClass::IdempotentOnly
    }
}

fn transport_failure(transport: &TransportError) -> Classification {
    match (transport.phase, transport.timed_out) {
        (SendPhase::NotSent, _) => UNREACHABLE,
        (SendPhase::Sent, true) => TIMED_OUT,
        (SendPhase::Sent, false) => CONNECTION_LOST,
    }
}

/// An answer not in the API's format, by its HTTP status: like a code no
/// table knows (the fallback rows), except a 2xx and a 404; resent only
/// after a 5xx, the one a repeat may answer differently.
fn malformed(http_status: u16) -> Classification {
    if (200..300).contains(&http_status) {
        MALFORMED_SUCCESS
    } else if http_status == 404 {
        MALFORMED_NOT_FOUND
    } else {
        Classification {
            reason: RESPONSE_MALFORMED,
            resend: (500..600).contains(&http_status),
            ..Classification::row(fallback_for_http_status(http_status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Operation;
    use crate::provider::error::ApiError;

    const WRITE: Operation = Operation {
        name: "AllocateEipAddresses",
        mutating: true,
    };
    const READ: Operation = Operation {
        name: "DescribeEipAddresses",
        mutating: false,
    };

    fn malformed_error(op: Operation, http_status: u16) -> ProviderError {
        ProviderError::MalformedResponse {
            op,
            http_status,
            detail: "an HTML page".into(),
            request_id: None,
        }
    }

    #[test]
    fn an_api_error_is_classified_by_the_row_its_parser_chose() {
        let table = &crate::provider::zenlayer::errors::TABLE;
        let api = ApiError::new(table, WRITE, 500, "INTERNAL_SERVER_ERROR".into(), "".into());
        assert!(std::ptr::eq(
            api.rule(),
            table.lookup("INTERNAL_SERVER_ERROR", "").unwrap()
        ));
        let error = ProviderError::from(api);
        let class = error.classification();
        assert_eq!(
            (class.grpc, class.reason, class.retry, class.resend),
            (
                Code::Internal,
                "PROVIDER_INTERNAL_ERROR",
                RetryClass::IdempotentOnly,
                true
            )
        );
        assert!(error.outcome_unknown());
        // A code no table knows: the fallback row of its HTTP status.
        let unknown = ApiError::new(table, READ, 429, "NEW_CODE".into(), "m".into());
        assert!(std::ptr::eq(unknown.rule(), fallback_for_http_status(429)));
    }

    #[test]
    fn unreadable_answers_are_resent_only_after_a_5xx() {
        for (status, grpc, retry, resend) in [
            (200, Code::Internal, RetryClass::IdempotentOnly, false),
            (202, Code::Internal, RetryClass::IdempotentOnly, false),
            (404, Code::FailedPrecondition, RetryClass::Never, false),
            (403, Code::FailedPrecondition, RetryClass::Never, false),
            (429, Code::ResourceExhausted, RetryClass::Retryable, false),
            (302, Code::Internal, RetryClass::IdempotentOnly, false),
            (500, Code::Internal, RetryClass::IdempotentOnly, true),
            (502, Code::Unavailable, RetryClass::IdempotentOnly, true),
            (
                504,
                Code::DeadlineExceeded,
                RetryClass::IdempotentOnly,
                true,
            ),
            (599, Code::Internal, RetryClass::IdempotentOnly, true),
        ] {
            let class = malformed_error(READ, status).classification();
            assert_eq!(
                (class.grpc, class.reason, class.retry, class.resend),
                (grpc, RESPONSE_MALFORMED, retry, resend),
                "HTTP {status}"
            );
        }
    }

    #[test]
    fn the_outcome_is_unknown_only_for_writes_that_may_have_happened() {
        let sent = |op, timed_out| {
            ProviderError::Transport(TransportError {
                op,
                phase: SendPhase::Sent,
                timed_out,
                detail: "no answer".into(),
            })
        };
        let unknown = [
            sent(WRITE, true),
            sent(WRITE, false),
            malformed_error(WRITE, 200),
            malformed_error(WRITE, 502),
            ProviderError::DeadlineExceeded {
                op: WRITE,
                sent: true,
            },
        ];
        for error in &unknown {
            assert!(error.outcome_unknown(), "{error}");
        }
        let known = [
            sent(READ, true),
            malformed_error(WRITE, 404),
            malformed_error(WRITE, 429),
            ProviderError::DeadlineExceeded {
                op: WRITE,
                sent: false,
            },
            ProviderError::Transport(TransportError {
                op: WRITE,
                phase: SendPhase::NotSent,
                timed_out: false,
                detail: "refused".into(),
            }),
            ProviderError::Internal("bug".into()),
        ];
        for error in &known {
            assert!(!error.outcome_unknown(), "{error}");
        }
    }
}
