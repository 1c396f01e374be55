//! Zenlayer BMC error answers: every failure is a non-200 with
//! `{"requestId", "code", "message"}`, except the non-JSON answers of the
//! Cloudflare front (403 challenge, 451) and a bare 429, which get the
//! synthetic codes the official SDKs use. Each becomes a [`ProviderError`],
//! classified by the BMC error table (`super::super::errors`) once, here.

use serde::{Deserialize, Serialize};

use super::super::errors::TABLE;
use crate::provider::error::{ApiError, ProviderError};
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::redact;
use crate::provider::wire_common::{malformed, non_blank, relayed_id, relayed_message};

/// Synthetic code for a Cloudflare challenge page (HTTP 403 with
/// `cf-mitigated: challenge`), as the official SDKs name it.
pub const SECURITY_CHALLENGE: &str = "SECURITY_CHALLENGE";
/// Synthetic code for HTTP 451, as the official SDKs name it.
pub const REQUEST_BLOCKED: &str = "REQUEST_BLOCKED";
/// The API's rate-limit code, also used for a 429 without an API body.
pub const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";

/// The error body `{"requestId", "code", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Turns a non-200 answer into an error: the Cloudflare special cases, the
/// API's JSON error body, a bare 429, or a malformed response.
pub fn error_from_response(op: Operation, response: &HttpResponse) -> ProviderError {
    let status = response.status;
    if status == 403 && is_cloudflare_challenge(response) {
        return ProviderError::from(synthetic(
            op,
            status,
            SECURITY_CHALLENGE,
            "the request was stopped by a Cloudflare security challenge (cf-mitigated: challenge)",
        ));
    }
    let parsed = serde_json::from_slice::<ErrorBody>(&response.body).ok();
    let request_id = parsed
        .as_ref()
        .and_then(|b| relayed_id(b.request_id.as_deref()));
    let has_code = parsed
        .as_ref()
        .is_some_and(|b| b.code.as_deref().and_then(non_blank).is_some());
    if status == 451 && !has_code {
        let error = synthetic(
            op,
            status,
            REQUEST_BLOCKED,
            "the request was blocked for legal reasons (HTTP 451)",
        );
        return ProviderError::from(error.with_request_id(request_id));
    }
    if let Some(ErrorBody {
        code: Some(code),
        message,
        ..
    }) = parsed
        && non_blank(&code).is_some()
    {
        let code = redact::relayed(&code, redact::MAX_CODE_BYTES);
        let message = relayed_message(message.as_deref());
        let error = ApiError::new(&TABLE, op, status, code, message);
        return ProviderError::from(error.with_request_id(request_id));
    }
    if status == 429 {
        let error = synthetic(
            op,
            status,
            REQUEST_LIMIT_EXCEEDED,
            "rate limited (HTTP 429 without an API error body)",
        );
        return ProviderError::from(error.with_request_id(request_id));
    }
    malformed(
        op,
        response,
        format!(
            "expected an API error body, got: {}",
            response.body_snippet()
        ),
        request_id,
    )
}

fn is_cloudflare_challenge(response: &HttpResponse) -> bool {
    response.headers.get_all("cf-mitigated").iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("challenge"))
    })
}

/// An answer of the Cloudflare front (or a bare 429) under the code the
/// official SDKs give it.
fn synthetic(op: Operation, status: u16, code: &str, message: &str) -> ApiError {
    ApiError::new(&TABLE, op, status, code.to_owned(), message.to_owned())
}

/// The `requestId` of a body that is JSON but not of the expected shape.
pub(super) fn request_id_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| relayed_id(b.request_id.as_deref()))
}
