//! The gateway's real `ZenlayerProvider` against the Zenlayer emulator
//! (crate `ipalloc-emulators`) over real sockets on 127.0.0.1: CREATING
//! then AVAILABLE, CREATE_FAILED in SIN-A, PREPAID order numbers, the
//! emulated errors and faults as the provider maps them, and the gateway's
//! wire types reading what the emulator writes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::providers;
use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::emulator::zenlayer::{
    self, ChargeType, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD, ZenlayerEmulator,
    ZenlayerEmulatorConfig,
};
use ipalloc_gateway::emulator::{CounterSnapshot, RunningEmulator};
use ipalloc_gateway::provider::error::ProviderError;
use ipalloc_gateway::provider::model::{
    AllocateSpec, AllocationLookup, AllocationState, ChargeType as SpecCharge,
};
use ipalloc_gateway::provider::zenlayer::{ZenlayerCredentials, ZenlayerProvider, wire};
use ipalloc_gateway::provider::{CallContext, Provider};
use serde_json::{Value, json};

/// A running emulator and an HTTP client for its admin routes.
struct Harness {
    running: RunningEmulator,
    emulator: Arc<ZenlayerEmulator>,
    http: reqwest::Client,
}

async fn harness(delay: Duration) -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = zenlayer::start(
        listener,
        ZenlayerEmulatorConfig {
            creation_delay: delay,
            ..ZenlayerEmulatorConfig::default()
        },
    )
    .await
    .unwrap();
    Harness {
        running,
        emulator,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

impl Harness {
    fn provider(&self) -> ZenlayerProvider {
        let credentials = ZenlayerCredentials {
            access_key_id: SANDBOX_ACCESS_KEY_ID.to_owned(),
            access_key_password: Secret::new(SANDBOX_ACCESS_KEY_PASSWORD),
        };
        let mut settings = providers::zenlayer("zl-emulated", &self.running.url(), credentials);
        settings.http.request_timeout = Duration::from_secs(10);
        ZenlayerProvider::new(settings).unwrap()
    }

    async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.running.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn counters(&self) -> CounterSnapshot {
        serde_json::from_value(self.admin_get("/_admin/counters").await).unwrap()
    }
}

fn lookup(id: &str) -> AllocationLookup {
    AllocationLookup {
        id: id.to_owned(),
        region_id: None,
    }
}

#[tokio::test]
async fn provider_allocates_and_sees_creating_then_available() {
    let h = harness(Duration::from_millis(300)).await;
    let provider = h.provider();
    let result = provider
        .allocate(
            &AllocateSpec::Zenlayer(providers::zenlayer_allocate(
                "SEL-A",
                SpecCharge::Postpaid,
                2,
            )),
            &CallContext::default(),
        )
        .await
        .unwrap();
    assert!(result.provider_request_id.starts_with('T'));
    assert_eq!(result.order_number, None);
    assert_eq!(result.allocations.len(), 2);
    let id = result.allocations[0].id.clone();
    assert!(id.starts_with("eip-"), "{id}");

    let first = provider
        .get_allocation(&lookup(&id), &CallContext::default())
        .await
        .unwrap();
    assert_eq!(first.state, AllocationState::Pending);
    assert_eq!(first.provider_status, "CREATING");
    assert_eq!(first.ip_address, None);

    let mut ready = None;
    for _ in 0..100 {
        let allocation = provider
            .get_allocation(&lookup(&id), &CallContext::default())
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
            &AllocateSpec::Zenlayer(providers::zenlayer_allocate(
                "SIN-A",
                SpecCharge::Postpaid,
                1,
            )),
            &CallContext::default(),
        )
        .await
        .unwrap();
    let id = &result.allocations[0].id;
    let mut last = None;
    for _ in 0..100 {
        let allocation = provider
            .get_allocation(&lookup(id), &CallContext::default())
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
            &AllocateSpec::Zenlayer(providers::zenlayer_allocate(
                "HKG-A",
                SpecCharge::Prepaid { period_months: 3 },
                1,
            )),
            &CallContext::default(),
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
        .get_allocation(&lookup(&result.allocations[0].id), &CallContext::default())
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
            &AllocateSpec::Zenlayer(providers::zenlayer_allocate(
                "XXX-A",
                SpecCharge::Postpaid,
                1,
            )),
            &CallContext::default(),
        )
        .await
        .unwrap_err();
    let ProviderError::Api(e) = err else {
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
        .get_allocation(&lookup("eip-nope"), &CallContext::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn provider_sees_injected_server_errors() {
    let h = harness(Duration::ZERO).await;
    let response = h
        .http
        .put(format!("{}/_admin/faults", h.running.url()))
        .header("content-type", "application/json")
        .body(json!({"error_5xx_probability": 1.0}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Our provider sees the same codes.
    let err = h
        .provider()
        .allocate(
            &AllocateSpec::Zenlayer(providers::zenlayer_allocate(
                "SEL-A",
                SpecCharge::Postpaid,
                1,
            )),
            &CallContext::default(),
        )
        .await
        .unwrap_err();
    let ProviderError::Api(e) = err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (e.http_status, e.code.as_str()),
        (503, "SERVICE_TEMPORARY_UNAVAILABLE")
    );
    assert!(h.emulator.eips().is_empty());
}

#[tokio::test]
async fn describe_answer_decodes_with_the_gateway_wire_type() {
    let h = harness(Duration::ZERO).await;
    let provider = h.provider();
    for charge in [
        SpecCharge::Postpaid,
        SpecCharge::Prepaid { period_months: 1 },
    ] {
        provider
            .allocate(
                &AllocateSpec::Zenlayer(providers::zenlayer_allocate("SEL-A", charge, 1)),
                &CallContext::default(),
            )
            .await
            .unwrap();
    }
    // The admin view is the DescribeEipAddresses `dataSet` item.
    let eips = h.admin_get("/_admin/eips").await;
    assert_eq!(eips.as_array().unwrap().len(), 2);
    for eip in eips.as_array().unwrap() {
        // It decodes with the gateway's own wire type.
        let _: wire::EipAddress = serde_json::from_value(eip.clone()).unwrap();
    }
}
