//! The gateway's real `ZenlayerProvider` against the Zenlayer emulator
//! (crate `ipalloc-emulators`) over real sockets on 127.0.0.1: CREATING
//! then AVAILABLE, CREATE_FAILED in SIN-A, PREPAID order numbers, the
//! emulated errors and faults as the provider maps them, and the gateway's
//! wire types reading what the emulator writes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::emulators::{Alone, zenlayer_alone};
use common::settings;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::zenlayer::{
    ChargeType, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD, ZenlayerEmulator,
    ZenlayerEmulatorConfig,
};
use ipalloc_gateway::provider::error::{ApiError, ProviderError};
use ipalloc_gateway::provider::model::{
    AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    ChargeType as SpecCharge,
};
use ipalloc_gateway::provider::zenlayer::{ZenlayerProvider, wire};
use ipalloc_gateway::provider::{CallContext, Provider};

type Harness = Alone<ZenlayerEmulator>;

/// The emulator, its EIPs CREATING for `delay`, and the gateway's provider
/// pointed at it with the sandbox key (10 s a request).
async fn harness(delay: Duration) -> (Harness, ZenlayerProvider) {
    let harness = zenlayer_alone(ZenlayerEmulatorConfig {
        creation_delay: delay,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let mut settings = settings::zenlayer(
        &harness.url(),
        SANDBOX_ACCESS_KEY_ID,
        SANDBOX_ACCESS_KEY_PASSWORD,
    );
    settings.http.request_timeout = Duration::from_secs(10);
    let provider = ZenlayerProvider::new(settings).unwrap();
    (harness, provider)
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
