//! `ipalloc-gateway emulate`: only the emulators, at the addresses given,
//! with the faults given at start (visible and changeable through the admin
//! endpoint), for users' own integration tests.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::free_port;
use common::process::{BIN, emulate};

#[tokio::test]
async fn emulate_serves_both_emulators_with_faults_set_at_start() {
    let (aliyun, zenlayer) = (free_port(), free_port());
    let (aliyun_address, zenlayer_address) = (
        format!("127.0.0.1:{aliyun}"),
        format!("127.0.0.1:{zenlayer}"),
    );
    let (guard, banner) = emulate(&[
        "--aliyun",
        &aliyun_address,
        "--zenlayer",
        &zenlayer_address,
        "--creation-delay-ms",
        "100",
        "--faults",
        r#"{"throttle_probability": 1.0}"#,
    ]);
    assert!(
        banner.contains(&format!("http://127.0.0.1:{aliyun}")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("http://127.0.0.1:{zenlayer}/api/v2/bmc")),
        "{banner}"
    );
    assert!(banner.contains("LTAI5tSandboxAccessKey01"), "{banner}");

    // reqwest is built without a bundled crypto provider (the gateway installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    for port in [aliyun, zenlayer] {
        let faults: serde_json::Value = http
            .get(format!("http://127.0.0.1:{port}/_admin/faults"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(faults["throttle_probability"], 1.0, "port {port}");
    }
    // The fault is live: any Zenlayer API call is throttled.
    let throttled = http
        .post(format!("http://127.0.0.1:{zenlayer}/api/v2/bmc"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status().as_u16(), 429);
    drop(guard);

    let bad = Command::new(BIN)
        .args([
            "emulate",
            "--zenlayer",
            "127.0.0.1:0",
            "--faults",
            r#"{"latency": 5}"#,
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--faults"));
    let none = Command::new(BIN)
        .arg("emulate")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
}
