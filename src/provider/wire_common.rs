//! What both providers' wire formats share: `null` read as a default, blank
//! text read as absent (after trimming, like every header and code), provider
//! text as it may enter an error (redacted and bounded by
//! [`redact::relayed`]), and the error for an answer that is not in the
//! provider API's format.

use serde::{Deserialize, Deserializer};

use super::error::ProviderError;
use super::http::HttpResponse;
use super::model::Operation;
use super::redact;

/// Reads `null` as the type's default (serde's `default` covers only a
/// missing field): `#[serde(default, deserialize_with = "null_default")]`.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `text` without surrounding white space, `None` when nothing is left.
pub fn non_blank(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

/// A provider request id as it may enter an error: redacted, bounded,
/// `None` when blank.
pub fn relayed_id(id: Option<&str>) -> Option<String> {
    redact::relayed_opt(id, redact::MAX_REQUEST_ID_BYTES)
}

/// A provider message as it may enter an error: redacted, bounded, empty
/// when there is none.
pub fn relayed_message(message: Option<&str>) -> String {
    message
        .map(|message| redact::relayed(message, redact::MAX_MESSAGE_BYTES))
        .unwrap_or_default()
}

/// [`ProviderError::MalformedResponse`] for `response` to `op`: `detail`
/// says what is wrong (each provider words it, with a body snippet).
pub fn malformed(
    op: Operation,
    response: &HttpResponse,
    detail: String,
    request_id: Option<String>,
) -> ProviderError {
    ProviderError::MalformedResponse {
        op,
        http_status: response.status,
        detail,
        request_id,
    }
}

/// A response with `status`, no headers and `body`, for the parsers' tests.
#[cfg(test)]
pub fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::copy_from_slice(body.as_bytes()),
    }
}

/// Bodies no success parser may accept: empty, blank, a proxy's HTML
/// page, JSON that is not an object.
#[cfg(test)]
pub const UNREADABLE_BODIES: [&str; 6] = [
    "",
    "   ",
    "<html><body>502 Bad Gateway</body></html>",
    "[]",
    "[1,2,3]",
    "null",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_text_is_absent_and_the_rest_is_trimmed() {
        assert_eq!(non_blank(""), None);
        assert_eq!(non_blank(" \t\n"), None);
        assert_eq!(non_blank(" T-1 "), Some("T-1"));
        assert_eq!(non_blank("T-1"), Some("T-1"));
    }

    #[test]
    fn null_and_missing_fields_read_as_defaults() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "null_default")]
            ids: Vec<String>,
        }
        for json in ["{}", r#"{"ids":null}"#] {
            let body: Body = serde_json::from_str(json).unwrap();
            assert!(body.ids.is_empty(), "{json}");
        }
        let body: Body = serde_json::from_str(r#"{"ids":["a"]}"#).unwrap();
        assert_eq!(body.ids, ["a"]);
        assert!(serde_json::from_str::<Body>(r#"{"ids":3}"#).is_err());
    }

    #[test]
    fn relayed_text_is_bounded_and_blank_ids_are_absent() {
        assert_eq!(relayed_id(Some("  ")), None);
        assert_eq!(relayed_id(None), None);
        assert_eq!(relayed_id(Some(" R-1 ")).as_deref(), Some("R-1"));
        assert_eq!(relayed_message(None), "");
        let long = relayed_message(Some(&"m".repeat(10_000)));
        assert!(long.len() <= redact::MAX_MESSAGE_BYTES, "{}", long.len());
    }
}
