//! Alibaba Cloud request signing: [`sign`] decides every signed parameter
//! and header of a request (the common parameters, nonce and timestamp
//! formats, `x-acs-*` headers, `host`) and returns them as
//! [`SigningInstructions`], the sensitive ones marked; the client applies
//! them and adds nothing the signature covers.
//!
//! - [`encoding`]: RFC 3986 percent-encoding;
//! - [`canonical`]: the canonical query and canonical headers;
//! - [`v1`]: RPC signature V1 (HMAC-SHA1 over the sorted query);
//! - [`v3`]: signature V3 (`ACS3-HMAC-SHA256` over a canonical request).
//!
//! Pure functions: the clock and the nonce's randomness come in through
//! [`SigningParams`], so the tests reproduce Alibaba's published examples
//! and the vectors computed with the official SDKs
//! (`tests/vectors/aliyun-rpc-v1.json`, `tests/vectors/aliyun-acs3.json`).
//! Secrets are used only as HMAC keys and in the instructions that carry
//! them: nothing here formats or logs them.

pub mod canonical;
pub mod encoding;
pub mod v1;
pub mod v3;

use reqwest::Url;
use reqwest::header::HeaderName;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AliyunCredentials, SignatureVersion};
use crate::provider::signing::{SigningError, SigningInstructions, SigningOutput};

pub use canonical::canonical_query;
pub use encoding::percent_encode;
pub use v1::sign_v1;
pub use v3::{EMPTY_BODY_SHA256, V3Request, sign_v3};

/// The request to sign: an RPC call with an empty body.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// The HTTP method, as sent.
    pub method: &'a str,
    /// The URL it goes to (V3 signs its host).
    pub url: &'a Url,
    /// The API action (`AllocatePublicIpAddress`).
    pub action: &'a str,
    /// The action's own parameters, unencoded.
    pub params: &'a [(&'static str, String)],
}

/// Who signs, and the volatile inputs, so that signing is reproducible.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    pub version: SignatureVersion,
    pub credentials: &'a AliyunCredentials,
    /// The request's region: V1 signs it as `RegionId`.
    pub region: &'a str,
    /// When the request is signed (`Timestamp` / `x-acs-date`).
    pub time: OffsetDateTime,
    /// The nonce, fresh for every attempt.
    pub nonce: Uuid,
}

/// `x-acs-action`: both versions repeat the action in it.
const X_ACS_ACTION: HeaderName = HeaderName::from_static("x-acs-action");
/// `x-acs-version`: both versions repeat the API version in it.
const X_ACS_VERSION: HeaderName = HeaderName::from_static("x-acs-version");

/// Signs `request` with the configured signature version.
pub fn sign(
    request: &SignableRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    let stamp = Stamp {
        nonce: nonce(params.nonce),
        timestamp: timestamp(params.time),
    };
    let credentials = params.credentials;
    match params.version {
        SignatureVersion::V1 => v1::sign_request(request, credentials, params.region, &stamp),
        SignatureVersion::V3 => v3::sign_request(request, credentials, &stamp),
    }
}

/// What makes each attempt's signature new, in the wire formats both
/// versions send.
struct Stamp {
    nonce: String,
    timestamp: String,
}

/// UTC ISO 8601 as Alibaba wants it: `%Y-%m-%dT%H:%M:%SZ`.
fn timestamp(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// 32 lowercase hex digits, as both official SDKs send.
fn nonce(nonce: Uuid) -> String {
    nonce.simple().to_string()
}

/// Readers of the JSON vector files the V1 and V3 tests reproduce.
#[cfg(test)]
mod test_vectors {
    use serde_json::Value;

    pub fn load(name: &str) -> Value {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub fn pairs(object: &Value) -> Vec<(String, String)> {
        object
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }

    pub fn borrow(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
