//! The one place where errors become `tonic::Status`: provider errors through
//! the provider's error table, transport failures by whether the request was
//! sent, and the gateway's own refusals. Every status carries exactly one
//! `google.rpc.ErrorInfo` (AIP-193), a `RequestInfo` when the provider gave a
//! request id, and a `RetryInfo` where waiting helps.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::bounded;

use crate::provider::error::{SendPhase, TransportError};
use crate::provider::error_table::{ErrorRule, RetryClass, fallback_for_http_status};
use crate::provider::{Operation, ProviderDescription, ProviderError, ProviderKind};

/// ErrorInfo domain of errors the gateway itself decides.
pub const GATEWAY_DOMAIN: &str = "ipalloc-gateway";

/// Reason for a mutating call whose outcome the gateway cannot know.
pub const OUTCOME_UNKNOWN: &str = "PROVIDER_OUTCOME_UNKNOWN";

/// Delay suggested in RetryInfo when the provider gave none.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

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
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "INVALID_REQUEST",
        GATEWAY_DOMAIN,
        HashMap::from([
            ("fields".to_owned(), fields),
            ("violationCount".to_owned(), total.to_string()),
        ]),
    );
    details.set_bad_request(
        listed
            .into_iter()
            .map(|(field, description)| FieldViolation::new(field, description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A status for an error the provider adapter returned.
///
/// Each kind of error says what happened (facts, a code and reason, whether
/// waiting helps); then one rule applies to all of them: when the outcome of
/// a write is unknown ([`outcome_unknown`]) the answer is DEADLINE_EXCEEDED
/// with reason `PROVIDER_OUTCOME_UNKNOWN`.
pub fn provider_status(provider: &ProviderDescription, error: &ProviderError) -> Status {
    let table = provider.kind.error_table();
    let answer = match error {
        ProviderError::Api(api) => {
            let rule = table.resolve(&api.code, &api.message, api.http_status);
            Answer {
                domain: table.domain,
                facts: Facts {
                    op: Some(api.op),
                    code: &api.code,
                    message: &api.message,
                    request_id: api.request_id.as_deref(),
                    http_status: Some(api.http_status),
                },
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
            request_id,
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
                facts: Facts {
                    op: Some(*op),
                    code: "",
                    message: detail,
                    request_id: request_id.as_deref(),
                    http_status: Some(*http_status),
                },
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
            op,
            reason,
            message,
            request_id,
        } => Answer {
            domain: table.domain,
            facts: Facts {
                op: Some(*op),
                code: "",
                message,
                request_id: request_id.as_deref(),
                http_status: None,
            },
            mapped: Mapped {
                code: Code::NotFound,
                reason,
                retry: RetryClass::Never,
            },
            text: message.clone(),
            retry_after: None,
        },
        ProviderError::RateLimited { op, retry_after } => Answer {
            domain: GATEWAY_DOMAIN,
            facts: Facts::gateway(*op),
            mapped: Mapped {
                code: Code::ResourceExhausted,
                reason: "GATEWAY_RATE_LIMITED",
                retry: RetryClass::Retryable,
            },
            text: format!(
                "the gateway's rate limit for this provider account has no capacity before the deadline; {} was not sent",
                op.name
            ),
            retry_after: Some(*retry_after),
        },
        ProviderError::DeadlineExceeded { op, sent } => Answer {
            domain: GATEWAY_DOMAIN,
            facts: Facts::gateway(*op),
            mapped: Mapped {
                code: Code::DeadlineExceeded,
                reason: "DEADLINE_EXCEEDED",
                retry: RetryClass::IdempotentOnly,
            },
            text: if *sent {
                format!(
                    "the caller's deadline passed while {} was in progress",
                    op.name
                )
            } else {
                format!("the caller's deadline passed before {} was sent", op.name)
            },
            retry_after: None,
        },
        ProviderError::Internal(message) => {
            let mut details = ErrorDetails::new();
            details.set_error_info(
                "GATEWAY_INTERNAL",
                GATEWAY_DOMAIN,
                HashMap::from([("provider".to_owned(), provider.name.clone())]),
            );
            return Status::with_error_details(
                Code::Internal,
                format!("provider {}: {message}", provider.name),
                details,
            );
        }
    };
    build(provider, answer, outcome_unknown(provider.kind, error))
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
        facts: Facts {
            op: Some(t.op),
            code: "",
            message: &t.detail,
            request_id: None,
            http_status: None,
        },
        mapped: Mapped {
            code,
            reason,
            retry,
        },
        text: format!("{what}: {}", t.detail),
        retry_after: None,
    }
}

/// Everything a provider error status is built from.
struct Answer<'a> {
    /// ErrorInfo domain: the provider API's, or the gateway's own.
    domain: &'a str,
    facts: Facts<'a>,
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

impl Facts<'_> {
    /// No provider answer: the gateway itself decided, during `op`.
    fn gateway(op: Operation) -> Facts<'static> {
        Facts {
            op: Some(op),
            code: "",
            message: "",
            request_id: None,
            http_status: None,
        }
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

fn build(provider: &ProviderDescription, answer: Answer<'_>, outcome_unknown: bool) -> Status {
    let Answer {
        domain,
        facts,
        mut mapped,
        text,
        retry_after,
    } = answer;
    if outcome_unknown {
        // The provider may have performed the write: never a blind retry.
        mapped.code = Code::DeadlineExceeded;
        mapped.reason = OUTCOME_UNKNOWN;
    }
    let metadata = HashMap::from([
        ("provider".to_owned(), provider.name.clone()),
        ("providerKind".to_owned(), provider.kind.as_str().to_owned()),
        (
            "providerAction".to_owned(),
            facts.op.map(|op| op.name).unwrap_or_default().to_owned(),
        ),
        ("providerCode".to_owned(), facts.code.to_owned()),
        ("providerMessage".to_owned(), facts.message.to_owned()),
        (
            "providerRequestId".to_owned(),
            facts.request_id.unwrap_or_default().to_owned(),
        ),
        (
            "httpStatus".to_owned(),
            facts.http_status.map(|s| s.to_string()).unwrap_or_default(),
        ),
    ]);
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
    }
    Status::with_error_details(mapped.code, message, details)
}

/// DEADLINE_EXCEEDED decided by the gateway itself (no provider call was in
/// doubt), with ErrorInfo reason `DEADLINE_EXCEEDED`.
pub fn deadline_exceeded(message: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info("DEADLINE_EXCEEDED", GATEWAY_DOMAIN, HashMap::new());
    Status::with_error_details(Code::DeadlineExceeded, message.to_owned(), details)
}

/// How long a caller is asked to wait after the gateway refused a call
/// because it is shutting down (another replica, or this one restarted).
pub const SHUTDOWN_RETRY_DELAY: Duration = Duration::from_secs(1);

/// UNAVAILABLE with ErrorInfo `GATEWAY_SHUTTING_DOWN` and RetryInfo: a
/// stream or a wait ended because the gateway is stopping. `detail` says
/// what was cut short; `idempotency_key`, when given, is the key to retry
/// with (the allocation itself is recorded).
pub fn shutting_down(detail: &str, idempotency_key: Option<&str>) -> Status {
    let mut metadata = HashMap::new();
    if let Some(key) = idempotency_key {
        metadata.insert("idempotencyKey".to_owned(), key.to_owned());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info("GATEWAY_SHUTTING_DOWN", GATEWAY_DOMAIN, metadata);
    details.set_retry_info(Some(SHUTDOWN_RETRY_DELAY));
    Status::with_error_details(
        Code::Unavailable,
        format!("the gateway is shutting down: {detail}; retry shortly"),
        details,
    )
}

/// DEADLINE_EXCEEDED with ErrorInfo `REQUEST_BODY_TIMEOUT`: the request's
/// headers came but its message did not within `timeout`. Nothing was done.
pub fn request_body_timeout(timeout: Duration) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "REQUEST_BODY_TIMEOUT",
        GATEWAY_DOMAIN,
        HashMap::from([(
            "requestBodyTimeoutMs".to_owned(),
            timeout.as_millis().to_string(),
        )]),
    );
    Status::with_error_details(
        Code::DeadlineExceeded,
        format!(
            "the request message did not arrive within {} ms of its headers; nothing was done",
            timeout.as_millis()
        ),
        details,
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

/// A status decided by the gateway about the request itself: `code`,
/// ErrorInfo `reason` in the gateway's domain with `metadata`, and the
/// message bounded to [`MAX_MESSAGE_WIRE_BYTES`].
fn request_status(
    code: Code,
    reason: &str,
    message: &str,
    metadata: HashMap<String, String>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, GATEWAY_DOMAIN, metadata);
    let message = bounded::truncate_wire(message, MAX_MESSAGE_WIRE_BYTES);
    Status::with_error_details(code, message.into_owned(), details)
}

/// INVALID_ARGUMENT `REQUEST_UNDECODABLE`: the request message is not a
/// valid protobuf encoding of `message_type` (malformed wire format,
/// invalid UTF-8 in a string field, a truncated or missing message).
pub fn request_undecodable(message_type: &str, problem: &str) -> Status {
    let problem = bounded::truncate(problem, 256);
    request_status(
        Code::InvalidArgument,
        REQUEST_UNDECODABLE,
        &format!("the request is not a valid {message_type} message: {problem}"),
        HashMap::from([
            ("messageType".to_owned(), message_type.to_owned()),
            ("problem".to_owned(), problem.into_owned()),
        ]),
    )
}

/// INVALID_ARGUMENT `REQUEST_TOO_LARGE`: the request message is larger than
/// `server.max_request_bytes`; nothing of it was read.
pub fn request_too_large(limit: usize, found: Option<u64>) -> Status {
    let size = found.map_or_else(|| "a request".to_owned(), |n| format!("{n} bytes"));
    let mut metadata = HashMap::from([("maxRequestBytes".to_owned(), limit.to_string())]);
    if let Some(found) = found {
        metadata.insert("requestBytes".to_owned(), found.to_string());
    }
    request_status(
        Code::InvalidArgument,
        REQUEST_TOO_LARGE,
        &format!(
            "the request message ({size}) is larger than this gateway accepts (server.max_request_bytes = {limit})"
        ),
        metadata,
    )
}

/// INVALID_ARGUMENT `CONTENT_TYPE_UNSUPPORTED`: not a gRPC request (sent
/// with HTTP 415, as grpc-go does).
pub fn content_type_unsupported(content_type: Option<&str>) -> Status {
    let shown = content_type.map_or_else(|| "none".to_owned(), echo);
    request_status(
        Code::InvalidArgument,
        CONTENT_TYPE_UNSUPPORTED,
        &format!(
            "invalid gRPC request content-type {shown}: this is a gRPC server (application/grpc or application/grpc+proto)"
        ),
        HashMap::from([(
            "contentType".to_owned(),
            bounded::truncate(content_type.unwrap_or(""), 64).into_owned(),
        )]),
    )
}

/// INVALID_ARGUMENT `HTTP_METHOD_NOT_ALLOWED`: gRPC requests are POSTs
/// (sent with HTTP 405).
pub fn http_method_not_allowed(method: &str) -> Status {
    request_status(
        Code::InvalidArgument,
        HTTP_METHOD_NOT_ALLOWED,
        &format!(
            "invalid gRPC request method {}: gRPC requests are POST",
            echo(method)
        ),
        HashMap::from([(
            "httpMethod".to_owned(),
            bounded::truncate(method, 16).into_owned(),
        )]),
    )
}

/// A status the gRPC library itself produced without details (code and
/// message kept, bounded), given an ErrorInfo with `reason`.
pub fn library_status(code: Code, reason: &str, message: &str, path: &str) -> Status {
    request_status(
        code,
        reason,
        message,
        HashMap::from([(
            "grpcMethod".to_owned(),
            bounded::truncate(path, 128).into_owned(),
        )]),
    )
}
