//! The admin listener over real sockets:
//! - `/metrics` of the binary (its metrics are the process's own) after a
//!   scripted sequence against the emulators: successes, a replay, a key
//!   conflict, a mapped error, a throttled call retried (with a duplicate
//!   waiting for it), an unknown outcome reconciled, a rate-limit refusal
//!   and a wait until READY, each with the exact counts it must leave;
//! - `/ready` turns 503 while draining (after SIGTERM, `/live` still 200),
//!   and while the idempotency store is unusable (injected write errors,
//!   in process), and back;
//! - the sandbox prints its `/metrics` URL, which answers;
//! - only GET of the three paths is served, and connections are capped.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::emulators::{counters, set_faults};
use common::process;
use common::requests;
use ipalloc_gateway::admin::{AdminServer, Metrics, Readiness};
use ipalloc_gateway::emulator::{FaultConfig, aliyun, zenlayer};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators, start_emulators};
use ipalloc_gateway::server;
use tonic::Code;
use tonic::transport::Channel;

type Client = IpAllocationClient<Channel>;

/// An HTTP client (reqwest is built without a crypto provider; the
/// gateway installs ring, so do the same).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// GET `http://{admin}{path}`: status and body.
async fn get(admin: SocketAddr, path: &str) -> (u16, String) {
    let response = http()
        .get(format!("http://{admin}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The value of the sample `series` (name and labels exactly as exposed)
/// in a `/metrics` text; 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

fn urls(emulators: &Emulators) -> (String, String) {
    let aliyun = emulators.aliyun.as_ref().unwrap().0.url();
    let zenlayer = emulators.zenlayer.as_ref().unwrap().0.url();
    (aliyun, zenlayer)
}

/// The binary's configuration: both emulators, and `limited`, a Zenlayer
/// account of one request per second.
fn config(emulators: &Emulators, server: &str) -> String {
    let (aliyun_url, zenlayer_url) = urls(emulators);
    let zenlayer = |name: &str, extra: &str| {
        format!(
            "[providers.{name}]\nkind = \"zenlayer\"\nendpoint = \"{zenlayer_url}\"\n\
             access_key_id = \"{}\"\naccess_key_password = \"{}\"\n{extra}\n",
            zenlayer::SANDBOX_ACCESS_KEY_ID,
            zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
        )
    };
    format!(
        "listen = \"127.0.0.1:0\"\n[server]\n{server}\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [providers.aliyun]\nkind = \"aliyun\"\nregion = \"{}\"\nendpoint = \"{aliyun_url}\"\n\
         access_key_id = \"{}\"\naccess_key_secret = \"{}\"\n{}{}",
        aliyun::DEFAULT_REGION,
        aliyun::SANDBOX_ACCESS_KEY_ID,
        aliyun::SANDBOX_ACCESS_KEY_SECRET,
        // One poll, after the EIP is AVAILABLE (the emulator takes 2 s).
        zenlayer("zenlayer", "poll_initial_ms = 2500"),
        zenlayer(
            "limited",
            "rate_per_second = 1\nburst = 1\nmax_attempts = 1"
        ),
    )
}

/// The admin address from the binary's "admin listening" log line.
fn admin_address(gateway: &process::Gateway) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = gateway.log_text();
        if let Some(address) = log
            .lines()
            .find(|l| l.contains("admin listening"))
            .and_then(|l| l.split("address=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.parse().ok())
        {
            return address;
        }
        assert!(Instant::now() < deadline, "no admin listener:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn aliyun_allocation(key: &str, instance: &str) -> pb::AllocateIpRequest {
    requests::keyed(
        key,
        requests::aliyun("aliyun", requests::instance(instance)),
    )
}

fn zenlayer_allocation(provider: &str, key: &str, zone: &str) -> pb::AllocateIpRequest {
    requests::keyed(key, requests::zenlayer(provider, requests::postpaid(zone)))
}

/// Waits (bounded) until the emulator at `url` has seen `requests` API
/// requests.
async fn until_requests(url: &str, requests: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while counters(url).await.requests < requests {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the scripted sequence; returns the outcomes it checked on the way.
async fn scripted_sequence(client: &mut Client, emulators: &Emulators) {
    let (aliyun_url, _) = urls(emulators);
    // A success, its replay, and the key reused with other parameters.
    let first = aliyun_allocation("m-ok", "i-emuready001");
    client.allocate_ip(first.clone()).await.unwrap();
    client.allocate_ip(first).await.unwrap();
    let reused = client
        .allocate_ip(aliyun_allocation("m-ok", "i-emuready004"))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument, "{reused:?}");

    // A mapped error: TYO-A sells no EIPs.
    let unsold = client
        .allocate_ip(zenlayer_allocation("zenlayer", "m-tyo", "TYO-A"))
        .await
        .unwrap_err();
    assert_eq!(unsold.code(), Code::FailedPrecondition, "{unsold:?}");

    // Throttled, then retried (Alibaba asks for 100 ms): the first attempt
    // is held 3 s and throttled, the fault is gone before the retry; a
    // duplicate arriving meanwhile waits for it, then replays.
    let before = counters(&aliyun_url).await.requests;
    set_faults(
        &aliyun_url,
        &FaultConfig {
            throttle_probability: 1.0,
            latency_ms: 3000,
            ..FaultConfig::default()
        },
    )
    .await;
    let throttled = aliyun_allocation("m-throttled", "i-emuready002");
    let call = tokio::spawn({
        let (mut client, request) = (client.clone(), throttled.clone());
        async move { client.allocate_ip(request).await }
    });
    until_requests(&aliyun_url, before + 1).await;
    set_faults(&aliyun_url, &FaultConfig::default()).await;
    let duplicate = tokio::spawn({
        let mut client = client.clone();
        async move { client.allocate_ip(throttled).await }
    });
    let answered = call.await.unwrap().unwrap().into_inner();
    let replayed = duplicate.await.unwrap().unwrap().into_inner();
    assert_eq!(answered, replayed);
    assert_eq!(counters(&aliyun_url).await.throttled, 1);

    // Allocated, then the connection dropped: an unknown outcome, which the
    // reconciliation finds.
    set_faults(
        &aliyun_url,
        &FaultConfig {
            drop_after_allocate_probability: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    client
        .allocate_ip(aliyun_allocation("m-dropped", "i-emuready005"))
        .await
        .unwrap();
    set_faults(&aliyun_url, &FaultConfig::default()).await;

    // One request per second on `limited`: the second call, with 300 ms
    // left, is refused at once, unsent.
    client
        .allocate_ip(zenlayer_allocation("limited", "m-limited-1", "SEL-A"))
        .await
        .unwrap();
    let mut late = tonic::Request::new(zenlayer_allocation("limited", "m-limited-2", "SEL-A"));
    late.set_timeout(Duration::from_millis(300));
    let refused = client.allocate_ip(late).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");

    // Waited for until READY: one poll.
    let mut waited = zenlayer_allocation("zenlayer", "m-wait", "SEL-A");
    waited.wait = true;
    let ready = client.allocate_ip(waited).await.unwrap().into_inner();
    assert_eq!(ready.allocations[0].state(), pb::AllocationState::Ready);
}

/// What the scripted sequence must leave in `/metrics`, series by series.
#[rustfmt::skip]
const EXPECTED: &[(&str, f64)] = &[
    // The calls: m-ok twice, m-throttled and its duplicate, m-dropped,
    // m-limited-1 and m-wait answered; m-ok reused, TYO-A and the refusal not.
    (r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="OK"}"#, 7.0),
    (r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="INVALID_ARGUMENT"}"#, 1.0),
    (r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="FAILED_PRECONDITION"}"#, 1.0),
    (r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="RESOURCE_EXHAUSTED"}"#, 1.0),
    (r#"ipalloc_server_calls_in_flight{grpc_method="ipalloc.v1.IpAllocation/AllocateIp"}"#, 0.0),
    // Every request sent, the retry included; none for the refusal.
    (r#"ipalloc_provider_attempts_total{provider="aliyun",action="AllocatePublicIpAddress",outcome="ok",code=""}"#, 2.0),
    (r#"ipalloc_provider_attempts_total{provider="aliyun",action="AllocatePublicIpAddress",outcome="error",code="Throttling*"}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="aliyun",action="AllocatePublicIpAddress",outcome="no_answer",code=""}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="aliyun",action="DescribeInstanceAttribute",outcome="ok",code=""}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="zenlayer",action="AllocateEipAddresses",outcome="error",code="INVALID_EIP_TYPE_ZONE_NO_SELL"}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="zenlayer",action="AllocateEipAddresses",outcome="ok",code=""}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="zenlayer",action="DescribeEipAddresses",outcome="ok",code=""}"#, 1.0),
    (r#"ipalloc_provider_attempts_total{provider="limited",action="AllocateEipAddresses",outcome="ok",code=""}"#, 1.0),
    (r#"ipalloc_provider_retries_total{provider="aliyun"}"#, 1.0),
    (r#"ipalloc_provider_retries_total{provider="zenlayer"}"#, 0.0),
    (r#"ipalloc_provider_retry_budget_refusals_total{provider="aliyun"}"#, 0.0),
    (r#"ipalloc_rate_limit_refusals_total{provider="limited",lane="allocation"}"#, 1.0),
    (r#"ipalloc_rate_limit_refusals_total{provider="aliyun",lane="allocation"}"#, 0.0),
    // Admitted: m-ok, the throttled attempt and its retry, the dropped one,
    // the reconciliation's lookup.
    (r#"ipalloc_rate_limit_wait_seconds_count{provider="aliyun",lane="allocation"}"#, 5.0),
    (r#"ipalloc_rate_limit_wait_seconds_count{provider="zenlayer",lane="read"}"#, 1.0),
    (r#"ipalloc_allocations_outcome_unknown_total{provider="aliyun"}"#, 1.0),
    (r#"ipalloc_reconciliations_total{provider="aliyun",result="found"}"#, 1.0),
    (r#"ipalloc_reconciliations_total{provider="aliyun",result="failed"}"#, 0.0),
    // m-ok again, and the duplicate after its wait.
    (r#"ipalloc_idempotency_replays_total{provider="aliyun"}"#, 2.0),
    (r#"ipalloc_idempotency_conflicts_total{provider="aliyun"}"#, 1.0),
    (r#"ipalloc_idempotency_inflight_waits_total{provider="aliyun",result="finished"}"#, 1.0),
    (r#"ipalloc_eip_time_to_ready_seconds_count{provider="zenlayer"}"#, 1.0),
    // Each call claimed its key once, in the local store, which never failed.
    (r#"ipalloc_store_operation_duration_seconds_count{store="local",operation="begin"}"#, 10.0),
    (r#"ipalloc_store_operation_errors_total{store="local",operation="begin",error="unavailable"}"#, 0.0),
    ("ipalloc_watches_open", 0.0),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_sequence_exactly() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = process::spawn(dir.path(), &config(&emulators, ""), |_| {});
    let mut client = gateway.client().await;
    let admin = admin_address(&gateway);
    scripted_sequence(&mut client, &emulators).await;

    let (status, text) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    let wrong: Vec<String> = EXPECTED
        .iter()
        .filter(|(series, want)| value(&text, series) != *want)
        .map(|(series, want)| format!("{series}: {} (want {want})", value(&text, series)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}\n{text}");
    // Each call claimed its key once, in the local store.
    let begins =
        r#"ipalloc_store_operation_duration_seconds_count{store="local",operation="begin"}"#;
    assert_eq!(value(&text, begins), 10.0, "{text}");
    // Every series has a bounded label set: no key, id or address in it.
    for leaked in ["m-ok", "i-emuready", "47.96.", "eip-"] {
        assert!(!text.contains(leaked), "{leaked} in /metrics");
    }
    let commit = format!(r#"commit="{}""#, env!("IPALLOC_GIT_COMMIT"));
    assert!(text.contains(&commit), "{text}");
    gateway.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_while_draining_and_live_stays_200() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = "shutdown_drain_ms = 3000\nshutdown_timeout_ms = 10000";
    let mut gateway = process::spawn(dir.path(), &config(&emulators, server), |_| {});
    gateway.wait_listening();
    let admin = admin_address(&gateway);
    assert_eq!(get(admin, "/ready").await, (200, "ready\n".into()));
    assert_eq!(get(admin, "/live").await, (200, "live\n".into()));

    gateway.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let ready = get(admin, "/ready").await;
        if ready.0 == 503 {
            assert_eq!(ready.1, "not ready: shutting down\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready after SIGTERM: {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still alive, still serving metrics, during the drain.
    assert_eq!(get(admin, "/live").await.0, 200);
    assert_eq!(get(admin, "/metrics").await.0, 200);
    let status = gateway.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_idempotency_store() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (gateway, faults) =
        common::gateway_with_io_faults(&emulators.provider_configs(), dir.path());
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = AdminServer::serve(
        admin_listener,
        Metrics::global(),
        Readiness::of(&gateway.allocator),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server::serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    let mut client = IpAllocationClient::new(common::channel(addr).await);
    let address = admin.address();
    let wait_for = |want: (u16, &'static str)| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = get(address, "/ready").await;
            if (status, body.as_str()) == want {
                return;
            }
            assert!(Instant::now() < deadline, "/ready stayed {status} {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    wait_for((200, "ready\n")).await;

    faults.fail_writes(true);
    let refused = client
        .allocate_ip(zenlayer_allocation("zenlayer", "during-the-fault", "SEL-A"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    wait_for((503, "not ready: the idempotency store is unusable\n")).await;
    assert_eq!(get(address, "/live").await.0, 200, "alive all the same");
    let (_, text) = get(address, "/metrics").await;
    let failed = r#"ipalloc_store_operation_errors_total{store="local",operation="begin",error="unavailable"}"#;
    assert!(value(&text, failed) >= 1.0, "{text}");

    faults.fail_writes(false);
    wait_for((200, "ready\n")).await;
    client
        .allocate_ip(zenlayer_allocation("zenlayer", "after-the-fault", "SEL-A"))
        .await
        .unwrap();

    let _ = stop.send(());
    served.await.unwrap().unwrap();
    admin.stop().await;
}

#[tokio::test]
async fn only_get_of_the_three_paths_is_served() {
    let (_store, usable) = tokio::sync::watch::channel(true);
    let readiness = Readiness::new(usable, server::Drain::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = AdminServer::serve(listener, Metrics::global(), readiness).unwrap();
    let address = admin.address();
    assert_eq!(get(address, "/nope").await.0, 404);
    assert_eq!(get(address, "/metrics/").await.0, 404);
    let posted = http()
        .post(format!("http://{address}/ready"))
        .body("x".repeat(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405);
    assert_eq!(posted.headers()["allow"], "GET");
    let metrics = http()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("# TYPE ipalloc_build_info gauge")
    );
    // Headers over the bound close the connection without an answer.
    let huge = http()
        .get(format!("http://{address}/live"))
        .header("x-padding", "p".repeat(64 * 1024))
        .send()
        .await;
    assert!(huge.is_err() || huge.unwrap().status().as_u16() == 431);
    admin.stop().await;
}

/// At most `MAX_CONNECTIONS` at once: one more is closed as soon as it is
/// accepted, and a slot freed serves again.
#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (_store, usable) = tokio::sync::watch::channel(true);
    let readiness = Readiness::new(usable, server::Drain::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = AdminServer::serve(listener, Metrics::global(), readiness).unwrap();
    let address = admin.address();
    let mut held = Vec::new();
    for _ in 0..ipalloc_gateway::admin::MAX_CONNECTIONS {
        held.push(tokio::net::TcpStream::connect(address).await.unwrap());
    }
    // The held ones are all accepted (each answers a request)...
    for stream in &mut held {
        stream
            .write_all(b"GET /live HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
    }
    // ...and the next one is closed without an answer.
    let mut extra = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), extra.read(&mut buffer))
        .await
        .expect("closed at once, not left waiting");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http().get(format!("http://{address}/live")).send().await {
            Ok(response) if response.status().as_u16() == 200 => break,
            _ => assert!(Instant::now() < deadline, "the freed slot never served"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.stop().await;
}

#[test]
fn the_sandbox_prints_its_metrics_url() {
    let (_sandbox, banner) = process::with_banner(&["--sandbox", "--listen", "127.0.0.1:0"]);
    let url = banner
        .lines()
        .find_map(|l| l.strip_prefix("metrics: "))
        .unwrap_or_else(|| panic!("no metrics URL in the banner:\n{banner}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let text = runtime.block_on(async {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    });
    assert!(text.contains("ipalloc_build_info"), "{text}");
}
