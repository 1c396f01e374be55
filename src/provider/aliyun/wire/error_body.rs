//! Alibaba Cloud ECS error answers: the error body in its JSON and XML
//! forms, and the function that turns a non-2xx response into a
//! [`ProviderError`], classified by the ECS error table (`super::super::errors`)
//! once, here.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::super::errors::TABLE;
use super::{REQUEST_ID_HEADER, RETRY_AFTER_HEADER, unreadable};
use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::redact;
use crate::provider::wire_common::{non_blank, relayed_id, relayed_message};

/// An Alibaba error body, from JSON
/// (`{"RequestId","HostId","Code","Message","Recommend"}`) or XML
/// (`<Error><RequestId/><HostId/><Code/><Message/></Error>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    #[serde(default, alias = "requestId")]
    pub request_id: Option<String>,
    #[serde(default, alias = "hostId")]
    pub host_id: Option<String>,
    #[serde(default, alias = "code")]
    pub code: Option<String>,
    #[serde(default, alias = "message")]
    pub message: Option<String>,
    #[serde(default, alias = "recommend")]
    pub recommend: Option<String>,
}

impl ErrorBody {
    /// Parses a JSON or XML error body; `None` when the body is neither (an
    /// HTML page, plain text, empty, truncated).
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let text = std::str::from_utf8(body)
            .ok()?
            .trim_start_matches('\u{feff}')
            .trim();
        if text.starts_with('{') {
            serde_json::from_str(text).ok()
        } else if text.starts_with('<') {
            parse_xml_error(text)
        } else {
            None
        }
    }

    /// The error code, when present and not blank.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref().and_then(non_blank)
    }
}

/// The `<Error>` document of `Format=XML` (or a V3 XML error). Only the four
/// known elements are read.
fn parse_xml_error(text: &str) -> Option<ErrorBody> {
    let body = ErrorBody {
        request_id: xml_element(text, "RequestId"),
        host_id: xml_element(text, "HostId"),
        code: xml_element(text, "Code"),
        message: xml_element(text, "Message"),
        recommend: xml_element(text, "Recommend"),
    };
    (body.code.is_some() || body.request_id.is_some()).then_some(body)
}

/// The text of the first `<tag>...</tag>` element, entity-decoded; `None`
/// when absent, self-closing or unterminated.
fn xml_element(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let length = text[start..].find(&close)?;
    let inner = text[start..start + length].trim();
    let inner = inner
        .strip_prefix("<![CDATA[")
        .and_then(|rest| rest.strip_suffix("]]>"))
        .map_or_else(|| xml_unescape(inner), Cow::Borrowed);
    Some(inner.into_owned())
}

fn xml_unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Turns a non-2xx response into an error: [`ProviderError::Api`] when the
/// body carries an Alibaba error code, else
/// [`ProviderError::MalformedResponse`] with the status and a body snippet.
pub fn error_from_response(op: Operation, response: &HttpResponse) -> ProviderError {
    let body = ErrorBody::parse(&response.body).unwrap_or_default();
    let request_id = relayed_id(body.request_id.as_deref())
        .or_else(|| relayed_id(header_str(response, REQUEST_ID_HEADER)));
    match body.code() {
        Some(code) => ProviderError::from(
            ApiError::new(
                &TABLE,
                op,
                response.status,
                redact::relayed(code, redact::MAX_CODE_BYTES),
                relayed_message(body.message.as_deref()),
            )
            .with_request_id(request_id)
            .with_retry_after(retry_after(response)),
        ),
        None => unreadable(
            op,
            response,
            "the error response has no error code",
            request_id,
        ),
    }
}

/// `x-acs-retry-after` as a positive integer of milliseconds; anything else
/// (missing, empty, non-numeric, zero, negative) is `None`.
pub fn retry_after(response: &HttpResponse) -> Option<Duration> {
    header_str(response, RETRY_AFTER_HEADER)?
        .parse::<u64>()
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

fn header_str<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .get(name)?
        .to_str()
        .ok()
        .and_then(non_blank)
}
