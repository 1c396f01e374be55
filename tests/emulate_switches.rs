//! `ipalloc-gateway emulate --lenient --aliyun-repeat returns-existing`: the
//! switches reach the running emulators (the banner names them, and the
//! Alibaba emulator answers by them), and the defaults are the strict
//! reading and `AllocatedAlready`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::free_port;
use common::process::{BIN, Emulate, emulate};
use ipalloc_gateway::emulator::aliyun::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET};
use ipalloc_gateway::provider::aliyun::signer;

/// Starts `emulate` with the Alibaba emulator only; returns the process,
/// its port and its banner.
fn emulate_aliyun(extra: &[&str]) -> (Emulate, u16, String) {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["--aliyun", address.as_str()];
    args.extend_from_slice(extra);
    let (running, banner) = emulate(&args);
    (running, port, banner)
}

/// A V1-signed AllocatePublicIpAddress; returns status and `Code` (or
/// `IpAddress` on success).
async fn allocate(port: u16, extra: &[(&str, &str)]) -> (u16, String) {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let now = time::OffsetDateTime::now_utc();
    let timestamp = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut params = vec![
        ("Action", "AllocatePublicIpAddress"),
        ("Version", "2014-05-26"),
        ("Format", "JSON"),
        ("AccessKeyId", SANDBOX_ACCESS_KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce.as_str()),
        ("Timestamp", timestamp.as_str()),
        ("InstanceId", "i-emuhasip001"),
    ];
    params.extend_from_slice(extra);
    let query = signer::sign_v1("POST", &params, SANDBOX_ACCESS_KEY_SECRET).into_query();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/?{query}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    let word = body["Code"]
        .as_str()
        .or_else(|| body["IpAddress"].as_str())
        .unwrap_or_default()
        .to_owned();
    (status, word)
}

#[tokio::test]
async fn defaults_are_strict_and_allocated_already() {
    let (_guard, port, banner) = emulate_aliyun(&[]);
    assert!(
        banner.contains("reading strict  repeated allocation allocated-already"),
        "{banner}"
    );
    assert_eq!(
        allocate(port, &[]).await,
        (403, "AllocatedAlready".to_owned())
    );
    assert_eq!(
        allocate(port, &[("DryRun", "false")]).await,
        (400, "InvalidParameter".to_owned()),
        "an unknown parameter"
    );
}

#[tokio::test]
async fn lenient_and_returns_existing_switch_the_answers() {
    let (_guard, port, banner) =
        emulate_aliyun(&["--lenient", "--aliyun-repeat", "returns-existing"]);
    assert!(
        banner.contains("reading lenient  repeated allocation returns-existing"),
        "{banner}"
    );
    assert_eq!(allocate(port, &[]).await, (200, "47.96.0.10".to_owned()));
    assert_eq!(
        allocate(port, &[("DryRun", "false")]).await,
        (200, "47.96.0.10".to_owned()),
        "an unknown parameter is ignored"
    );
}

#[test]
fn an_unknown_rule_is_refused() {
    let output = Command::new(BIN)
        .args([
            "emulate",
            "--aliyun",
            "127.0.0.1:0",
            "--aliyun-repeat",
            "sometimes",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not allocated-already or returns-existing"),
        "{stderr}"
    );
}
