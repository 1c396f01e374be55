//! Inbound limits: the server-wide concurrency cap sheds excess calls at once
//! (UNAVAILABLE with ErrorInfo and RetryInfo, nothing sent to a provider)
//! while health checks keep answering, and oversized messages are refused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::emulators::{self, counters, set_faults};
use common::*;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn zenlayer(key: &str, tags: usize) -> pb::AllocateIpRequest {
    let params = pb::ZenlayerAllocateParams {
        tags: (0..tags)
            .map(|i| pb::Tag {
                key: format!("k{i}-{}", "x".repeat(100)),
                value: "v".repeat(128),
            })
            .collect(),
        ..requests::postpaid("SEL-A")
    };
    requests::keyed(key, requests::zenlayer("zenlayer", params))
}

#[tokio::test]
async fn calls_over_the_cap_are_shed_at_once_and_health_still_answers() {
    let top = "[server]\nmax_concurrent_calls = 2\n";
    let env = emulators::start(EmulatorOptions::default(), top, "", "").await;
    set_faults(
        &env.zenlayer_url,
        &FaultConfig {
            latency_ms: 600,
            ..FaultConfig::default()
        },
    )
    .await;
    let mut calls = Vec::new();
    for i in 0..2 {
        let mut client = env.gateway.client.clone();
        calls.push(tokio::spawn(async move {
            client.allocate_ip(zenlayer(&format!("busy-{i}"), 0)).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let shed = env
        .gateway
        .client
        .clone()
        .allocate_ip(zenlayer("shed-1", 0))
        .await
        .unwrap_err();
    let shed_after = started.elapsed();
    assert_eq!(shed.code(), Code::Unavailable, "{shed:?}");
    let (reason, domain, metadata) = error_info(&shed);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("GATEWAY_OVERLOADED", "ipalloc-gateway")
    );
    assert_eq!(metadata["maxConcurrentCalls"], "2");
    assert!(retry_delay(&shed).is_some());
    assert!(
        shed_after < Duration::from_millis(300),
        "refused at once, not queued: {shed_after:?}"
    );

    let channel = channel(env.gateway.addr).await;
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health is never shed");
    assert_eq!(health.into_inner().status, 1);

    for call in calls {
        call.await
            .unwrap()
            .expect("the calls under the cap succeed");
    }
    assert_eq!(
        counters(&env.zenlayer_url).await.allocations,
        2,
        "the shed call sent nothing"
    );
    // Capacity is back.
    env.gateway
        .client
        .clone()
        .allocate_ip(zenlayer("after", 0))
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_requests_are_refused_before_any_work() {
    let top = "[server]\nmax_request_bytes = 4096\n";
    let env = emulators::start(EmulatorOptions::default(), top, "", "").await;
    let status = env
        .gateway
        .client
        .clone()
        .allocate_ip(zenlayer("big", 30))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("4096"), "{}", status.message());
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("REQUEST_TOO_LARGE", "ipalloc-gateway")
    );
    assert_eq!(metadata["maxRequestBytes"], "4096");
    assert_eq!(counters(&env.zenlayer_url).await.requests, 0);
    env.gateway
        .client
        .clone()
        .allocate_ip(zenlayer("small", 2))
        .await
        .unwrap();
}
