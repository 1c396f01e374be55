//! Out of file descriptors: the binary runs with RLIMIT_NOFILE = 256 and
//! 300 silent connections exhaust it. The accept loop backs off instead of
//! spinning (its CPU, read from /proc/PID/stat, stays low), logs the
//! condition once per interval, a connection accepted before keeps being
//! served, and once the connections close new ones are accepted again.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::process;
use common::*;
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tonic::transport::Channel;

const OPEN_FILES: u64 = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_gateway_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // Silent connections are kept for a minute: they hold the descriptors.
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[server]\nhandshake_timeout_ms = 60000\nshutdown_drain_ms = 10\n{}",
        zenlayer_provider("zl", "http://127.0.0.1:9", "")
    );
    // The limit is set by prlimit(1), which then executes the gateway.
    let mut gateway = process::spawn_under(
        &[
            "prlimit",
            &format!("--nofile={OPEN_FILES}:{OPEN_FILES}"),
            "--",
        ],
        dir.path(),
        &config,
        |_| {},
    );
    let addr = gateway.wait_listening();
    let channel = channel(addr).await;
    let mut before = IpAllocationClient::new(channel);
    before
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();

    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // Wait until the gateway reports the exhaustion.
    let bound = Instant::now() + Duration::from_secs(20);
    while !gateway.log_text().contains("cannot accept connections") {
        assert!(
            Instant::now() < bound,
            "no log line:\n{}",
            gateway.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (cpu_before, wall_before) = (gateway.cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = gateway.cpu_time() - cpu_before;
    let wall = wall_before.elapsed();
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    eprintln!(
        "fd exhaustion: {:.1} % of one core over {:.1} s with 300 silent connections and {OPEN_FILES} descriptors",
        share * 100.0,
        wall.as_secs_f64()
    );
    // A spinning accept loop uses a whole core; a backing-off one nearly
    // nothing. Half a core leaves room for a loaded machine.
    assert!(
        share < 0.5,
        "the accept loop spins: {:.0} % of a core",
        share * 100.0
    );
    // The connection accepted before is still served.
    before
        .list_providers(pb::ListProvidersRequest {})
        .await
        .expect("an accepted connection keeps being served");
    let warnings = gateway
        .log_text()
        .matches("cannot accept connections")
        .count();
    assert!(
        warnings <= 2,
        "logged once per interval, not per failure: {warnings}"
    );

    drop(silent);
    // New connections are accepted again.
    let bound = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = async {
            let channel = Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(2))
                .connect()
                .await?;
            IpAllocationClient::new(channel)
                .list_providers(pb::ListProvidersRequest {})
                .await
                .map_err(Into::into)
        };
        let result: Result<_, Box<dyn std::error::Error>> =
            tokio::time::timeout(Duration::from_secs(3), attempt)
                .await
                .unwrap_or_else(|_| Err("timeout".into()));
        if result.is_ok() {
            break;
        }
        assert!(
            Instant::now() < bound,
            "the gateway did not recover: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway.signal(libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || gateway.wait_exit(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
}
