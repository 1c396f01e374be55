//! The gateway's `ZenlayerProvider` against a scripted server on 127.0.0.1
//! (tests/common/scripted.rs): the exact bytes and headers it sends, with
//! the ZC2 signature recomputed independently
//! (tests/common/signatures.rs), and how it reads canned answers:
//! allocations, lookups, reconciliation, API errors, a Cloudflare
//! challenge, proxy pages, a refused connection. Also what needs no server:
//! settings validation, the description, `Debug`, the status and EIP
//! mappings, the reconciliation query.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(dead_code)]
use std::time::Duration;

use common::{Recorded, Reply, Scripted, settings};
use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::provider::error::{ProviderError, SendPhase};
use ipalloc_gateway::provider::model::{
    AliyunAllocate, AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    Capabilities, ChargeType, ChargeTypeName, ProviderKind, ZenlayerAllocate,
};
use ipalloc_gateway::provider::zenlayer::client::{
    ALLOCATE_EIP_ADDRESSES, DESCRIBE_EIP_ADDRESSES, allocation_from_eip, reconcile_request,
    state_from_status,
};
use ipalloc_gateway::provider::zenlayer::wire::EipAddress;
use ipalloc_gateway::provider::zenlayer::{
    ZenlayerCredentials, ZenlayerProvider, ZenlayerSettings,
};
use ipalloc_gateway::provider::{CallContext, Provider};

const ID: &str = "AKIDZLTEST0000000001";
const PASSWORD: &str = "zlTestPassw0rd/Example+Key=";

/// Account `zl-test` at `endpoint`.
fn settings(endpoint: &str) -> ZenlayerSettings {
    let credentials = ZenlayerCredentials {
        access_key_id: ID.to_owned(),
        access_key_password: Secret::new(PASSWORD),
    };
    settings::zenlayer_account("zl-test", endpoint, credentials)
}

fn provider(endpoint: &str) -> ZenlayerProvider {
    ZenlayerProvider::new(settings(endpoint)).unwrap()
}

/// Two EIPs in SEL-A, postpaid.
fn spec() -> ZenlayerAllocate {
    settings::zenlayer_allocate("SEL-A", ChargeType::Postpaid, 2)
}

/// An EIP in SEL-A as the adapter reports it: no region, no instance, no
/// restart, no failure.
fn sel_a_eip(id: &str, ip: Option<&str>, state: AllocationState, status: &str) -> Allocation {
    Allocation {
        id: id.to_owned(),
        ip_address: ip.map(str::to_owned),
        state,
        provider_status: status.to_owned(),
        zone_id: Some("SEL-A".to_owned()),
        region_id: None,
        requires_instance_restart: false,
        instance_id: None,
        failure_reason: None,
        netmask: Some(32),
    }
}

/// A canned answer with `headers` (`name: value` lines, possibly none).
fn canned(status: u16, headers: &str, body: &str) -> Reply {
    let headers = headers
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    Reply::Respond {
        status,
        headers,
        body: body.as_bytes().to_vec(),
        delay: Duration::ZERO,
    }
}

/// Serves `reply`, and the provider against it.
async fn serve(reply: Reply) -> (Scripted, ZenlayerProvider) {
    let server = Scripted::start(vec![reply]).await;
    let provider = provider(&server.url());
    (server, provider)
}

/// Allocates `spec` against `reply`: the result and the request as it
/// arrived.
async fn allocate(
    spec: ZenlayerAllocate,
    reply: Reply,
) -> (Result<AllocateResult, ProviderError>, Recorded) {
    let (server, provider) = serve(reply).await;
    let result = provider
        .allocate(&AllocateSpec::Zenlayer(spec), &CallContext::default())
        .await;
    (result, server.last_request())
}

/// Looks up EIP `id` against `reply`: the result and the request as it
/// arrived.
async fn get(id: &str, reply: Reply) -> (Result<Allocation, ProviderError>, Recorded) {
    let (server, provider) = serve(reply).await;
    let lookup = AllocationLookup {
        id: id.to_owned(),
        region_id: None,
    };
    let result = provider
        .get_allocation(&lookup, &CallContext::default())
        .await;
    (result, server.last_request())
}

/// The request's `Authorization` is ZC2 over what arrived.
fn assert_signed(request: &Recorded) {
    let expected = common::signatures::zenlayer(request, ID, PASSWORD);
    assert_eq!(request.header("authorization"), Some(expected.as_str()));
}

#[tokio::test]
async fn allocate_sends_signed_exact_bytes() {
    let (server, provider) = serve(canned(
        200,
        "content-type: application/json",
        r#"{"requestId":"T-1","response":{"requestId":"T-1","eipIdSet":["eip-1","eip-2"],"orderNumber":""}}"#,
    ))
    .await;
    let result = provider
        .allocate(&AllocateSpec::Zenlayer(spec()), &CallContext::default())
        .await
        .unwrap();
    let captured = server.last_request();

    assert_eq!(
        captured.head.lines().next(),
        Some("POST /api/v2/bmc HTTP/1.1")
    );
    assert_eq!(
        captured.header("host"),
        Some(server.url().trim_start_matches("http://"))
    );
    assert_eq!(captured.header("content-type"), Some("application/json"));
    assert_eq!(captured.header("x-zc-action"), Some("AllocateEipAddresses"));
    assert_eq!(captured.header("x-zc-version"), Some("2026-02-01"));
    assert_eq!(captured.header("x-zc-service"), Some("bmc"));
    assert_eq!(
        captured.header("x-zc-signature-method"),
        Some("ZC2-HMAC-SHA256")
    );
    let ts: i64 = captured.header("x-zc-timestamp").unwrap().parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - ts).abs() < 60, "timestamp {ts} vs now {now}");
    assert_eq!(
        std::str::from_utf8(&captured.body).unwrap(),
        r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":2,"netmask":32,"tags":{"tags":[{"key":"env","value":"test"}]}}"#
    );
    assert_signed(&captured);

    assert_eq!(result.provider_request_id, "T-1");
    assert_eq!(result.order_number, None);
    assert_eq!(result.allocations.len(), 2);
    assert_eq!(
        result.allocations[1],
        sel_a_eip("eip-2", None, AllocationState::Pending, "CREATING")
    );
}

#[tokio::test]
async fn allocate_prepaid_keeps_order_number_and_accepts_other_count() {
    let mut prepaid = spec();
    prepaid.charge = ChargeType::Prepaid { period_months: 1 };
    let (result, request) = allocate(
        prepaid,
        canned(
            200,
            "",
            r#"{"requestId":"T-2","response":{"requestId":"T-2","eipIdSet":["eip-9"],"orderNumber":"ord-1"}}"#,
        ),
    )
    .await;
    let result = result.unwrap();
    assert_signed(&request);
    assert_eq!(result.order_number.as_deref(), Some("ord-1"));
    assert_eq!(result.allocations.len(), 1);
}

#[tokio::test]
async fn allocate_without_ids_is_malformed() {
    let (result, _) = allocate(
        spec(),
        canned(
            200,
            "",
            r#"{"requestId":"T-3","response":{"requestId":"T-3","eipIdSet":[]}}"#,
        ),
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ProviderError::MalformedResponse { op, request_id: Some(id), .. }
            if *op == ALLOCATE_EIP_ADDRESSES && id == "T-3"),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_error_is_mapped() {
    let (result, _) = allocate(
        spec(),
        canned(
            404,
            "content-type: application/json",
            r#"{"requestId":"T-4","code":"INVALID_ZONE_NOT_FOUND","message":"The specified zoneId `SEL--A` is not found"}"#,
        ),
    )
    .await;
    let err = result.unwrap_err();
    let ProviderError::Api(e) = err else {
        panic!("{err:?}");
    };
    assert_eq!(e.code, "INVALID_ZONE_NOT_FOUND");
    assert_eq!(e.http_status, 404);
    assert_eq!(e.op, ALLOCATE_EIP_ADDRESSES);
    assert_eq!(e.request_id.as_deref(), Some("T-4"));
}

#[tokio::test]
async fn cloudflare_challenge_through_the_client() {
    let (result, _) = get(
        "eip-1",
        canned(
            403,
            "cf-mitigated: challenge\ncontent-type: text/html",
            "<!DOCTYPE html><html><title>Just a moment...</title></html>",
        ),
    )
    .await;
    let err = result.unwrap_err();
    let ProviderError::Api(e) = err else {
        panic!("{err:?}");
    };
    assert_eq!(e.code, "SECURITY_CHALLENGE");
    assert_eq!(e.op, DESCRIBE_EIP_ADDRESSES);
}

#[tokio::test]
async fn get_allocation_reads_one_eip() {
    let (result, captured) = get(
        "eip-1",
        canned(
            200,
            "",
            r#"{"requestId":"T-5","response":{"requestId":"T-5","totalCount":1,"dataSet":[{"eipId":"eip-1","zoneId":"SEL-A","ipAddress":"203.0.113.7","netmask":32,"instanceId":null,"eipStatus":"AVAILABLE","eipChargeType":"POSTPAID","period":null}]}}"#,
        ),
    )
    .await;
    let allocation = result.unwrap();
    assert_signed(&captured);
    assert_eq!(captured.header("x-zc-action"), Some("DescribeEipAddresses"));
    assert_eq!(
        std::str::from_utf8(&captured.body).unwrap(),
        r#"{"eipIds":["eip-1"]}"#
    );
    assert_eq!(allocation.state, AllocationState::Ready);
    assert_eq!(allocation.ip_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(allocation.provider_status, "AVAILABLE");
}

#[tokio::test]
async fn get_allocation_empty_data_set_is_not_found() {
    let (result, _) = get(
        "eip-404",
        canned(
            200,
            "",
            r#"{"requestId":"T-6","response":{"requestId":"T-6","totalCount":0,"dataSet":[]}}"#,
        ),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        ProviderError::NotFound {
            op: DESCRIBE_EIP_ADDRESSES,
            reason: "ALLOCATION_NOT_FOUND",
            message: "EIP eip-404 not found".to_owned(),
            request_id: Some("T-6".to_owned()),
        }
    );
}

#[tokio::test]
async fn get_allocation_other_eip_only_is_malformed() {
    let (result, _) = get(
        "eip-1",
        canned(
            200,
            "",
            r#"{"requestId":"T-7","response":{"requestId":"T-7","totalCount":1,"dataSet":[{"eipId":"eip-other","eipStatus":"AVAILABLE"}]}}"#,
        ),
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, ProviderError::MalformedResponse { .. }),
        "{err:?}"
    );
}

/// Reconciles key `k-1` against an answer with `body`; checks the request
/// was a signed DescribeEipAddresses.
async fn reconcile_against(body: &str) -> Result<Option<AllocateResult>, ProviderError> {
    let (server, provider) = serve(canned(200, "", body)).await;
    let result = provider
        .reconcile(
            &AllocateSpec::Zenlayer(spec()),
            "k-1",
            &CallContext::default(),
        )
        .await;
    let captured = server.last_request();
    assert_signed(&captured);
    assert_eq!(captured.header("x-zc-action"), Some("DescribeEipAddresses"));
    result
}

#[tokio::test]
async fn reconcile_keeps_the_keys_eips_and_refuses_an_unfiltered_answer() {
    let found = reconcile_against(
        r#"{"requestId":"T-R1","response":{"requestId":"T-R1","totalCount":2,"dataSet":[
        {"eipId":"eip-b","zoneId":"SEL-A","eipStatus":"AVAILABLE","ipAddress":"1.2.3.4","tags":{"tags":[{"key":"ipalloc-idempotency-key","value":"k-1"}]}},
        {"eipId":"eip-a","eipStatus":"CREATING"}]}}"#,
    )
    .await
    .unwrap()
    .unwrap();
    let ids: Vec<&str> = found.allocations.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        ["eip-a", "eip-b"],
        "sorted; fields left out cannot contradict"
    );
    assert_eq!(found.provider_request_id, "T-R1");

    let nothing = reconcile_against(
        r#"{"requestId":"T-R2","response":{"requestId":"T-R2","totalCount":0,"dataSet":[]}}"#,
    )
    .await
    .unwrap();
    assert_eq!(nothing, None, "an empty answer is a definite nothing");

    // Another key's EIP, or one in another zone: the filters were not
    // applied, so the answer is neither this key's EIPs nor a definite
    // "nothing exists".
    for body in [
        r#"{"requestId":"T-R3","response":{"requestId":"T-R3","dataSet":[{"eipId":"eip-x","zoneId":"SEL-A","tags":{"tags":[{"key":"ipalloc-idempotency-key","value":"k-2"}]}}]}}"#,
        r#"{"requestId":"T-R4","response":{"requestId":"T-R4","dataSet":[{"eipId":"eip-y","zoneId":"HKG-A"}]}}"#,
    ] {
        let err = reconcile_against(body).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::MalformedResponse { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("filters were not applied"),
            "{err}"
        );
    }
}

/// An error's text and `Debug` name neither the password nor the endpoint.
fn assert_no_leak(err: &ProviderError, endpoint: &str) {
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains(endpoint),
        "{text}"
    );
}

#[tokio::test]
async fn html_error_page_is_malformed_without_url_or_secret() {
    let (server, provider) = serve(canned(
        502,
        "content-type: text/html",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ))
    .await;
    let err = provider
        .allocate(&AllocateSpec::Zenlayer(spec()), &CallContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::MalformedResponse {
                http_status: 502,
                ..
            }
        ),
        "{err:?}"
    );
    assert_no_leak(&err, &server.url());
}

#[tokio::test]
async fn connection_refused_is_transport_not_sent() {
    // Bind and drop to get a port nobody listens on.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let err = provider(&endpoint)
        .allocate(&AllocateSpec::Zenlayer(spec()), &CallContext::default())
        .await
        .unwrap_err();
    let ProviderError::Transport(t) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(t.phase, SendPhase::NotSent);
    assert_no_leak(&err, &endpoint);
}

#[test]
fn new_validates_settings_without_leaking() {
    let err = ZenlayerProvider::new(settings("not a url")).unwrap_err();
    assert!(matches!(err, ProviderError::Internal(_)));
    assert!(err.to_string().contains("endpoint"), "{err}");
    assert!(!err.to_string().contains(PASSWORD));

    let mut s = settings("https://console.zenlayer.com");
    s.credentials.access_key_password = Secret::new("  ");
    assert!(ZenlayerProvider::new(s).is_err());
    let mut s = settings("https://console.zenlayer.com");
    s.credentials.access_key_id = "bad\nid".to_owned();
    assert!(ZenlayerProvider::new(s).is_err());
    let mut s = settings("https://console.zenlayer.com");
    s.api_version = "2026\n".to_owned() + "x";
    assert!(ZenlayerProvider::new(s).is_err());
}

#[test]
fn description_and_debug() {
    let provider = ZenlayerProvider::new(settings("https://console.zenlayer.com")).unwrap();
    let d = provider.description();
    assert_eq!(d.name, "zl-test");
    assert_eq!(d.kind, ProviderKind::Zenlayer);
    assert_eq!(d.region, None);
    assert_eq!(d.endpoint, "https://console.zenlayer.com");
    assert_eq!(
        d.capabilities,
        Capabilities {
            max_allocations_per_request: 100,
            asynchronous: true,
            requires_instance: false,
            requires_instance_restart: false,
            charge_types: vec![ChargeTypeName::Prepaid, ChargeTypeName::Postpaid],
            api_version: "bmc/2026-02-01".to_owned(),
            signature: "ZC2-HMAC-SHA256".to_owned(),
        }
    );
    let debug = format!("{provider:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("***"), "{debug}");
}

#[test]
fn status_mapping() {
    use AllocationState::*;
    for (status, state) in [
        ("CREATING", Pending),
        ("AVAILABLE", Ready),
        ("ASSOCIATED", Ready),
        ("ASSOCIATING", Ready),
        ("UNASSOCIATING", Ready),
        ("INUSE", Ready),
        ("CREATE_FAILED", Failed),
        ("RECYCLING", Released),
        ("RECYCLE", Released),
        ("RELEASING", Released),
        ("SOMETHING_NEW", Pending),
        ("", Pending),
    ] {
        assert_eq!(state_from_status(status), state, "{status}");
    }
}

#[test]
fn allocation_from_eip_maps_fields() {
    let a = allocation_from_eip(EipAddress {
        eip_id: "eip-1".to_owned(),
        zone_id: Some("SEL-A".to_owned()),
        ip_address: Some("203.0.113.7".to_owned()),
        netmask: Some(32),
        instance_id: Some(String::new()),
        eip_status: Some("AVAILABLE".to_owned()),
        ..Default::default()
    });
    assert_eq!(
        a,
        sel_a_eip(
            "eip-1",
            Some("203.0.113.7"),
            AllocationState::Ready,
            "AVAILABLE"
        )
    );
    let failed = allocation_from_eip(EipAddress {
        eip_id: "eip-2".to_owned(),
        ip_address: Some(String::new()),
        instance_id: Some("inst-1".to_owned()),
        eip_status: Some("CREATE_FAILED".to_owned()),
        ..Default::default()
    });
    assert_eq!(failed.state, AllocationState::Failed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("Zenlayer reported CREATE_FAILED")
    );
    assert_eq!(failed.ip_address, None);
    assert_eq!(failed.instance_id.as_deref(), Some("inst-1"));
    let unknown = allocation_from_eip(EipAddress {
        eip_id: "eip-3".to_owned(),
        ..Default::default()
    });
    assert_eq!(unknown.state, AllocationState::Pending);
    assert_eq!(unknown.provider_status, "");
}

#[tokio::test]
async fn allocate_rejects_other_kinds() {
    let provider = ZenlayerProvider::new(settings("http://127.0.0.1:9")).unwrap();
    let err = provider
        .allocate(
            &AllocateSpec::Aliyun(AliyunAllocate {
                instance_id: "i-1".to_owned(),
                ip_address: None,
                vlan_id: None,
                region_id: None,
            }),
            &CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Internal(_)), "{err:?}");
}

#[test]
fn reconcile_request_uses_every_identifying_filter() {
    let mut prepaid = spec();
    prepaid.charge = ChargeType::Prepaid { period_months: 3 };
    prepaid.resource_group_id = Some("rg-1".to_owned());
    assert_eq!(
        serde_json::to_string(&reconcile_request(&prepaid, "k-1")).unwrap(),
        r#"{"eipChargeType":"PREPAID","zoneId":"SEL-A","resourceGroupId":"rg-1","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-1"}]}"#
    );
    // No resource group named: none filtered on (the default group's id
    // is the provider's to know), and no empty filter either.
    assert_eq!(
        serde_json::to_string(&reconcile_request(&spec(), "k-2")).unwrap(),
        r#"{"eipChargeType":"POSTPAID","zoneId":"SEL-A","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-2"}]}"#
    );
}

/// Each request the server received: its action and its body.
fn sent(server: &Scripted) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .map(|r| {
            assert_signed(r);
            (
                r.header("x-zc-action").unwrap_or("").to_owned(),
                String::from_utf8(r.body.clone()).unwrap(),
            )
        })
        .collect()
}

fn described(status: &str) -> Reply {
    canned(
        200,
        "",
        &format!(
            r#"{{"requestId":"T-D","response":{{"requestId":"T-D","totalCount":1,"dataSet":[{{"eipId":"eip-1","zoneId":"SEL-A","netmask":32,"eipStatus":"{status}"}}]}}}}"#
        ),
    )
}

async fn release_against(
    replies: Vec<Reply>,
    purge: bool,
) -> (
    Result<ipalloc_gateway::provider::model::ReleaseResult, ProviderError>,
    Vec<(String, String)>,
) {
    let server = Scripted::start(replies).await;
    let provider = provider(&server.url());
    let spec = ipalloc_gateway::provider::model::ReleaseSpec {
        id: "eip-1".to_owned(),
        region_id: None,
        purge,
    };
    let result = provider.release(&spec, &CallContext::default()).await;
    (result, sent(&server))
}

const TERMINATE_BODY: (&str, &str) = ("TerminateEipAddress", r#"{"eipId":"eip-1"}"#);
const DESCRIBE_BODY: (&str, &str) = ("DescribeEipAddresses", r#"{"eipIds":["eip-1"]}"#);
const RELEASE_BODY: (&str, &str) = ("ReleaseEipAddresses", r#"{"eipIds":["eip-1"]}"#);

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn release_after_a_lost_answer_is_read_back_before_anything_else() {
    // Lost, and the EIP is still AVAILABLE: the original error, nothing resent.
    let (result, requests) = release_against(vec![Reply::Drop, described("AVAILABLE")], true).await;
    match result.unwrap_err() {
        ProviderError::Transport(t) => assert_eq!(t.phase, SendPhase::Sent),
        other => panic!("{other:?}"),
    }
    assert_eq!(requests, pairs(&[TERMINATE_BODY, DESCRIBE_BODY]));

    // Lost, and the EIP is in the recycle bin: released, then purged.
    let ok = r#"{"requestId":"T-R","response":{"requestId":"T-R"}}"#;
    let (result, requests) = release_against(
        vec![Reply::Drop, described("RECYCLE"), canned(200, "", ok)],
        true,
    )
    .await;
    let released = result.unwrap();
    assert!(released.purged && !released.already_released);
    assert_eq!(released.provider_request_id, "");
    assert_eq!(released.allocation.provider_status, "RECYCLE");
    assert_eq!(
        requests,
        pairs(&[TERMINATE_BODY, DESCRIBE_BODY, RELEASE_BODY])
    );
}

#[tokio::test]
async fn release_of_a_recycled_eip_reads_it_back() {
    let recycled = canned(
        403,
        "",
        r#"{"requestId":"T-X","code":"OPERATION_DENIED_EIP_RECYCLED","message":"Operations on an elastic IP in recycle bin are not supported."}"#,
    );
    let (result, requests) = release_against(vec![recycled, described("RECYCLE")], false).await;
    let released = result.unwrap();
    assert!(released.already_released && !released.purged);
    // Released before the call: no request id (the refused terminate's is
    // only logged), as when nothing is sent.
    assert_eq!(released.provider_request_id, "");
    assert_eq!(
        (
            released.allocation.state,
            released.allocation.zone_id.as_deref()
        ),
        (AllocationState::Released, Some("SEL-A"))
    );
    assert_eq!(requests, pairs(&[TERMINATE_BODY, DESCRIBE_BODY]));
}

#[tokio::test]
async fn availability_and_account_pages_send_the_sdk_bodies() {
    use ipalloc_gateway::provider::model::{AvailabilitySpec, SaleStatus};
    let server = Scripted::start(vec![
        canned(
            200,
            "",
            r#"{"requestId":"T-A","response":{"requestId":"T-A","eipResources":[{"zoneId":"SEL-A","status":"SELL","netmask":32},{"zoneId":"SEL-A","status":"SOLD_OUT","netmask":29}]}}"#,
        ),
        canned(
            200,
            "",
            r#"{"requestId":"T-P","response":{"requestId":"T-P","totalCount":7,"dataSet":[{"eipId":"eip-9","eipStatus":"RECYCLE","tags":{"tags":[{"key":"k","value":"v"}]}}]}}"#,
        ),
    ])
    .await;
    let provider = provider(&server.url());
    let spec = AvailabilitySpec::Zenlayer {
        zone_id: Some("SEL-A".to_owned()),
        netmask: Some(29),
        charge: ChargeTypeName::Prepaid,
    };
    let answer = provider
        .check_availability(&spec, &CallContext::default())
        .await
        .unwrap();
    assert!(!answer.available);
    assert_eq!(answer.provider_request_id, "T-A");
    assert_eq!(answer.zones.len(), 1);
    assert_eq!(
        (
            answer.zones[0].status,
            answer.zones[0].provider_status.as_str()
        ),
        (SaleStatus::SoldOut, "SOLD_OUT")
    );
    let page = provider
        .account_page(4, 2, &CallContext::default())
        .await
        .unwrap();
    assert_eq!(page.total, 7);
    assert_eq!(page.allocations[0].0.state, AllocationState::Released);
    assert_eq!(page.allocations[0].1[0].key, "k");
    assert_eq!(
        sent(&server),
        pairs(&[
            (
                "DescribeEipAvailableResources",
                r#"{"eipChargeType":"PREPAID","zoneId":"SEL-A"}"#
            ),
            ("DescribeEipAddresses", r#"{"pageSize":2,"pageNum":4}"#),
        ])
    );
}
