//! Idempotent allocation (AIP-155, Stripe-style keys) end to end: the same
//! key and parameters return the original result and never allocate twice:
//! sequentially, while the first call is still in flight, after an ambiguous
//! outcome, and across a gateway restart. Other parameters under the same key
//! are refused, naming what differs.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::emulators::{self, counters, set_faults};
use common::*;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use serde_json::json;
use tonic::Code;

fn zenlayer(key: &str, zone: &str, amount: u32) -> pb::AllocateIpRequest {
    let params = pb::ZenlayerAllocateParams {
        amount: Some(amount),
        ..requests::postpaid(zone)
    };
    requests::keyed(key, requests::zenlayer("zenlayer", params))
}

fn aliyun(key: &str, instance: &str) -> pb::AllocateIpRequest {
    requests::keyed(
        key,
        requests::aliyun("aliyun", requests::instance(instance)),
    )
}

fn ids(response: &pb::AllocateIpResponse) -> Vec<String> {
    response.allocations.iter().map(|a| a.id.clone()).collect()
}

fn with_timeout<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

#[tokio::test]
async fn same_key_and_parameters_return_the_original_result() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let mut client = env.gateway.client.clone();
    let first = client
        .allocate_ip(zenlayer("order-1", "SEL-A", 2))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .allocate_ip(zenlayer("order-1", "SEL-A", 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the stored response, byte for byte");
    let ali_first = client
        .allocate_ip(aliyun("ali-1", "i-emuready001"))
        .await
        .unwrap()
        .into_inner();
    let ali_again = client
        .allocate_ip(aliyun("ali-1", "i-emuready001"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ali_first, ali_again);
    assert_eq!(
        counters(&env.zenlayer_url).await.allocations,
        2,
        "one call of amount 2"
    );
    assert_eq!(counters(&env.aliyun_url).await.allocate_calls, 1);
}

#[tokio::test]
async fn same_key_with_other_parameters_is_refused_naming_the_difference() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let mut client = env.gateway.client.clone();
    client
        .allocate_ip(zenlayer("order-2", "SEL-A", 1))
        .await
        .unwrap();
    let status = client
        .allocate_ip(zenlayer("order-2", "HKG-A", 3))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(reason, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(domain, "ipalloc-gateway");
    assert_eq!(metadata["idempotencyKey"], "order-2");
    assert_eq!(violated_fields(&status), ["idempotency_key"]);
    assert!(
        status.message().contains("zenlayer.zone_id"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("zenlayer.amount"),
        "{}",
        status.message()
    );
    // Across providers too.
    let status = client
        .allocate_ip(aliyun("order-2", "i-emuready002"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(counters(&env.zenlayer_url).await.allocations, 1);
    assert_eq!(counters(&env.aliyun_url).await.allocate_calls, 0);
}

#[tokio::test]
async fn a_duplicate_in_flight_waits_for_the_first_or_is_aborted() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    set_faults(
        &env.zenlayer_url,
        &FaultConfig {
            latency_ms: 1_500,
            ..FaultConfig::default()
        },
    )
    .await;
    let (mut a, mut b, mut c) = (
        env.gateway.client.clone(),
        env.gateway.client.clone(),
        env.gateway.client.clone(),
    );
    let first = tokio::spawn(async move { a.allocate_ip(zenlayer("order-3", "SEL-A", 1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A duplicate with time to spare waits and gets the same result...
    let second = tokio::spawn(async move { b.allocate_ip(zenlayer("order-3", "SEL-A", 1)).await });
    // ...one whose deadline comes first is told to retry. Its timeout is
    // long enough for the gateway's full margin (100 ms): with less, a
    // loaded machine can let the caller's own timer fire first.
    let started = Instant::now();
    let third = c
        .allocate_ip(with_timeout(
            zenlayer("order-3", "SEL-A", 1),
            Duration::from_millis(1_000),
        ))
        .await
        .unwrap_err();
    assert_eq!(third.code(), Code::Aborted, "{third:?}");
    assert_eq!(error_info(&third).0, "IDEMPOTENCY_KEY_IN_PROGRESS");
    assert!(retry_delay(&third).is_some());
    assert!(
        started.elapsed() < Duration::from_millis(1_400),
        "answered by its deadline"
    );
    let first = first.await.unwrap().unwrap().into_inner();
    let second = second.await.unwrap().unwrap().into_inner();
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(counters(&env.zenlayer_url).await.allocations, 1);
}

#[tokio::test]
async fn a_definite_failure_frees_the_key() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    let mut client = env.gateway.client.clone();
    let status = client
        .allocate_ip(zenlayer("order-4", "TYO-A", 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    // Nothing was allocated: the key may carry a corrected request.
    let ok = client
        .allocate_ip(zenlayer("order-4", "SEL-A", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.allocations.len(), 1);
}

/// Issue test 5: an ambiguous allocation (performed, answer lost, and the
/// gateway could not reconcile before the caller's deadline), then a
/// gateway restart, then the retry: the original EIPs, no second allocation.
#[tokio::test]
async fn restart_between_an_ambiguous_allocation_and_its_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("idempotency.redb");
    let top = format!("[idempotency]\npath = \"{}\"\n", store.display());
    let options = EmulatorOptions::default();
    let env = emulators::start(options.clone(), &top, "", "max_attempts = 1").await;
    set_faults(
        &env.zenlayer_url,
        &FaultConfig {
            drop_after_allocate_probability: 1.0,
            latency_ms: 150,
            ..FaultConfig::default()
        },
    )
    .await;
    let status = env
        .gateway
        .client
        .clone()
        .allocate_ip(with_timeout(
            zenlayer("order-5", "SEL-A", 2),
            Duration::from_millis(250),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(reason, "PROVIDER_OUTCOME_UNKNOWN");
    assert_eq!(metadata["idempotencyKey"], "order-5");
    let performed = counters(&env.zenlayer_url).await;
    assert_eq!((performed.allocations, performed.dropped), (2, 1));
    let created: Vec<String> = env
        .emulators
        .zenlayer
        .as_ref()
        .unwrap()
        .1
        .eips()
        .into_iter()
        .map(|e| e.eip_id)
        .collect();

    // Restart the gateway on the same store; the emulator keeps its state.
    let emulators = env.emulators;
    env.gateway.stop().await;
    let config = format!(
        "{top}\n[providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{url}\"\naccess_key_id = \"{id}\"\naccess_key_password = \"{pw}\"\n",
        url = env.zenlayer_url,
        id = ipalloc_gateway::emulator::zenlayer::SANDBOX_ACCESS_KEY_ID,
        pw = ipalloc_gateway::emulator::zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    );
    let restarted = start_gateway(&config).await;
    set_faults(&env.zenlayer_url, &FaultConfig::default()).await;
    let response = restarted
        .client
        .clone()
        .allocate_ip(zenlayer("order-5", "SEL-A", 2))
        .await
        .unwrap()
        .into_inner();
    let mut got = ids(&response);
    got.sort();
    let mut want = created;
    want.sort();
    assert_eq!(got, want, "the original EIPs, found through their tag");
    assert_eq!(
        counters(&env.zenlayer_url).await.allocations,
        2,
        "no second allocation"
    );
    // And from now on the key answers from the store.
    let again = restarted
        .client
        .clone()
        .allocate_ip(zenlayer("order-5", "SEL-A", 2))
        .await
        .unwrap();
    assert_eq!(ids(&again.into_inner()).len(), 2);
    drop(emulators);
}

/// The retry of an ambiguous Aliyun allocation meets AllocatedAlready: the
/// earlier attempt did land, so the answer is success with that IP.
#[tokio::test]
async fn allocated_already_after_an_ambiguous_attempt_is_success() {
    let no_ip = json!({"RequestId": "R-D", "InstanceId": "i-bp1abc", "Status": "Running", "PublicIpAddress": {"IpAddress": []}});
    let with_ip = json!({"RequestId": "R-E", "InstanceId": "i-bp1abc", "Status": "Running", "RegionId": "cn-hangzhou", "PublicIpAddress": {"IpAddress": ["47.96.9.9"]}});
    let server = Scripted::start(vec![
        Reply::Drop,                 // 1st call: allocation sent, answer lost
        Reply::json(200, no_ip.clone()), // its reconciliation: nothing visible yet
        Reply::json(200, no_ip),     // 2nd call: reconciliation, still nothing
        Reply::json(403, json!({"RequestId": "R-A", "Code": "AllocatedAlready", "Message": "There is an IpAddress allocated already for the specified instance."})),
        Reply::json(200, with_ip),   // reconciliation after AllocatedAlready
    ])
    .await;
    let gateway = start_gateway(&aliyun_provider(
        "aliyun",
        &server.url(),
        "max_attempts = 1\nreconcile_grace_ms = 1",
    ))
    .await;
    let mut client = gateway.client.clone();
    let status = client
        .allocate_ip(aliyun("ali-key", "i-bp1abc"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(error_info(&status).2["idempotencyKey"], "ali-key");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let response = client
        .allocate_ip(aliyun("ali-key", "i-bp1abc"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.allocations[0].ip_address, "47.96.9.9");
    let actions: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.param("Action").unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "AllocatePublicIpAddress",
            "DescribeInstanceAttribute",
            "DescribeInstanceAttribute",
            "AllocatePublicIpAddress",
            "DescribeInstanceAttribute"
        ]
    );
}

/// An unknown outcome the provider does not show yet: a retry within the
/// grace period is told to wait (never re-sent); after it, the allocation
/// is sent again. Without a caller key the gateway names the one it made.
#[tokio::test]
async fn an_invisible_unknown_outcome_waits_out_the_grace_period() {
    let empty = json!({"requestId": "T-D", "response": {"requestId": "T-D", "totalCount": 0, "dataSet": []}});
    let created = json!({"requestId": "T-OK", "response": {"requestId": "T-OK", "eipIdSet": ["eip-late"], "orderNumber": ""}});
    let server = Scripted::start(vec![
        Reply::Drop,
        Reply::json(200, empty.clone()),
        Reply::json(200, empty.clone()),
        Reply::json(200, empty),
        Reply::json(200, created),
    ])
    .await;
    let gateway = start_gateway(&zenlayer_provider(
        "zenlayer",
        &server.url(),
        "max_attempts = 1\nreconcile_grace_ms = 300",
    ))
    .await;
    let mut client = gateway.client.clone();
    let status = client
        .allocate_ip(zenlayer("", "SEL-A", 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    let key = error_info(&status).2["idempotencyKey"].clone();
    assert!(
        key.starts_with("gw-"),
        "a generated key to retry with: {key}"
    );
    assert!(status.message().contains(&key));

    let status = client
        .allocate_ip(zenlayer(&key, "SEL-A", 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(error_info(&status).0, "PROVIDER_OUTCOME_PENDING");
    let wait = retry_delay(&status).expect("RetryInfo");
    assert!(wait <= Duration::from_millis(300));

    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let response = client
        .allocate_ip(zenlayer(&key, "SEL-A", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&response), ["eip-late"]);
    let allocations = server
        .requests()
        .iter()
        .filter(|r| r.header("x-zc-action") == Some("AllocateEipAddresses"))
        .count();
    assert_eq!(allocations, 2, "re-sent once, only after the grace period");
}

/// A caller that goes away mid-call does not cut its allocation short: it
/// runs to its end and is recorded, so the retry is a plain replay of the
/// same allocation (no reconciliation, no second request to the provider).
#[tokio::test]
async fn a_caller_that_goes_away_leaves_its_allocation_to_complete() {
    let env = emulators::start(EmulatorOptions::default(), "", "", "").await;
    set_faults(
        &env.aliyun_url,
        &FaultConfig {
            latency_ms: 400,
            ..FaultConfig::default()
        },
    )
    .await;
    let mut gone = env.gateway.client.clone();
    let first =
        tokio::spawn(async move { gone.allocate_ip(aliyun("left-1", "i-emuready001")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The caller goes away while the provider is still answering.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(counters(&env.aliyun_url).await.allocate_calls, 0);

    let mut client = env.gateway.client.clone();
    let retry = client
        .allocate_ip(aliyun("left-1", "i-emuready001"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&retry), ["i-emuready001"]);
    assert!(!retry.allocations[0].ip_address.is_empty(), "{retry:?}");
    let seen = counters(&env.aliyun_url).await;
    assert_eq!(seen.allocate_calls, 1);
    assert_eq!(
        seen.requests, 1,
        "the first call's allocation was the only request: no reconciliation"
    );
}
