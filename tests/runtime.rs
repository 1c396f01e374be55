//! The runtime's worker threads: one unless `--worker-threads` or
//! `IPALLOC_WORKER_THREADS` says otherwise (the number the runtime really
//! has is in the "listening" line), a gateway on any of them serves calls,
//! and a number outside 1 to 256 is refused before anything starts.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::process::{self, BIN};
use common::*;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tonic::Code;

fn config() -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n[server]\nshutdown_drain_ms = 0\n{}",
        zenlayer_provider("zl", "http://127.0.0.1:9", "")
    )
}

/// Starts a gateway (`prepare` adds arguments or variables), checks that it
/// answers a call, and returns the worker count of its "listening" line.
async fn workers_of(prepare: impl FnOnce(&mut Command)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = process::spawn(dir.path(), &config(), prepare);
    let addr = tokio::task::block_in_place(|| gateway.wait_listening());
    let mut client = IpAllocationClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    // Refused by validation: served by the workers, no provider involved.
    let status = client
        .allocate_ip(ipalloc_gateway::pb::AllocateIpRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let log = tokio::task::block_in_place(|| gateway.terminate());
    let line = log
        .lines()
        .find(|l| l.contains("ipalloc-gateway listening"))
        .unwrap()
        .to_owned();
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("worker_threads="))
        .unwrap_or_else(|| panic!("no worker_threads in {line}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_unless_told_otherwise_and_every_count_serves() {
    assert_eq!(workers_of(|_| {}).await, "1");
    assert_eq!(
        workers_of(|c| {
            c.arg("--worker-threads").arg("3");
        })
        .await,
        "3"
    );
    assert_eq!(
        workers_of(|c| {
            c.env("IPALLOC_WORKER_THREADS", "2");
        })
        .await,
        "2"
    );
}

#[test]
fn a_count_outside_1_to_256_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config()).unwrap();
    let cases: [(&[&str], Option<&str>); 5] = [
        (&["--worker-threads", "0"], None),
        (&["--worker-threads", "257"], None),
        (&["--worker-threads", "two"], None),
        (&["--worker-threads", "99999999999999999999999"], None),
        (&[], Some("0")),
    ];
    for (args, env) in cases {
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(&path)
            .arg("--check-config")
            .args(args)
            .env_clear();
        if let Some(value) = env {
            command.env("IPALLOC_WORKER_THREADS", value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains("--worker-threads") && stderr.contains("from 1 to 256"),
            "{args:?} {env:?}: {stderr}"
        );
    }
}
