//! Logs of the real binary: one access line per RPC with method, code,
//! reason, latency, peer, provider, idempotency key, replay and the EIPs;
//! bounded fields whatever the caller sent; no ANSI colours when stderr is
//! not a terminal.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::requests;
use common::{channel, process};
use ipalloc_gateway::emulator::zenlayer::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::{EmulatorOptions, start_emulators};
use serde_json::Value;

fn allocate(key: &str) -> pb::AllocateIpRequest {
    let params = pb::ZenlayerAllocateParams {
        amount: Some(2),
        ..requests::postpaid("SEL-A")
    };
    requests::keyed(key, requests::zenlayer("zenlayer", params))
}

/// Runs a few calls against the binary with `log` settings; returns its log.
async fn run_calls(log: &str) -> (String, Vec<pb::Allocation>) {
    let emulators = start_emulators(&EmulatorOptions {
        aliyun: None,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let endpoint = emulators.zenlayer.as_ref().unwrap().0.url();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[log]\n{log}\n[server]\nshutdown_drain_ms = 10\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{SANDBOX_ACCESS_KEY_ID}\"\naccess_key_password = \"{SANDBOX_ACCESS_KEY_PASSWORD}\"\n"
    );
    let mut gateway = process::spawn(dir.path(), &config, |_| {});
    let addr = gateway.wait_listening();
    let mut client = IpAllocationClient::new(channel(addr).await);
    let first = client
        .allocate_ip(allocate("log-key-1"))
        .await
        .unwrap()
        .into_inner();
    client.allocate_ip(allocate("log-key-1")).await.unwrap();
    let bad = pb::AllocateIpRequest {
        provider: "p".repeat(10_000),
        ..Default::default()
    };
    client.allocate_ip(bad).await.unwrap_err();
    client
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();
    gateway.signal(libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || {
        let status = gateway.wait_exit(Duration::from_secs(30));
        (status, gateway.log_text())
    })
    .await
    .unwrap();
    assert!(status.0.success());
    (status.1, first.allocations)
}

#[tokio::test]
async fn one_access_line_per_rpc_with_every_field() {
    let (log, eips) = run_calls("format = \"json\"").await;
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "ipalloc_gateway::access")
        .map(|v| v["fields"].clone())
        .collect();
    assert_eq!(lines.len(), 4, "one line per RPC:\n{log}");
    for line in &lines {
        assert_eq!(line["message"], "rpc");
        assert!(
            line["latency_ms"].as_f64().is_some_and(|l| l >= 0.0),
            "{line}"
        );
        assert!(
            line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
    }
    let (first, replay, bad, list) = (&lines[0], &lines[1], &lines[2], &lines[3]);
    assert_eq!(first["method"], "/ipalloc.v1.IpAllocation/AllocateIp");
    assert_eq!(first["code"], "OK");
    assert_eq!(first["provider"], "zenlayer");
    assert_eq!(first["idempotency_key"], "log-key-1");
    assert_eq!(first["replay"], false);
    let expected: Vec<String> = eips
        .iter()
        .map(|a| format!("{}={}", a.id, a.ip_address))
        .collect();
    assert_eq!(first["eips"], expected.join(","));
    assert_eq!(replay["replay"], true);
    assert_eq!(replay["eips"], first["eips"]);
    assert_eq!(bad["code"], "INVALID_ARGUMENT");
    assert_eq!(bad["reason"], "INVALID_REQUEST");
    assert!(
        bad["provider"].as_str().unwrap().chars().count() <= 131,
        "bounded: {bad}"
    );
    assert_eq!(list["method"], "/ipalloc.v1.IpAllocation/ListProviders");
    assert_eq!(list["code"], "OK");
}

#[tokio::test]
async fn no_colours_when_stderr_is_a_file() {
    let (log, _) = run_calls("format = \"text\"").await;
    assert!(log.contains("ipalloc_gateway::access: rpc"), "{log}");
    // Text fields as they are, unquoted.
    assert!(log.contains(" peer=127.0.0.1:"), "{log}");
    assert!(log.contains(" code=OK "), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file:\n{log}"
    );
}
