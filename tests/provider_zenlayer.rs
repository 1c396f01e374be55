//! The gateway's real `ZenlayerProvider` against the Zenlayer emulator
//! (crate `ipalloc-emulators`) over real sockets on 127.0.0.1: CREATING
//! then AVAILABLE, CREATE_FAILED in SIN-A, PREPAID order numbers, the
//! emulated errors and faults as the provider maps them, the gateway's
//! wire types reading what the emulator writes, and the lifecycle: release
//! (twice, after a lost answer, refused, purged), batch reads, availability
//! and the account's pages.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::emulators::{Alone, reset_counters, zenlayer_alone};
use common::settings;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::zenlayer::{
    ChargeType, EipStatus, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD, ZenlayerEmulator,
    ZenlayerEmulatorConfig,
};
use ipalloc_gateway::provider::error::{ApiError, ProviderError};
use ipalloc_gateway::provider::model::{
    AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState, Availability,
    AvailabilitySpec, ChargeType as SpecCharge, ChargeTypeName, ReleaseResult, ReleaseSpec,
    SaleStatus,
};
use ipalloc_gateway::provider::zenlayer::{IDEMPOTENCY_TAG_KEY, ZenlayerProvider, wire};
use ipalloc_gateway::provider::{CallContext, Provider};
use tonic::Code;

type Harness = Alone<ZenlayerEmulator>;

/// The emulator, its EIPs CREATING for `delay`, and the gateway's provider
/// pointed at it with the sandbox key (10 s a request).
async fn harness(delay: Duration) -> (Harness, ZenlayerProvider) {
    recycling_harness(delay, Duration::ZERO).await
}

/// [`harness`] whose terminated EIPs are RECYCLING for `recycling`, and
/// whose provider polls from 20 ms doubling to 100 ms.
async fn recycling_harness(delay: Duration, recycling: Duration) -> (Harness, ZenlayerProvider) {
    let harness = zenlayer_alone(ZenlayerEmulatorConfig {
        creation_delay: delay,
        recycling_delay: recycling,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let mut settings = settings::zenlayer(
        &harness.url(),
        SANDBOX_ACCESS_KEY_ID,
        SANDBOX_ACCESS_KEY_PASSWORD,
    );
    settings.resilience.attempt_timeout = Duration::from_secs(10);
    settings.follow.poll_initial = Duration::from_millis(20);
    settings.follow.poll_max = Duration::from_millis(100);
    let provider = ZenlayerProvider::new(settings).unwrap();
    (harness, provider)
}

/// A call context with a 10 s deadline.
fn ctx() -> CallContext {
    CallContext {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(10)),
        ..CallContext::default()
    }
}

async fn release(
    provider: &ZenlayerProvider,
    id: &str,
    purge: bool,
) -> Result<ReleaseResult, ProviderError> {
    let spec = ReleaseSpec {
        id: id.to_owned(),
        region_id: None,
        purge,
    };
    provider.release(&spec, &ctx()).await
}

/// One POSTPAID /32 EIP in `zone`, its id.
async fn one_eip(provider: &ZenlayerProvider, zone: &str) -> String {
    let result = allocate(provider, zone, SpecCharge::Postpaid, 1)
        .await
        .unwrap();
    result.allocations[0].id.clone()
}

async fn availability(
    provider: &ZenlayerProvider,
    zone: Option<&str>,
    netmask: Option<u32>,
) -> Result<Availability, ProviderError> {
    let spec = AvailabilitySpec::Zenlayer {
        zone_id: zone.map(str::to_owned),
        netmask,
        charge: ChargeTypeName::Postpaid,
    };
    provider.check_availability(&spec, &ctx()).await
}

fn lookup(id: &str) -> AllocationLookup {
    AllocationLookup {
        id: id.to_owned(),
        region_id: None,
    }
}

async fn allocate(
    provider: &ZenlayerProvider,
    zone: &str,
    charge: SpecCharge,
    amount: u32,
) -> Result<AllocateResult, ProviderError> {
    provider
        .allocate(
            &AllocateSpec::Zenlayer(settings::zenlayer_allocate(zone, charge, amount)),
            &CallContext::default(),
        )
        .await
}

async fn get(provider: &ZenlayerProvider, id: &str) -> Result<Allocation, ProviderError> {
    provider
        .get_allocation(&lookup(id), &CallContext::default())
        .await
}

/// Looks EIP `id` up every 50 ms (at most 100 times) until it is no longer
/// pending: that allocation, and the provider statuses seen before it.
async fn until_settled(provider: &ZenlayerProvider, id: &str) -> (Allocation, Vec<String>) {
    let mut pending = Vec::new();
    for _ in 0..100 {
        let allocation = get(provider, id).await.unwrap();
        if allocation.state != AllocationState::Pending {
            return (allocation, pending);
        }
        pending.push(allocation.provider_status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the EIP never left CREATING");
}

/// The API error a call failed with.
fn api<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ApiError {
    match result {
        Err(ProviderError::Api(api)) => *api,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn provider_allocates_and_sees_creating_then_available() {
    let (h, provider) = harness(Duration::from_millis(300)).await;
    let result = allocate(&provider, "SEL-A", SpecCharge::Postpaid, 2)
        .await
        .unwrap();
    assert!(result.provider_request_id.starts_with('T'));
    assert_eq!(result.order_number, None);
    assert_eq!(result.allocations.len(), 2);
    let id = result.allocations[0].id.clone();
    assert!(id.starts_with("eip-"), "{id}");

    let first = get(&provider, &id).await.unwrap();
    assert_eq!(first.state, AllocationState::Pending);
    assert_eq!(first.provider_status, "CREATING");
    assert_eq!(first.ip_address, None);

    let (ready, _) = until_settled(&provider, &id).await;
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
    let (_h, provider) = harness(Duration::from_millis(200)).await;
    let result = allocate(&provider, "SIN-A", SpecCharge::Postpaid, 1)
        .await
        .unwrap();
    let (failed, pending) = until_settled(&provider, &result.allocations[0].id).await;
    assert!(
        pending.iter().all(|status| status == "CREATING"),
        "{pending:?}"
    );
    assert_eq!(failed.state, AllocationState::Failed);
    assert_eq!(failed.provider_status, "CREATE_FAILED");
    assert_eq!(failed.ip_address, None);
}

#[tokio::test]
async fn provider_prepaid_gets_an_order_number() {
    let (h, provider) = harness(Duration::ZERO).await;
    let result = allocate(
        &provider,
        "HKG-A",
        SpecCharge::Prepaid { period_months: 3 },
        1,
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
    let allocation = get(&provider, &result.allocations[0].id).await.unwrap();
    assert_eq!(allocation.state, AllocationState::Ready);
    assert!(allocation.ip_address.unwrap().starts_with("98.98."));
}

#[tokio::test]
async fn provider_maps_emulated_errors() {
    let (_h, provider) = harness(Duration::ZERO).await;
    let e = api(allocate(&provider, "XXX-A", SpecCharge::Postpaid, 1).await);
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (404, "INVALID_ZONE_NOT_FOUND")
    );
    assert_eq!(e.message, "The specified zoneId `XXX-A` is not found");
    assert!(e.request_id.unwrap().starts_with('T'));
    // Unknown EIP: an empty dataSet, which the provider reports as not found.
    let err = get(&provider, "eip-nope").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn provider_sees_injected_server_errors() {
    let (h, provider) = harness(Duration::ZERO).await;
    h.set_faults(&FaultConfig {
        error_5xx_probability: 1.0,
        ..FaultConfig::default()
    })
    .await;
    // Our provider sees the same codes.
    let e = api(allocate(&provider, "SEL-A", SpecCharge::Postpaid, 1).await);
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (503, "SERVICE_TEMPORARY_UNAVAILABLE")
    );
    assert!(h.emulator.eips().is_empty());
}

#[tokio::test]
async fn describe_answer_decodes_with_the_gateway_wire_type() {
    let (h, provider) = harness(Duration::ZERO).await;
    for charge in [
        SpecCharge::Postpaid,
        SpecCharge::Prepaid { period_months: 1 },
    ] {
        allocate(&provider, "SEL-A", charge, 1).await.unwrap();
    }
    // The admin view is the DescribeEipAddresses `dataSet` item.
    let eips = h.admin_get("/_admin/eips").await;
    assert_eq!(eips.as_array().unwrap().len(), 2);
    for eip in eips.as_array().unwrap() {
        // It decodes with the gateway's own wire type.
        let _: wire::EipAddress = serde_json::from_value(eip.clone()).unwrap();
    }
}

#[tokio::test]
async fn release_terminates_a_postpaid_eip_which_shows_recycling() {
    let (h, provider) = recycling_harness(Duration::ZERO, Duration::from_secs(3600)).await;
    let id = one_eip(&provider, "SEL-A").await;
    let released = release(&provider, &id, false).await.unwrap();
    assert!(released.provider_request_id.starts_with('T'));
    assert!(!released.already_released && !released.purged);
    let a = &released.allocation;
    assert_eq!(
        (a.id.as_str(), a.state, a.provider_status.as_str()),
        (id.as_str(), AllocationState::Released, "RECYCLING")
    );
    assert_eq!(
        (a.zone_id.as_deref(), a.ip_address.as_deref()),
        (Some("SEL-A"), None)
    );
    assert_eq!(
        h.emulator.eip(&id).unwrap().eip_status,
        EipStatus::Recycling
    );
    let counters = h.counters().await;
    assert_eq!((counters.release_calls, counters.released), (1, 1));
}

#[tokio::test]
async fn release_twice_answers_already_released() {
    let (h, provider) = harness(Duration::ZERO).await;
    let id = one_eip(&provider, "FRA-A").await;
    let first = release(&provider, &id, false).await.unwrap();
    assert_eq!(
        (
            first.already_released,
            first.allocation.provider_status.as_str()
        ),
        (false, "RECYCLE")
    );
    let second = release(&provider, &id, false).await.unwrap();
    assert!(second.already_released);
    // Released before the call: no request id, as when nothing is sent.
    assert_eq!(second.provider_request_id, "");
    assert_eq!(
        (
            second.allocation.state,
            second.allocation.provider_status.as_str()
        ),
        (AllocationState::Released, "RECYCLE")
    );
    // The second Terminate was refused, not performed.
    assert_eq!(h.counters().await.release_calls, 1);
}

#[tokio::test]
async fn release_after_a_lost_answer_is_reconciled_with_one_terminate() {
    let (h, provider) = harness(Duration::ZERO).await;
    let id = one_eip(&provider, "HKG-A").await;
    h.set_faults(&FaultConfig {
        drop_after_release_probability: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let released = release(&provider, &id, false).await.unwrap();
    assert!(!released.already_released);
    assert_eq!(released.provider_request_id, "", "the answer was lost");
    assert_eq!(
        (
            released.allocation.state,
            released.allocation.provider_status.as_str()
        ),
        (AllocationState::Released, "RECYCLE")
    );
    let counters = h.counters().await;
    assert_eq!(
        (counters.release_calls, counters.released, counters.dropped),
        (1, 1, 1),
        "exactly one TerminateEipAddress performed"
    );
}

#[tokio::test]
async fn a_retryable_refusal_is_returned_and_nothing_is_released() {
    let (h, provider) = harness(Duration::ZERO).await;
    let id = one_eip(&provider, "HKG-A").await;
    h.set_faults(&FaultConfig {
        error_5xx_probability: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let e = api(release(&provider, &id, false).await);
    assert_eq!(e.code, "SERVICE_TEMPORARY_UNAVAILABLE");
    h.set_faults(&FaultConfig::default()).await;
    assert_eq!(
        h.emulator.eip(&id).unwrap().eip_status,
        EipStatus::Available
    );
}

#[tokio::test]
async fn release_refusals_carry_the_provider_codes() {
    let (h, provider) = harness(Duration::ZERO).await;
    let prepaid = allocate(
        &provider,
        "SEL-A",
        SpecCharge::Prepaid { period_months: 1 },
        1,
    )
    .await
    .unwrap()
    .allocations[0]
        .id
        .clone();
    h.emulator.set_creation_delay(Duration::from_secs(3600));
    let creating = one_eip(&provider, "SEL-A").await;
    for (id, code, reason) in [
        (
            &prepaid,
            "OPERATION_DENIED_EIP_SUBSCRIPTION",
            "EIP_PREPAID_NOT_RELEASABLE",
        ),
        (
            &creating,
            "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
            "EIP_STATUS_NOT_SUPPORTED",
        ),
    ] {
        let error = release(&provider, id, true).await.unwrap_err();
        let class = error.classification();
        assert_eq!(
            (class.grpc, class.reason),
            (Code::FailedPrecondition, reason),
            "{code}"
        );
        let e = api::<()>(Err(error));
        assert_eq!((e.http_status, e.code.as_str()), (403, code));
        assert!(e.request_id.unwrap().starts_with('T'));
    }
    assert_eq!(h.counters().await.release_calls, 0);
    assert_eq!(h.emulator.eips().len(), 2, "nothing was released");
}

#[tokio::test]
async fn release_of_an_unknown_eip_is_not_found() {
    let (_h, provider) = harness(Duration::ZERO).await;
    let error = release(&provider, "eip-unknown", false).await.unwrap_err();
    match &error {
        ProviderError::NotFound {
            reason, request_id, ..
        } => {
            assert_eq!(*reason, "EIP_NOT_FOUND");
            assert!(request_id.as_deref().unwrap().starts_with('T'));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.classification().grpc, Code::NotFound);
}

#[tokio::test]
async fn purge_waits_for_the_recycle_bin_then_the_eip_is_gone() {
    let (h, provider) = recycling_harness(Duration::ZERO, Duration::from_millis(300)).await;
    let id = one_eip(&provider, "SEL-A").await;
    let started = std::time::Instant::now();
    let released = release(&provider, &id, true).await.unwrap();
    assert!(released.purged && !released.already_released);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(h.emulator.eip(&id).is_none());
    let gone = get(&provider, &id).await.unwrap_err();
    assert!(matches!(gone, ProviderError::NotFound { .. }), "{gone:?}");
    // One Terminate and one Release performed (the early Release refused).
    assert_eq!(h.counters().await.release_calls, 2);
    // Purged: the provider no longer knows it.
    let again = release(&provider, &id, true).await.unwrap_err();
    assert!(matches!(again, ProviderError::NotFound { .. }), "{again:?}");
}

#[tokio::test]
async fn purge_of_an_eip_already_in_the_bin() {
    let (h, provider) = harness(Duration::ZERO).await;
    let id = one_eip(&provider, "SEL-A").await;
    release(&provider, &id, false).await.unwrap();
    let purged = release(&provider, &id, true).await.unwrap();
    assert!(purged.already_released && purged.purged);
    assert!(h.emulator.eip(&id).is_none());
}

#[tokio::test]
async fn describe_batch_chunks_by_100_and_reports_released_eips() {
    let (h, provider) = harness(Duration::ZERO).await;
    let result = allocate(&provider, "SEL-A", SpecCharge::Postpaid, 3)
        .await
        .unwrap();
    let mut ids: Vec<String> = result.allocations.iter().map(|a| a.id.clone()).collect();
    release(&provider, &ids[0], false).await.unwrap();
    let known = ids.clone();
    ids.extend((0..147).map(|n| format!("eip-unknown-{n}")));
    reset_counters(&h.url()).await;
    let described = provider.describe_batch(None, &ids, &ctx()).await.unwrap();
    let mut seen: Vec<(String, AllocationState)> =
        described.into_iter().map(|a| (a.id, a.state)).collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (known[0].clone(), AllocationState::Released),
        (known[1].clone(), AllocationState::Ready),
        (known[2].clone(), AllocationState::Ready),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, expected);
    assert_eq!(
        h.counters().await.requests,
        2,
        "150 ids in two Describe calls"
    );
}

#[tokio::test]
async fn availability_per_zone_and_netmask() {
    let (_h, provider) = harness(Duration::ZERO).await;
    for (zone, netmask, status, available) in [
        ("SEL-A", 32, SaleStatus::Sell, true),
        ("LAX-A", 32, SaleStatus::Shortage, true),
        ("LAX-A", 29, SaleStatus::SoldOut, false),
        ("DXB-A", 32, SaleStatus::SoldOut, false),
    ] {
        let answer = availability(&provider, Some(zone), Some(netmask))
            .await
            .unwrap();
        assert!(answer.provider_request_id.starts_with('T'), "{zone}");
        assert_eq!(answer.available, available, "{zone} /{netmask}");
        assert_eq!(
            answer.zones.len(),
            1,
            "{zone} /{netmask}: {:?}",
            answer.zones
        );
        let row = &answer.zones[0];
        assert_eq!(
            (row.zone_id.as_str(), row.netmask, row.status),
            (zone, netmask, status)
        );
        assert!(answer.conditions.is_empty());
    }
    // Without a netmask: every netmask the zone sells.
    let lax = availability(&provider, Some("LAX-A"), None).await.unwrap();
    assert_eq!(lax.zones.len(), 5);
    assert!(lax.available);
    // A zone that sells no EIPs: no rows.
    let tokyo = availability(&provider, Some("TYO-A"), Some(32))
        .await
        .unwrap();
    assert!(!tokyo.available && tokyo.zones.is_empty());
    // Every zone: the selling ones.
    let every = availability(&provider, None, Some(32)).await.unwrap();
    let zones: Vec<&str> = every.zones.iter().map(|z| z.zone_id.as_str()).collect();
    assert!(
        zones.contains(&"SEL-A") && zones.contains(&"DXB-A"),
        "{zones:?}"
    );
    assert!(!zones.contains(&"TYO-A"));
    // An unknown zone: the provider's code.
    let error = availability(&provider, Some("XXX-A"), None)
        .await
        .unwrap_err();
    assert_eq!(error.classification().reason, "ZONE_NOT_FOUND");
    let e = api::<()>(Err(error));
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (404, "INVALID_ZONE_NOT_FOUND")
    );
}

#[tokio::test]
async fn account_pages_list_every_eip_with_its_tags() {
    let (_h, provider) = harness(Duration::ZERO).await;
    let ctx_with_key = CallContext {
        idempotency_key: Some("key-1".to_owned()),
        ..ctx()
    };
    let spec = AllocateSpec::Zenlayer(settings::zenlayer_allocate(
        "SEL-A",
        SpecCharge::Postpaid,
        5,
    ));
    provider.allocate(&spec, &ctx_with_key).await.unwrap();
    let mut seen = Vec::new();
    for (page, expected) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let answer = provider.account_page(page, 2, &ctx()).await.unwrap();
        assert_eq!(answer.total, 5, "page {page}");
        assert_eq!(answer.allocations.len(), expected, "page {page}");
        for (allocation, tags) in answer.allocations {
            assert_eq!(allocation.state, AllocationState::Ready);
            let keys: Vec<(&str, &str)> = tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect();
            assert_eq!(keys, [("env", "test"), (IDEMPOTENCY_TAG_KEY, "key-1")]);
            seen.push(allocation.id);
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every EIP on exactly one page");
    // The provider checks the paging (pageNum starts at 1).
    let e = api(provider.account_page(0, 2, &ctx()).await);
    assert_eq!(e.code, "INVALID_PARAMETER_LESS_MINIMUM");
}

#[tokio::test]
async fn purge_after_lost_answers_reads_the_eip_back_each_time() {
    let (h, provider) = harness(Duration::ZERO).await;
    let id = one_eip(&provider, "FRA-A").await;
    h.set_faults(&FaultConfig {
        drop_after_release_probability: 1.0,
        ..FaultConfig::default()
    })
    .await;
    // Terminate performed, answer lost: read back in the recycle bin.
    // Release performed, answer lost: read back gone, so purged.
    let released = release(&provider, &id, true).await.unwrap();
    assert!(released.purged && !released.already_released);
    assert!(h.emulator.eip(&id).is_none());
    let counters = h.counters().await;
    assert_eq!(
        (counters.release_calls, counters.dropped),
        (2, 2),
        "one Terminate and one Release, neither sent twice"
    );
}

#[tokio::test]
async fn purge_gives_up_at_the_deadline_and_the_eip_stays_released() {
    let (h, provider) = recycling_harness(Duration::ZERO, Duration::from_secs(3600)).await;
    let id = one_eip(&provider, "SEL-A").await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    let spec = ReleaseSpec {
        id: id.clone(),
        region_id: None,
        purge: true,
    };
    let ctx = CallContext {
        deadline: Some(deadline),
        ..CallContext::default()
    };
    let released = provider.release(&spec, &ctx).await.unwrap();
    assert!(!released.purged, "still RECYCLING when the deadline came");
    assert!(tokio::time::Instant::now() <= deadline + Duration::from_millis(200));
    assert_eq!(released.allocation.provider_status, "RECYCLING");
    assert_eq!(
        h.emulator.eip(&id).unwrap().eip_status,
        EipStatus::Recycling
    );
    // Only the Terminate was performed; the refused Release calls count not.
    assert_eq!(h.counters().await.release_calls, 1);
}
