//! The gateway's real `AliyunProvider` against the Alibaba emulator
//! (crate `ipalloc-emulators`), V1 and V3, over real sockets on
//! 127.0.0.1: allocation then lookup, every seeded row (so every error row
//! of the API page) with its code and HTTP status, STS tokens, bad
//! credentials, the injected faults as the provider sees them, and the
//! gateway's parsers reading what the emulator writes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::emulator::RunningEmulator;
use ipalloc_gateway::emulator::aliyun::errors::API_PAGE;
use ipalloc_gateway::emulator::aliyun::{
    self, AliyunEmulator, AliyunEmulatorConfig, EmulatorCredential, Instance, LockReason, Outcome,
    SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET, SEEDED, seed,
};
use ipalloc_gateway::middleware::ResilienceSettings;
use ipalloc_gateway::provider::aliyun::client::PUBLIC_IP_NOT_ALLOCATED;
use ipalloc_gateway::provider::aliyun::{
    AliyunCredentials, AliyunProvider, AliyunSettings, SignatureVersion, signer, wire,
};
use ipalloc_gateway::provider::error::{ApiError, ProviderError, SendPhase};
use ipalloc_gateway::provider::model::{
    AliyunAllocate, AllocateSpec, AllocationLookup, AllocationState, HttpSettings,
};
use ipalloc_gateway::provider::{CallContext, Provider};
use serde_json::{Value, json};

/// A running emulator and an HTTP client for its admin routes.
struct Harness {
    running: RunningEmulator,
    emulator: Arc<AliyunEmulator>,
    http: reqwest::Client,
}

async fn start_with(config: AliyunEmulatorConfig) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = aliyun::start(listener, config).await.unwrap();
    Harness {
        running,
        emulator,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

async fn start_default() -> Harness {
    start_with(AliyunEmulatorConfig::default()).await
}

impl Harness {
    /// The gateway's provider pointed at this emulator.
    fn provider(&self, signature: SignatureVersion) -> AliyunProvider {
        self.provider_with(
            signature,
            SANDBOX_ACCESS_KEY_ID,
            SANDBOX_ACCESS_KEY_SECRET,
            None,
        )
    }

    fn provider_with(
        &self,
        signature: SignatureVersion,
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
    ) -> AliyunProvider {
        AliyunProvider::new(AliyunSettings {
            name: "emulated".into(),
            region: "cn-hangzhou".into(),
            endpoint: Some(self.running.url()),
            signature,
            credentials: AliyunCredentials {
                access_key_id: access_key_id.into(),
                access_key_secret: Secret::new(secret),
                security_token: token.map(Secret::new),
            },
            http: HttpSettings {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(5),
            },
            follow: Default::default(),
            // One attempt: these tests count requests and map single answers.
            resilience: ResilienceSettings {
                max_attempts: 1,
                ..Default::default()
            },
        })
        .unwrap()
    }

    async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.running.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    async fn admin_put_faults(&self, faults: Value) {
        let response = self
            .http
            .put(format!("{}/_admin/faults", self.running.url()))
            .header("content-type", "application/json")
            .body(faults.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn counters(&self) -> Value {
        self.admin_get("/_admin/counters").await
    }
}

const BOTH: [SignatureVersion; 2] = [SignatureVersion::V1, SignatureVersion::V3];

fn spec(instance_id: &str, ip: Option<&str>, vlan: Option<&str>) -> AllocateSpec {
    AllocateSpec::Aliyun(AliyunAllocate {
        instance_id: instance_id.into(),
        ip_address: ip.map(str::to_owned),
        vlan_id: vlan.map(str::to_owned),
        region_id: None,
    })
}

fn lookup(id: &str) -> AllocationLookup {
    AllocationLookup {
        id: id.into(),
        region_id: None,
    }
}

fn api(error: ProviderError) -> ApiError {
    match error {
        ProviderError::Api(api) => *api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn allocate_then_get_allocation() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = harness.provider(signature);
        let result = provider
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap();
        assert_eq!(result.allocations.len(), 1);
        let allocation = &result.allocations[0];
        assert_eq!(
            allocation.ip_address.as_deref(),
            Some("47.96.0.1"),
            "{signature:?}"
        );
        assert_eq!(result.provider_request_id.len(), 36);
        assert_eq!(
            result.provider_request_id,
            result.provider_request_id.to_ascii_uppercase()
        );

        let found = provider
            .get_allocation(&lookup("i-emuready001"), &CallContext::default())
            .await
            .unwrap();
        assert_eq!(found.ip_address.as_deref(), Some("47.96.0.1"));
        assert_eq!(found.state, AllocationState::Ready);
        assert_eq!(found.provider_status, "Running");
        assert_eq!(found.zone_id.as_deref(), Some("cn-hangzhou-h"));
        assert_eq!(found.region_id.as_deref(), Some("cn-hangzhou"));

        let stored = harness.emulator.instance("i-emuready001").unwrap();
        assert_eq!(stored.public_ip, Some("47.96.0.1".parse().unwrap()));
        let pools = harness.admin_get("/_admin/pools").await;
        assert!(
            !pools["zones"]["cn-hangzhou-h"]["free_ips"]
                .as_array()
                .unwrap()
                .contains(&json!("47.96.0.1"))
        );

        // A second call: one public IP per instance.
        let again = api(provider
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (again.http_status, again.code.as_str()),
            (403, "AllocatedAlready")
        );

        let counters = harness.counters().await;
        assert_eq!(counters["allocate_calls"], 1);
        assert_eq!(counters["requests"], 3);
        assert_eq!(counters["auth_failures"], 0);
    }
}

/// Sends every row of [`SEEDED`], in order, to one fresh emulator.
async fn run_seeded_rows(
    harness: &Harness,
    signature: SignatureVersion,
) -> BTreeSet<(u16, String, String)> {
    let provider = harness.provider(signature);
    let mut seen = BTreeSet::new();
    for row in SEEDED {
        let param = |name: &str| row.params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let result = provider
            .allocate(
                &spec(row.instance_id, param("IpAddress"), param("VlanId")),
                &CallContext::default(),
            )
            .await;
        let context = format!("{signature:?} {} {:?}", row.label, row.params);
        match row.outcome {
            Outcome::Allocated { ip } => {
                let result = result.unwrap_or_else(|e| panic!("{context}: {e:?}"));
                let got = result.allocations[0].ip_address.clone().unwrap();
                if ip.ends_with('.') {
                    assert!(got.starts_with(ip), "{context}: {got}");
                } else {
                    assert_eq!(got, ip, "{context}");
                }
                let found = provider
                    .get_allocation(&lookup(row.instance_id), &CallContext::default())
                    .await
                    .unwrap();
                assert_eq!(found.ip_address, Some(got), "{context}");
            }
            Outcome::Done => panic!("{context}: allocation rows allocate or fail"),
            Outcome::Error { http, code } => {
                let error = api(result.expect_err(&context));
                assert_eq!(
                    (error.http_status, error.code.as_str()),
                    (http, code),
                    "{context}"
                );
                assert!(error.request_id.is_some(), "{context}");
                seen.insert((error.http_status, error.code, error.message));
            }
        }
    }
    seen
}

#[tokio::test]
async fn every_seeded_row_and_every_api_page_error() {
    for signature in BOTH {
        let harness = start_default().await;
        let seen = run_seeded_rows(&harness, signature).await;
        for (status, code, message) in API_PAGE {
            assert!(
                seen.contains(&(*status, (*code).to_owned(), (*message).to_owned())),
                "{signature:?}: no seeded row produces {status} {code} {message:?}"
            );
        }
        let counters = harness.counters().await;
        let allocated = SEEDED
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Allocated { .. }))
            .count();
        assert_eq!(counters["allocate_calls"], allocated as u64);
        assert_eq!(counters["auth_failures"], 0);
    }
}

#[tokio::test]
async fn get_allocation_without_an_address() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = harness.provider(signature);
        let error = provider
            .get_allocation(&lookup("i-emuready002"), &CallContext::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ProviderError::NotFound { reason, .. } if *reason == PUBLIC_IP_NOT_ALLOCATED),
            "{error:?}"
        );
        let error = provider
            .get_allocation(&lookup("i-emuvpceip01"), &CallContext::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("121.40.10.1"), "{error}");
        let error = api(provider
            .get_allocation(&lookup("i-nope"), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (404, "InvalidInstanceId.NotFound")
        );
        let found = provider
            .get_allocation(&lookup("i-emuhasip001"), &CallContext::default())
            .await
            .unwrap();
        assert_eq!(found.ip_address.as_deref(), Some("47.96.0.10"));
    }
}

#[tokio::test]
async fn sts_credentials() {
    let config = AliyunEmulatorConfig {
        credentials: vec![
            EmulatorCredential::new("STS.emuTemporaryKey01", "sts-secret/+=")
                .with_security_token("CAIS+token/value=="),
            EmulatorCredential::sandbox(),
        ],
        ..AliyunEmulatorConfig::default()
    };
    let harness = start_with(config).await;
    for signature in BOTH {
        let good = harness.provider_with(
            signature,
            "STS.emuTemporaryKey01",
            "sts-secret/+=",
            Some("CAIS+token/value=="),
        );
        let ready = match signature {
            SignatureVersion::V1 => "i-emuready001",
            SignatureVersion::V3 => "i-emuready002",
        };
        assert!(
            good.allocate(&spec(ready, None, None), &CallContext::default())
                .await
                .is_ok(),
            "{signature:?}"
        );

        let missing =
            harness.provider_with(signature, "STS.emuTemporaryKey01", "sts-secret/+=", None);
        let error = api(missing
            .get_allocation(&lookup(ready), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (400, "MissingSecurityToken"),
            "{signature:?}"
        );

        let wrong = harness.provider_with(
            signature,
            "STS.emuTemporaryKey01",
            "sts-secret/+=",
            Some("CAIS+other"),
        );
        let error = api(wrong
            .get_allocation(&lookup(ready), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            error.code, "InvalidSecurityToken.MismatchWithAccessKey",
            "{signature:?}"
        );

        // A permanent key with a token is a mismatch too.
        let extra = harness.provider_with(
            signature,
            SANDBOX_ACCESS_KEY_ID,
            SANDBOX_ACCESS_KEY_SECRET,
            Some("tok"),
        );
        let error = api(extra
            .get_allocation(&lookup(ready), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            error.code, "InvalidSecurityToken.MismatchWithAccessKey",
            "{signature:?}"
        );
    }
    assert_eq!(harness.counters().await["auth_failures"], 6);
}

#[tokio::test]
async fn wrong_secret_and_unknown_key() {
    for signature in BOTH {
        let harness = start_default().await;
        let wrong = harness.provider_with(signature, SANDBOX_ACCESS_KEY_ID, "not-the-secret", None);
        let error = api(wrong
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (400, "SignatureDoesNotMatch")
        );
        assert!(
            error
                .message
                .starts_with("Specified signature is not matched with our calculation.")
        );
        assert!(
            harness
                .emulator
                .instance("i-emuready001")
                .unwrap()
                .public_ip
                .is_none()
        );

        let unknown = harness.provider_with(signature, "LTAI5tNobodyKnowsThis", "x", None);
        let error = api(unknown
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (404, "InvalidAccessKeyId.NotFound")
        );
        let counters = harness.counters().await;
        assert_eq!(
            (
                counters["auth_failures"].as_u64(),
                counters["allocate_calls"].as_u64()
            ),
            (Some(2), Some(0))
        );
    }
}

#[tokio::test]
async fn faults_as_the_provider_sees_them() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = harness.provider(signature);

        harness
            .admin_put_faults(json!({"throttle_probability": 1.0}))
            .await;
        let error = api(provider
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (400, "Throttling")
        );
        assert_eq!(
            error.message,
            "Request was denied due to request throttling."
        );
        assert_eq!(error.retry_after, Some(Duration::from_millis(100)));

        harness
            .admin_put_faults(json!({"error_5xx_probability": 1.0}))
            .await;
        let error = api(provider
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err());
        assert_eq!(
            (error.http_status, error.code.as_str()),
            (503, "ServiceUnavailable")
        );
        assert!(
            harness
                .emulator
                .instance("i-emuready001")
                .unwrap()
                .public_ip
                .is_none()
        );

        // Performed, then the answer is lost.
        harness
            .admin_put_faults(json!({"drop_after_allocate_probability": 1.0}))
            .await;
        let error = provider
            .allocate(&spec("i-emuready001", None, None), &CallContext::default())
            .await
            .unwrap_err();
        let ProviderError::Transport(transport) = &error else {
            panic!("expected a transport error, got {error:?}")
        };
        assert_eq!(transport.phase, SendPhase::Sent);
        // Reads are not dropped; the allocation happened.
        let found = provider
            .get_allocation(&lookup("i-emuready001"), &CallContext::default())
            .await
            .unwrap();
        assert_eq!(found.ip_address.as_deref(), Some("47.96.0.1"));

        harness.admin_put_faults(json!({})).await;
        let counters = harness.counters().await;
        assert_eq!(counters["throttled"], 1);
        assert_eq!(counters["server_errors"], 1);
        assert_eq!(counters["dropped"], 1);
        assert_eq!(counters["allocate_calls"], 1);
        assert_eq!(counters["requests"], 4);
    }
}

#[tokio::test]
async fn concurrent_allocations_get_distinct_addresses() {
    let harness = start_default().await;
    let provider = std::sync::Arc::new(harness.provider(SignatureVersion::V1));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200 {
        let provider = std::sync::Arc::clone(&provider);
        tasks.spawn(async move {
            let id = seed::pool_instance_id(n);
            provider
                .allocate(&spec(&id, None, None), &CallContext::default())
                .await
                .unwrap()
                .allocations[0]
                .ip_address
                .clone()
                .unwrap()
        });
    }
    let mut ips = BTreeSet::new();
    while let Some(ip) = tasks.join_next().await {
        assert!(ips.insert(ip.unwrap()));
    }
    assert_eq!(ips.len(), 200);
    assert_eq!(harness.counters().await["allocate_calls"], 200);
}

#[test]
fn wire_model_reads_the_fields() {
    // The gateway's own parser reads what the emulator writes.
    let instance = Instance {
        public_ip: Some("47.96.0.1".parse().unwrap()),
        locks: vec![LockReason::Financial],
        ..Instance::new("i-abc")
    };
    let mut fields = aliyun::actions::describe_instance_attribute::instance_fields(
        &instance,
        "cn-hangzhou",
        false,
    );
    fields.insert("RequestId".into(), "R".into());
    let parsed: wire::DescribeInstanceAttributeResponse =
        serde_json::from_value(Value::Object(fields)).unwrap();
    assert_eq!(parsed.public_ip(), Some("47.96.0.1"));
    assert_eq!(parsed.eip(), None);
    assert_eq!(parsed.lock_reasons().collect::<Vec<_>>(), ["financial"]);
    assert_eq!(parsed.internet_max_bandwidth_out, Some(5));
    assert_eq!(parsed.instance_network_type, "vpc");
}

#[tokio::test]
async fn the_gateway_parser_reads_the_xml_error() {
    // An allocation, then the same one again without `Format`: the
    // emulator answers the API's default, XML.
    let harness = start_default().await;
    let provider = harness.provider(SignatureVersion::V1);
    provider
        .allocate(&spec("i-emuready001", None, None), &CallContext::default())
        .await
        .unwrap();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let params = [
        ("Action", "AllocatePublicIpAddress"),
        ("Version", "2014-05-26"),
        ("AccessKeyId", SANDBOX_ACCESS_KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce.as_str()),
        ("Timestamp", now.as_str()),
        ("InstanceId", "i-emuready001"),
    ];
    let query = signer::sign_v1("POST", &params, SANDBOX_ACCESS_KEY_SECRET)
        .unwrap()
        .into_query();
    let response = harness
        .http
        .post(format!("{}/?{query}", harness.running.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<?xml"), "{body}");
    // The gateway's parser reads the XML error.
    let parsed = wire::ErrorBody::parse(body.as_bytes()).unwrap();
    assert_eq!(parsed.code(), Some("AllocatedAlready"));
}
