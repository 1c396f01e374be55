//! The gateway's real `AliyunProvider` against the Alibaba emulator
//! (crate `ipalloc-emulators`), V1 and V3, over real sockets on
//! 127.0.0.1: allocation then lookup, every seeded row (so every error row
//! of the API page) with its code and HTTP status, STS tokens, bad
//! credentials, the injected faults as the provider sees them, and the
//! gateway's parsers reading what the emulator writes; the lifecycle:
//! release (ModifyInstanceNetworkSpec), batch reads (DescribeInstances),
//! availability checks.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::emulators::{Alone, aliyun_alone};
use common::settings;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::aliyun::errors::API_PAGE;
use ipalloc_gateway::emulator::aliyun::refusals::NETWORK_SPEC_REFUSALS;
use ipalloc_gateway::emulator::aliyun::{
    self, AliyunEmulator, AliyunEmulatorConfig, EmulatorCredential, Instance, LockReason, Outcome,
    SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET, SEEDED, seed,
};
use ipalloc_gateway::provider::aliyun::client::PUBLIC_IP_NOT_ALLOCATED;
use ipalloc_gateway::provider::aliyun::{AliyunProvider, SignatureVersion, signer, wire};
use ipalloc_gateway::provider::error::{ApiError, ProviderError, SendPhase};
use ipalloc_gateway::provider::model::{
    AliyunAllocate, AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    Availability, AvailabilitySpec, ReleaseResult, ReleaseSpec,
};
use ipalloc_gateway::provider::{CallContext, Provider};
use serde_json::{Value, json};

type Harness = Alone<AliyunEmulator>;

async fn start_default() -> Harness {
    aliyun_alone(AliyunEmulatorConfig::default()).await
}

/// The gateway's provider pointed at the emulator, with the sandbox key.
fn provider(harness: &Harness, signature: SignatureVersion) -> AliyunProvider {
    provider_with(
        harness,
        signature,
        SANDBOX_ACCESS_KEY_ID,
        SANDBOX_ACCESS_KEY_SECRET,
        None,
    )
}

fn provider_with(
    harness: &Harness,
    signature: SignatureVersion,
    access_key_id: &str,
    secret: &str,
    token: Option<&str>,
) -> AliyunProvider {
    AliyunProvider::new(settings::aliyun(
        &harness.url(),
        signature,
        access_key_id,
        secret,
        token,
    ))
    .unwrap()
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

/// A public IP for `instance`, with no address or VLAN asked for.
async fn allocate(
    provider: &AliyunProvider,
    instance: &str,
) -> Result<AllocateResult, ProviderError> {
    provider
        .allocate(&spec(instance, None, None), &CallContext::default())
        .await
}

/// `instance`'s public IP, as GetAllocation looks it up.
async fn get(provider: &AliyunProvider, instance: &str) -> Result<Allocation, ProviderError> {
    provider
        .get_allocation(&lookup(instance), &CallContext::default())
        .await
}

/// The API error a call failed with.
fn api<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ApiError {
    match result {
        Err(ProviderError::Api(api)) => *api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Its HTTP status and code.
fn status_and_code(error: &ApiError) -> (u16, &str) {
    (error.http_status, error.code.as_str())
}

/// Whether the emulator's instance `id` has no public IP.
fn has_no_public_ip(harness: &Harness, id: &str) -> bool {
    harness.emulator.instance(id).unwrap().public_ip.is_none()
}

#[tokio::test]
async fn allocate_then_get_allocation() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        let result = allocate(&provider, "i-emuready001").await.unwrap();
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

        let found = get(&provider, "i-emuready001").await.unwrap();
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
        let again = api(allocate(&provider, "i-emuready001").await);
        assert_eq!(status_and_code(&again), (403, "AllocatedAlready"));

        let counters = harness.counters().await;
        assert_eq!(counters.allocate_calls, 1);
        assert_eq!(counters.requests, 3);
        assert_eq!(counters.auth_failures, 0);
    }
}

/// Sends every row of [`SEEDED`], in order, to one fresh emulator.
async fn run_seeded_rows(
    harness: &Harness,
    signature: SignatureVersion,
) -> BTreeSet<(u16, String, String)> {
    let provider = provider(harness, signature);
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
                let found = get(&provider, row.instance_id).await.unwrap();
                assert_eq!(found.ip_address, Some(got), "{context}");
            }
            Outcome::Done => panic!("{context}: allocation rows allocate or fail"),
            Outcome::Error { http, code } => {
                assert!(result.is_err(), "{context}");
                let error = api(result);
                assert_eq!(status_and_code(&error), (http, code), "{context}");
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
        assert_eq!(counters.allocate_calls, allocated as u64);
        assert_eq!(counters.auth_failures, 0);
    }
}

#[tokio::test]
async fn get_allocation_without_an_address() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        let error = get(&provider, "i-emuready002").await.unwrap_err();
        assert!(
            matches!(&error, ProviderError::NotFound { reason, .. } if *reason == PUBLIC_IP_NOT_ALLOCATED),
            "{error:?}"
        );
        let error = get(&provider, "i-emuvpceip01").await.unwrap_err();
        assert!(error.to_string().contains("121.40.10.1"), "{error}");
        let error = api(get(&provider, "i-nope").await);
        assert_eq!(status_and_code(&error), (404, "InvalidInstanceId.NotFound"));
        let found = get(&provider, "i-emuhasip001").await.unwrap();
        assert_eq!(found.ip_address.as_deref(), Some("47.96.0.10"));
    }
}

#[tokio::test]
async fn sts_credentials() {
    const STS_ID: &str = "STS.emuTemporaryKey01";
    const STS_SECRET: &str = "sts-secret/+=";
    let config = AliyunEmulatorConfig {
        credentials: vec![
            EmulatorCredential::new(STS_ID, STS_SECRET).with_security_token("CAIS+token/value=="),
            EmulatorCredential::sandbox(),
        ],
        ..AliyunEmulatorConfig::default()
    };
    let harness = aliyun_alone(config).await;
    for signature in BOTH {
        let good = provider_with(
            &harness,
            signature,
            STS_ID,
            STS_SECRET,
            Some("CAIS+token/value=="),
        );
        let ready = match signature {
            SignatureVersion::V1 => "i-emuready001",
            SignatureVersion::V3 => "i-emuready002",
        };
        assert!(allocate(&good, ready).await.is_ok(), "{signature:?}");

        // (key id, secret, token, the error's HTTP status and code)
        let refused = [
            // No token for a temporary key.
            (STS_ID, STS_SECRET, None, (400, "MissingSecurityToken")),
            // Another key's token.
            (
                STS_ID,
                STS_SECRET,
                Some("CAIS+other"),
                (400, "InvalidSecurityToken.MismatchWithAccessKey"),
            ),
            // A permanent key with a token is a mismatch too.
            (
                SANDBOX_ACCESS_KEY_ID,
                SANDBOX_ACCESS_KEY_SECRET,
                Some("tok"),
                (400, "InvalidSecurityToken.MismatchWithAccessKey"),
            ),
        ];
        for (id, secret, token, expected) in refused {
            let provider = provider_with(&harness, signature, id, secret, token);
            let error = api(get(&provider, ready).await);
            assert_eq!(status_and_code(&error), expected, "{signature:?} {token:?}");
        }
    }
    assert_eq!(harness.counters().await.auth_failures, 6);
}

#[tokio::test]
async fn wrong_secret_and_unknown_key() {
    for signature in BOTH {
        let harness = start_default().await;
        let wrong = provider_with(
            &harness,
            signature,
            SANDBOX_ACCESS_KEY_ID,
            "not-the-secret",
            None,
        );
        let error = api(allocate(&wrong, "i-emuready001").await);
        assert_eq!(status_and_code(&error), (400, "SignatureDoesNotMatch"));
        assert!(
            error
                .message
                .starts_with("Specified signature is not matched with our calculation.")
        );
        assert!(has_no_public_ip(&harness, "i-emuready001"));

        let unknown = provider_with(&harness, signature, "LTAI5tNobodyKnowsThis", "x", None);
        let error = api(allocate(&unknown, "i-emuready001").await);
        assert_eq!(
            status_and_code(&error),
            (404, "InvalidAccessKeyId.NotFound")
        );
        let counters = harness.counters().await;
        assert_eq!((counters.auth_failures, counters.allocate_calls), (2, 0));
    }
}

#[tokio::test]
async fn faults_as_the_provider_sees_them() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);

        harness
            .set_faults(&FaultConfig {
                throttle_probability: 1.0,
                ..FaultConfig::default()
            })
            .await;
        let error = api(allocate(&provider, "i-emuready001").await);
        assert_eq!(status_and_code(&error), (400, "Throttling"));
        assert_eq!(
            error.message,
            "Request was denied due to request throttling."
        );
        assert_eq!(error.retry_after, Some(Duration::from_millis(100)));

        harness
            .set_faults(&FaultConfig {
                error_5xx_probability: 1.0,
                ..FaultConfig::default()
            })
            .await;
        let error = api(allocate(&provider, "i-emuready001").await);
        assert_eq!(status_and_code(&error), (503, "ServiceUnavailable"));
        assert!(has_no_public_ip(&harness, "i-emuready001"));

        // Performed, then the answer is lost.
        harness
            .set_faults(&FaultConfig {
                drop_after_allocate_probability: 1.0,
                ..FaultConfig::default()
            })
            .await;
        let error = allocate(&provider, "i-emuready001").await.unwrap_err();
        let ProviderError::Transport(transport) = &error else {
            panic!("expected a transport error, got {error:?}")
        };
        assert_eq!(transport.phase, SendPhase::Sent);
        // Reads are not dropped; the allocation happened.
        let found = get(&provider, "i-emuready001").await.unwrap();
        assert_eq!(found.ip_address.as_deref(), Some("47.96.0.1"));

        harness.set_faults(&FaultConfig::default()).await;
        let counters = harness.counters().await;
        assert_eq!(counters.throttled, 1);
        assert_eq!(counters.server_errors, 1);
        assert_eq!(counters.dropped, 1);
        assert_eq!(counters.allocate_calls, 1);
        assert_eq!(counters.requests, 4);
    }
}

#[tokio::test]
async fn concurrent_allocations_get_distinct_addresses() {
    let harness = start_default().await;
    let provider = std::sync::Arc::new(provider(&harness, SignatureVersion::V1));
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
    assert_eq!(harness.counters().await.allocate_calls, 200);
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
    let provider = provider(&harness, SignatureVersion::V1);
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
    let query = signer::sign_v1("POST", &params, SANDBOX_ACCESS_KEY_SECRET).into_query();
    let response = harness
        .http
        .post(format!("{}/?{query}", harness.url()))
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

// ----- the lifecycle: release, batch reads, availability -----

fn release_spec(id: &str) -> ReleaseSpec {
    ReleaseSpec {
        id: id.into(),
        region_id: None,
        purge: false,
    }
}

/// A call made on behalf of idempotency key `key`.
fn keyed(key: &str) -> CallContext {
    CallContext {
        idempotency_key: Some(key.into()),
        ..CallContext::default()
    }
}

async fn release(
    provider: &AliyunProvider,
    instance: &str,
    key: &str,
) -> Result<ReleaseResult, ProviderError> {
    provider.release(&release_spec(instance), &keyed(key)).await
}

#[tokio::test]
async fn release_gives_the_static_public_ip_back() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        let result = release(&provider, "i-emuhasip001", "rel-1").await.unwrap();
        assert!(!result.already_released, "{signature:?}");
        assert_eq!(result.provider_request_id.len(), 36, "{result:?}");
        assert!(!result.purged);
        let allocation = &result.allocation;
        assert_eq!(allocation.state, AllocationState::Released);
        assert_eq!(allocation.id, "i-emuhasip001");
        assert_eq!(allocation.ip_address.as_deref(), Some("47.96.0.10"));
        assert_eq!(allocation.provider_status, "Running");
        assert_eq!(allocation.region_id.as_deref(), Some("cn-hangzhou"));

        // Gone at the emulator, and as the adapter reads it.
        assert!(has_no_public_ip(&harness, "i-emuhasip001"));
        let instance = harness.emulator.instance("i-emuhasip001").unwrap();
        assert_eq!(instance.internet_max_bandwidth_out, 0);
        let error = get(&provider, "i-emuhasip001").await.unwrap_err();
        assert!(
            matches!(&error, ProviderError::NotFound { reason, .. } if *reason == PUBLIC_IP_NOT_ALLOCATED),
            "{error:?}"
        );
        let counters = harness.counters().await;
        assert_eq!((counters.release_calls, counters.released), (1, 1));
        // DescribeInstanceAttribute, ModifyInstanceNetworkSpec, the get.
        assert_eq!(counters.requests, 3);
    }
}

#[tokio::test]
async fn releasing_twice_sends_nothing_the_second_time() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        release(&provider, "i-emuhasip001", "rel-1").await.unwrap();
        let before = harness.counters().await;
        let again = release(&provider, "i-emuhasip001", "rel-2").await.unwrap();
        assert!(again.already_released, "{signature:?}");
        assert_eq!(again.provider_request_id, "");
        assert_eq!(again.allocation.state, AllocationState::Released);
        assert_eq!(again.allocation.ip_address, None);
        assert_eq!(again.allocation.provider_status, "Running");
        let after = harness.counters().await;
        assert_eq!(after.requests, before.requests + 1, "only the describe");
        assert_eq!((after.release_calls, after.released), (1, 1));

        // An instance that never had one: released already, nothing sent.
        let never = release(&provider, "i-emuready001", "rel-3").await.unwrap();
        assert!(never.already_released);
        assert_eq!(harness.counters().await.release_calls, 1);
    }
}

#[tokio::test]
async fn a_release_whose_answer_is_lost_is_reconciled() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        harness
            .set_faults(&FaultConfig {
                drop_after_release_probability: 1.0,
                ..FaultConfig::default()
            })
            .await;
        let result = release(&provider, "i-emuhasip001", "rel-lost")
            .await
            .unwrap();
        assert!(!result.already_released, "{signature:?}");
        assert_eq!(result.provider_request_id, "", "no answer was read");
        assert_eq!(result.allocation.state, AllocationState::Released);
        assert_eq!(result.allocation.ip_address.as_deref(), Some("47.96.0.10"));
        assert!(has_no_public_ip(&harness, "i-emuhasip001"));
        let counters = harness.counters().await;
        assert_eq!(
            (counters.release_calls, counters.released, counters.dropped),
            (1, 1, 1)
        );
        // Describe, Modify (dropped), the read-back.
        assert_eq!(counters.requests, 3);
    }
}

/// The token is derived from the key: a re-send of the same release is a
/// repeat to Alibaba, answered with the first answer and performed once.
#[tokio::test]
async fn the_client_token_makes_a_resend_a_repeat_at_alibaba() {
    let harness = start_default().await;
    let provider = provider(&harness, SignatureVersion::V1);
    release(&provider, "i-emuhasip001", "rel-token")
        .await
        .unwrap();
    // The instance gets an IP again behind the gateway's back; the same key
    // releasing it again is the same request to Alibaba: replayed, not
    // performed.
    let mut instance = harness.emulator.instance("i-emuhasip001").unwrap();
    instance.public_ip = Some("47.101.0.200".parse().unwrap());
    instance.internet_max_bandwidth_out = 5;
    harness.emulator.upsert_instance(instance).unwrap();
    let replayed = release(&provider, "i-emuhasip001", "rel-token")
        .await
        .unwrap();
    assert!(!replayed.already_released);
    assert!(
        !has_no_public_ip(&harness, "i-emuhasip001"),
        "not performed"
    );
    assert_eq!(harness.counters().await.release_calls, 1);
    // Another key is another request: performed.
    release(&provider, "i-emuhasip001", "rel-token-2")
        .await
        .unwrap();
    assert!(has_no_public_ip(&harness, "i-emuhasip001"));
    assert_eq!(harness.counters().await.release_calls, 2);
}

#[tokio::test]
async fn refused_releases_carry_their_mapped_codes() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        let cases = [
            // Classic network, security lock, public IP 47.101.0.3.
            (
                "i-emucllock01",
                403,
                "InstanceLockedForSecurity",
                "INSTANCE_LOCKED_FOR_SECURITY",
            ),
            // Stopping, public IP 47.101.0.2.
            (
                "i-emuclstop01",
                403,
                "IncorrectInstanceStatus",
                "INSTANCE_STATUS_INCORRECT",
            ),
        ];
        for (instance, http, code, reason) in cases {
            let result = release(&provider, instance, "rel-refused").await;
            let error = api(result);
            assert_eq!(
                status_and_code(&error),
                (http, code),
                "{signature:?} {instance}"
            );
            assert_eq!(error.op.name, "ModifyInstanceNetworkSpec");
            assert_eq!(error.rule().reason, reason);
            assert_eq!(error.rule().grpc, tonic::Code::FailedPrecondition);
            assert!(
                !has_no_public_ip(&harness, instance),
                "{instance} keeps its IP"
            );
        }
        assert_eq!(harness.counters().await.release_calls, 0);

        let error = api(release(&provider, "i-emudoesnotexist", "rel-unknown").await);
        assert_eq!(status_and_code(&error), (404, "InvalidInstanceId.NotFound"));
        assert_eq!(error.rule().grpc, tonic::Code::NotFound);
        assert_eq!(error.rule().reason, "INSTANCE_NOT_FOUND");
    }
}

#[tokio::test]
async fn describe_batch_reads_several_instances_in_one_call() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        let ids: Vec<String> = [
            "i-emuhasip001",
            "i-emuready001",
            "i-emudoesnotexist",
            "i-emuclassic02",
        ]
        .map(str::to_owned)
        .to_vec();
        let found = provider
            .describe_batch(None, &ids, &CallContext::default())
            .await
            .unwrap();
        let by_id = |id: &str| found.iter().find(|a| a.id == id).cloned();
        assert_eq!(found.len(), 3, "{signature:?} {found:?}");
        let ready = by_id("i-emuhasip001").unwrap();
        assert_eq!(ready.state, AllocationState::Ready);
        assert_eq!(ready.ip_address.as_deref(), Some("47.96.0.10"));
        assert_eq!(
            ready,
            get(&provider, "i-emuhasip001").await.unwrap(),
            "as get builds it"
        );
        let released = by_id("i-emuready001").unwrap();
        assert_eq!(released.state, AllocationState::Released);
        assert_eq!(released.ip_address, None);
        assert_eq!(released.provider_status, "Running");
        assert_eq!(
            by_id("i-emuclassic02").unwrap().ip_address.as_deref(),
            Some("47.100.0.10")
        );
        assert!(by_id("i-emudoesnotexist").is_none());
        // One DescribeInstances, and the get.
        assert_eq!(harness.counters().await.requests, 2);

        // get_allocations: the same call, the allocations that exist.
        let existing = provider
            .get_allocations(&ids, &CallContext::default())
            .await
            .unwrap();
        let mut names: Vec<&str> = existing.iter().map(|a| a.id.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["i-emuclassic02", "i-emuhasip001"]);
        assert_eq!(harness.counters().await.requests, 3);

        // Another region holds none of them.
        let elsewhere = provider
            .describe_batch(Some("cn-beijing"), &ids, &CallContext::default())
            .await
            .unwrap();
        assert!(elsewhere.is_empty());
        let none = provider
            .describe_batch(None, &[], &CallContext::default())
            .await
            .unwrap();
        assert!(none.is_empty());
        assert_eq!(harness.counters().await.requests, 4, "no ids, no call");
    }
}

#[tokio::test]
async fn more_than_100_ids_are_read_in_chunks() {
    let harness = start_default().await;
    let provider = provider(&harness, SignatureVersion::V3);
    allocate(&provider, &seed::pool_instance_id(0))
        .await
        .unwrap();
    allocate(&provider, &seed::pool_instance_id(149))
        .await
        .unwrap();
    let before = harness.counters().await.requests;
    let ids: Vec<String> = (0..150).map(seed::pool_instance_id).collect();
    let found = provider
        .describe_batch(None, &ids, &CallContext::default())
        .await
        .unwrap();
    assert_eq!(found.len(), 150);
    let ids_found: BTreeSet<&str> = found.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids_found.len(), 150);
    let ready: Vec<&str> = found
        .iter()
        .filter(|a| a.state == AllocationState::Ready)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ready, ["i-emupool0000", "i-emupool0149"]);
    assert_eq!(harness.counters().await.requests, before + 2, "100 + 50");
}

async fn check(provider: &AliyunProvider, instance: &str) -> Availability {
    provider
        .check_availability(
            &AvailabilitySpec::Aliyun {
                instance_id: instance.into(),
                region_id: None,
            },
            &CallContext::default(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn check_availability_names_each_failed_condition() {
    for signature in BOTH {
        let harness = start_default().await;
        let provider = provider(&harness, signature);
        for good in ["i-emuready001", "i-emustopped01"] {
            let answer = check(&provider, good).await;
            assert!(answer.available, "{signature:?} {good}: {answer:?}");
            assert_eq!(answer.conditions.len(), 6);
            assert!(
                answer
                    .conditions
                    .iter()
                    .all(|c| c.satisfied && c.error_code.is_none())
            );
            assert_eq!(answer.provider_request_id.len(), 36);
            assert!(answer.zones.is_empty());
        }
        // (instance, the condition it fails, what it shows)
        let cases = [
            ("i-emustarting01", "instance_status", "Status=Starting"),
            ("i-emulockrec01", "instance_status", "recycling"),
            ("i-emulocksec01", "security_lock", "security"),
            ("i-emulockfin01", "financial_lock", "financial"),
            (
                "i-emubwzero01",
                "public_bandwidth",
                "InternetMaxBandwidthOut=0",
            ),
            ("i-emuvpceip01", "no_eip", "eip-emu00000001"),
            ("i-emuhasip001", "no_public_ip", "47.96.0.10"),
        ];
        for (instance, name, observed) in cases {
            let answer = check(&provider, instance).await;
            assert!(!answer.available, "{instance}");
            let failed: Vec<_> = answer.conditions.iter().filter(|c| !c.satisfied).collect();
            assert_eq!(failed.len(), 1, "{instance}: {failed:?}");
            let condition = failed[0];
            assert_eq!(condition.name, name, "{instance}");
            assert!(
                condition.observed.contains(observed),
                "{instance}: {condition:?}"
            );
            // The code named is the one AllocatePublicIpAddress answers.
            let error = api(allocate(&provider, instance).await);
            assert_eq!(
                Some(error.code.as_str()),
                condition.error_code,
                "{instance}"
            );
            // A row of the table, not a fallback, by its code alone.
            assert!(is_a_row(condition.error_code.unwrap()), "{instance}");
            assert_ne!(error.rule().reason, "PROVIDER_ERROR_UNRECOGNIZED");
        }
        let error = provider
            .check_availability(
                &AvailabilitySpec::Aliyun {
                    instance_id: "i-emudoesnotexist".into(),
                    region_id: None,
                },
                &CallContext::default(),
            )
            .await;
        assert_eq!(
            status_and_code(&api(error)),
            (404, "InvalidInstanceId.NotFound")
        );
        // Nothing was allocated by the checks.
        assert_eq!(harness.counters().await.allocate_calls, 0);
    }
}

/// Whether `code` matches a row of the Alibaba table.
fn is_a_row(code: &str) -> bool {
    ipalloc_gateway::provider::aliyun::errors::TABLE
        .lookup(code, "")
        .is_some()
}

/// Every designated refusal of the emulator, released through the adapter:
/// the page's code, a row of the table (not a fallback), the IP kept. An
/// InternalError leaves the outcome unknown: the instance is read back, and
/// as it still holds its IP the original error is returned unchanged.
#[tokio::test]
async fn every_refused_release_maps_to_a_table_row() {
    let harness = start_default().await;
    let provider = provider(&harness, SignatureVersion::V1);
    for (instance, http, code, message) in NETWORK_SPEC_REFUSALS {
        let before = harness.counters().await.requests;
        let result = release(&provider, instance, "rel-refusal").await;
        let error = api(result);
        assert_eq!(status_and_code(&error), (*http, *code), "{instance}");
        assert_eq!(error.message, *message, "{instance}");
        assert_ne!(
            error.rule().reason,
            "PROVIDER_ERROR_UNRECOGNIZED",
            "{instance}: {code} is a row"
        );
        assert!(!has_no_public_ip(&harness, instance), "{instance}");
        let sent = harness.counters().await.requests - before;
        let unknown = ProviderError::Api(Box::new(error)).outcome_unknown();
        // Describe, Modify, and the read-back after an unknown outcome.
        assert_eq!(sent, if unknown { 3 } else { 2 }, "{instance}");
        assert_eq!(unknown, *code == "InternalError", "{instance}");
    }
    assert_eq!(harness.counters().await.release_calls, 0);
}
