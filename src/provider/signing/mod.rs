//! What both clouds' signers share, after smithy-rs `aws-sigv4`: a signer
//! is `sign(&SignableRequest, &SigningParams) ->
//! Result<SigningOutput<SigningInstructions>, SigningError>`, and the
//! instructions name every query parameter and header the signed request
//! carries, the sensitive ones marked. The client only applies them
//! ([`SigningInstructions::apply_to`]) and adds nothing a signature covers.
//!
//! Also here, because both clouds compute them alike: SHA-256 hex and HMAC
//! ([`digest`]), the `host` value a signature covers and the parsing of a
//! configured base URL ([`endpoint`]).

pub mod digest;
pub mod endpoint;

use std::fmt;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::provider::error::ProviderError;

pub use digest::{hmac_sha1, hmac_sha256, lower_hex, sha256_hex};
pub use endpoint::{EndpointError, host_header, parse_base_url};

/// Why a request could not be signed. Never carries a header's value: it
/// may be a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("the {0} header value is not valid HTTP")]
    InvalidHeaderValue(HeaderName),
    #[error("the endpoint URL has no host")]
    NoHost,
    #[error("the system clock is before 1970")]
    ClockBeforeEpoch,
}

impl From<SigningError> for ProviderError {
    fn from(error: SigningError) -> Self {
        ProviderError::Internal(error.to_string())
    }
}

/// One header a signed request carries. A sensitive value (a credential,
/// a signature) is marked so on the [`HeaderValue`], so that neither `Debug`
/// output nor HTTP/2 header compression tables keep it.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: HeaderName,
    value: HeaderValue,
}

impl Header {
    /// `value` must be valid in an HTTP header (no control characters).
    pub fn new(name: HeaderName, value: &str, sensitive: bool) -> Result<Header, SigningError> {
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| SigningError::InvalidHeaderValue(name.clone()))?;
        value.set_sensitive(sensitive);
        Ok(Header { name, value })
    }

    /// A header whose value is one of the gateway's constants: not copied,
    /// and free to clone (the HTTP client keeps a copy of every header).
    pub fn fixed(name: HeaderName, value: &'static str) -> Result<Header, SigningError> {
        // The bytes `HeaderValue::from_static` accepts (it panics on others).
        if !value.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t') {
            return Err(SigningError::InvalidHeaderValue(name));
        }
        Ok(Header {
            name,
            value: HeaderValue::from_static(value),
        })
    }

    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    pub fn value(&self) -> &HeaderValue {
        &self.value
    }

    pub fn sensitive(&self) -> bool {
        self.value.is_sensitive()
    }
}

impl fmt::Debug for Header {
    // HeaderValue's Debug prints `Sensitive` for a sensitive value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.name, self.value)
    }
}

/// Everything signing adds to a request: the complete URL query (when the
/// signature covers the query) and the headers, in the order they are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningInstructions {
    query: Option<String>,
    headers: Vec<Header>,
}

impl SigningInstructions {
    pub fn new(query: Option<String>, headers: Vec<Header>) -> SigningInstructions {
        SigningInstructions { query, headers }
    }

    /// The URL query to send exactly as signed; `None` leaves the URL's as
    /// it is.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The header named `name`, if signing adds it.
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers.iter().find(|h| h.name == name)
    }

    /// Every header as (name, value, sensitive), in order, for tests to
    /// compare at a glance.
    #[cfg(test)]
    pub fn listed(&self) -> Vec<(&str, &str, bool)> {
        self.headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.to_str().unwrap(), h.sensitive()))
            .collect()
    }

    /// Sets the query on `url` and appends the headers to `headers`, after
    /// those already there (the order they go on the wire).
    pub fn apply_to(self, url: &mut Url, headers: &mut HeaderMap) {
        if let Some(query) = &self.query {
            url.set_query(Some(query));
        }
        for Header { name, value } in self.headers {
            headers.insert(name, value);
        }
    }
}

/// A signer's result: what to apply, and the signature itself (as the
/// algorithm computes it, before any encoding for the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningOutput<T> {
    output: T,
    signature: String,
}

impl<T> SigningOutput<T> {
    pub fn new(output: T, signature: String) -> SigningOutput<T> {
        SigningOutput { output, signature }
    }

    pub fn output(&self) -> &T {
        &self.output
    }

    pub fn signature(&self) -> &str {
        &self.signature
    }

    pub fn into_output(self) -> T {
        self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_set_the_query_and_append_headers_in_order() {
        let instructions = SigningInstructions::new(
            Some("A=1&Signature=x%2B".to_owned()),
            vec![
                Header::new(HeaderName::from_static("x-b"), "2", false).unwrap(),
                Header::new(HeaderName::from_static("x-a"), "1", true).unwrap(),
            ],
        );
        assert!(instructions.header("x-a").unwrap().sensitive());
        assert!(!instructions.header("x-b").unwrap().sensitive());
        let mut url = Url::parse("http://h/?old=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("*/*"));
        instructions.apply_to(&mut url, &mut headers);
        assert_eq!(url.as_str(), "http://h/?A=1&Signature=x%2B");
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept", "x-b", "x-a"]);
        assert!(headers["x-a"].is_sensitive());

        let mut url = Url::parse("http://h/path").unwrap();
        SigningInstructions::new(None, vec![]).apply_to(&mut url, &mut HeaderMap::new());
        assert_eq!(url.as_str(), "http://h/path");
    }

    #[test]
    fn a_fixed_header_is_the_header_new_makes_and_refuses_what_it_refuses() {
        let name = HeaderName::from_static("x-zc-service");
        for value in ["bmc", "application/json", "a\tb", ""] {
            assert_eq!(
                Header::fixed(name.clone(), value).unwrap(),
                Header::new(name.clone(), value, false).unwrap(),
                "{value:?}"
            );
        }
        for value in ["a\nb", "a\rb", "\u{7f}", "\0"] {
            assert!(
                Header::new(name.clone(), value, false).is_err(),
                "{value:?}"
            );
            assert_eq!(
                Header::fixed(name.clone(), value),
                Err(SigningError::InvalidHeaderValue(name.clone())),
                "{value:?}"
            );
        }
    }

    #[test]
    fn an_invalid_header_value_is_an_error_without_the_value() {
        let name = HeaderName::from_static("x-acs-security-token");
        let error = Header::new(name, "bad\nvalue-secret", true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the x-acs-security-token header value is not valid HTTP"
        );
        let error = ProviderError::from(error);
        assert!(matches!(error, ProviderError::Internal(_)));
        assert!(!error.to_string().contains("value-secret"));
    }

    #[test]
    fn debug_hides_sensitive_values() {
        let header = Header::new(HeaderName::from_static("authorization"), "SECRET", true).unwrap();
        let debug = format!("{header:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        let header = Header::new(HeaderName::from_static("x-acs-action"), "Run", false).unwrap();
        assert_eq!(format!("{header:?}"), "x-acs-action: \"Run\"");
    }
}
