//! Reading one API request: the URL query and, for a POST with
//! `application/x-www-form-urlencoded`, the form body, decoded into
//! name/value pairs (`+` is a space, `%XY` a byte, invalid UTF-8 replaced);
//! plus the headers, the `Host` and the raw body the V3 signature covers.
//!
//! V1 signs the query and form parameters as one set; V3 signs the query in
//! its canonical request and the body through `x-acs-content-sha256`. An
//! action reads a parameter from the query first, then from the form.

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use percent_encoding::percent_decode;

use super::errors::EcsError;
use super::response::Format;

/// The largest body the emulator reads (the SDKs send empty bodies).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One API request, decoded.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// `GET`, `POST`, as received.
    pub method: String,
    /// The URL query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The form-body parameters (POST with a form content type), in order.
    pub form: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// The `Host` header as received (else the URI authority).
    pub host: String,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn new(parts: &Parts, body: Bytes) -> ApiRequest {
        let method = parts.method.as_str().to_owned();
        let query = parts
            .uri
            .query()
            .map(|q| parse_urlencoded(q.as_bytes()))
            .unwrap_or_default();
        let form = if parts.method == axum::http::Method::POST && is_form(&parts.headers) {
            parse_urlencoded(&body)
        } else {
            Vec::new()
        };
        let host = parts
            .headers
            .get(header::HOST)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        ApiRequest {
            method,
            query,
            form,
            headers: parts.headers.clone(),
            host,
            body,
        }
    }

    /// The first value of parameter `name` (query first, then form).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.all_params().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Like [`ApiRequest::param`], with an empty value treated as absent.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.param(name).filter(|v| !v.is_empty())
    }

    /// A required parameter: absent or empty is 400 `MissingParameter`
    /// naming it.
    pub fn required(&self, name: &str) -> Result<&str, EcsError> {
        self.non_empty(name)
            .ok_or_else(|| EcsError::missing_parameter(name))
    }

    /// An optional boolean parameter: `true` or `false` in any case (the
    /// official Python SDKs send `True` and `False`); any other value is
    /// the error `invalid` makes.
    pub fn boolean(
        &self,
        name: &str,
        invalid: impl FnOnce() -> EcsError,
    ) -> Result<Option<bool>, EcsError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid()),
        }
    }

    /// Every query then form parameter.
    pub fn all_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query
            .iter()
            .chain(self.form.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of header `name`, lossily decoded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
    }

    /// True when the request carries an `ACS3-...` `Authorization` header
    /// (signature V3); otherwise it is read as signature V1.
    pub fn is_v3(&self) -> bool {
        self.headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes().trim_ascii_start().starts_with(b"ACS3-"))
    }

    /// The answer format: the `Format` parameter (JSON or XML, any case);
    /// without it, XML for V1 (the API's documented default) and, for V3,
    /// XML only when `Accept` asks for XML and not JSON, else JSON.
    pub fn format(&self) -> Result<Format, EcsError> {
        if let Some(value) = self.param("Format") {
            return Format::parse(value).ok_or_else(EcsError::invalid_format);
        }
        if !self.is_v3() {
            return Ok(Format::Xml);
        }
        let accept = self
            .header("accept")
            .unwrap_or_default()
            .to_ascii_lowercase();
        Ok(if accept.contains("xml") && !accept.contains("json") {
            Format::Xml
        } else {
            Format::Json
        })
    }
}

/// The `Format` a request asked for, read from the URL query alone (for
/// answers given before the body is read). Invalid or absent: XML.
pub fn format_from_query(query: Option<&str>) -> Format {
    query
        .map(|q| parse_urlencoded(q.as_bytes()))
        .unwrap_or_default()
        .iter()
        .find(|(k, _)| k == "Format")
        .and_then(|(_, v)| Format::parse(v))
        .unwrap_or(Format::Xml)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Decodes `application/x-www-form-urlencoded` (also used for the query):
/// pairs split on `&`, name and value on the first `=`, `+` is a space,
/// `%XY` a byte (a malformed escape stays literal), invalid UTF-8 becomes
/// U+FFFD. Empty pairs are skipped; a pair without `=` has an empty value.
pub fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn decode_component(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> ApiRequest {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        ApiRequest::new(&parts, Bytes::copy_from_slice(body.as_bytes()))
    }

    #[test]
    fn decodes_pairs() {
        let pairs = parse_urlencoded(b"A=1&B=a+b%20c&C=&D&&E=x%3Dy%26z&F=%E8%BF%90&G=%zz&H=%FF&=v");
        let expected: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "a b c"),
            ("C", ""),
            ("D", ""),
            ("E", "x=y&z"),
            ("F", "运"),
            ("G", "%zz"),
            ("H", "\u{FFFD}"),
            ("", "v"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(pairs, expected);
        assert!(parse_urlencoded(b"").is_empty());
    }

    #[test]
    fn merges_query_and_form_for_post_only() {
        let form = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )];
        let post = request("POST", "/?A=1&B=2", &form, "B=3&C=4+5");
        assert_eq!(post.param("A"), Some("1"));
        assert_eq!(post.param("B"), Some("2"), "the query wins");
        assert_eq!(post.param("C"), Some("4 5"));
        assert_eq!(post.all_params().count(), 4);

        let get = request("GET", "/?A=1", &form, "C=4");
        assert_eq!(get.param("C"), None);
        let json = request(
            "POST",
            "/?A=1",
            &[("content-type", "application/json")],
            "C=4",
        );
        assert_eq!(json.param("C"), None);
    }

    #[test]
    fn host_and_version_detection() {
        let v3 = request(
            "POST",
            "/",
            &[
                ("host", "127.0.0.1:1"),
                ("authorization", "ACS3-HMAC-SHA256 x"),
            ],
            "",
        );
        assert!(v3.is_v3());
        assert_eq!(v3.host, "127.0.0.1:1");
        let v1 = request("POST", "http://example.com:8/?A=1", &[], "");
        assert!(!v1.is_v3());
        assert_eq!(v1.host, "example.com:8");
    }

    #[test]
    fn format_defaults() {
        let xml_default = request("POST", "/?A=1", &[], "");
        assert_eq!(xml_default.format(), Ok(Format::Xml));
        let lower = request("POST", "/?Format=json", &[], "");
        assert_eq!(lower.format(), Ok(Format::Json));
        let bad = request("POST", "/?Format=yaml", &[], "");
        assert_eq!(bad.format().unwrap_err().code, "InvalidParameter.Format");
        let v3 = [("authorization", "ACS3-HMAC-SHA256 x")];
        assert_eq!(request("POST", "/", &v3, "").format(), Ok(Format::Json));
        let v3_xml = [
            ("authorization", "ACS3-HMAC-SHA256 x"),
            ("accept", "text/xml"),
        ];
        assert_eq!(request("POST", "/", &v3_xml, "").format(), Ok(Format::Xml));
        assert_eq!(format_from_query(Some("Format=JSON")), Format::Json);
        assert_eq!(format_from_query(Some("Format=nope")), Format::Xml);
        assert_eq!(format_from_query(None), Format::Xml);
    }
}
