//! Zenlayer's asynchronous EIPs through the gateway, against the in-process
//! emulator: EIPs stay CREATING for the emulator's creation delay, then
//! AVAILABLE (SEL-A) or CREATE_FAILED (SIN-A). Covers `AllocateIp { wait }`,
//! `wait_timeout`, `terminate_failed`, `WatchAllocation` (to the end, and
//! cut by the call's deadline), plus `GetAllocation` on Aliyun and
//! `ListProviders` on the emulated gateway. Every loop is bounded.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::emulators::{self, EmulatedGateway, counters};
use common::*;
use ipalloc_gateway::emulator::zenlayer::{self, EipStatus};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use pb::allocate_ip_request::Params;
use tokio_stream::StreamExt;
use tonic::Code;

/// Short polling, so waits end soon after the EIPs do.
const FAST_POLL: &str = "poll_initial_ms = 50\npoll_max_ms = 200\n";

/// Upper bound of any one call or stream in these tests.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn options(creation_delay: Duration) -> EmulatorOptions {
    EmulatorOptions {
        creation_delay,
        ..EmulatorOptions::default()
    }
}

async fn start(creation_delay: Duration, zenlayer_extra: &str) -> EmulatedGateway {
    emulators::start(options(creation_delay), "", "", zenlayer_extra).await
}

fn zenlayer_emulator(eg: &EmulatedGateway) -> &zenlayer::ZenlayerEmulator {
    &eg.emulators.zenlayer.as_ref().expect("zenlayer emulator").1
}

fn postpaid(zone_id: &str, amount: u32) -> pb::ZenlayerAllocateParams {
    pb::ZenlayerAllocateParams {
        zone_id: zone_id.into(),
        charge_type: pb::ChargeType::Postpaid as i32,
        amount: Some(amount),
        ..Default::default()
    }
}

fn zenlayer_request(
    params: pb::ZenlayerAllocateParams,
    wait: bool,
    wait_timeout: Option<Duration>,
) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "zenlayer".into(),
        wait,
        wait_timeout: wait_timeout.map(|d| prost_types::Duration {
            seconds: d.as_secs() as i64,
            nanos: d.subsec_nanos() as i32,
        }),
        params: Some(Params::Zenlayer(params)),
        ..Default::default()
    }
}

async fn allocate(
    eg: &EmulatedGateway,
    request: pb::AllocateIpRequest,
) -> Result<pb::AllocateIpResponse, tonic::Status> {
    let mut request = tonic::Request::new(request);
    request.set_timeout(CALL_TIMEOUT);
    eg.gateway
        .client
        .clone()
        .allocate_ip(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Every message of a WatchAllocation stream and how it ended (`None`: the
/// stream closed cleanly), with `timeout` on the whole call.
async fn watch(
    eg: &EmulatedGateway,
    id: &str,
    timeout: Duration,
) -> (Vec<pb::Allocation>, Option<tonic::Status>) {
    let mut request = tonic::Request::new(pb::WatchAllocationRequest {
        provider: "zenlayer".into(),
        id: id.into(),
        region_id: String::new(),
    });
    request.set_timeout(timeout);
    let collect = async {
        let mut stream = eg
            .gateway
            .client
            .clone()
            .watch_allocation(request)
            .await
            .expect("the watch starts")
            .into_inner();
        let mut items = Vec::new();
        // Bounded: a watch sends only changes, and there are at most three
        // states here (CREATING, then AVAILABLE or CREATE_FAILED).
        for _ in 0..10 {
            match stream.next().await {
                Some(Ok(item)) => items.push(item),
                Some(Err(status)) => {
                    assert!(
                        stream.next().await.is_none(),
                        "nothing after an error status"
                    );
                    return (items, Some(status));
                }
                None => return (items, None),
            }
        }
        panic!("the watch sent more than 10 messages: {items:?}");
    };
    tokio::time::timeout(timeout + Duration::from_secs(5), collect)
        .await
        .expect("the watch ends on its own")
}

/// `amount` POSTPAID EIPs in `zone`, waiting for them or not; must succeed.
async fn allocate_in(
    eg: &EmulatedGateway,
    zone: &str,
    amount: u32,
    wait: bool,
) -> pb::AllocateIpResponse {
    allocate(eg, zenlayer_request(postpaid(zone, amount), wait, None))
        .await
        .unwrap()
}

/// The status EIP `id` has at the emulator.
fn eip_status(eg: &EmulatedGateway, id: &str) -> EipStatus {
    zenlayer_emulator(eg).eip(id).unwrap().eip_status
}

/// A watch of `id` that must end cleanly within `CALL_TIMEOUT`: what it sent.
async fn watch_to_the_end(eg: &EmulatedGateway, id: &str) -> Vec<pb::Allocation> {
    let (items, end) = watch(eg, id, CALL_TIMEOUT).await;
    assert!(end.is_none(), "ends cleanly: {end:?}");
    items
}

/// The state and provider status of each allocation.
fn briefs(allocations: &[pb::Allocation]) -> Vec<(pb::AllocationState, &str)> {
    allocations.iter().map(brief).collect()
}

fn brief(allocation: &pb::Allocation) -> (pb::AllocationState, &str) {
    (allocation.state(), allocation.provider_status.as_str())
}

/// (a) `wait` in SEL-A: every EIP comes back READY/AVAILABLE with an
/// address from the zone's pool, the same the emulator shows.
#[tokio::test]
async fn wait_in_sel_a_returns_every_eip_ready() {
    let creation_delay = Duration::from_millis(300);
    let eg = start(creation_delay, FAST_POLL).await;
    let started = Instant::now();
    let response = allocate_in(&eg, "SEL-A", 3, true).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= creation_delay,
        "the answer waited for the EIPs: {elapsed:?}"
    );
    assert_eq!(response.provider, "zenlayer");
    assert!(!response.provider_request_id.is_empty());
    assert_eq!(response.allocations.len(), 3);
    let mut addresses = Vec::new();
    for allocation in &response.allocations {
        assert_eq!(
            brief(allocation),
            (pb::AllocationState::Ready, "AVAILABLE"),
            "{allocation:?}"
        );
        assert_eq!(allocation.provider, "zenlayer");
        assert_eq!(allocation.provider_kind(), pb::ProviderKind::Zenlayer);
        assert_eq!(allocation.zone_id, "SEL-A");
        assert_eq!(allocation.netmask, 32);
        assert_eq!(allocation.failure_reason, "");
        assert!(!allocation.requires_instance_restart);
        let ip: Ipv4Addr = allocation.ip_address.parse().expect("an IPv4 address");
        // SEL-A's pool is 128.1.32.0/20.
        assert_eq!(
            u32::from(ip) >> 12,
            u32::from(Ipv4Addr::new(128, 1, 32, 0)) >> 12
        );
        addresses.push(ip);
        let eip = zenlayer_emulator(&eg).eip(&allocation.id).unwrap();
        assert_eq!(eip.eip_status, EipStatus::Available);
        assert_eq!(
            eip.ip_address.as_deref(),
            Some(allocation.ip_address.as_str())
        );
    }
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 3, "distinct addresses");
    assert_eq!(counters(&eg.zenlayer_url).await.allocations, 3);
}

/// (a) with an idempotency key: repeating the call answers the same EIPs,
/// now READY, without a second allocation.
#[tokio::test]
async fn wait_with_an_idempotency_key_is_answered_once() {
    let eg = start(Duration::from_millis(300), FAST_POLL).await;
    let request = pb::AllocateIpRequest {
        idempotency_key: "async-eips-1".into(),
        ..zenlayer_request(postpaid("HKG-A", 2), true, None)
    };
    let first = allocate(&eg, request.clone()).await.unwrap();
    let second = allocate(&eg, request).await.unwrap();
    assert_eq!(first, second);
    for allocation in &first.allocations {
        assert_eq!(brief(allocation), (pb::AllocationState::Ready, "AVAILABLE"));
        let eip = zenlayer_emulator(&eg).eip(&allocation.id).unwrap();
        assert!(
            eip.tags
                .tags
                .iter()
                .any(|t| t.key == "ipalloc-idempotency-key" && t.value == "async-eips-1"),
            "{eip:?}"
        );
    }
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!((seen.allocate_calls, seen.allocations), (1, 2), "{seen:?}");
}

/// (b) `wait` in SIN-A: the EIPs end FAILED/CREATE_FAILED with a reason;
/// by default they stay CREATE_FAILED at the provider, with
/// `terminate_failed = true` they are terminated (RECYCLE) and the reason
/// says so, while SEL-A EIPs that end AVAILABLE are left alone.
#[tokio::test]
async fn wait_in_sin_a_returns_failed_and_terminates_them_if_asked() {
    // (extra provider lines, the failure reason, the provider's status after)
    let cases = [
        (
            "",
            "Zenlayer reported CREATE_FAILED",
            EipStatus::CreateFailed,
        ),
        (
            "terminate_failed = true\n",
            "Zenlayer reported CREATE_FAILED; terminated for a full refund",
            EipStatus::Recycle,
        ),
    ];
    for (extra, reason, after) in cases {
        let eg = start(Duration::from_millis(300), &format!("{FAST_POLL}{extra}")).await;
        let response = allocate_in(&eg, "SIN-A", 2, true).await;
        assert_eq!(response.allocations.len(), 2);
        for allocation in &response.allocations {
            assert_eq!(
                brief(allocation),
                (pb::AllocationState::Failed, "CREATE_FAILED"),
                "{allocation:?}"
            );
            assert_eq!(allocation.ip_address, "");
            assert_eq!(allocation.zone_id, "SIN-A");
            assert_eq!(allocation.failure_reason, reason);
            assert_eq!(eip_status(&eg, &allocation.id), after);
        }
        let ready = allocate_in(&eg, "SEL-A", 1, true).await;
        assert_eq!(
            brief(&ready.allocations[0]),
            (pb::AllocationState::Ready, "AVAILABLE")
        );
        assert_eq!(
            eip_status(&eg, &ready.allocations[0].id),
            EipStatus::Available
        );
    }
}

/// (c) a `wait_timeout` shorter than the creation delay answers promptly
/// with the EIPs still PENDING; they finish later at the provider.
#[tokio::test]
async fn short_wait_timeout_returns_pending_promptly() {
    let creation_delay = Duration::from_secs(2);
    let eg = start(creation_delay, FAST_POLL).await;
    let started = Instant::now();
    let response = allocate(
        &eg,
        zenlayer_request(postpaid("FRA-A", 2), true, Some(Duration::from_millis(250))),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < creation_delay,
        "answered before the EIPs could finish: {elapsed:?}"
    );
    assert_eq!(response.allocations.len(), 2);
    for allocation in &response.allocations {
        assert_eq!(
            brief(allocation),
            (pb::AllocationState::Pending, "CREATING"),
            "{allocation:?}"
        );
        assert_eq!(allocation.ip_address, "");
        assert_eq!(eip_status(&eg, &allocation.id), EipStatus::Creating);
    }

    // The call's deadline bounds a wait without a wait_timeout the same way.
    let started = Instant::now();
    let mut request = tonic::Request::new(zenlayer_request(postpaid("FRA-A", 1), true, None));
    request.set_timeout(Duration::from_millis(400));
    let response = eg
        .gateway
        .client
        .clone()
        .allocate_ip(request)
        .await
        .unwrap()
        .into_inner();
    let elapsed = started.elapsed();
    assert!(elapsed < creation_delay, "{elapsed:?}");
    assert_eq!(
        brief(&response.allocations[0]),
        (pb::AllocationState::Pending, "CREATING")
    );
}

/// The last poll happens just before the wait ends, not a whole interval
/// early. Polls at about 50, 150 and 350 ms; the next interval (400 ms)
/// would overshoot a 700 ms wait, so the final poll comes at about 650 ms and
/// sees the EIP that became AVAILABLE at 600 ms. (Before the fix the wait
/// gave up at about 350 ms and answered PENDING.)
#[tokio::test]
async fn the_last_poll_comes_just_before_the_wait_ends() {
    let eg = start(
        Duration::from_millis(600),
        "poll_initial_ms = 50\npoll_max_ms = 2000\n",
    )
    .await;
    let response = allocate(
        &eg,
        zenlayer_request(postpaid("SEL-A", 1), true, Some(Duration::from_millis(700))),
    )
    .await
    .unwrap();
    assert_eq!(
        brief(&response.allocations[0]),
        (pb::AllocationState::Ready, "AVAILABLE")
    );
}

/// (d) WatchAllocation in SEL-A: CREATING, then AVAILABLE with the address,
/// then the stream ends.
#[tokio::test]
async fn watch_streams_creating_then_available_and_ends() {
    // Long enough that the watch surely starts while the EIP is CREATING.
    let eg = start(Duration::from_secs(1), FAST_POLL).await;
    let response = allocate_in(&eg, "SEL-A", 1, false).await;
    let id = response.allocations[0].id.clone();
    assert_eq!(
        brief(&response.allocations[0]),
        (pb::AllocationState::Pending, "CREATING")
    );

    let items = watch_to_the_end(&eg, &id).await;
    assert_eq!(
        briefs(&items),
        [
            (pb::AllocationState::Pending, "CREATING"),
            (pb::AllocationState::Ready, "AVAILABLE"),
        ]
    );
    assert_eq!(items[0].ip_address, "");
    assert!(items[1].ip_address.parse::<Ipv4Addr>().is_ok(), "{items:?}");
    for item in &items {
        assert_eq!(item.id, id);
        assert_eq!(item.zone_id, "SEL-A");
        assert_eq!(item.provider, "zenlayer");
    }
    assert_eq!(
        zenlayer_emulator(&eg)
            .eip(&id)
            .unwrap()
            .ip_address
            .as_deref(),
        Some(items[1].ip_address.as_str())
    );

    // Watching a terminal EIP sends its state once and ends.
    assert_eq!(watch_to_the_end(&eg, &id).await, items[1..]);
}

/// (d) WatchAllocation in SIN-A: CREATING, then CREATE_FAILED, then the end.
#[tokio::test]
async fn watch_streams_creating_then_create_failed_and_ends() {
    let eg = start(Duration::from_secs(1), FAST_POLL).await;
    let response = allocate_in(&eg, "SIN-A", 1, false).await;
    let id = response.allocations[0].id.clone();
    let items = watch_to_the_end(&eg, &id).await;
    assert_eq!(
        briefs(&items),
        [
            (pb::AllocationState::Pending, "CREATING"),
            (pb::AllocationState::Failed, "CREATE_FAILED"),
        ]
    );
    assert_eq!(items[1].failure_reason, "Zenlayer reported CREATE_FAILED");
    assert_eq!(items[1].ip_address, "");
    // A watch only reads: the EIP stays CREATE_FAILED at the provider.
    assert_eq!(eip_status(&eg, &id), EipStatus::CreateFailed);
}

/// (d) a call deadline shorter than the creation delay: CREATING, then the
/// stream ends with DEADLINE_EXCEEDED before the EIP is done.
#[tokio::test]
async fn watch_ends_with_deadline_exceeded_when_the_deadline_comes_first() {
    let creation_delay = Duration::from_secs(3);
    let eg = start(creation_delay, FAST_POLL).await;
    let response = allocate_in(&eg, "SEL-A", 1, false).await;
    let id = response.allocations[0].id.clone();

    let started = Instant::now();
    let (items, end) = watch(&eg, &id, Duration::from_millis(500)).await;
    let elapsed = started.elapsed();
    let status = end.expect("the stream ends with an error");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let (reason, domain, _) = error_info(&status);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("DEADLINE_EXCEEDED", "ipalloc-gateway")
    );
    assert!(status.message().contains(&id), "{status:?}");
    assert!(elapsed < creation_delay, "{elapsed:?}");
    assert_eq!(briefs(&items), [(pb::AllocationState::Pending, "CREATING")]);
    assert_eq!(eip_status(&eg, &id), EipStatus::Creating);
}

/// (e) GetAllocation on Aliyun answers the instance's public IP after an
/// allocation, and NOT_FOUND before one; on Zenlayer, the EIP.
#[tokio::test]
async fn get_allocation_after_allocations() {
    let eg = start(Duration::from_millis(300), FAST_POLL).await;
    let get = |provider: &str, id: &str| {
        let mut client = eg.gateway.client.clone();
        let request = requests::lookup(provider, id);
        async move {
            client
                .get_allocation(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };

    let status = get("aliyun", "i-emuready003").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("PUBLIC_IP_NOT_ALLOCATED", "ecs.aliyuncs.com")
    );
    assert_eq!(metadata["providerAction"], "DescribeInstanceAttribute");
    assert!(!metadata["providerRequestId"].is_empty());

    let allocated = allocate(
        &eg,
        requests::aliyun("aliyun", requests::instance("i-emuready003")),
    )
    .await
    .unwrap();
    let ip = allocated.allocations[0].ip_address.clone();
    assert_eq!(ip, "47.96.0.1");

    let allocation = get("aliyun", "i-emuready003").await.unwrap();
    assert_eq!(allocation.id, "i-emuready003");
    assert_eq!(allocation.ip_address, ip);
    assert_eq!(brief(&allocation), (pb::AllocationState::Ready, "Running"));
    assert_eq!(allocation.provider, "aliyun");
    assert_eq!(allocation.provider_kind(), pb::ProviderKind::Aliyun);
    assert_eq!(allocation.region_id, "cn-hangzhou");
    assert_eq!(allocation.zone_id, "cn-hangzhou-h");
    assert_eq!(allocation.instance_id, "i-emuready003");
    assert!(allocation.requires_instance_restart);

    // A seeded Stopped instance keeps its status word.
    allocate(
        &eg,
        requests::aliyun("aliyun", requests::instance("i-emustopped01")),
    )
    .await
    .unwrap();
    let stopped = get("aliyun", "i-emustopped01").await.unwrap();
    assert_eq!(brief(&stopped), (pb::AllocationState::Ready, "Stopped"));
    assert_eq!(stopped.ip_address, "47.96.0.2");

    // Zenlayer: the EIP by id, PENDING then READY.
    let response = allocate_in(&eg, "SEL-A", 1, false).await;
    let id = &response.allocations[0].id;
    let mut last = get("zenlayer", id).await.unwrap();
    for _ in 0..100 {
        if last.state() != pb::AllocationState::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = get("zenlayer", id).await.unwrap();
    }
    assert_eq!(brief(&last), (pb::AllocationState::Ready, "AVAILABLE"));
    assert!(last.ip_address.parse::<Ipv4Addr>().is_ok());

    let status = get("zenlayer", "eip-doesnotexist").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(error_info(&status).0, "ALLOCATION_NOT_FOUND");
}

/// (f) ListProviders on the emulated gateway: both accounts, pointed at the
/// emulators.
#[tokio::test]
async fn list_providers_on_the_emulated_gateway() {
    let eg = start(Duration::from_millis(300), FAST_POLL).await;
    let response = eg.gateway.list_providers().await;
    let names: Vec<&str> = response.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["aliyun", "zenlayer"]);

    let aliyun = &response.providers[0];
    assert_aliyun_capabilities(aliyun);
    assert_eq!(aliyun.endpoint, eg.aliyun_url);
    assert!(aliyun.endpoint.starts_with("http://127.0.0.1:"));
    let caps = aliyun.capabilities.as_ref().unwrap();
    assert_eq!(caps.signature, "HMAC-SHA1 (RPC signature V1)");

    let zenlayer = &response.providers[1];
    assert_zenlayer_capabilities(zenlayer);
    assert_eq!(zenlayer.endpoint, eg.zenlayer_url);
    assert!(zenlayer.endpoint.starts_with("http://127.0.0.1:"));

    // ListProviders calls no provider.
    for url in [&eg.aliyun_url, &eg.zenlayer_url] {
        assert_eq!(counters(url).await.requests, 0, "{url}");
    }
}

/// Issue 7 point 6: a key first answered READY with its addresses after
/// `wait`, replayed without `wait`, answers READY with the same addresses,
/// straight from the store (before: PENDING without addresses). A key
/// first answered PENDING is refreshed by its replay with one lookup, the
/// record is updated, and the next replay needs no lookup at all.
#[tokio::test]
async fn replays_never_report_less_than_the_first_answer() {
    let eg = start(Duration::from_millis(300), FAST_POLL).await;
    let waited = pb::AllocateIpRequest {
        idempotency_key: "replay-ready-1".into(),
        ..zenlayer_request(postpaid("SEL-A", 2), true, None)
    };
    let first = allocate(&eg, waited.clone()).await.unwrap();
    for allocation in &first.allocations {
        assert_eq!(brief(allocation), (pb::AllocationState::Ready, "AVAILABLE"));
        assert!(!allocation.ip_address.is_empty(), "{allocation:?}");
    }
    let before = counters(&eg.zenlayer_url).await.requests;
    let replay = allocate(
        &eg,
        pb::AllocateIpRequest {
            wait: false,
            ..waited
        },
    )
    .await
    .unwrap();
    assert_eq!(replay, first, "READY with the addresses, as first answered");
    assert_eq!(
        counters(&eg.zenlayer_url).await.requests,
        before,
        "answered from the store"
    );

    // Answered PENDING first; replayed once the EIP is AVAILABLE.
    let plain = pb::AllocateIpRequest {
        idempotency_key: "replay-pending-1".into(),
        ..zenlayer_request(postpaid("HKG-A", 1), false, None)
    };
    let pending = allocate(&eg, plain.clone()).await.unwrap();
    assert_eq!(pending.allocations[0].state(), pb::AllocationState::Pending);
    let id = pending.allocations[0].id.clone();
    let available = Instant::now() + Duration::from_secs(10);
    while eip_status(&eg, &id) != EipStatus::Available {
        assert!(Instant::now() < available, "the EIP becomes AVAILABLE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = counters(&eg.zenlayer_url).await.requests;
    let refreshed = allocate(&eg, plain.clone()).await.unwrap();
    let allocation = &refreshed.allocations[0];
    assert_eq!(allocation.id, id, "the original allocation");
    assert_eq!(brief(allocation), (pb::AllocationState::Ready, "AVAILABLE"));
    let address: Ipv4Addr = allocation.ip_address.parse().unwrap();
    assert_eq!(
        zenlayer_emulator(&eg).eip(&id).unwrap().ip_address,
        Some(address.to_string())
    );
    assert_eq!(refreshed.provider_request_id, pending.provider_request_id);
    assert_eq!(
        counters(&eg.zenlayer_url).await.requests,
        before + 1,
        "one lookup"
    );
    let again = allocate(&eg, plain).await.unwrap();
    assert_eq!(again, refreshed);
    assert_eq!(
        counters(&eg.zenlayer_url).await.requests,
        before + 1,
        "the record was updated"
    );
    assert_eq!(counters(&eg.zenlayer_url).await.allocate_calls, 2);
}

/// Issue 8 finding 2: `wait_timeout` of 2^63-1 seconds used to panic after
/// the EIP was created. Above the documented maximum (1 h) it is
/// INVALID_ARGUMENT before anything is sent; at the maximum, it works.
#[tokio::test]
async fn a_huge_wait_timeout_is_refused_before_anything_is_sent() {
    let eg = start(Duration::from_millis(100), FAST_POLL).await;
    let mut request = zenlayer_request(postpaid("SEL-A", 1), true, None);
    request.idempotency_key = "huge-wait-1".into();
    request.wait_timeout = Some(prost_types::Duration {
        seconds: i64::MAX,
        nanos: 0,
    });
    let status = allocate(&eg, request.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["wait_timeout"]);
    assert_eq!(counters(&eg.zenlayer_url).await.requests, 0);

    request.wait_timeout = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });
    let response = allocate(&eg, request).await.unwrap();
    assert_eq!(
        brief(&response.allocations[0]),
        (pb::AllocationState::Ready, "AVAILABLE")
    );
}
