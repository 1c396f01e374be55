//! Decisions about the request itself: bad fields ([`FieldViolations`],
//! [`invalid_argument`]), messages that cannot be decoded or are too large,
//! requests that are not gRPC, and the statuses the gRPC library makes
//! itself, each given an ErrorInfo. Every answer is bounded whatever the
//! caller sent.

use tonic::{Code, Status};
use tonic_types::FieldViolation;

use super::gateway::{decided, internal};
use super::metadata::gateway_metadata;
use crate::api::gateway_errors::{self as decisions, Decision};
use crate::bounded;

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
