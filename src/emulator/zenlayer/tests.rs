//! End-to-end tests of the Zenlayer emulator over real HTTP on 127.0.0.1:
//! our own `ZenlayerProvider` against it, raw signed requests for every
//! error, the Python SDK's body format, faults and counters through the
//! admin endpoint. Every wait is a bounded poll.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::*;
use crate::emulator::CounterSnapshot;
use crate::provider::Provider;
use crate::provider::model::{
    AllocateSpec, AllocationLookup, AllocationState, ChargeType as SpecCharge, HttpSettings, Tag,
    ZenlayerAllocate,
};
use crate::provider::zenlayer::{ZenlayerCredentials, ZenlayerProvider, ZenlayerSettings, signer};

const ALLOCATE: &str = "AllocateEipAddresses";
const DESCRIBE: &str = "DescribeEipAddresses";
const TERMINATE: &str = "TerminateEipAddress";

/// A running emulator and a plain HTTP client.
struct Harness {
    running: RunningEmulator,
    emulator: Arc<ZenlayerEmulator>,
    http: reqwest::Client,
}

fn http_client() -> reqwest::Client {
    crate::provider::http::build_client(&HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

async fn harness_with(config: ZenlayerEmulatorConfig) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = start(listener, config).await.unwrap();
    Harness {
        running,
        emulator,
        http: http_client(),
    }
}

async fn harness(delay: Duration) -> Harness {
    harness_with(ZenlayerEmulatorConfig {
        creation_delay: delay,
        ..ZenlayerEmulatorConfig::default()
    })
    .await
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// How to sign one raw request.
struct Signing<'a> {
    id: &'a str,
    password: &'a str,
    timestamp: String,
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
    fn url(&self) -> String {
        format!("{}{API_PATH}", self.running.url())
    }

    /// `127.0.0.1:PORT`, the Host header reqwest sends.
    fn host(&self) -> String {
        self.running.addr.to_string()
    }

    fn provider(&self) -> ZenlayerProvider {
        ZenlayerProvider::new(ZenlayerSettings {
            name: "zl-emulated".to_owned(),
            endpoint: self.running.url(),
            api_version: crate::provider::zenlayer::DEFAULT_API_VERSION.to_owned(),
            credentials: ZenlayerCredentials {
                access_key_id: SANDBOX_ACCESS_KEY_ID.to_owned(),
                access_key_password: crate::config::secret::Secret::new(
                    SANDBOX_ACCESS_KEY_PASSWORD,
                ),
            },
            http: HttpSettings {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(10),
            },
            follow: Default::default(),
            // One attempt: these tests count requests and map single answers.
            resilience: crate::middleware::ResilienceSettings {
                max_attempts: 1,
                ..Default::default()
            },
        })
        .unwrap()
    }

    /// The headers of a request signed with `signing` over `body`.
    fn signed_headers(&self, action: &str, body: &[u8], signing: &Signing<'_>) -> HeaderMap {
        let authorization = signer::authorization(&signer::SigningInput {
            access_key_id: signing.id,
            access_key_password: signing.password,
            timestamp: &signing.timestamp,
            content_type: "application/json",
            host: &self.host(),
            body,
        });
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
    async fn post(&self, headers: HeaderMap, body: Vec<u8>) -> (u16, Value) {
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

    /// A correctly signed call with the sandbox key.
    async fn call(&self, action: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let headers = self.signed_headers(action, &bytes, &Signing::default());
        self.post(headers, bytes).await
    }

    /// A call that must succeed; returns `response`, after checking the
    /// envelope.
    async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, value) = self.call(action, &body).await;
        assert_eq!(status, 200, "{action} {body}: {value}");
        let outer = value["requestId"].as_str().unwrap();
        assert!(outer.starts_with('T') && outer.len() == 37, "{outer}");
        assert_eq!(value["response"]["requestId"], value["requestId"]);
        value["response"].clone()
    }

    /// A call that must fail with `status` and `code`; returns the message.
    async fn fails(&self, action: &str, body: Value, status: u16, code: &str) -> String {
        let (got, value) = self.call(action, &body).await;
        assert_error(got, &value, status, code, &format!("{action} {body}"));
        value["message"].as_str().unwrap().to_owned()
    }

    async fn allocate(&self, body: Value) -> Vec<String> {
        let response = self.ok(ALLOCATE, body).await;
        response["eipIdSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    async fn describe(&self, body: Value) -> (u64, Vec<String>) {
        let response = self.ok(DESCRIBE, body).await;
        let ids = response["dataSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eipId"].as_str().unwrap().to_owned())
            .collect();
        (response["totalCount"].as_u64().unwrap(), ids)
    }

    async fn counters(&self) -> CounterSnapshot {
        self.http
            .get(format!("{}/_admin/counters", self.running.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }

    async fn admin_put(&self, path: &str, body: Value) -> u16 {
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

    async fn admin_get(&self, path: &str) -> Value {
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

fn assert_error(status: u16, value: &Value, want_status: u16, want_code: &str, what: &str) {
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

fn spec(zone: &str, charge: SpecCharge, amount: u32) -> ZenlayerAllocate {
    ZenlayerAllocate {
        zone_id: zone.to_owned(),
        charge,
        resource_group_id: None,
        amount,
        netmask: 32,
        amount_set: true,
        netmask_set: true,
        discount_code: None,
        use_poc_voucher: false,
        tags: vec![Tag {
            key: "env".to_owned(),
            value: "test".to_owned(),
        }],
    }
}

fn lookup(id: &str) -> AllocationLookup {
    AllocationLookup {
        id: id.to_owned(),
        region_id: None,
    }
}

// ---------------------------------------------------------------------------
// Through our real provider
// ---------------------------------------------------------------------------

#[tokio::test]
async fn provider_allocates_and_sees_creating_then_available() {
    let h = harness(Duration::from_millis(300)).await;
    let provider = h.provider();
    let result = provider
        .allocate(
            &AllocateSpec::Zenlayer(spec("SEL-A", SpecCharge::Postpaid, 2)),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap();
    assert!(result.provider_request_id.starts_with('T'));
    assert_eq!(result.order_number, None);
    assert_eq!(result.allocations.len(), 2);
    let id = result.allocations[0].id.clone();
    assert!(id.starts_with("eip-"), "{id}");

    let first = provider
        .get_allocation(&lookup(&id), &crate::provider::CallContext::default())
        .await
        .unwrap();
    assert_eq!(first.state, AllocationState::Pending);
    assert_eq!(first.provider_status, "CREATING");
    assert_eq!(first.ip_address, None);

    let mut ready = None;
    for _ in 0..100 {
        let allocation = provider
            .get_allocation(&lookup(&id), &crate::provider::CallContext::default())
            .await
            .unwrap();
        if allocation.state != AllocationState::Pending {
            ready = Some(allocation);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = ready.expect("the EIP never left CREATING");
    assert_eq!(ready.state, AllocationState::Ready);
    assert_eq!(ready.provider_status, "AVAILABLE");
    assert_eq!(ready.zone_id.as_deref(), Some("SEL-A"));
    assert_eq!(ready.netmask, Some(32));
    let ip: std::net::Ipv4Addr = ready.ip_address.unwrap().parse().unwrap();
    assert_eq!(ip.octets()[..2], [128, 1]);

    let counters = h.counters().await;
    assert_eq!((counters.allocate_calls, counters.allocations), (1, 2));
    assert_eq!(counters.auth_failures, 0);
}

#[tokio::test]
async fn provider_sees_create_failed_in_sin_a() {
    let h = harness(Duration::from_millis(200)).await;
    let provider = h.provider();
    let result = provider
        .allocate(
            &AllocateSpec::Zenlayer(spec("SIN-A", SpecCharge::Postpaid, 1)),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap();
    let id = &result.allocations[0].id;
    let mut last = None;
    for _ in 0..100 {
        let allocation = provider
            .get_allocation(&lookup(id), &crate::provider::CallContext::default())
            .await
            .unwrap();
        if allocation.state != AllocationState::Pending {
            last = Some(allocation);
            break;
        }
        assert_eq!(allocation.provider_status, "CREATING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = last.expect("the EIP never left CREATING");
    assert_eq!(failed.state, AllocationState::Failed);
    assert_eq!(failed.provider_status, "CREATE_FAILED");
    assert_eq!(failed.ip_address, None);
}

#[tokio::test]
async fn provider_prepaid_gets_an_order_number() {
    let h = harness(Duration::ZERO).await;
    let provider = h.provider();
    let result = provider
        .allocate(
            &AllocateSpec::Zenlayer(spec("HKG-A", SpecCharge::Prepaid { period_months: 3 }, 1)),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap();
    let order = result.order_number.unwrap();
    assert!(
        order.len() >= 10 && order.bytes().all(|b| b.is_ascii_digit()),
        "{order}"
    );
    let eip = h.emulator.eip(&result.allocations[0].id).unwrap();
    assert_eq!(eip.eip_charge_type, ChargeType::Prepaid);
    assert_eq!(eip.period, Some(3));
    assert!(eip.expired_time.is_some());
    let allocation = provider
        .get_allocation(
            &lookup(&result.allocations[0].id),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(allocation.state, AllocationState::Ready);
    assert!(allocation.ip_address.unwrap().starts_with("98.98."));
}

#[tokio::test]
async fn provider_maps_emulated_errors() {
    let h = harness(Duration::ZERO).await;
    let err = h
        .provider()
        .allocate(
            &AllocateSpec::Zenlayer(spec("XXX-A", SpecCharge::Postpaid, 1)),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap_err();
    let crate::provider::error::ProviderError::Api(e) = err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (404, "INVALID_ZONE_NOT_FOUND")
    );
    assert_eq!(e.message, "The specified zoneId `XXX-A` is not found");
    assert!(e.request_id.unwrap().starts_with('T'));
    // Unknown EIP: an empty dataSet, which the provider reports as not found.
    let err = h
        .provider()
        .get_allocation(
            &lookup("eip-nope"),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, crate::provider::error::ProviderError::NotFound { .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn signature_errors() {
    let h = harness(Duration::ZERO).await;
    let body = br#"{"eipIds":[]}"#.to_vec();
    let cases: Vec<(&str, HeaderMap, u16, &str)> = vec![
        (
            "wrong password",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    password: "not-the-password",
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_FAILURE",
        ),
        (
            "unknown key",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    id: "ZLUNKNOWNKEY",
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_FAILURE",
        ),
        (
            "expired timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() - 301).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
        (
            "future timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() + 400).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
        (
            "milliseconds timestamp",
            h.signed_headers(
                DESCRIBE,
                &body,
                &Signing {
                    timestamp: (now_secs() * 1000).to_string(),
                    ..Signing::default()
                },
            ),
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
        ),
    ];
    let mut failures = 0;
    for (what, headers, status, code) in cases {
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(got, &value, status, code, what);
        failures += 1;
    }

    // Body changed after signing.
    let headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    let (got, value) = h.post(headers, br#"{"eipIds": []}"#.to_vec()).await;
    assert_error(got, &value, 401, "AUTHFAILURE_SIGNATURE_FAILURE", "body");
    failures += 1;

    // Signed for another host.
    let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    headers.insert("host", HeaderValue::from_static("console.zenlayer.com"));
    let (got, value) = h.post(headers, body.clone()).await;
    assert_error(got, &value, 401, "AUTHFAILURE_SIGNATURE_FAILURE", "host");
    failures += 1;

    // Missing and malformed timestamps.
    for timestamp in [None, Some("yesterday")] {
        let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
        match timestamp {
            None => {
                headers.remove("x-zc-timestamp");
            }
            Some(t) => {
                headers.insert("x-zc-timestamp", HeaderValue::from_static(t));
            }
        }
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(
            got,
            &value,
            401,
            "AUTHFAILURE_SIGNATURE_EXPIRED",
            &format!("{timestamp:?}"),
        );
        failures += 1;
    }

    // Malformed Authorization headers.
    let good = h.signed_headers(DESCRIBE, &body, &Signing::default());
    let good_auth = good["authorization"].to_str().unwrap().to_owned();
    let malformed = [
        None,
        Some("Bearer sometoken".to_owned()),
        Some(good_auth.replace("ZC2-HMAC-SHA256", "TC3-HMAC-SHA256")),
        Some(good_auth.replace("content-type;host", "host")),
        Some(good_auth.replace(", ", ",")),
        Some("ZC2-HMAC-SHA256".to_owned()),
    ];
    for authorization in malformed {
        let mut headers = good.clone();
        match &authorization {
            None => {
                headers.remove("authorization");
            }
            Some(a) => {
                headers.insert("authorization", HeaderValue::from_str(a).unwrap());
            }
        }
        let (got, value) = h.post(headers, body.clone()).await;
        assert_error(
            got,
            &value,
            401,
            "AUTHFAILURE_INVALID_AUTHORIZATION",
            &format!("{authorization:?}"),
        );
        failures += 1;
    }
    // Not ASCII.
    let mut headers = good.clone();
    headers.insert(
        "authorization",
        HeaderValue::from_bytes(b"ZC2-HMAC-SHA256 Credential=\xe9").unwrap(),
    );
    let (got, value) = h.post(headers, body.clone()).await;
    assert_error(
        got,
        &value,
        401,
        "AUTHFAILURE_INVALID_AUTHORIZATION",
        "latin-1",
    );
    failures += 1;

    // The untouched request still works.
    let (got, _) = h.post(good, body.clone()).await;
    assert_eq!(got, 200);

    let counters = h.counters().await;
    assert_eq!(counters.auth_failures, failures);
    assert_eq!(counters.requests, failures + 1);
}

#[tokio::test]
async fn unknown_or_missing_action_is_unauthorized_operation() {
    let h = harness(Duration::ZERO).await;
    let (status, value) = h.call("DeleteEverything", &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "unknown",
    );
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("DeleteEverything")
    );
    let (status, value) = h.call("", &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "empty",
    );
    let body = b"{}".to_vec();
    let mut headers = h.signed_headers(DESCRIBE, &body, &Signing::default());
    headers.remove("x-zc-action");
    let (status, value) = h.post(headers, body).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        "missing",
    );
    // Valid signatures: not counted as authentication failures.
    assert_eq!(h.counters().await.auth_failures, 0);
}

#[tokio::test]
async fn python_sdk_style_request_is_accepted() {
    // Exactly what zenlayercloud-sdk-python sends with
    // Config(scheme="http", domain="127.0.0.1:PORT"): a json.dumps body
    // (", " and ": " separators), mixed-case header names, an explicit host
    // header with the port, signed over those bytes.
    let h = harness(Duration::ZERO).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .http1_title_case_headers()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let host = h.host();
    let send = |action: &'static str, body: &'static str| {
        let timestamp = now_secs().to_string();
        let authorization = signer::authorization(&signer::SigningInput {
            access_key_id: SANDBOX_ACCESS_KEY_ID,
            access_key_password: SANDBOX_ACCESS_KEY_PASSWORD,
            timestamp: &timestamp,
            content_type: "application/json",
            host: &host,
            body: body.as_bytes(),
        });
        client
            .post(h.url())
            .header("x-zc-version", "2022-11-20")
            .header("x-zc-service", "bmc")
            .header("x-zc-action", action)
            .header("x-zc-sdk-version", "SDK_PYTHON_2.0.077")
            .header("x-zc-sdk-lang", "Python")
            .header("host", host.as_str())
            .header("Content-Type", "application/json")
            .header("x-zc-signature-method", "ZC2-HMAC-SHA256")
            .header("x-zc-timestamp", timestamp.as_str())
            .header("Authorization", authorization)
            .body(body)
            .send()
    };
    let response = send(
        ALLOCATE,
        r#"{"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}, "amount": 2, "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "owner", "value": "gateway"}]}}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(value["response"]["eipIdSet"].as_array().unwrap().len(), 2);
    assert_ne!(value["response"]["orderNumber"], "");

    let response = send(
        DESCRIBE,
        r#"{"tags": [{"key": "owner", "value": "gateway"}], "pageSize": 20, "pageNum": 1}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(value["response"]["totalCount"], 2);
}

// ---------------------------------------------------------------------------
// AllocateEipAddresses parameters
// ---------------------------------------------------------------------------

#[tokio::test]
async fn allocate_parameter_errors() {
    let h = harness(Duration::ZERO).await;
    let base = || json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"eipChargeType": "POSTPAID"}),
            400,
            "MISSING_PARAMETER",
        ),
        (json!({"zoneId": "SEL-A"}), 400, "MISSING_PARAMETER"),
        (with("zoneId", json!("")), 400, "MISSING_PARAMETER"),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID"}),
            400,
            "MISSING_PARAMETER",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {}}),
            400,
            "MISSING_PARAMETER",
        ),
        (
            with("eipChargeType", json!("MONTHLY")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            with("eipChargeType", json!("postpaid")),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (with("zoneId", json!(7)), 400, "INVALID_PARAMETER_TYPE"),
        (with("amount", json!("2")), 400, "INVALID_PARAMETER_TYPE"),
        (with("amount", json!(1.5)), 400, "INVALID_PARAMETER_TYPE"),
        (with("netmask", json!(true)), 400, "INVALID_PARAMETER_TYPE"),
        (
            with("eipChargePrepaid", json!(1)),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("marketingOptions", json!({"usePocVoucher": "yes"})),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("marketingOptions", json!({"discountCode": 5})),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            with("amount", json!(101)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (
            with("amount", json!(u64::MAX)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (with("amount", json!(1e300)), 400, "INVALID_PARAMETER_TYPE"),
        (
            with("netmask", json!(33)),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (
            with("amount", json!(0)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            with("amount", json!(-5)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            with("netmask", json!(0)),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 0}}),
            400,
            "INVALID_PARAMETER_LESS_MINIMUM",
        ),
        (
            json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 121}}),
            400,
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
    ];
    for (body, status, code) in cases {
        h.fails(ALLOCATE, body, status, code).await;
    }
    assert!(h.emulator.eips().is_empty());
    let counters = h.counters().await;
    assert_eq!(counters.allocate_calls, 0);
}

#[tokio::test]
async fn unparseable_bodies_are_invalid_parameter_type() {
    let h = harness(Duration::ZERO).await;
    let bodies: [&[u8]; 6] = [
        b"{",
        b"[1, 2]",
        b"\"zoneId\"",
        b"\xff\xfe\x00garbage",
        b"{\"zoneId\": \"SEL-A\", \"amount\": 1,}",
        b"null",
    ];
    for body in bodies {
        let headers = h.signed_headers(ALLOCATE, body, &Signing::default());
        let (status, value) = h.post(headers, body.to_vec()).await;
        assert_error(
            status,
            &value,
            400,
            "INVALID_PARAMETER_TYPE",
            &String::from_utf8_lossy(body),
        );
    }
    // An empty body reads as `{}`: the first missing parameter.
    let headers = h.signed_headers(ALLOCATE, b"", &Signing::default());
    let (status, value) = h.post(headers, Vec::new()).await;
    assert_error(status, &value, 400, "MISSING_PARAMETER", "empty body");
    // A body over the limit.
    let big = vec![b' '; api::MAX_BODY_BYTES + 1];
    let headers = h.signed_headers(ALLOCATE, &big, &Signing::default());
    let (status, value) = h.post(headers, big).await;
    assert_error(
        status,
        &value,
        400,
        "INVALID_PARAMETER_EXCEED_LENGTH",
        "big",
    );
}

#[tokio::test]
async fn zone_errors_and_behaviours() {
    let h = harness(Duration::ZERO).await;
    let message = h
        .fails(
            ALLOCATE,
            json!({"zoneId": "SEL--A", "eipChargeType": "POSTPAID"}),
            404,
            "INVALID_ZONE_NOT_FOUND",
        )
        .await;
    assert_eq!(message, "The specified zoneId `SEL--A` is not found");
    h.fails(
        ALLOCATE,
        json!({"zoneId": "sel-a", "eipChargeType": "POSTPAID"}),
        404,
        "INVALID_ZONE_NOT_FOUND",
    )
    .await;
    h.fails(
        ALLOCATE,
        json!({"zoneId": "TYO-A", "eipChargeType": "POSTPAID"}),
        400,
        "INVALID_EIP_TYPE_ZONE_NO_SELL",
    )
    .await;
    h.fails(
        ALLOCATE,
        json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID", "netmask": 27}),
        400,
        "INVALID_EIP_TYPE_ZONE_NO_SELL",
    )
    .await;
    // Netmask 29: an aligned block of 8, reported with its first address.
    let ids = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID", "netmask": 29}))
        .await;
    let eip = h.emulator.eip(&ids[0]).unwrap();
    assert_eq!(eip.netmask, 29);
    let ip: std::net::Ipv4Addr = eip.ip_address.unwrap().parse().unwrap();
    assert_eq!(u32::from(ip) % 8, 0);
    assert_eq!(ip.octets()[..2], [128, 14]);
    // SIN-A accepts, then fails.
    let ids = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID", "amount": 3}))
        .await;
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert_eq!(
            h.emulator.eip(id).unwrap().eip_status,
            EipStatus::CreateFailed
        );
    }
}

#[tokio::test]
async fn resource_groups_marketing_and_tags() {
    let h = harness(Duration::ZERO).await;
    let base = || json!({"zoneId": "HKG-A", "eipChargeType": "POSTPAID"});
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    h.fails(
        ALLOCATE,
        with("resourceGroupId", json!("rg-unknown")),
        404,
        "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND",
    )
    .await;
    let ids = h
        .allocate(with("resourceGroupId", json!("rg-sandbox-team-a")))
        .await;
    let eip = h.emulator.eip(&ids[0]).unwrap();
    assert_eq!(
        (
            eip.resource_group_id.as_str(),
            eip.resource_group_name.as_str()
        ),
        ("rg-sandbox-team-a", "team-a")
    );
    let ids = h.allocate(base()).await;
    assert_eq!(
        h.emulator.eip(&ids[0]).unwrap().resource_group_id,
        "rg-sandbox-default"
    );

    // A discount code that does not exist is simply not applied.
    h.allocate(with(
        "marketingOptions",
        json!({"discountCode": "NOPE", "usePocVoucher": false}),
    ))
    .await;
    let message = h
        .fails(
            ALLOCATE,
            with("marketingOptions", json!({"usePocVoucher": true})),
            403,
            "OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE",
        )
        .await;
    assert!(message.contains("POC voucher"), "{message}");

    let tag_cases: Vec<(Value, &str)> = vec![
        (
            json!({"tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"tags": [{"key": "", "value": "1"}]}),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            json!({"tags": [{"key": "a", "value": ""}]}),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            json!({"tags": [{"key": "k".repeat(129), "value": "1"}]}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (
            json!({"tags": [{"key": "a", "value": "v".repeat(129)}]}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (json!({"tags": [{"value": "1"}]}), "MISSING_PARAMETER"),
        (
            json!({"tags": [{"key": 1, "value": "1"}]}),
            "INVALID_PARAMETER_TYPE",
        ),
        (json!({"tags": "env=test"}), "INVALID_PARAMETER_TYPE"),
        // The flat Describe shape is not the Allocate one.
        (
            json!([{"key": "a", "value": "1"}]),
            "INVALID_PARAMETER_TYPE",
        ),
    ];
    for (tags, code) in tag_cases {
        h.fails(ALLOCATE, with("tags", tags), 400, code).await;
    }
    // 128 characters (not bytes) is fine.
    let ids = h
        .allocate(with(
            "tags",
            json!({"tags": [{"key": "é".repeat(128), "value": "ü".repeat(128)}]}),
        ))
        .await;
    assert_eq!(h.emulator.eip(&ids[0]).unwrap().tags.tags.len(), 1);
}

// ---------------------------------------------------------------------------
// DescribeEipAddresses
// ---------------------------------------------------------------------------

#[tokio::test]
async fn describe_shape_matches_the_docs() {
    let h = harness(Duration::ZERO).await;
    let post = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "tags": {"tags": [{"key": "env", "value": "test"}]}}))
        .await;
    let pre = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}}))
        .await;
    let response = h.ok(DESCRIBE, json!({"eipIds": [post[0]]})).await;
    assert_eq!(response["totalCount"], 1);
    let eip = &response["dataSet"][0];
    let mut keys: Vec<&str> = eip
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createTime",
            "eipChargeType",
            "eipId",
            "eipStatus",
            "expiredTime",
            "instanceId",
            "instanceName",
            "ipAddress",
            "netmask",
            "period",
            "resourceGroupId",
            "resourceGroupName",
            "tags",
            "zoneId"
        ]
    );
    assert_eq!(eip["eipChargeType"], "POSTPAID");
    assert_eq!(eip["period"], Value::Null);
    assert_eq!(eip["expiredTime"], Value::Null);
    assert_eq!(eip["eipStatus"], "AVAILABLE");
    assert_eq!(eip["netmask"], 32);
    assert_eq!(
        eip["tags"],
        json!({"tags": [{"key": "env", "value": "test"}]})
    );
    let created = eip["createTime"].as_str().unwrap();
    assert!(
        time::PrimitiveDateTime::parse(
            created.trim_end_matches('Z'),
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]")
        )
        .is_ok()
            && created.ends_with('Z')
            && created.len() == 20,
        "{created}"
    );
    // It decodes with the gateway's own wire type.
    let _: crate::provider::zenlayer::wire::EipAddress =
        serde_json::from_value(eip.clone()).unwrap();

    let response = h.ok(DESCRIBE, json!({"eipIds": [pre[0]]})).await;
    let eip = &response["dataSet"][0];
    assert_eq!(eip["period"], 1);
    assert!(eip["expiredTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(eip["tags"], json!({"tags": []}));
}

#[tokio::test]
async fn describe_filters() {
    let h = harness(Duration::ZERO).await;
    let sel = h
        .allocate(
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2,
            "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]}}),
        )
        .await;
    let hkg = h
        .allocate(json!({"zoneId": "HKG-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1},
            "resourceGroupId": "rg-sandbox-team-a", "tags": {"tags": [{"key": "env", "value": "dev"}]}}))
        .await;
    let sin = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.emulator.set_creation_delay(Duration::from_secs(3600));
    let creating = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let (total, all) = h.describe(json!({})).await;
    assert_eq!(total, 5);
    // Newest first.
    assert_eq!(all[0], creating[0]);
    assert_eq!(all[4..], sel[..1]);

    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            json!({"eipIds": [sel[1], hkg[0]]}),
            vec![sel[1].clone(), hkg[0].clone()],
        ),
        (json!({"eipIds": []}), vec![]),
        (json!({"eipIds": ["eip-nope"]}), vec![]),
        (json!({"zoneId": "SEL-A"}), sel.clone()),
        (json!({"zoneId": ""}), vec![]),
        (json!({"tagKeys": []}), vec![]),
        (json!({"tags": []}), vec![]),
        (json!({"zoneId": "NOPE"}), vec![]),
        (json!({"eipStatus": "CREATING"}), creating.clone()),
        (json!({"eipStatus": "CREATE_FAILED"}), sin.clone()),
        (json!({"eipStatus": "ASSOCIATED"}), vec![]),
        (json!({"eipChargeType": "PREPAID"}), hkg.clone()),
        (json!({"resourceGroupId": "rg-sandbox-team-a"}), hkg.clone()),
        (json!({"instanceId": "bm-1"}), vec![]),
        (
            json!({"tagKeys": ["env"]}),
            [sel.clone(), hkg.clone()].concat(),
        ),
        (json!({"tagKeys": ["env", "team"]}), sel.clone()),
        (
            json!({"tags": [{"key": "env", "value": "dev"}]}),
            hkg.clone(),
        ),
        (
            json!({"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]}),
            sel.clone(),
        ),
        (
            json!({"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "b"}]}),
            vec![],
        ),
        (
            json!({"zoneId": "SEL-A", "eipStatus": "AVAILABLE", "tagKeys": ["team"]}),
            sel.clone(),
        ),
    ];
    for (filter, want) in cases {
        let (total, got) = h.describe(filter.clone()).await;
        assert_eq!(total as usize, want.len(), "{filter}");
        assert_eq!(sorted(got), sorted(want), "{filter}");
    }

    let ip = h.emulator.eip(&sel[0]).unwrap().ip_address.unwrap();
    let (_, got) = h.describe(json!({"ipAddress": ip})).await;
    assert_eq!(got, [sel[0].clone()]);

    let errors: Vec<(Value, &str)> = vec![
        (
            json!({"eipIds": (0..101).map(|i| format!("eip-{i}")).collect::<Vec<_>>()}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (
            json!({"tagKeys": (0..21).map(|i| format!("k{i}")).collect::<Vec<_>>()}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (json!({"eipIds": "eip-1"}), "INVALID_PARAMETER_TYPE"),
        (json!({"eipIds": [1]}), "INVALID_PARAMETER_TYPE"),
        (json!({"eipStatus": "RUNNING"}), "INVALID_PARAMETER_VALUE"),
        (json!({"eipChargeType": "FREE"}), "INVALID_PARAMETER_VALUE"),
        (json!({"tags": {"tags": []}}), "INVALID_PARAMETER_TYPE"),
        (json!({"tags": [{"value": "x"}]}), "MISSING_PARAMETER"),
        (
            json!({"pageSize": 1001}),
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (json!({"pageSize": 0}), "INVALID_PARAMETER_LESS_MINIMUM"),
        (json!({"pageNum": 0}), "INVALID_PARAMETER_LESS_MINIMUM"),
        (json!({"pageNum": "1"}), "INVALID_PARAMETER_TYPE"),
    ];
    for (body, code) in errors {
        h.fails(DESCRIBE, body, 400, code).await;
    }
    // 100 ids is the limit, not an error.
    let (total, _) = h
        .describe(json!({"eipIds": (0..100).map(|i| format!("eip-{i}")).collect::<Vec<_>>()}))
        .await;
    assert_eq!(total, 0);
}

#[tokio::test]
async fn describe_pages() {
    let h = harness(Duration::ZERO).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(
            h.allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 10}))
                .await,
        );
    }
    ids.reverse(); // newest first
    let (total, page) = h.describe(json!({})).await;
    assert_eq!((total, page.len()), (30, 20));
    assert_eq!(page, ids[..20]);
    let (total, page) = h.describe(json!({"pageNum": 2})).await;
    assert_eq!((total, page.as_slice()), (30, &ids[20..]));
    let (_, page) = h.describe(json!({"pageSize": 7, "pageNum": 3})).await;
    assert_eq!(page, ids[14..21]);
    let (total, page) = h.describe(json!({"pageSize": 1000, "pageNum": 4})).await;
    assert_eq!((total, page.len()), (30, 0));
    let (total, page) = h
        .describe(json!({"pageSize": 1000, "pageNum": 9_223_372_036_854_775_807i64}))
        .await;
    assert_eq!((total, page.len()), (30, 0));
    let (_, page) = h.describe(json!({"pageSize": 1000})).await;
    assert_eq!(page, ids);
}

#[tokio::test]
async fn a_thousand_eips_fit_in_one_zone() {
    let h = harness(Duration::ZERO).await;
    for _ in 0..11 {
        h.allocate(json!({"zoneId": "HKG-A", "eipChargeType": "POSTPAID", "amount": 100}))
            .await;
    }
    let eips = h.emulator.eips();
    assert_eq!(eips.len(), 1100);
    let mut ips: Vec<String> = eips
        .iter()
        .map(|e| {
            assert_eq!(e.eip_status, EipStatus::Available);
            e.ip_address.clone().unwrap()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 1100);
    let (total, page) = h
        .describe(json!({"zoneId": "HKG-A", "pageSize": 1000}))
        .await;
    assert_eq!((total, page.len()), (1100, 1000));
}

// ---------------------------------------------------------------------------
// TerminateEipAddress
// ---------------------------------------------------------------------------

#[tokio::test]
async fn terminate_rules() {
    let h = harness(Duration::ZERO).await;
    let post = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    let pre = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}}))
        .await;
    let failed = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.emulator.set_creation_delay(Duration::from_secs(3600));
    let creating = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;

    h.fails(TERMINATE, json!({}), 400, "MISSING_PARAMETER")
        .await;
    h.fails(
        TERMINATE,
        json!({"eipId": 5}),
        400,
        "INVALID_PARAMETER_TYPE",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": "eip-nope"}),
        404,
        "INVALID_EIP_NOT_FOUND",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": pre[0]}),
        403,
        "OPERATION_DENIED_EIP_SUBSCRIPTION",
    )
    .await;
    h.fails(
        TERMINATE,
        json!({"eipId": creating[0]}),
        403,
        "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
    )
    .await;

    let free = h.emulator.free_addresses("SEL-A");
    let ip = h.emulator.eip(&post[0]).unwrap().ip_address.unwrap();
    let response = h.ok(TERMINATE, json!({"eipId": post[0]})).await;
    assert_eq!(response.as_object().unwrap().len(), 1, "{response}");
    assert_eq!(h.emulator.free_addresses("SEL-A"), free + 1);
    let eip = h.emulator.eip(&post[0]).unwrap();
    assert_eq!((eip.eip_status, eip.ip_address), (EipStatus::Recycle, None));
    h.fails(
        TERMINATE,
        json!({"eipId": post[0]}),
        403,
        "OPERATION_DENIED_EIP_RECYCLED",
    )
    .await;
    let (_, recycled) = h.describe(json!({"eipStatus": "RECYCLE"})).await;
    assert_eq!(recycled, post);

    // CREATE_FAILED EIPs can be terminated; the address is reused.
    h.ok(TERMINATE, json!({"eipId": failed[0]})).await;
    h.emulator.set_creation_delay(Duration::ZERO);
    let again = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    assert_eq!(h.emulator.eip(&again[0]).unwrap().ip_address, Some(ip));
}

// ---------------------------------------------------------------------------
// Faults, counters and admin routes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn throttling_and_server_errors_come_before_auth() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(
        h.admin_put("/_admin/faults", json!({"throttle_probability": 1.0}))
            .await,
        200
    );
    let (status, value) = h.call(DESCRIBE, &json!({})).await;
    assert_error(status, &value, 429, "REQUEST_LIMIT_EXCEEDED", "throttle");
    // Even an unsigned request is throttled first.
    let (status, value) = h.post(HeaderMap::new(), b"{}".to_vec()).await;
    assert_error(status, &value, 429, "REQUEST_LIMIT_EXCEEDED", "unsigned");

    assert_eq!(
        h.admin_put("/_admin/faults", json!({"error_5xx_probability": 1.0}))
            .await,
        200
    );
    let (status, value) = h
        .call(
            ALLOCATE,
            &json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}),
        )
        .await;
    assert_error(status, &value, 503, "SERVICE_TEMPORARY_UNAVAILABLE", "5xx");
    assert!(h.emulator.eips().is_empty());

    // Our provider sees the same codes.
    let err = h
        .provider()
        .allocate(
            &AllocateSpec::Zenlayer(spec("SEL-A", SpecCharge::Postpaid, 1)),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap_err();
    let crate::provider::error::ProviderError::Api(e) = err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (503, "SERVICE_TEMPORARY_UNAVAILABLE")
    );

    assert_eq!(h.admin_put("/_admin/faults", json!({})).await, 200);
    h.ok(DESCRIBE, json!({})).await;
    let counters = h.counters().await;
    assert_eq!(
        (
            counters.requests,
            counters.throttled,
            counters.server_errors
        ),
        (5, 2, 2)
    );
    assert_eq!(counters.auth_failures, 0);
    assert_eq!(
        h.admin_put("/_admin/faults", json!({"throttle_probability": 2.0}))
            .await,
        400
    );
}

#[tokio::test]
async fn drop_after_allocate_loses_the_answer_but_not_the_eips() {
    let h = harness_with(ZenlayerEmulatorConfig {
        creation_delay: Duration::ZERO,
        faults: FaultConfig {
            drop_after_allocate_probability: 1.0,
            ..FaultConfig::default()
        },
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let body = serde_json::to_vec(&json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 3, "tags": {"tags": [{"key": "req", "value": "r-1"}]}})).unwrap();
    let headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
    let result = h
        .http
        .post(h.url())
        .headers(headers)
        .body(body)
        .send()
        .await;
    let err = result.expect_err("the connection should have been dropped");
    assert!(!err.is_timeout(), "{err}");

    let counters = h.counters().await;
    assert_eq!(
        (
            counters.allocate_calls,
            counters.allocations,
            counters.dropped
        ),
        (1, 3, 1)
    );
    // The EIPs exist: a reconciliation by tag finds them.
    let eips = h.admin_get("/_admin/eips").await;
    assert_eq!(eips.as_array().unwrap().len(), 3);
    h.admin_put(
        "/_admin/faults",
        json!({"drop_after_allocate_probability": 0.0}),
    )
    .await;
    let (total, _) = h
        .describe(json!({"tags": [{"key": "req", "value": "r-1"}]}))
        .await;
    assert_eq!(total, 3);
    // Failed validation is not an allocation, so nothing is dropped.
    h.admin_put(
        "/_admin/faults",
        json!({"drop_after_allocate_probability": 1.0}),
    )
    .await;
    h.fails(
        ALLOCATE,
        json!({"zoneId": "TYO-A", "eipChargeType": "POSTPAID"}),
        400,
        "INVALID_EIP_TYPE_ZONE_NO_SELL",
    )
    .await;
    assert_eq!(h.counters().await.dropped, 1);
}

#[tokio::test]
async fn admin_routes() {
    let h = harness(Duration::from_secs(2)).await;
    assert_eq!(
        h.admin_get("/_admin/creation-delay").await,
        json!({"ms": 2000})
    );
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": 0}))
            .await,
        200
    );
    assert_eq!(h.emulator.creation_delay(), Duration::ZERO);
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": "soon"}))
            .await,
        422
    );
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": u64::MAX}))
            .await,
        200
    );
    assert_eq!(h.emulator.creation_delay(), MAX_CREATION_DELAY);
    let ids = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    let eips = h.admin_get("/_admin/eips").await;
    assert_eq!(eips[0]["eipId"], ids[0].as_str());
    assert_eq!(eips[0]["eipStatus"], "CREATING");
    assert_eq!(eips[0]["ipAddress"], Value::Null);

    // Admin requests are not counted; API requests are.
    let counters = h.admin_get("/_admin/counters").await;
    assert_eq!(counters["requests"], 1);
    assert_eq!(counters["allocations"], 1);
    let reset = h
        .http
        .post(format!("{}/_admin/counters/reset", h.running.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(h.counters().await, CounterSnapshot::default());

    // Only POST on the API path.
    let get = h.http.get(h.url()).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn custom_credentials_are_trimmed_and_sandbox_key_is_then_unknown() {
    let h = harness_with(ZenlayerEmulatorConfig {
        credentials: vec![(" AKIDMINE ".to_owned(), "my-password\n".to_owned())],
        creation_delay: Duration::ZERO,
        faults: FaultConfig::default(),
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let body = b"{}".to_vec();
    let headers = h.signed_headers(
        DESCRIBE,
        &body,
        &Signing {
            id: "AKIDMINE",
            password: "my-password",
            ..Signing::default()
        },
    );
    assert_eq!(h.post(headers, body.clone()).await.0, 200);
    let (status, value) = h.call(DESCRIBE, &json!({})).await;
    assert_error(
        status,
        &value,
        401,
        "AUTHFAILURE_SIGNATURE_FAILURE",
        "sandbox key",
    );
    let debug = format!("{:?} {:?}", h.emulator, ZenlayerEmulatorConfig::default());
    assert!(
        !debug.contains("my-password") && !debug.contains(SANDBOX_ACCESS_KEY_PASSWORD),
        "{debug}"
    );
}

#[tokio::test]
async fn invalid_fault_config_refuses_to_start() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = start(
        listener,
        ZenlayerEmulatorConfig {
            faults: FaultConfig {
                throttle_probability: -1.0,
                ..FaultConfig::default()
            },
            ..ZenlayerEmulatorConfig::default()
        },
    )
    .await;
    let Err(err) = result else {
        panic!("started with an invalid fault config");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn lenient_reading_treats_empty_filters_as_absent() {
    let h = harness_with(ZenlayerEmulatorConfig {
        creation_delay: Duration::ZERO,
        reading: crate::emulator::ApiReading::Lenient,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let ids = h
        .allocate(
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2.0,
            "resourceGroupId": "", "unknownField": {"x": null}, "netmask": null,
            "tags": {"tags": [{"key": "env", "value": "prod"}]}}),
        )
        .await;
    assert_eq!(
        ids.len(),
        2,
        "2.0 reads as 2; \"\", null and unknown fields as absent"
    );
    for filter in [
        json!({"eipIds": []}),
        json!({"zoneId": ""}),
        json!({"tagKeys": []}),
        json!({"tags": []}),
        json!({"eipIds": null, "whatever": 1}),
    ] {
        let (total, _) = h.describe(filter.clone()).await;
        assert_eq!(total, 2, "{filter}");
    }
    let (total, _) = h.describe(json!({"tags": [{"key": "env"}]})).await;
    assert_eq!(total, 2, "a tag filter without a value matches any value");
    // Headers are not checked either.
    let body = br#"{"zoneId":"SEL-A","zoneId":"HKG-A","eipChargeType":"POSTPAID"}"#.to_vec();
    let mut headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
    headers.remove("x-zc-version");
    headers.remove("x-zc-service");
    let (status, value) = h.post(headers, body).await;
    assert_eq!(status, 200, "{value}");
    let id = value["response"]["eipIdSet"][0].as_str().unwrap();
    assert_eq!(
        h.emulator.eip(id).unwrap().zone_id,
        "HKG-A",
        "the last key wins"
    );
}

#[tokio::test]
async fn strict_reading_refuses_what_lenient_ignores() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(h.emulator.reading(), crate::emulator::ApiReading::Strict);
    let postpaid = json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"});
    let with = |field: &str, value: Value| {
        let mut body = postpaid.clone();
        body[field] = value;
        body
    };
    for (action, body, code) in [
        (
            ALLOCATE,
            with("amount", json!(2.0)),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            ALLOCATE,
            with("netmask", Value::Null),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            ALLOCATE,
            with("resourceGroupID", json!("rg-sandbox-team-a")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            ALLOCATE,
            with("clientToken", json!("abc")),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            ALLOCATE,
            with("resourceGroupId", json!("")),
            "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND",
        ),
        (
            ALLOCATE,
            with("tags", json!({"tags": []})),
            "INVALID_PARAMETER_LESS_LENGTH",
        ),
        (
            ALLOCATE,
            with("eipChargePrepaid", json!({"period": 1})),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            DESCRIBE,
            json!({"eipId": "eip-1"}),
            "INVALID_PARAMETER_VALUE",
        ),
        (DESCRIBE, json!({"eipIds": null}), "INVALID_PARAMETER_TYPE"),
        (
            DESCRIBE,
            json!({"pageSize": 20.0}),
            "INVALID_PARAMETER_TYPE",
        ),
        (
            DESCRIBE,
            json!({"eipStatus": ""}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            DESCRIBE,
            json!({"tags": [{"key": "env"}]}),
            "MISSING_PARAMETER",
        ),
        (
            DESCRIBE,
            json!({"tags": [{"key": "env", "value": "v", "op": "="}]}),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            TERMINATE,
            json!({"eipId": "eip-1", "force": true}),
            "INVALID_PARAMETER_VALUE",
        ),
        (TERMINATE, json!({"eipId": null}), "INVALID_PARAMETER_TYPE"),
    ] {
        let status = if code.starts_with("OPERATION_FAILED") {
            404
        } else {
            400
        };
        let message = h.fails(action, body.clone(), status, code).await;
        assert!(!message.is_empty(), "{action} {body}");
    }
    assert_eq!(h.counters().await.allocations, 0, "nothing was allocated");

    // A key repeated in one object.
    let body = br#"{"zoneId":"SEL-A","zoneId":"HKG-A","eipChargeType":"POSTPAID"}"#.to_vec();
    let headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
    let (status, value) = h.post(headers, body).await;
    assert_error(
        status,
        &value,
        400,
        "INVALID_PARAMETER_TYPE",
        "repeated key",
    );
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("`zoneId` appears twice"),
        "{value}"
    );

    // What every SDK sends in headers: a known X-ZC-Version, X-ZC-Service
    // bmc, Content-Type application/json.
    let body = serde_json::to_vec(&postpaid).unwrap();
    for (header, value, status, code) in [
        (
            "x-zc-version",
            None,
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-version",
            Some("2020-01-01"),
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-service",
            None,
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
        (
            "x-zc-service",
            Some("zec"),
            401,
            "AUTHFAILURE_UNAUTHORIZED_OPERATION",
        ),
    ] {
        let mut headers = h.signed_headers(ALLOCATE, &body, &Signing::default());
        match value {
            None => {
                headers.remove(header);
            }
            Some(v) => {
                headers.insert(HeaderName::from_static(header), HeaderValue::from_static(v));
            }
        }
        let (got, answer) = h.post(headers, body.clone()).await;
        assert_error(got, &answer, status, code, header);
    }
    let (status, _) = h.call(ALLOCATE, &postpaid).await;
    assert_eq!(status, 200, "the same request with every header is served");
    // The older API version is served too.
    let mut headers = h.signed_headers(DESCRIBE, b"{}", &Signing::default());
    headers.insert(
        HeaderName::from_static("x-zc-version"),
        HeaderValue::from_static("2022-11-20"),
    );
    let (status, _) = h.post(headers, b"{}".to_vec()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn new_eips_show_only_after_the_describe_lag() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(
        h.admin_put("/_admin/faults", json!({"describe_lag_ms": 400}))
            .await,
        200
    );
    let ids = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2}))
        .await;
    let (total, _) = h.describe(json!({"eipIds": ids})).await;
    assert_eq!(total, 0, "not visible yet");
    assert_eq!(h.emulator.eips().len(), 2, "but they exist");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (total, got) = h.describe(json!({"eipIds": ids})).await;
        if total == 2 {
            assert_eq!(got.len(), 2);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never visible");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
