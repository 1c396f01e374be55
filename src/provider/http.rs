//! The HTTP plumbing every provider adapter shares: one pooled client per
//! provider, and a `send` that reads the whole (bounded) response and
//! classifies failures by whether the request left the gateway.

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;

use super::error::{ProviderError, SendPhase, TransportError};
use super::model::{HttpSettings, Operation};
use super::redact;

/// Largest provider response body the gateway reads (a DescribeEipAddresses
/// page of 100 EIPs is about 60 KiB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A complete provider response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text for error messages: lossy UTF-8, credentials
    /// redacted, bounded ([`redact::body_snippet`]).
    pub fn body_snippet(&self) -> String {
        redact::body_snippet(&self.body)
    }
}

/// Builds the one client a provider reuses for every call (connection pool,
/// TLS session cache). Never call this per request.
pub fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, ProviderError> {
    // reqwest is built without a bundled crypto provider; ring is ours.
    // Installing twice is harmless (the second call reports the first).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No `timeout` here: every request goes through the provider's tower
    // stack, whose `timeout` layer ends each attempt (send to last body
    // byte) at `attempt_timeout` (`request_timeout_ms`) or the deadline. A
    // second timer in reqwest would cost a registration (and often a
    // wake-up of the runtime's driver) per request.
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("ipalloc-gateway/", env!("CARGO_PKG_VERSION")))
        // reqwest's own retries are of HTTP/2 protocol refusals only, and
        // reqwest is built without HTTP/2 here: they can never happen, but
        // their policy copies every request (headers, extensions) in case.
        // Retries are the provider stack's (`retry` layer), which knows
        // whether a call may be repeated.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .map_err(|e| ProviderError::Internal(format!("building HTTP client: {}", e.without_url())))
}

/// The request a provider sends: `url` with `headers` (moved in as they
/// are, not re-inserted one by one as `RequestBuilder::headers` does) and
/// `body`.
pub fn request(
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
    body: Option<reqwest::Body>,
) -> reqwest::Request {
    let mut request = reqwest::Request::new(method, url);
    *request.headers_mut() = headers;
    *request.body_mut() = body;
    request
}

/// Sends a request on `client` and reads its whole response.
pub async fn send(
    op: Operation,
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<HttpResponse, ProviderError> {
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| ProviderError::Transport(classify(op, e)))?;
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(too_large(op, status));
    }
    // A small answer arrives as one chunk: kept as it is (`first`), copied
    // into `rest` only once a second chunk comes.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let held = first.as_ref().map_or(rest.len(), Bytes::len);
                if held + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large(op, status));
                }
                if first.is_none() && rest.is_empty() {
                    first = Some(chunk);
                } else {
                    if let Some(earlier) = first.take() {
                        rest.extend_from_slice(&earlier);
                    }
                    rest.extend_from_slice(&chunk);
                }
            }
            Ok(None) => break,
            Err(e) => {
                // The provider started answering: the request was received.
                return Err(ProviderError::Transport(TransportError {
                    op,
                    phase: SendPhase::Sent,
                    timed_out: e.is_timeout(),
                    detail: format!("reading the response body: {}", error_chain(e)),
                }));
            }
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body: first.unwrap_or_else(|| rest.freeze()),
    })
}

fn too_large(op: Operation, status: u16) -> ProviderError {
    ProviderError::MalformedResponse {
        op,
        http_status: status,
        detail: format!("response body larger than {MAX_BODY_BYTES} bytes"),
        request_id: None,
    }
}

/// Connection failures (refused, DNS, TLS handshake) happen before any byte
/// of the request is written; everything else may have reached the provider.
fn classify(op: Operation, error: reqwest::Error) -> TransportError {
    let phase = if error.is_connect() {
        SendPhase::NotSent
    } else {
        SendPhase::Sent
    };
    let timed_out = error.is_timeout();
    TransportError {
        op,
        phase,
        timed_out,
        detail: error_chain(error),
    }
}

/// The error and its sources, without the URL: an Alibaba URL carries the
/// AccessKeyId, Signature and SecurityToken.
fn error_chain(error: reqwest::Error) -> String {
    use std::error::Error as _;
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    redact::relayed(&text, redact::MAX_MESSAGE_BYTES)
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
