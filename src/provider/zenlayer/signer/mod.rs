//! ZC2-HMAC-SHA256, the request signature of Zenlayer Cloud API 2.0:
//! [`sign`] decides every signed and signing header of a request
//! (`content-type`, the `X-ZC-*` headers, the timestamp format,
//! `Authorization`, marked sensitive) and returns them as
//! [`SigningInstructions`]; the client applies them.
//!
//! Pure functions, one per step of the algorithm, so that an emulator can
//! recompute each intermediate value to verify a request
//! ([`canonical`], [`signature`]):
//!
//! ```text
//! HashedPayload    = hex(sha256(body bytes))            -- the exact bytes sent
//! CanonicalRequest = "POST\n/\n\ncontent-type:<ct>\nhost:<host>\n\ncontent-type;host\n<HashedPayload>"
//! StringToSign     = "ZC2-HMAC-SHA256\n<X-ZC-Timestamp>\n" + hex(sha256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(key = AccessKeyPassword, StringToSign))
//! Authorization    = "ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=content-type;host, Signature=<sig>"
//! ```
//!
//! The canonical URI is always `/` (not `/api/v2/bmc`), the query string is
//! always empty, and the password is the HMAC key as is (no key derivation).
//! `content-type` and `host` must equal the headers actually sent: the
//! `host` signed is the URL's, which the HTTP client sends itself, so it is
//! not an instruction. Action, version and service headers are not signed.
//! The timestamp is Unix seconds, signed as the same decimal string that
//! goes into `X-ZC-Timestamp`.

pub mod canonical;
pub mod signature;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use time::OffsetDateTime;

use crate::provider::signing::{
    Header, SigningError, SigningInstructions, SigningOutput, host_header,
};

pub use canonical::hashed_payload;
use signature::{SigningInput, authorization_header, sign_input};

/// `X-ZC-Signature-Method` and the first word of `Authorization`.
pub const ALGORITHM: &str = "ZC2-HMAC-SHA256";

/// `X-ZC-Service`.
pub const SERVICE: &str = "bmc";

/// The one content type sent and signed.
pub const CONTENT_TYPE_JSON: &str = "application/json";

const X_ZC_ACTION: HeaderName = HeaderName::from_static("x-zc-action");
const X_ZC_VERSION: HeaderName = HeaderName::from_static("x-zc-version");
const X_ZC_SERVICE: HeaderName = HeaderName::from_static("x-zc-service");
const X_ZC_TIMESTAMP: HeaderName = HeaderName::from_static("x-zc-timestamp");
const X_ZC_SIGNATURE_METHOD: HeaderName = HeaderName::from_static("x-zc-signature-method");

/// The request to sign: a JSON body posted to `url`.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// The URL it goes to (its host is signed).
    pub url: &'a Url,
    /// The API action (`AllocateEipAddresses`), sent as `X-ZC-Action`.
    pub action: &'static str,
    /// The body, byte for byte as sent.
    pub body: &'a [u8],
}

/// Who signs, and when. No `Debug`: it holds the password.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    pub access_key_id: &'a str,
    pub access_key_password: &'a str,
    /// `X-ZC-Version`.
    pub api_version: &'a str,
    /// When the request is signed (`X-ZC-Timestamp`).
    pub time: OffsetDateTime,
}

/// Signs `request`: the headers to send, in order, `Authorization` last.
pub fn sign(
    request: &SignableRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    let timestamp = unix_seconds(params.time)?;
    let host = host_header(request.url)?;
    let signature = sign_input(&SigningInput {
        access_key_id: params.access_key_id,
        access_key_password: params.access_key_password,
        timestamp: &timestamp,
        content_type: CONTENT_TYPE_JSON,
        host: &host,
        body: request.body,
    });
    let authorization = authorization_header(params.access_key_id, &signature);
    let headers = vec![
        Header::fixed(CONTENT_TYPE, CONTENT_TYPE_JSON)?,
        Header::fixed(X_ZC_ACTION, request.action)?,
        Header::new(X_ZC_VERSION, params.api_version, false)?,
        Header::fixed(X_ZC_SERVICE, SERVICE)?,
        Header::new(X_ZC_TIMESTAMP, &timestamp, false)?,
        Header::fixed(X_ZC_SIGNATURE_METHOD, ALGORITHM)?,
        Header::new(AUTHORIZATION, &authorization, true)?,
    ];
    Ok(SigningOutput::new(
        SigningInstructions::new(None, headers),
        signature,
    ))
}

/// `time` in Unix seconds, as `X-ZC-Timestamp` carries it.
fn unix_seconds(time: OffsetDateTime) -> Result<String, SigningError> {
    let seconds = time.unix_timestamp();
    if seconds <= 0 {
        return Err(SigningError::ClockBeforeEpoch);
    }
    Ok(seconds.to_string())
}

#[cfg(test)]
mod tests;
