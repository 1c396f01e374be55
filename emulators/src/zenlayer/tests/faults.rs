//! Injected faults (throttling, 5xx, dropped answers) and their counters,
//! and a fault configuration that refuses to start.

use reqwest::header::HeaderMap;
use serde_json::json;

use super::*;

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

    // A read is refused the same way (the gateway's provider seeing this
    // answer: tests/provider_zenlayer.rs).
    let (status, value) = h.call(DESCRIBE, &json!({})).await;
    assert_error(
        status,
        &value,
        503,
        "SERVICE_TEMPORARY_UNAVAILABLE",
        "5xx read",
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
    let body = json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 3, "tags": {"tags": [{"key": "req", "value": "r-1"}]}});
    let result = h.send_unanswered(ALLOCATE, &body).await;
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
