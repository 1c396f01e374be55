//! Tests of the Alibaba emulator over real HTTP on 127.0.0.1:0, by concern:
//! raw signed requests for signature V1 ([`auth`]) and V3 ([`v3`]), every
//! seeded row and the answer formats ([`inventory`], [`formats`]), giving
//! the IP back ([`release`], [`network_spec`]), the
//! Describe calls ([`describe`]), faults, counters and malformed input
//! ([`faults`]), the admin routes ([`admin`]) and the strict and lenient
//! readings ([`strict`]). Every test starts its own emulator. (The
//! gateway's own `AliyunProvider` against this emulator is tested in the
//! gateway's `tests/provider_aliyun.rs`.)

mod admin;
mod auth;
mod describe;
mod faults;
mod formats;
mod inventory;
mod network_spec;
mod release;
mod strict;
mod v3;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::signature;
use super::{
    AliyunEmulator, AliyunEmulatorConfig, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET, start,
};
use crate::RunningEmulator;

/// A table row: parameters, then the HTTP status and code they get.
pub(super) type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

/// A running emulator and an HTTP client for it.
pub(super) struct Harness {
    pub running: RunningEmulator,
    pub emulator: Arc<AliyunEmulator>,
    pub http: reqwest::Client,
}

/// An answer, read whole.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

pub(super) fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(super) async fn start_with(config: AliyunEmulatorConfig) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = start(listener, config).await.unwrap();
    Harness {
        running,
        emulator,
        http: http_client(),
    }
}

pub(super) async fn start_default() -> Harness {
    start_with(AliyunEmulatorConfig::default()).await
}

impl Harness {
    pub fn base(&self) -> String {
        self.running.url()
    }

    /// `127.0.0.1:PORT`, the `Host` the client sends.
    pub fn host(&self) -> String {
        self.running.addr.to_string()
    }

    /// Sends `method /?query` with an optional form body.
    pub async fn send(&self, method: &str, query: &str, form: Option<&str>) -> Answer {
        let url = format!("{}/?{query}", self.base());
        let mut request = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
        }
        read(request.send().await.unwrap()).await
    }

    /// Signs `params` with V1 for `method` (sandbox secret) and sends them
    /// in the query.
    pub async fn v1(&self, method: &str, params: &[(String, String)]) -> Answer {
        let query = v1_query(method, params, SANDBOX_ACCESS_KEY_SECRET);
        self.send(method, &query, None).await
    }

    /// `action` with `params` (and the common V1 parameters), signed V1,
    /// posted.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Answer {
        self.v1("POST", &v1_params(action, params)).await
    }

    /// `ModifyInstanceNetworkSpec` setting `instance_id`'s
    /// `InternetMaxBandwidthOut`, signed V1.
    pub async fn set_bandwidth(&self, instance_id: &str, out: &str) -> Answer {
        self.call(
            "ModifyInstanceNetworkSpec",
            &[
                ("InstanceId", instance_id),
                ("InternetMaxBandwidthOut", out),
            ],
        )
        .await
    }

    /// `action` with `params`, signed V1 and posted, when a fault is to
    /// drop the answer: what the client got (an error, if it was dropped).
    pub async fn send_unanswered(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        let query = v1_query(
            "POST",
            &v1_params(action, params),
            SANDBOX_ACCESS_KEY_SECRET,
        );
        self.http
            .post(format!("{}/?{query}", self.base()))
            .send()
            .await
    }

    /// The static public IP the emulator says `instance_id` holds.
    pub fn public_ip(&self, instance_id: &str) -> Option<std::net::Ipv4Addr> {
        self.emulator.instance(instance_id).unwrap().public_ip
    }

    /// `AllocatePublicIpAddress` for `instance_id`, signed V1.
    pub async fn allocate(&self, instance_id: &str) -> Answer {
        self.call("AllocatePublicIpAddress", &[("InstanceId", instance_id)])
            .await
    }

    /// `DescribeInstanceAttribute` for `instance_id`, signed V1.
    pub async fn describe_attribute(&self, instance_id: &str) -> Answer {
        self.call("DescribeInstanceAttribute", &[("InstanceId", instance_id)])
            .await
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// `method path` with a JSON body: the status and the answer.
    pub async fn admin_send(&self, method: reqwest::Method, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn admin_put_faults(&self, faults: Value) {
        let answer = self
            .admin_send(reqwest::Method::PUT, "/_admin/faults", &faults)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    pub async fn counters(&self) -> Value {
        self.admin_get("/_admin/counters").await
    }
}

pub(super) async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

/// Checks an error answer: status, code, and Alibaba's error shape
/// (RequestId, HostId, Recommend, Message).
pub(super) fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.code(), code, "{}", answer.body);
    let body = answer.json();
    let request_id = body["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36);
    assert_eq!(request_id, request_id.to_ascii_uppercase());
    assert_eq!(answer.headers["x-acs-request-id"], request_id);
    assert_eq!(body["HostId"], "ecs.cn-hangzhou.aliyuncs.com");
    assert!(body["Recommend"].as_str().unwrap().contains(code));
    assert!(body["Message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// `params` as a query string in their own order, encoded, unsigned.
pub(super) fn encoded_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                signature::percent_encode(k),
                signature::percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Now as Alibaba formats it: `YYYY-MM-DDThh:mm:ssZ`.
pub(super) fn timestamp(at: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap()
}

pub(super) fn now() -> String {
    timestamp(OffsetDateTime::now_utc())
}

pub(super) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The common V1 parameters (sandbox key, fresh nonce, now, JSON) plus
/// `extra`.
pub(super) fn v1_params(action: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let nonce = Uuid::new_v4().to_string();
    let now = now();
    let mut params = owned(&[
        ("Action", action),
        ("Version", "2014-05-26"),
        ("Format", "JSON"),
        ("AccessKeyId", SANDBOX_ACCESS_KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("Timestamp", &now),
    ]);
    params.extend(owned(extra));
    params
}

/// Replaces (or adds) parameter `name`.
pub(super) fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(k, _)| k != name);
    params.push((name.to_owned(), value.to_owned()));
}

pub(super) fn remove(params: &mut Vec<(String, String)>, name: &str) {
    params.retain(|(k, _)| k != name);
}

pub(super) fn borrow(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The V1 signature of `params` (every parameter but `Signature`).
pub(super) fn v1_signature(method: &str, params: &[(String, String)], secret: &str) -> String {
    signature::v1_signature(secret, &v1_string_to_sign(method, params)).unwrap()
}

/// The V1-signed query string of `params`: sorted, encoded, then the
/// encoded `Signature`.
pub(super) fn v1_query(method: &str, params: &[(String, String)], secret: &str) -> String {
    format!(
        "{}&Signature={}",
        signature::canonical_query(borrow(params)),
        signature::percent_encode(&v1_signature(method, params, secret))
    )
}

/// The V1 string-to-sign the server computes for `params`.
pub(super) fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    signature::v1_string_to_sign(method, borrow(params))
}

/// A V3 request: headers (with `Authorization`), query and body.
pub(super) struct V3 {
    pub method: &'static str,
    pub action: &'static str,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Further headers to sign and send.
    pub extra: Vec<(String, String)>,
    pub access_key_id: String,
    pub secret: String,
    pub date: String,
    pub nonce: String,
}

impl V3 {
    pub fn new(action: &'static str, query: &[(&str, &str)]) -> V3 {
        V3 {
            method: "POST",
            action,
            query: owned(query),
            body: Vec::new(),
            extra: Vec::new(),
            access_key_id: SANDBOX_ACCESS_KEY_ID.to_owned(),
            secret: SANDBOX_ACCESS_KEY_SECRET.to_owned(),
            date: now(),
            nonce: Uuid::new_v4().simple().to_string(),
        }
    }

    /// The headers to send, `authorization` last, and the query string.
    pub fn sign(&self, host: &str) -> (Vec<(String, String)>, String) {
        let hash = signature::hex_sha256(&self.body);
        let mut headers = owned(&[
            ("host", host),
            ("x-acs-action", self.action),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", &self.date),
            ("x-acs-signature-nonce", &self.nonce),
            ("x-acs-content-sha256", &hash),
        ]);
        headers.extend(self.extra.iter().cloned());
        let query = borrow(&self.query);
        let canonical = signature::v3_canonical(self.method, &query, &borrow(&headers), &hash);
        let signed = signature::v3_signature(&self.secret, &canonical.string_to_sign).unwrap();
        let authorization = format!(
            "{} Credential={},SignedHeaders={},Signature={signed}",
            signature::V3_ALGORITHM,
            self.access_key_id,
            canonical.signed_headers
        );
        headers.push(("authorization".to_owned(), authorization));
        (headers, signature::canonical_query(query))
    }

    pub async fn send(&self, harness: &Harness) -> Answer {
        let (headers, query) = self.sign(&harness.host());
        send_v3(harness, self.method, &query, &headers, self.body.clone()).await
    }
}

/// Sends headers as given (except `host`, which the client sets itself).
pub(super) async fn send_v3(
    harness: &Harness,
    method: &str,
    query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Answer {
    let url = if query.is_empty() {
        format!("{}/", harness.base())
    } else {
        format!("{}/?{query}", harness.base())
    };
    let mut request = harness
        .http
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .body(body);
    for (name, value) in headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn start_rejects_an_invalid_fault_configuration() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = AliyunEmulatorConfig::default();
    config.faults.throttle_probability = 2.0;
    let Err(error) = start(listener, config).await else {
        panic!("started with an invalid fault configuration")
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn default_config_is_the_sandbox() {
    let config = AliyunEmulatorConfig::default();
    assert_eq!(config.region, "cn-hangzhou");
    assert_eq!(config.credentials.len(), 1);
    assert_eq!(
        config.credentials[0].access_key_id,
        "LTAI5tSandboxAccessKey01"
    );
    assert_eq!(
        config.credentials[0].access_key_secret,
        "sandbox-aliyun-secret"
    );
    assert!(config.credentials[0].security_token.is_none());
    let debug = format!("{:?}", config);
    assert!(!debug.contains("sandbox-aliyun-secret"), "{debug}");
    let emulator = AliyunEmulator::new(config);
    assert!(!format!("{emulator:?}").contains("sandbox-aliyun-secret"));
    assert_eq!(emulator.host_id(), "ecs.cn-hangzhou.aliyuncs.com");
    assert_eq!(emulator.instances().len(), 2055);
    assert!(emulator.instance("i-emuready001").is_some());
}
