//! Authentication of an API request, as the Alibaba POP gateway does it:
//! signature V1 (`SignatureMethod=HMAC-SHA1` over the sorted query and form
//! parameters, key `secret&`) or V3 (`Authorization: ACS3-HMAC-SHA256
//! Credential=..,SignedHeaders=..,Signature=..` over a canonical request),
//! the timestamp window, the AccessKey, the nonce and the STS token.
//!
//! The signatures are recomputed with the emulator's own implementation
//! ([`super::signature`]), independent of the gateway's signer and checked
//! against Alibaba's published vectors and the official SDKs' output.
//!
//! Checks, in order (the first failure answers):
//!
//! | check | V1 | V3 | error |
//! |---|---|---|---|
//! | presence | `AccessKeyId`, `Signature`, `SignatureNonce`, `Timestamp`, `SignatureMethod` | `Authorization` parts, `x-acs-signature-nonce`, `x-acs-date`, `x-acs-content-sha256` | 400 `MissingParameter` / `IncompleteSignature` |
//! | algorithm | `SignatureMethod` = `HMAC-SHA1` | `ACS3-HMAC-SHA256` | 400 `InvalidSignatureMethod` |
//! | signed headers | - | `host`, `x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256` (+ `x-acs-security-token` when sent with an STS key) | 400 `IncompleteSignature` |
//! | time | `Timestamp` | `x-acs-date` | 400 `InvalidTimeStamp.Format` / `.Expired` (> 15 min either way) |
//! | key | `AccessKeyId` | `Credential=` | 404 `InvalidAccessKeyId.NotFound` |
//! | signature | recomputed with the request's method | same, body hashed by the server | 400 `SignatureDoesNotMatch` + server string to sign |
//! | STS token | `SecurityToken` | `x-acs-security-token` | 400 `MissingSecurityToken` / `InvalidSecurityToken.MismatchWithAccessKey` |
//! | nonce | single-use per key for 15 min | same | 400 `SignatureNonceUsed` |
//!
//! V3 reads the `Authorization` header (so its algorithm) before the other
//! headers. A token sent with a key that has none is a mismatch too. The nonce is
//! consumed only by a request that passed every other check.

use std::fmt;
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::errors::EcsError;
use super::nonce::NonceCache;
use super::params::ApiRequest;
use super::signature::{self, V3_ALGORITHM};
use super::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET};

/// An AccessKey the emulator accepts. With a `security_token` it is an STS
/// key: every request must carry exactly that token. `Debug` hides the
/// secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct EmulatorCredential {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
}

impl EmulatorCredential {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        EmulatorCredential {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
        }
    }

    /// Makes this an STS key requiring `token`.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The sandbox key pair ([`SANDBOX_ACCESS_KEY_ID`],
    /// [`SANDBOX_ACCESS_KEY_SECRET`]).
    pub fn sandbox() -> Self {
        EmulatorCredential::new(SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET)
    }
}

impl fmt::Debug for EmulatorCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorCredential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field("sts", &self.security_token.is_some())
            .finish()
    }
}

/// How far a request's time may be from the server's.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// The V1 parameters every signed request carries, in the order checked.
pub const V1_REQUIRED: [&str; 5] = [
    "AccessKeyId",
    "Signature",
    "SignatureNonce",
    "Timestamp",
    "SignatureMethod",
];

/// The headers a V3 request must sign.
pub const V3_REQUIRED_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// The API a request names: `Action`/`Version` (V1) or `x-acs-action`/
/// `x-acs-version` (V3). Missing or empty: 400 `MissingParameter`.
pub fn api_name(request: &ApiRequest) -> Result<(String, String), EcsError> {
    if request.is_v3() {
        let action = request
            .header("x-acs-action")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| EcsError::missing_parameter("x-acs-action"))?;
        let version = request
            .header("x-acs-version")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| EcsError::missing_parameter("x-acs-version"))?;
        Ok((action, version))
    } else {
        let action = request
            .non_empty("Action")
            .ok_or_else(|| EcsError::missing_parameter("Action"))?;
        let version = request
            .non_empty("Version")
            .ok_or_else(|| EcsError::missing_parameter("Version"))?;
        Ok((action.to_owned(), version.to_owned()))
    }
}

/// What authentication needs from the emulator.
pub struct Verifier<'a> {
    pub credentials: &'a [EmulatorCredential],
    pub nonces: &'a NonceCache,
    /// The server's clock (UTC), for the timestamp window.
    pub now_utc: OffsetDateTime,
    /// The monotonic clock, for the nonce window.
    pub now: Instant,
}

impl Verifier<'_> {
    /// Authenticates `request`; returns the AccessKeyId it was signed with.
    pub fn authenticate(&self, request: &ApiRequest) -> Result<String, EcsError> {
        if request.is_v3() {
            self.authenticate_v3(request)
        } else {
            self.authenticate_v1(request)
        }
    }

    fn authenticate_v1(&self, request: &ApiRequest) -> Result<String, EcsError> {
        for name in V1_REQUIRED {
            if request.non_empty(name).is_none() {
                return Err(EcsError::missing_parameter(name));
            }
        }
        let get = |name| request.param(name).unwrap_or_default();
        if get("SignatureMethod") != signature::V1_SIGNATURE_METHOD {
            return Err(EcsError::invalid_signature_method());
        }
        self.check_time(get("Timestamp"))?;
        let access_key_id = get("AccessKeyId");
        let credential = self.credential(access_key_id)?;

        let string_to_sign = signature::v1_string_to_sign(
            &request.method,
            request
                .all_params()
                .filter(|(name, _)| *name != "Signature"),
        );
        let expected = signature::v1_signature(&credential.access_key_secret, &string_to_sign)
            .ok_or_else(EcsError::internal_error)?;
        if !constant_time_eq(expected.as_bytes(), get("Signature").as_bytes()) {
            return Err(EcsError::signature_mismatch(&string_to_sign));
        }
        check_token(credential, request.param("SecurityToken"))?;
        self.check_nonce(access_key_id, get("SignatureNonce"))?;
        Ok(access_key_id.to_owned())
    }

    fn authenticate_v3(&self, request: &ApiRequest) -> Result<String, EcsError> {
        let authorization = request.header("authorization").unwrap_or_default();
        let auth = parse_authorization(&authorization)?;
        for name in [
            "x-acs-signature-nonce",
            "x-acs-date",
            "x-acs-content-sha256",
        ] {
            if request.header(name).is_none_or(|v| v.is_empty()) {
                return Err(EcsError::missing_parameter(name));
            }
        }
        let credential = self
            .credentials
            .iter()
            .find(|c| c.access_key_id == auth.credential);
        // An STS token, when sent, must be signed (when absent, the token
        // check below answers `MissingSecurityToken`).
        let must_sign_token = credential.is_some_and(|c| c.security_token.is_some())
            && request.headers.contains_key("x-acs-security-token");
        let missing_signed = V3_REQUIRED_SIGNED
            .iter()
            .chain(must_sign_token.then_some(&"x-acs-security-token"))
            .any(|required| !auth.signed_headers.iter().any(|h| h == required));
        if missing_signed {
            return Err(EcsError::incomplete_signature());
        }
        self.check_time(&request.header("x-acs-date").unwrap_or_default())?;
        let credential = self.credential(&auth.credential)?;

        let mut headers: Vec<(&str, String)> = Vec::with_capacity(auth.signed_headers.len());
        for name in &auth.signed_headers {
            let values = request.headers.get_all(name.as_str());
            let mut any = false;
            for value in values {
                any = true;
                headers.push((name, String::from_utf8_lossy(value.as_bytes()).into_owned()));
            }
            if !any && name == "host" {
                headers.push((name, request.host.clone()));
            }
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let query: Vec<(&str, &str)> = request
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let hashed_payload = signature::hex_sha256(&request.body);
        let canonical = signature::v3_canonical(&request.method, &query, &headers, &hashed_payload);
        let expected =
            signature::v3_signature(&credential.access_key_secret, &canonical.string_to_sign)
                .ok_or_else(EcsError::internal_error)?;
        let given = auth.signature.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(EcsError::signature_mismatch(&canonical.string_to_sign));
        }
        check_token(
            credential,
            request.header("x-acs-security-token").as_deref(),
        )?;
        let nonce = request.header("x-acs-signature-nonce").unwrap_or_default();
        self.check_nonce(&auth.credential, &nonce)?;
        Ok(auth.credential)
    }

    fn credential(&self, access_key_id: &str) -> Result<&EmulatorCredential, EcsError> {
        self.credentials
            .iter()
            .find(|c| c.access_key_id == access_key_id)
            .ok_or_else(EcsError::access_key_not_found)
    }

    fn check_time(&self, timestamp: &str) -> Result<(), EcsError> {
        let at = parse_timestamp(timestamp).ok_or_else(EcsError::timestamp_format)?;
        if (self.now_utc - at).abs() > MAX_CLOCK_SKEW {
            return Err(EcsError::timestamp_expired());
        }
        Ok(())
    }

    fn check_nonce(&self, access_key_id: &str, nonce: &str) -> Result<(), EcsError> {
        if self.nonces.check_and_insert(access_key_id, nonce, self.now) {
            Ok(())
        } else {
            Err(EcsError::nonce_used())
        }
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` (any RFC 3339 date-time is accepted).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if text.len() > 64 {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// The parts of a V3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub credential: String,
    /// Lowercase header names.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Most headers a V3 request may sign.
const MAX_SIGNED_HEADERS: usize = 64;

/// Parses `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`
/// (spaces after the commas tolerated). Another `ACS3-*` algorithm is 400
/// `InvalidSignatureMethod`; anything unreadable is 400
/// `IncompleteSignature`.
pub fn parse_authorization(header: &str) -> Result<Authorization, EcsError> {
    let header = header.trim();
    let (algorithm, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if algorithm != V3_ALGORITHM {
        return Err(EcsError::invalid_signature_method());
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            return Err(EcsError::incomplete_signature());
        };
        let value = value.trim();
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() || value.is_empty() {
            return Err(EcsError::incomplete_signature());
        }
        *slot = Some(value.to_owned());
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(EcsError::incomplete_signature());
    };
    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    if signed_headers.len() > MAX_SIGNED_HEADERS
        || signed_headers
            .iter()
            .any(|name| name.is_empty() || name == "authorization")
    {
        return Err(EcsError::incomplete_signature());
    }
    Ok(Authorization {
        credential,
        signed_headers,
        signature,
    })
}

/// An STS key needs its token; a permanent key takes none.
fn check_token(credential: &EmulatorCredential, given: Option<&str>) -> Result<(), EcsError> {
    let given = given.filter(|t| !t.is_empty());
    match (&credential.security_token, given) {
        (Some(_), None) => Err(EcsError::missing_security_token()),
        (Some(expected), Some(given))
            if !constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Err(EcsError::security_token_mismatch())
        }
        (None, Some(_)) => Err(EcsError::security_token_mismatch()),
        _ => Ok(()),
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_parsing() {
        let parsed = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;X-Acs-Date,Signature=abc",
        )
        .unwrap();
        assert_eq!(
            parsed,
            Authorization {
                credential: "AK".into(),
                signed_headers: vec!["host".into(), "x-acs-date".into()],
                signature: "abc".into(),
            }
        );
        let spaced = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=AK, SignedHeaders=host, Signature=abc",
        );
        assert!(spaced.is_ok());

        let method = |h: &str| parse_authorization(h).unwrap_err().code;
        assert_eq!(
            method("ACS3-HMAC-SM3 Credential=a,SignedHeaders=h,Signature=s"),
            "InvalidSignatureMethod"
        );
        assert_eq!(method("Bearer x"), "InvalidSignatureMethod");
        for garbage in [
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 ",
            "ACS3-HMAC-SHA256 Credential=a",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=h,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=h,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h;;x,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=authorization,Signature=s",
            "ACS3-HMAC-SHA256 garbage,,,====",
            "ACS3-HMAC-SHA256 \u{FFFD}\u{FFFD}",
        ] {
            assert_eq!(method(garbage), "IncompleteSignature", "{garbage:?}");
        }
        let many = format!(
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders={},Signature=s",
            vec!["h"; 65].join(";")
        );
        assert_eq!(method(&many), "IncompleteSignature");
    }

    #[test]
    fn timestamps() {
        let at = parse_timestamp("2024-05-01T08:30:00Z").unwrap();
        assert_eq!(at.unix_timestamp(), 1_714_552_200);
        assert!(parse_timestamp("2024-05-01T08:30:00.123Z").is_some());
        for bad in [
            "",
            "yesterday",
            "2024-05-01 08:30:00",
            "2024-13-01T08:30:00Z",
            "2024-05-01T08:30Z",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        assert!(parse_timestamp(&"9".repeat(100)).is_none());
    }

    #[test]
    fn tokens() {
        let plain = EmulatorCredential::new("a", "s");
        let sts = EmulatorCredential::new("b", "s").with_security_token("tok");
        assert!(check_token(&plain, None).is_ok());
        assert!(check_token(&plain, Some("")).is_ok());
        assert_eq!(
            check_token(&plain, Some("x")).unwrap_err().code,
            "InvalidSecurityToken.MismatchWithAccessKey"
        );
        assert!(check_token(&sts, Some("tok")).is_ok());
        assert_eq!(
            check_token(&sts, None).unwrap_err().code,
            "MissingSecurityToken"
        );
        assert_eq!(
            check_token(&sts, Some("tok2")).unwrap_err().code,
            "InvalidSecurityToken.MismatchWithAccessKey"
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
