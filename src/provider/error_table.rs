//! Error mapping as data: the shape of a provider's error table (provider code,
//! optional message pattern -> gRPC code, ErrorInfo reason, retry class), the
//! lookup over it, and the fallback rows used for codes no table knows.
//!
//! Each provider's rows live in one file (`aliyun/errors.rs`,
//! `zenlayer/errors.rs`). The provider's wire parser looks the row up once,
//! when it reads an error answer (`ApiError::new`); what the error then
//! means for retries and for the caller's status is derived from that row
//! (`classification`).

use tonic::Code;

/// Whether repeating the same provider call can help, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// The provider certainly did not perform the call (throttled, not yet
    /// sent, temporarily unavailable): retry after a delay.
    Retryable,
    /// The provider may have performed the call: a read may be retried, a
    /// write (an allocation) must be reconciled, never blindly re-sent.
    IdempotentOnly,
    /// The same request will fail the same way until something changes.
    Never,
}

impl RetryClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryClass::Retryable => "retryable",
            RetryClass::IdempotentOnly => "reads only",
            RetryClass::Never => "no",
        }
    }
}

/// One row: a provider error code (optionally narrowed by a message pattern)
/// and what the gateway answers for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRule {
    /// The provider code, exact, or with one `*` wildcard
    /// (`Throttling*`, `INVALID_PARAMETER_*`).
    pub code: &'static str,
    /// A case-insensitive substring the provider message must contain, for
    /// codes that mean two things (Aliyun `OperationDenied`).
    pub message: Option<&'static str>,
    /// The HTTP status the provider documents for the code (README only).
    pub http_status: Option<u16>,
    pub grpc: Code,
    /// `google.rpc.ErrorInfo.reason`: UPPER_SNAKE_CASE, at most 63 chars.
    pub reason: &'static str,
    pub retry: RetryClass,
}

/// One row, in the order of the README's columns: code, message pattern,
/// documented HTTP status, gRPC code, ErrorInfo reason, retry class.
pub const fn rule(
    code: &'static str,
    message: Option<&'static str>,
    http_status: Option<u16>,
    grpc: Code,
    reason: &'static str,
    retry: RetryClass,
) -> ErrorRule {
    ErrorRule {
        code,
        message,
        http_status,
        grpc,
        reason,
        retry,
    }
}

/// All known error codes of one provider API.
#[derive(Debug)]
pub struct ErrorTable {
    /// Human name of the API, e.g. "Alibaba Cloud ECS".
    pub api: &'static str,
    /// `google.rpc.ErrorInfo.domain` for errors of this provider.
    pub domain: &'static str,
    pub rules: &'static [ErrorRule],
}

impl ErrorTable {
    /// The first row matching `code` and `message`; rows are ordered from
    /// most to least specific.
    pub fn lookup(&self, code: &str, message: &str) -> Option<&'static ErrorRule> {
        self.rules.iter().find(|rule| {
            code_matches(rule.code, code)
                && rule
                    .message
                    .is_none_or(|pattern| contains_ignore_case(message, pattern))
        })
    }

    /// The row for `code`, or the HTTP-status fallback row when the code is
    /// unknown (the provider code is still reported in ErrorInfo).
    pub fn resolve(&self, code: &str, message: &str, http_status: u16) -> &'static ErrorRule {
        self.lookup(code, message)
            .unwrap_or_else(|| fallback_for_http_status(http_status))
    }

    /// The table as a Markdown table, as published in README.md.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| Provider code | Message contains | HTTP | gRPC code | ErrorInfo reason | Retry |\n\
             |---|---|---|---|---|---|\n",
        );
        for rule in self.rules {
            out.push_str(&markdown_row(rule));
        }
        out
    }
}

fn markdown_row(rule: &ErrorRule) -> String {
    format!(
        "| `{}` | {} | {} | {} | `{}` | {} |\n",
        rule.code,
        rule.message.map(|m| format!("`{m}`")).unwrap_or_default(),
        rule.http_status.map(|s| s.to_string()).unwrap_or_default(),
        code_name(rule.grpc),
        rule.reason,
        rule.retry.as_str(),
    )
}

/// Fallback rows for codes no table knows, by HTTP status.
pub static HTTP_FALLBACK: &[ErrorRule] = &[
    fallback(400, Code::InvalidArgument, RetryClass::Never),
    fallback(401, Code::FailedPrecondition, RetryClass::Never),
    fallback(403, Code::FailedPrecondition, RetryClass::Never),
    fallback(404, Code::NotFound, RetryClass::Never),
    fallback(409, Code::Aborted, RetryClass::Never),
    fallback(429, Code::ResourceExhausted, RetryClass::Retryable),
    fallback(500, Code::Internal, RetryClass::IdempotentOnly),
    fallback(502, Code::Unavailable, RetryClass::IdempotentOnly),
    fallback(503, Code::Unavailable, RetryClass::IdempotentOnly),
    fallback(504, Code::DeadlineExceeded, RetryClass::IdempotentOnly),
];

/// Any other 4xx.
static OTHER_4XX: ErrorRule = fallback(0, Code::FailedPrecondition, RetryClass::Never);
/// Any other status (5xx, or a non-error status carrying an error body).
static OTHER: ErrorRule = fallback(0, Code::Internal, RetryClass::IdempotentOnly);

const fn fallback(status: u16, grpc: Code, retry: RetryClass) -> ErrorRule {
    let http_status = if status == 0 { None } else { Some(status) };
    rule(
        "*",
        None,
        http_status,
        grpc,
        "PROVIDER_ERROR_UNRECOGNIZED",
        retry,
    )
}

/// The fallback row for an HTTP status.
pub fn fallback_for_http_status(status: u16) -> &'static ErrorRule {
    HTTP_FALLBACK
        .iter()
        .find(|rule| rule.http_status == Some(status))
        .unwrap_or(if (400..500).contains(&status) {
            &OTHER_4XX
        } else {
            &OTHER
        })
}

/// The fallback table as Markdown, as published in README.md.
pub fn fallback_markdown() -> String {
    let mut out =
        String::from("| HTTP status | gRPC code | ErrorInfo reason | Retry |\n|---|---|---|---|\n");
    for rule in HTTP_FALLBACK {
        let status = rule.http_status.map(|s| s.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "| {status} | {} | `{}` | {} |\n",
            code_name(rule.grpc),
            rule.reason,
            rule.retry.as_str()
        ));
    }
    for (label, rule) in [("other 4xx", &OTHER_4XX), ("other", &OTHER)] {
        out.push_str(&format!(
            "| {label} | {} | `{}` | {} |\n",
            code_name(rule.grpc),
            rule.reason,
            rule.retry.as_str()
        ));
    }
    out
}

/// The canonical upper-case name of a gRPC code (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// AIP-193: an ErrorInfo reason is UPPER_SNAKE_CASE, at most 63
/// characters.
#[cfg(test)]
pub fn is_aip_193_reason(reason: &str) -> bool {
    !reason.is_empty()
        && reason.len() <= 63
        && reason
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `pattern` is an exact code or contains one `*` standing for any run of
/// characters (possibly empty).
fn code_matches(pattern: &str, code: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == code,
        Some((prefix, suffix)) => {
            code.len() >= prefix.len() + suffix.len()
                && code.starts_with(prefix)
                && code.ends_with(suffix)
        }
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matches_prefix_suffix_and_exact() {
        assert!(code_matches("Throttling*", "Throttling"));
        assert!(code_matches("Throttling*", "Throttling.User"));
        assert!(!code_matches("Throttling*", "Throttlin"));
        assert!(code_matches("*.NotFound", "InvalidZone.NotFound"));
        assert!(!code_matches("*.NotFound", "NotFound"));
        assert!(code_matches(
            "INVALID_PARAMETER_*",
            "INVALID_PARAMETER_VALUE"
        ));
        assert!(code_matches("IpInUse", "IpInUse"));
        assert!(!code_matches("IpInUse", "IpInUse2"));
        assert!(code_matches("*", "anything"));
    }

    #[test]
    fn fallback_rows_cover_statuses() {
        assert_eq!(fallback_for_http_status(404).grpc, Code::NotFound);
        assert_eq!(fallback_for_http_status(429).retry, RetryClass::Retryable);
        assert_eq!(fallback_for_http_status(418).grpc, Code::FailedPrecondition);
        assert_eq!(fallback_for_http_status(599).grpc, Code::Internal);
        assert_eq!(fallback_for_http_status(200).grpc, Code::Internal);
        assert_eq!(fallback_for_http_status(504).grpc, Code::DeadlineExceeded);
    }

    #[test]
    fn message_pattern_is_case_insensitive() {
        static RULES: &[ErrorRule] = &[ErrorRule {
            code: "OperationDenied",
            message: Some("in vpc"),
            http_status: Some(400),
            grpc: Code::FailedPrecondition,
            reason: "INSTANCE_IN_VPC",
            retry: RetryClass::Never,
        }];
        let table = ErrorTable {
            api: "t",
            domain: "t",
            rules: RULES,
        };
        assert!(
            table
                .lookup("OperationDenied", "instance is IN VPC.")
                .is_some()
        );
        assert!(table.lookup("OperationDenied", "other").is_none());
        assert_eq!(
            table.resolve("OperationDenied", "other", 400).reason,
            "PROVIDER_ERROR_UNRECOGNIZED"
        );
    }
}
