//! Start and stop of the real binary: a signal at any point of start-up or
//! under load ends it with exit 0 and no lost idempotency record; health
//! turns NOT_SERVING at once while calls are still served for the drain
//! period; an open watch and a `wait` end with UNAVAILABLE + RetryInfo; an
//! allocation whose caller has gone is finished and recorded.
//!
//! Random delays come from a seed printed by each test (`SHUTDOWN_SEED=N`
//! repeats a run).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::emulators::{counters, reset_counters, set_faults};
use common::process;
use common::*;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::zenlayer::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators, start_emulators};
use rand::{Rng, SeedableRng};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const KEY_TAG: &str = "ipalloc-idempotency-key";

fn seeded(test: &str) -> rand::rngs::StdRng {
    let seed = std::env::var("SHUTDOWN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: SHUTDOWN_SEED={seed}");
    rand::rngs::StdRng::seed_from_u64(seed)
}

async fn zenlayer_emulator(creation_delay: Duration) -> (Emulators, String) {
    let emulators = start_emulators(&EmulatorOptions {
        aliyun: None,
        creation_delay,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let url = emulators.zenlayer.as_ref().unwrap().0.url();
    (emulators, url)
}

/// A configuration on 127.0.0.1:0 with one Zenlayer provider at `endpoint`.
fn config(endpoint: &str, server: &str, store: Option<&std::path::Path>) -> String {
    let idempotency = store
        .map(|p| format!("[idempotency]\npath = \"{}\"\n", p.display()))
        .unwrap_or_default();
    format!(
        "listen = \"127.0.0.1:0\"\n[server]\n{server}\n{idempotency}\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{SANDBOX_ACCESS_KEY_ID}\"\naccess_key_password = \"{SANDBOX_ACCESS_KEY_PASSWORD}\"\n"
    )
}

fn allocate(key: &str, wait: bool) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        wait,
        ..requests::keyed(
            key,
            requests::zenlayer("zenlayer", requests::postpaid("SEL-A")),
        )
    }
}

async fn client(addr: std::net::SocketAddr) -> IpAllocationClient<Channel> {
    IpAllocationClient::new(channel(addr).await)
}

/// Every EIP the emulator made, by the idempotency key it was tagged with.
fn eips_by_key(emulators: &Emulators) -> HashMap<String, String> {
    emulators
        .zenlayer
        .as_ref()
        .unwrap()
        .1
        .eips()
        .into_iter()
        .map(|eip| {
            let key = eip
                .tags
                .tags
                .iter()
                .find(|t| t.key == KEY_TAG)
                .map(|t| t.value.clone())
                .expect("every gateway EIP carries its key");
            (key, eip.eip_id)
        })
        .collect()
}

/// Checks that every EIP the emulator made has a complete record in the
/// store the stopped gateway left (read directly), then restarts the
/// gateway in-process on that store: every key answers its EIP, and not one
/// allocation reaches the provider. (A replay of an EIP still CREATING may
/// refresh it with one Describe: replays never go backwards.)
async fn assert_every_allocation_replays(
    store: &std::path::Path,
    endpoint: &str,
    emulators: &Emulators,
) {
    use prost::Message as _;
    let made = eips_by_key(emulators);
    {
        let records = ipalloc_gateway::idempotency::IdempotencyStore::open(
            Some(store),
            Duration::from_secs(86_400),
        )
        .expect("the store the gateway left opens");
        for (key, eip) in &made {
            match records.get(key, std::time::SystemTime::now()) {
                Ok(Some(ipalloc_gateway::idempotency::Record::Completed { response, .. })) => {
                    let response = pb::AllocateIpResponse::decode(response.as_slice())
                        .expect("a stored response decodes");
                    assert_eq!(response.allocations[0].id, *eip, "key {key}");
                }
                other => panic!("key {key} (EIP {eip}) has no complete record: {other:?}"),
            }
        }
        records.close();
    }
    // The replays check records, not latency or rate limits: the provider
    // answers at once now, the account's rate leaves room for one refresh
    // per key, and the keys replay side by side.
    let unlimited = format!(
        "{}rate_per_second = 10000\nburst = 10000\n",
        config(endpoint, "", Some(store))
    );
    let gateway = start_gateway(&unlimited).await;
    set_faults(endpoint, &FaultConfig::default()).await;
    reset_counters(endpoint).await;
    let mut replays = tokio::task::JoinSet::new();
    for (key, eip) in made.clone() {
        let mut client = gateway.client.clone();
        replays.spawn(async move {
            let replay = client
                .allocate_ip(allocate(&key, false))
                .await
                .unwrap_or_else(|s| panic!("replay of {key}: {s:?}"))
                .into_inner();
            assert_eq!(replay.allocations[0].id, eip, "key {key}");
        });
    }
    while let Some(replayed) = replays.join_next().await {
        replayed.expect("a replay panicked");
    }
    let after = counters(endpoint).await;
    assert_eq!(
        after.allocate_calls,
        0,
        "{} keys replayed without a second allocation",
        made.len()
    );
    assert!(
        after.requests <= made.len() as u64,
        "at most one refresh per replayed key: {} requests for {} keys",
        after.requests,
        made.len()
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_at_any_point_of_start_up_ends_with_exit_0() {
    let mut rng = seeded("start-up");
    let dir = tempfile::tempdir().unwrap();
    let text = config(
        "http://127.0.0.1:9",
        "shutdown_drain_ms = 10",
        Some(&dir.path().join("store.redb")),
    );
    // How long start-up takes from the handler to the bound port, so the
    // random delays cover all of it and a little serving.
    let startup = {
        let mut gateway = process::spawn(dir.path(), &text, |_| {});
        while !gateway.handles_sigterm() {
            std::thread::sleep(Duration::from_micros(200));
        }
        let from = Instant::now();
        gateway.wait_listening();
        let took = from.elapsed();
        gateway.signal(libc::SIGTERM);
        assert!(gateway.wait_exit(Duration::from_secs(30)).success());
        took
    };
    let span = (startup.as_micros() as u64 * 3 / 2).max(1_000);
    let mut late = 0;
    for run in 0..50 {
        let mut gateway = process::spawn(dir.path(), &text, |_| {});
        // The earliest moment any program can react to a signal: its
        // handler is installed (the first thing main does).
        let installed = Instant::now() + Duration::from_secs(20);
        while !gateway.handles_sigterm() {
            assert!(Instant::now() < installed, "no SIGTERM handler");
            std::thread::sleep(Duration::from_micros(200));
        }
        let delay = Duration::from_micros(rng.random_range(0..span));
        std::thread::sleep(delay);
        let signal = if run % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let bound_already = gateway.log_text().contains("listening");
        gateway.signal(signal);
        let status = gateway.wait_exit(Duration::from_secs(30));
        assert!(
            status.success(),
            "run {run}: signal {signal} after {delay:?}: {status}\n{}",
            gateway.log_text()
        );
        late += usize::from(bound_already);
    }
    eprintln!(
        "start-up ({startup:?} from handler to bound port): 50 signals, 50 exits with 0 ({} before the port was bound, {late} after)",
        50 - late
    );
}

/// Runs of the under-load test at once: each has its own emulator, binary
/// and store, and each waits mostly on its own timers.
const UNDER_LOAD_AT_ONCE: usize = 3;

/// One run of the under-load test: a binary serving six callers, signalled
/// after `delay`; returns how many calls were answered and EIPs made.
/// Longest wait for one call of the load: beyond the gateway's 20 s
/// shutdown timeout, a call can only be lost by the client.
const CALL_BOUND: Duration = Duration::from_secs(30);

async fn signal_one_gateway_under_load(run: usize, delay: Duration) -> (usize, usize) {
    let mut answered = 0;
    let (emulators, endpoint) = zenlayer_emulator(Duration::from_secs(600)).await;
    set_faults(
        &endpoint,
        &FaultConfig {
            latency_ms: 20,
            ..FaultConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    let text = config(
        &endpoint,
        "shutdown_drain_ms = 30\nshutdown_timeout_ms = 20000",
        Some(&store),
    );
    let mut gateway = process::spawn(dir.path(), &text, |_| {});
    // Waiting for the port polls the log: not on a worker other runs need.
    let addr = tokio::task::block_in_place(|| gateway.wait_listening());
    let mut callers = Vec::new();
    for caller in 0..6 {
        let mut client = client(addr).await;
        callers.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for n in 0..200 {
                let key = format!("load-{run}-{caller}-{n}");
                // Bounded: a tonic client can wait forever on a call sent as
                // the server's GOAWAY arrives (grpc/grpc-rust#2185); the
                // gateway's own bound is shutdown_timeout_ms (20 s).
                let call = client.allocate_ip(allocate(&key, false));
                match tokio::time::timeout(CALL_BOUND, call).await {
                    Ok(Ok(response)) => {
                        answered.push((key, response.into_inner().allocations[0].id.clone()))
                    }
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            answered
        }));
    }
    tokio::time::sleep(delay).await;
    let signal = if run.is_multiple_of(2) {
        libc::SIGTERM
    } else {
        libc::SIGINT
    };
    gateway.signal(signal);
    let status = tokio::task::spawn_blocking(move || {
        let status = gateway.wait_exit(Duration::from_secs(30));
        (status, gateway)
    })
    .await
    .unwrap();
    assert!(
        status.0.success(),
        "run {run}: {}\n{}",
        status.0,
        status.1.log_text()
    );
    let made = eips_by_key(&emulators);
    for caller in callers {
        for (key, eip) in caller.await.unwrap() {
            assert_eq!(
                made.get(&key),
                Some(&eip),
                "run {run}: the caller's answer for {key}"
            );
            answered += 1;
        }
    }
    let eips = made.len();
    assert_every_allocation_replays(&store, &endpoint, &emulators).await;
    (answered, eips)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_under_load_ends_with_exit_0_and_loses_no_record() {
    let mut rng = seeded("under load");
    let delays: Vec<Duration> = (0..50)
        .map(|_| Duration::from_millis(rng.random_range(20..300)))
        .collect();
    let mut total_ok = 0;
    let mut total_eips = 0;
    let mut runs = tokio::task::JoinSet::new();
    for (run, delay) in delays.into_iter().enumerate() {
        if runs.len() == UNDER_LOAD_AT_ONCE {
            let (ok, eips) = runs
                .join_next()
                .await
                .expect("a run")
                .expect("a run panicked");
            total_ok += ok;
            total_eips += eips;
        }
        runs.spawn(signal_one_gateway_under_load(run, delay));
    }
    while let Some(finished) = runs.join_next().await {
        let (ok, eips) = finished.expect("a run panicked");
        total_ok += ok;
        total_eips += eips;
    }
    eprintln!(
        "under load: 50 signals, 50 exits with 0; {total_eips} EIPs made, every one replayed from its record ({total_ok} answered before the stop)"
    );
}

#[tokio::test]
async fn an_open_watch_and_a_wait_end_with_unavailable_promptly() {
    let (emulators, endpoint) = zenlayer_emulator(Duration::from_secs(600)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    let mut gateway = process::spawn(
        dir.path(),
        &config(&endpoint, "shutdown_drain_ms = 200", Some(&store)),
        |_| {},
    );
    let addr = gateway.wait_listening();
    let mut client = client(addr).await;
    let eip = first_allocation_id(&mut client, allocate("watched", false)).await;
    // A watch with no deadline, and a wait (its EIP stays CREATING for 600 s).
    let mut watch = client
        .watch_allocation(pb::WatchAllocationRequest {
            provider: "zenlayer".into(),
            id: eip,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.state(), pb::AllocationState::Pending);
    let waiting = tokio::spawn({
        let mut client = client.clone();
        async move { client.allocate_ip(allocate("waited", true)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    gateway.signal(libc::SIGTERM);
    let ended = tokio::time::timeout(Duration::from_secs(20), watch.message())
        .await
        .expect("the watch ends")
        .unwrap_err();
    let watch_ended_after = signalled.elapsed();
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    let (reason, domain, _) = error_info(&ended);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("GATEWAY_SHUTTING_DOWN", "ipalloc-gateway")
    );
    assert!(retry_delay(&ended).is_some());

    let wait = waiting.await.unwrap().unwrap_err();
    assert_eq!(wait.code(), Code::Unavailable, "{wait:?}");
    let (reason, _, metadata) = error_info(&wait);
    assert_eq!(reason, "GATEWAY_SHUTTING_DOWN");
    assert_eq!(metadata["idempotencyKey"], "waited");
    assert!(retry_delay(&wait).is_some());

    let status = tokio::task::spawn_blocking(move || gateway.wait_exit(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    eprintln!(
        "one open watch (no deadline): UNAVAILABLE {:.2} s after SIGTERM (drain 0.2 s), exit 0 after {:.2} s",
        watch_ended_after.as_secs_f64(),
        signalled.elapsed().as_secs_f64()
    );
    // Both allocations are recorded: the retry the status asks for is a replay.
    assert_every_allocation_replays(&store, &endpoint, &emulators).await;
}

#[tokio::test]
async fn health_turns_not_serving_at_once_while_calls_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = process::spawn(
        dir.path(),
        &config("http://127.0.0.1:9", "shutdown_drain_ms = 3000", None),
        |_| {},
    );
    let addr = gateway.wait_listening();
    let channel = channel(addr).await;
    let mut health = HealthClient::new(channel.clone());
    let mut api = IpAllocationClient::new(channel);
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    assert_eq!(
        health.check(check("")).await.unwrap().into_inner().status(),
        ServingStatus::Serving
    );
    gateway.signal(libc::SIGTERM);
    let bound = Instant::now() + Duration::from_secs(10);
    loop {
        let status = health.check(check("")).await.unwrap().into_inner().status();
        if status == ServingStatus::NotServing {
            break;
        }
        assert!(Instant::now() < bound, "health never turned NOT_SERVING");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        health
            .check(check("ipalloc.v1.IpAllocation"))
            .await
            .unwrap()
            .into_inner()
            .status(),
        ServingStatus::NotServing
    );
    // Still served during the drain, on this connection and on a new one.
    api.list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();
    client(addr)
        .await
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || gateway.wait_exit(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed after the stop"
    );
}

#[tokio::test]
async fn an_allocation_whose_caller_left_is_finished_and_recorded_before_exit() {
    let (emulators, endpoint) = zenlayer_emulator(Duration::from_secs(600)).await;
    set_faults(
        &endpoint,
        &FaultConfig {
            latency_ms: 1500,
            ..FaultConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    let mut gateway = process::spawn(
        dir.path(),
        &config(&endpoint, "shutdown_drain_ms = 10", Some(&store)),
        |_| {},
    );
    let addr = gateway.wait_listening();
    let mut client = client(addr).await;
    // The caller goes away after 300 ms (its stream is reset), while the
    // provider takes 1.5 s; the stop begins at once.
    let call =
        tokio::spawn(async move { client.allocate_ip(allocate("caller-left", false)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    call.abort();
    let _ = call.await;
    gateway.signal(libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || gateway.wait_exit(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    set_faults(&endpoint, &FaultConfig::default()).await;
    assert_eq!(
        eips_by_key(&emulators).len(),
        1,
        "the allocation was finished"
    );
    assert_every_allocation_replays(&store, &endpoint, &emulators).await;
}
