//! Tests of the Zenlayer emulator over real HTTP on 127.0.0.1:0, by
//! concern: authentication and the SDK's request shape ([`auth`]), each
//! action's parameters and rules ([`allocate`], [`describe`],
//! [`terminate`], [`release`], [`available`]), faults and counters
//! ([`faults`]), the admin routes
//! ([`admin`]) and the strict and lenient readings ([`strict`]). Every
//! test starts its own emulator; every wait is a bounded poll. (The
//! gateway's own `ZenlayerProvider` against this emulator is tested in the
//! gateway's `tests/provider_zenlayer.rs`.)

mod admin;
mod allocate;
mod auth;
mod available;
mod describe;
mod faults;
mod release;
mod strict;
mod terminate;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::net::TcpListener;

use super::signature::{self, ALGORITHM, SIGNED_HEADERS};
use super::*;
use crate::CounterSnapshot;

pub(super) const ALLOCATE: &str = "AllocateEipAddresses";
pub(super) const DESCRIBE: &str = "DescribeEipAddresses";
pub(super) const TERMINATE: &str = "TerminateEipAddress";
pub(super) const RELEASE: &str = "ReleaseEipAddresses";
pub(super) const AVAILABLE: &str = "DescribeEipAvailableResources";

/// A running emulator and a plain HTTP client.
pub(super) struct Harness {
    pub running: RunningEmulator,
    pub emulator: Arc<ZenlayerEmulator>,
    pub http: reqwest::Client,
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(super) async fn harness_with(config: ZenlayerEmulatorConfig) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = start(listener, config).await.unwrap();
    Harness {
        running,
        emulator,
        http: http_client(),
    }
}

pub(super) async fn harness(delay: Duration) -> Harness {
    harness_with(ZenlayerEmulatorConfig {
        creation_delay: delay,
        ..ZenlayerEmulatorConfig::default()
    })
    .await
}

pub(super) fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `Authorization` header of a request signed with `signing`, for
/// `host` and `body`, with `Content-Type: application/json`.
pub(super) fn authorization(signing: &Signing<'_>, host: &str, body: &[u8]) -> String {
    let to_sign = signature::string_to_sign(&signing.timestamp, "application/json", host, body);
    let signed = signature::signature(signing.password, &to_sign).unwrap();
    format!(
        "{ALGORITHM} Credential={}, SignedHeaders={SIGNED_HEADERS}, Signature={signed}",
        signing.id
    )
}

/// How to sign one raw request.
pub(super) struct Signing<'a> {
    pub id: &'a str,
    pub password: &'a str,
    pub timestamp: String,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            id: SANDBOX_ACCESS_KEY_ID,
            password: SANDBOX_ACCESS_KEY_PASSWORD,
            timestamp: now_secs().to_string(),
        }
    }
}

impl Harness {
    pub fn url(&self) -> String {
        format!("{}{API_PATH}", self.running.url())
    }

    /// `127.0.0.1:PORT`, the Host header reqwest sends.
    pub fn host(&self) -> String {
        self.running.addr.to_string()
    }

    /// The headers of a request signed with `signing` over `body`.
    pub fn signed_headers(&self, action: &str, body: &[u8], signing: &Signing<'_>) -> HeaderMap {
        let authorization = authorization(signing, &self.host(), body);
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        };
        put("content-type", "application/json");
        put("x-zc-action", action);
        put("x-zc-version", "2026-02-01");
        put("x-zc-service", "bmc");
        put("x-zc-timestamp", &signing.timestamp);
        put("x-zc-signature-method", "ZC2-HMAC-SHA256");
        put("authorization", &authorization);
        headers
    }

    /// Posts `body` with `headers` as they are; returns status and JSON.
    pub async fn post(&self, headers: HeaderMap, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .post(self.url())
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!("status {status}: body is not JSON ({e}): {bytes:?}");
        });
        (status, value)
    }

    /// A correctly signed call whose answer a fault is to drop: what the
    /// client got (an error, if it was dropped).
    pub async fn send_unanswered(
        &self,
        action: &str,
        body: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        let body = serde_json::to_vec(body).unwrap();
        let headers = self.signed_headers(action, &body, &Signing::default());
        self.http
            .post(self.url())
            .headers(headers)
            .body(body)
            .send()
            .await
    }

    /// A correctly signed call with the sandbox key.
    pub async fn call(&self, action: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let headers = self.signed_headers(action, &bytes, &Signing::default());
        self.post(headers, bytes).await
    }

    /// A call that must succeed; returns `response`, after checking the
    /// envelope.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, value) = self.call(action, &body).await;
        assert_eq!(status, 200, "{action} {body}: {value}");
        let outer = value["requestId"].as_str().unwrap();
        assert!(outer.starts_with('T') && outer.len() == 37, "{outer}");
        assert_eq!(value["response"]["requestId"], value["requestId"]);
        value["response"].clone()
    }

    /// A call that must fail with `status` and `code`; returns the message.
    pub async fn fails(&self, action: &str, body: Value, status: u16, code: &str) -> String {
        let (got, value) = self.call(action, &body).await;
        assert_error(got, &value, status, code, &format!("{action} {body}"));
        value["message"].as_str().unwrap().to_owned()
    }

    pub async fn allocate(&self, body: Value) -> Vec<String> {
        let response = self.ok(ALLOCATE, body).await;
        response["eipIdSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn describe(&self, body: Value) -> (u64, Vec<String>) {
        let response = self.ok(DESCRIBE, body).await;
        let ids = response["dataSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eipId"].as_str().unwrap().to_owned())
            .collect();
        (response["totalCount"].as_u64().unwrap(), ids)
    }

    pub async fn counters(&self) -> CounterSnapshot {
        serde_json::from_value(self.admin_get("/_admin/counters").await).unwrap()
    }

    pub async fn admin_put(&self, path: &str, body: Value) -> u16 {
        self.http
            .put(format!("{}{path}", self.running.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.running.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }
}

pub(super) fn assert_error(
    status: u16,
    value: &Value,
    want_status: u16,
    want_code: &str,
    what: &str,
) {
    assert_eq!(
        (status, value["code"].as_str()),
        (want_status, Some(want_code)),
        "{what}: {value}"
    );
    let id = value["requestId"].as_str().unwrap();
    assert!(id.starts_with('T') && id.len() == 37, "{id}");
    assert!(!value["message"].as_str().unwrap().is_empty());
    assert!(value.get("response").is_none());
}
