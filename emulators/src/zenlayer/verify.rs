//! Request authentication as Zenlayer checks it: the ZC2-HMAC-SHA256
//! `Authorization` header is recomputed over the exact body bytes received,
//! the `Content-Type` and `Host` headers as received (names are
//! case-insensitive; values trimmed), and `X-ZC-Timestamp`.
//!
//! Order of checks, and the answer of each (all HTTP 401):
//! 1. `Authorization` missing, not ASCII, another algorithm, not of the form
//!    `ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=content-type;host,
//!    Signature=<hex>`, or `X-ZC-Signature-Method` naming another algorithm
//!    -> `AUTHFAILURE_INVALID_AUTHORIZATION`;
//! 2. `X-ZC-Timestamp` missing, not an integer, or more than 5 minutes from
//!    the emulator's clock -> `AUTHFAILURE_SIGNATURE_EXPIRED`;
//! 3. unknown access key id, or a signature that does not match ->
//!    `AUTHFAILURE_SIGNATURE_FAILURE`.
//!
//! The SDKs sign header values as sent; the docs say values are lowercased
//! before signing. Both are accepted (the lowercased form is tried when the
//! as-sent one does not match). `Authorization: Bearer` tokens are not
//! supported by the emulator (answered as invalid authorization).

use std::fmt;

use axum::http::HeaderMap;

use super::errors::ApiError;
use super::signature::{self, ALGORITHM, SIGNED_HEADERS};

/// An accepted key pair. `Debug` shows only the id.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    password: String,
}

impl KeyPair {
    /// Both parts trimmed, as the official SDKs trim them.
    pub fn new(access_key_id: &str, password: &str) -> KeyPair {
        KeyPair {
            access_key_id: access_key_id.trim().to_owned(),
            password: password.trim().to_owned(),
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The largest allowed difference between `X-ZC-Timestamp` and the clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// Checks the request's signature; returns the access key id on success.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    credentials: &[KeyPair],
    now_unix: i64,
) -> Result<String, ApiError> {
    let authorization = header(headers, "authorization")
        .ok_or_else(|| ApiError::invalid_authorization("The Authorization header is missing."))?;
    let Some(text) = authorization else {
        return Err(ApiError::invalid_authorization(
            "The Authorization header is not valid text.",
        ));
    };
    let algorithm = text.split(' ').next().unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(ApiError::invalid_authorization(
            "The Authorization header does not use the supported algorithm ZC2-HMAC-SHA256.",
        ));
    }
    if let Some(method) = header(headers, "x-zc-signature-method")
        && method != Some(ALGORITHM)
    {
        return Err(ApiError::invalid_authorization(
            "The X-ZC-Signature-Method header does not name ZC2-HMAC-SHA256.",
        ));
    }
    let parsed = signature::parse_authorization(text).ok_or_else(|| {
        ApiError::invalid_authorization(
            "The Authorization header must be `ZC2-HMAC-SHA256 Credential=<AccessKeyId>, \
             SignedHeaders=content-type;host, Signature=<signature>`.",
        )
    })?;
    if parsed.signed_headers != SIGNED_HEADERS {
        return Err(ApiError::invalid_authorization(
            "SignedHeaders must be `content-type;host`.",
        ));
    }
    if parsed.credential.is_empty() || parsed.signature.is_empty() {
        return Err(ApiError::invalid_authorization(
            "The Credential and Signature of the Authorization header must not be empty.",
        ));
    }

    let timestamp = match header(headers, "x-zc-timestamp") {
        Some(Some(t)) => t,
        _ => {
            return Err(ApiError::signature_expired(
                "The X-ZC-Timestamp header is missing or invalid.",
            ));
        }
    };
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return Err(ApiError::signature_expired(
            "The X-ZC-Timestamp header must be Unix time in seconds.",
        ));
    };
    if (i128::from(now_unix) - i128::from(seconds)).abs() > i128::from(MAX_CLOCK_SKEW_SECS) {
        return Err(ApiError::signature_expired(
            "The signature has expired: X-ZC-Timestamp differs from the server time by more than 5 minutes.",
        ));
    }

    let Some(key) = credentials
        .iter()
        .find(|key| key.access_key_id == parsed.credential)
    else {
        return Err(ApiError::signature_failure(
            "The access key id in Credential does not exist.",
        ));
    };
    let content_type = header(headers, "content-type").flatten().unwrap_or("");
    let host = header(headers, "host").flatten().unwrap_or("");
    let received = parsed.signature.to_ascii_lowercase();
    let matches = |content_type: &str, host: &str| {
        let to_sign = signature::string_to_sign(timestamp, content_type, host, body);
        signature::signature(&key.password, &to_sign)
            .is_some_and(|expected| constant_time_eq(expected.as_bytes(), received.as_bytes()))
    };
    let lower_content_type = content_type.to_ascii_lowercase();
    let lower_host = host.to_ascii_lowercase();
    let lowered_differs = lower_content_type != content_type || lower_host != host;
    if matches(content_type, host) || (lowered_differs && matches(&lower_content_type, &lower_host))
    {
        Ok(key.access_key_id.clone())
    } else {
        Err(ApiError::signature_failure(
            "The signature does not match: check the access key password, the signed \
             Content-Type and Host, the timestamp and the body bytes.",
        ))
    }
}

/// `None`: absent; `Some(None)`: present but not visible ASCII; otherwise
/// the trimmed value.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<Option<&'a str>> {
    headers
        .get(name)
        .map(|value| value.to_str().ok().map(str::trim))
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::super::errors::{
        AUTHFAILURE_INVALID_AUTHORIZATION, AUTHFAILURE_SIGNATURE_EXPIRED,
        AUTHFAILURE_SIGNATURE_FAILURE,
    };
    use super::*;
    use axum::http::HeaderValue;

    const ID: &str = "AKIDZLTEST0000000001";
    const PASSWORD: &str = "zlTestPassw0rd/Example+Key=";
    const TS: i64 = 1_700_000_000;
    /// FACTS §1.4 V1: the exact bytes the Python SDK sends (json.dumps).
    const V1_BODY: &str = r#"{"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 1, "tags": {"tags": [{"key": "env", "value": "test"}]}}"#;
    const V1_AUTH: &str = "ZC2-HMAC-SHA256 Credential=AKIDZLTEST0000000001, SignedHeaders=content-type;host, Signature=2e98a7bd088f194afb1d138875c07065ddeea8facf72dbfa5d17edbc268903de";

    fn creds() -> Vec<KeyPair> {
        vec![KeyPair::new(ID, PASSWORD)]
    }

    fn v1_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("console.zenlayer.com"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-zc-timestamp", HeaderValue::from_static("1700000000"));
        h.insert(
            "x-zc-signature-method",
            HeaderValue::from_static("ZC2-HMAC-SHA256"),
        );
        h.insert("authorization", HeaderValue::from_static(V1_AUTH));
        h
    }

    fn code(result: Result<String, ApiError>) -> &'static str {
        result.unwrap_err().code
    }

    #[test]
    fn python_sdk_vector_v1_verifies() {
        assert_eq!(
            verify(&v1_headers(), V1_BODY.as_bytes(), &creds(), TS).unwrap(),
            ID
        );
        // Within the 5 minute window on both sides.
        for now in [TS - 300, TS + 300] {
            assert!(verify(&v1_headers(), V1_BODY.as_bytes(), &creds(), now).is_ok());
        }
    }

    #[test]
    fn compact_body_vector_v4_verifies() {
        let body = r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":1,"tags":{"tags":[{"key":"env","value":"test"}]}}"#;
        let mut h = v1_headers();
        h.insert("authorization", HeaderValue::from_static("ZC2-HMAC-SHA256 Credential=AKIDZLTEST0000000001, SignedHeaders=content-type;host, Signature=4e48c0b0a9fbae4040f60ad2600b20d8218d48e0e471b8fc669f1cee84d89002"));
        assert!(verify(&h, body.as_bytes(), &creds(), TS).is_ok());
    }

    #[test]
    fn docs_vector_v0_with_charset_verifies() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("console.zenlayer.com"));
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert("x-zc-timestamp", HeaderValue::from_static("1673361177"));
        h.insert("authorization", HeaderValue::from_static("ZC2-HMAC-SHA256 Credential=0D9UtpyKYcHxms5v, SignedHeaders=content-type;host, Signature=efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f"));
        let creds = vec![KeyPair::new(
            "0D9UtpyKYcHxms5v",
            "Gu5t9xGARNpq86cd98joQYCN3",
        )];
        let body = br#"{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}"#;
        assert!(verify(&h, body, &creds, 1_673_361_177).is_ok());
    }

    #[test]
    fn any_changed_byte_fails() {
        let body = V1_BODY.replace("\"amount\": 1", "\"amount\":1");
        assert_eq!(
            code(verify(&v1_headers(), body.as_bytes(), &creds(), TS)),
            AUTHFAILURE_SIGNATURE_FAILURE
        );
        let mut h = v1_headers();
        h.insert("host", HeaderValue::from_static("console.zenlayer.com:443"));
        assert_eq!(
            code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
            AUTHFAILURE_SIGNATURE_FAILURE
        );
        let wrong = vec![KeyPair::new(ID, "other")];
        assert_eq!(
            code(verify(&v1_headers(), V1_BODY.as_bytes(), &wrong, TS)),
            AUTHFAILURE_SIGNATURE_FAILURE
        );
        let other_id = vec![KeyPair::new("AKIDOTHER", PASSWORD)];
        assert_eq!(
            code(verify(&v1_headers(), V1_BODY.as_bytes(), &other_id, TS)),
            AUTHFAILURE_SIGNATURE_FAILURE
        );
    }

    #[test]
    fn uppercase_header_values_signed_lowercase_are_accepted() {
        // A client following the docs (values lowercased before signing)
        // while sending `Console.Zenlayer.com`.
        let mut h = v1_headers();
        h.insert("host", HeaderValue::from_static("Console.Zenlayer.com"));
        assert!(verify(&h, V1_BODY.as_bytes(), &creds(), TS).is_ok());
    }

    #[test]
    fn timestamps_outside_the_window_expire() {
        for now in [TS - 301, TS + 301, i64::MAX, i64::MIN] {
            assert_eq!(
                code(verify(&v1_headers(), V1_BODY.as_bytes(), &creds(), now)),
                AUTHFAILURE_SIGNATURE_EXPIRED
            );
        }
        for ts in [
            "",
            "abc",
            "1700000000.5",
            "99999999999999999999999",
            "1700000000000",
        ] {
            let mut h = v1_headers();
            h.insert("x-zc-timestamp", HeaderValue::from_str(ts).unwrap());
            assert_eq!(
                code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
                AUTHFAILURE_SIGNATURE_EXPIRED,
                "{ts:?}"
            );
        }
        let mut h = v1_headers();
        h.remove("x-zc-timestamp");
        assert_eq!(
            code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
            AUTHFAILURE_SIGNATURE_EXPIRED
        );
    }

    #[test]
    fn malformed_authorization_is_invalid() {
        let bad = [
            "",
            "Bearer abc",
            "ZC2-HMAC-SHA1 Credential=a, SignedHeaders=content-type;host, Signature=b",
            "ZC2-HMAC-SHA256",
            "ZC2-HMAC-SHA256 Credential=a",
            "ZC2-HMAC-SHA256 Credential=a,SignedHeaders=content-type;host,Signature=b",
            "ZC2-HMAC-SHA256 Credential=a, SignedHeaders=host;content-type, Signature=b",
            "ZC2-HMAC-SHA256 Credential=a, SignedHeaders=content-type;host;x-zc-timestamp, Signature=b",
            "ZC2-HMAC-SHA256 Credential=, SignedHeaders=content-type;host, Signature=b",
            "ZC2-HMAC-SHA256 Credential=a, SignedHeaders=content-type;host, Signature=",
        ];
        for value in bad {
            let mut h = v1_headers();
            h.insert("authorization", HeaderValue::from_str(value).unwrap());
            assert_eq!(
                code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
                AUTHFAILURE_INVALID_AUTHORIZATION,
                "{value:?}"
            );
        }
        let mut h = v1_headers();
        h.remove("authorization");
        assert_eq!(
            code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
            AUTHFAILURE_INVALID_AUTHORIZATION
        );
        // Not visible ASCII.
        let mut h = v1_headers();
        h.insert(
            "authorization",
            HeaderValue::from_bytes(b"ZC2-HMAC-SHA256 \xff\xfe").unwrap(),
        );
        assert_eq!(
            code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
            AUTHFAILURE_INVALID_AUTHORIZATION
        );
        let mut h = v1_headers();
        h.insert(
            "x-zc-signature-method",
            HeaderValue::from_static("HMAC-SHA1"),
        );
        assert_eq!(
            code(verify(&h, V1_BODY.as_bytes(), &creds(), TS)),
            AUTHFAILURE_INVALID_AUTHORIZATION
        );
    }

    #[test]
    fn garbage_headers_never_panic() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_bytes(
                b"ZC2-HMAC-SHA256 Credential=\x80, SignedHeaders=content-type;host, Signature=zz",
            )
            .unwrap(),
        );
        h.insert("x-zc-timestamp", HeaderValue::from_bytes(b"\xff").unwrap());
        h.insert("host", HeaderValue::from_bytes(b"\xfe").unwrap());
        assert!(verify(&h, &[0xff, 0x00], &creds(), TS).is_err());
    }
}
