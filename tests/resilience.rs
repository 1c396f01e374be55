//! Resilience of the gateway against the in-process provider emulators with
//! fault injection: idempotent allocations under dropped answers and
//! throttling, the outbound rate limit, deadlines, and the retry budget.
//!
//! Every test is bounded in calls and time, uses loopback only, and prints
//! its figures on one `resilience figure testN: ...` line (run with
//! `--nocapture` to see them). The tests take turns (one lock): they measure
//! rates and latencies, which two tests sharing two cores would distort.

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::emulators::{self, EmulatedGateway};
use common::*;
use ipalloc_gateway::emulator::aliyun::seed::pool_instance_id;
use ipalloc_gateway::emulator::{CounterSnapshot, FaultConfig};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::allocate_ip_request::Params;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::provider::zenlayer::IDEMPOTENCY_TAG_KEY;
use ipalloc_gateway::sandbox::EmulatorOptions;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;

/// One test at a time (see the module comment).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// ErrorInfo domain of the gateway's own decisions.
const GATEWAY_DOMAIN: &str = "ipalloc-gateway";

/// Zones that sell EIPs in the Zenlayer emulator.
const ZONES: [&str; 3] = ["SEL-A", "HKG-A", "FRA-A"];

/// A seeded Aliyun instance that already has a static public IP, so
/// GetAllocation on it succeeds.
const ALIYUN_WITH_IP: &str = "i-emuhasip001";

fn emulator_options(faults: FaultConfig) -> EmulatorOptions {
    EmulatorOptions {
        faults,
        ..EmulatorOptions::default()
    }
}

fn aliyun_allocate(key: &str, instance_id: &str) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "aliyun".to_owned(),
        idempotency_key: key.to_owned(),
        params: Some(Params::Aliyun(pb::AliyunAllocateParams {
            instance_id: instance_id.to_owned(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn zenlayer_allocate(key: &str, zone: &str) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "zenlayer".to_owned(),
        idempotency_key: key.to_owned(),
        params: Some(Params::Zenlayer(pb::ZenlayerAllocateParams {
            zone_id: zone.to_owned(),
            charge_type: pb::ChargeType::Postpaid as i32,
            amount: Some(1),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn get_request(provider: &str, id: &str) -> pb::GetAllocationRequest {
    pb::GetAllocationRequest {
        provider: provider.to_owned(),
        id: id.to_owned(),
        region_id: String::new(),
    }
}

/// A tonic request carrying a `grpc-timeout`.
fn with_timeout<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// Runs `make(0..count)` with at most `at_once` of them in flight; returns
/// the outputs in index order.
async fn run_bounded<T, F, Fut>(count: usize, at_once: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(at_once));
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let future = make(index);
        tasks.spawn(async move {
            let output = future.await;
            drop(permit);
            (index, output)
        });
    }
    let mut outputs: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, output) = joined.expect("a call task panicked");
        outputs[index] = Some(output);
    }
    outputs.into_iter().map(Option::unwrap).collect()
}

/// Code, ErrorInfo reason and domain of a status, for messages.
fn describe(status: &tonic::Status) -> String {
    let reason = details(status)
        .error_info()
        .map(|info| format!("{}/{}", info.domain, info.reason))
        .unwrap_or_else(|| "no ErrorInfo".to_owned());
    format!("{:?} {reason}: {}", status.code(), status.message())
}

fn reason(status: &tonic::Status) -> Option<String> {
    details(status).error_info().map(|info| info.reason.clone())
}

/// `count` clients of the gateway, each on its own connection.
async fn connect(addr: std::net::SocketAddr, count: usize) -> Vec<IpAllocationClient<Channel>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("the gateway accepts connections");
        clients.push(IpAllocationClient::new(channel));
    }
    clients
}

async fn both_counters(env: &EmulatedGateway) -> (CounterSnapshot, CounterSnapshot) {
    (
        emulators::counters(&env.aliyun_url).await,
        emulators::counters(&env.zenlayer_url).await,
    )
}

// ---------------------------------------------------------------------------
// Test 1: idempotent allocations under dropped answers and throttling
// ---------------------------------------------------------------------------

/// Keys per provider (`Job::from_index` interleaves them).
const ALIYUN_KEYS: usize = 500;
const ZENLAYER_KEYS: usize = ALIYUN_KEYS;
/// Keys in flight at once (each sent twice concurrently).
const KEYS_AT_ONCE: usize = 32;

/// Provider settings that absorb 20% throttling: up to 9 retries (a call
/// fails only after 10 throttled answers in a row, p = 0.2^10), a budget
/// that never runs dry, and rate and concurrency limits out of the way.
const ABSORBING: &str = "max_attempts = 10\n\
     backoff_base_ms = 10\n\
     backoff_max_ms = 200\n\
     retry_budget_ratio = 10\n\
     retry_budget_min_per_second = 1000\n\
     rate_per_second = 100000\n\
     burst = 100000\n\
     max_concurrency = 256\n\
     request_timeout_ms = 10000\n";

#[derive(Clone, Copy, Debug)]
enum Job {
    Aliyun(usize),
    Zenlayer(usize),
}

impl Job {
    /// Interleaved, so both providers are under load at the same time.
    fn from_index(index: usize) -> Job {
        if index.is_multiple_of(2) {
            Job::Aliyun(index / 2)
        } else {
            Job::Zenlayer(index / 2)
        }
    }

    fn key(self) -> String {
        match self {
            Job::Aliyun(n) => format!("res1-ali-{n:04}"),
            Job::Zenlayer(n) => format!("res1-zl-{n:04}"),
        }
    }

    fn request(self) -> pb::AllocateIpRequest {
        match self {
            Job::Aliyun(n) => aliyun_allocate(&self.key(), &pool_instance_id(n)),
            Job::Zenlayer(n) => zenlayer_allocate(&self.key(), ZONES[n % ZONES.len()]),
        }
    }
}

type Answer = Result<pb::AllocateIpResponse, tonic::Status>;

/// 1,000 idempotency keys (500 Aliyun pool instances, 500 Zenlayer POSTPAID
/// EIPs in three zones), each sent twice at once (the second send is an
/// in-flight duplicate), 32 keys at a time, while both emulators throttle
/// 20% of requests and drop the answer of 20% of the allocations they
/// perform. Every call answers OK, both sends of a key answer the same,
/// and each emulator allocated exactly once per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test1_idempotent_allocations_survive_dropped_answers_and_throttling() {
    let _serial = SERIAL.lock().await;
    let faults = FaultConfig {
        throttle_probability: 0.2,
        drop_after_allocate_probability: 0.2,
        ..FaultConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("idempotency.redb");
    let top = format!(
        "[idempotency]\npath = {:?}\n",
        store.to_str().expect("a UTF-8 temporary path")
    );
    let env = emulators::start(emulator_options(faults), &top, ABSORBING, ABSORBING).await;
    let client = env.gateway.client.clone();

    let started = Instant::now();
    let keys = ALIYUN_KEYS + ZENLAYER_KEYS;
    let answers: Vec<(Job, Answer, Answer)> = run_bounded(keys, KEYS_AT_ONCE, |index| {
        let job = Job::from_index(index);
        let (mut first, mut second) = (client.clone(), client.clone());
        async move {
            let timeout = Duration::from_secs(30);
            let (a, b) = tokio::join!(
                first.allocate_ip(with_timeout(job.request(), timeout)),
                second.allocate_ip(with_timeout(job.request(), timeout)),
            );
            (
                job,
                a.map(tonic::Response::into_inner),
                b.map(tonic::Response::into_inner),
            )
        }
    })
    .await;
    let elapsed = started.elapsed();
    let (aliyun, zenlayer) = both_counters(&env).await;

    let ok_calls = answers
        .iter()
        .map(|(_, a, b)| usize::from(a.is_ok()) + usize::from(b.is_ok()))
        .sum::<usize>();
    let requests = aliyun.requests + zenlayer.requests;
    let throttled = aliyun.throttled + zenlayer.throttled;
    let dropped = aliyun.dropped + zenlayer.dropped;
    let duplicates = (aliyun.allocations + zenlayer.allocations).saturating_sub(keys as u64);
    eprintln!(
        "resilience figure test1: elapsed={:.1}s calls={} keys={} (aliyun {ALIYUN_KEYS}, zenlayer {ZENLAYER_KEYS}) \
         ok={ok_calls} provider_requests={requests} (aliyun {}, zenlayer {}) throttled={throttled} (aliyun {}, zenlayer {}) \
         retries_absorbed={throttled} dropped={dropped} (aliyun {}, zenlayer {}) \
         allocations aliyun={} zenlayer={} duplicates={duplicates}",
        elapsed.as_secs_f64(),
        keys * 2,
        keys,
        aliyun.requests,
        zenlayer.requests,
        aliyun.throttled,
        zenlayer.throttled,
        aliyun.dropped,
        zenlayer.dropped,
        aliyun.allocations,
        zenlayer.allocations,
    );

    // Every call answered OK, and both sends of a key answered the same.
    let mut failures = Vec::new();
    let mut aliyun_ips = HashMap::new();
    let mut zenlayer_ids = HashMap::new();
    for (job, a, b) in &answers {
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                for failed in [a, b].into_iter().filter_map(|r| r.as_ref().err()) {
                    failures.push(format!("{}: {}", job.key(), describe(failed)));
                }
                continue;
            }
        };
        if a != b {
            failures.push(format!(
                "{}: the two sends differ: {a:?} vs {b:?}",
                job.key()
            ));
            continue;
        }
        let [allocation] = a.allocations.as_slice() else {
            failures.push(format!("{}: not one allocation: {a:?}", job.key()));
            continue;
        };
        match job {
            Job::Aliyun(n) => {
                assert_eq!(allocation.id, pool_instance_id(*n), "{a:?}");
                assert!(!allocation.ip_address.is_empty(), "{a:?}");
                aliyun_ips.insert(allocation.id.clone(), allocation.ip_address.clone());
            }
            Job::Zenlayer(_) => {
                assert!(!allocation.id.is_empty(), "{a:?}");
                zenlayer_ids.insert(job.key(), allocation.id.clone());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls did not end with the same OK answer, e.g. {:#?}",
        failures.len(),
        keys * 2,
        &failures[..failures.len().min(10)]
    );

    // The emulators saw exactly one allocation per key.
    assert_eq!(aliyun.allocations, ALIYUN_KEYS as u64, "{aliyun:?}");
    assert_eq!(aliyun.allocate_calls, ALIYUN_KEYS as u64, "{aliyun:?}");
    assert_eq!(zenlayer.allocations, ZENLAYER_KEYS as u64, "{zenlayer:?}");
    assert_eq!(
        zenlayer.allocate_calls, ZENLAYER_KEYS as u64,
        "{zenlayer:?}"
    );
    assert!(
        aliyun.dropped > 0 && zenlayer.dropped > 0,
        "the drop fault fired"
    );
    assert!(
        aliyun.throttled > 0 && zenlayer.throttled > 0,
        "throttling fired"
    );
    // Every request is a performed allocation (one per key), a throttled
    // attempt (retried), or the one lookup that reconciled a dropped answer:
    // the second send of a key never allocated. Aliyun answers are READY,
    // so a replay never looks them up; a Zenlayer replay of EIPs still
    // CREATING refreshes them with at most one lookup, unless it waited for
    // the first send in this process (then its answer is just written).
    assert_eq!(
        aliyun.requests,
        ALIYUN_KEYS as u64 + aliyun.throttled + aliyun.dropped,
        "aliyun: {aliyun:?}"
    );
    let zenlayer_base = ZENLAYER_KEYS as u64 + zenlayer.throttled + zenlayer.dropped;
    assert!(
        zenlayer.requests >= zenlayer_base
            && zenlayer.requests <= zenlayer_base + ZENLAYER_KEYS as u64,
        "zenlayer: {zenlayer:?}"
    );
    assert_eq!(aliyun.server_errors + zenlayer.server_errors, 0);
    assert_eq!(aliyun.auth_failures + zenlayer.auth_failures, 0);

    // And the answers name what the emulators hold.
    let (_, aliyun_emulator) = env.emulators.aliyun.as_ref().unwrap();
    let distinct_ips: HashSet<&String> = aliyun_ips.values().collect();
    assert_eq!(
        distinct_ips.len(),
        ALIYUN_KEYS,
        "every instance got its own IP"
    );
    for (instance_id, ip) in &aliyun_ips {
        let instance = aliyun_emulator.instance(instance_id).unwrap();
        assert_eq!(
            instance.public_ip.map(|ip| ip.to_string()).as_ref(),
            Some(ip),
            "{instance_id}"
        );
    }
    let (_, zenlayer_emulator) = env.emulators.zenlayer.as_ref().unwrap();
    let mut tagged: HashMap<String, Vec<String>> = HashMap::new();
    for eip in zenlayer_emulator.eips() {
        for tag in eip
            .tags
            .tags
            .iter()
            .filter(|t| t.key == IDEMPOTENCY_TAG_KEY)
        {
            tagged
                .entry(tag.value.clone())
                .or_default()
                .push(eip.eip_id.clone());
        }
    }
    assert_eq!(tagged.len(), ZENLAYER_KEYS, "one tagged key per EIP");
    for (key, id) in &zenlayer_ids {
        assert_eq!(tagged.get(key), Some(&vec![id.clone()]), "{key}");
    }
}

// ---------------------------------------------------------------------------
// Test 2: the outbound rate limit
// ---------------------------------------------------------------------------

const RATE: u64 = 20;
const BURST: u64 = 5;
const RATE_LIMIT_CALLS: usize = 200;
const RATE_LIMIT_DEADLINE: Duration = Duration::from_secs(3);
/// How soon a call that cannot be served before its deadline is refused.
const REFUSED_WITHIN: Duration = Duration::from_secs(1);

/// 200 concurrent GetAllocation calls (3 s deadline each, four connections)
/// against an Aliyun account limited to 20/s with a burst of 5: the
/// provider sees at most 25 requests in any second, the calls that fit get
/// through, and the others are refused RESOURCE_EXHAUSTED
/// `GATEWAY_RATE_LIMITED` with RetryInfo, having sent nothing, promptly and
/// never left waiting until (or past) their deadline.
///
/// Fails on the current gateway: `RateLimit` compares the deadline with the
/// next token only, so every caller waits, in a herd, until just before its
/// deadline; the refusals then race tonic's own deadline timers and, on a
/// loaded machine, some calls end CANCELLED "Timeout expired" without details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test2_rate_limit_holds_and_refuses_what_does_not_fit_before_the_deadline() {
    let _serial = SERIAL.lock().await;
    let limited = format!("rate_per_second = {RATE}\nburst = {BURST}\n");
    let env = emulators::start(emulator_options(FaultConfig::default()), "", &limited, "").await;
    // An HTTP/2 client opens at most 100 streams on one connection (the
    // gateway advertises no limit, and h2 keeps its initial 100); more
    // calls would wait in the client, not in the gateway.
    let clients = connect(env.gateway.addr, RATE_LIMIT_CALLS.div_ceil(50)).await;

    let started = Instant::now();
    let answers = run_bounded(RATE_LIMIT_CALLS, RATE_LIMIT_CALLS, |n| {
        let mut client = clients[n % clients.len()].clone();
        async move {
            let sent = Instant::now();
            let answer = client
                .get_allocation(with_timeout(
                    get_request("aliyun", ALIYUN_WITH_IP),
                    RATE_LIMIT_DEADLINE,
                ))
                .await;
            (answer, sent.elapsed())
        }
    })
    .await;
    let burst_elapsed = started.elapsed();
    let counters = emulators::counters(&env.aliyun_url).await;

    let (mut ok, mut rate_limited, mut unanswered) = (0u64, 0u64, 0u64);
    // DEADLINE_EXCEEDED after sending (a token granted just before the
    // deadline) or before (the call waited for a token until its deadline).
    let (mut late_sent, mut late_unsent) = (0u64, 0u64);
    let mut refusals = Vec::new();
    let mut unexpected = Vec::new();
    for (answer, elapsed) in &answers {
        match answer {
            Ok(allocation) => {
                assert_eq!(allocation.get_ref().id, ALIYUN_WITH_IP);
                ok += 1;
            }
            Err(status) if status.code() == Code::ResourceExhausted => {
                let (reason, domain, metadata) = error_info(status);
                assert_eq!(
                    (reason.as_str(), domain.as_str()),
                    ("GATEWAY_RATE_LIMITED", GATEWAY_DOMAIN),
                    "{}",
                    describe(status)
                );
                assert_eq!(metadata.get("provider").map(String::as_str), Some("aliyun"));
                assert!(
                    retry_delay(status).is_some(),
                    "RetryInfo: {}",
                    describe(status)
                );
                assert!(
                    status.message().contains("was not sent"),
                    "{}",
                    status.message()
                );
                rate_limited += 1;
                refusals.push(*elapsed);
            }
            Err(status)
                if status.code() == Code::DeadlineExceeded
                    && reason(status).as_deref() == Some("DEADLINE_EXCEEDED") =>
            {
                if status.message().contains("in progress") {
                    late_sent += 1;
                } else {
                    late_unsent += 1;
                }
            }
            // tonic's own timer (client or server side): the gateway had
            // not answered when the deadline came.
            Err(status)
                if status.code() == Code::Cancelled && status.message() == "Timeout expired" =>
            {
                unanswered += 1;
            }
            Err(status) => unexpected.push(describe(status)),
        }
    }
    refusals.sort();
    let first_refusal = refusals.first().copied().unwrap_or_default();
    let last_refusal = refusals.last().copied().unwrap_or_default();
    let bound = RATE + BURST;
    eprintln!(
        "resilience figure test2: rate={RATE}/s burst={BURST} calls={RATE_LIMIT_CALLS} deadline={}s \
         ok={ok} rate_limited={rate_limited} deadline_exceeded_after_sending={late_sent} \
         deadline_exceeded_waiting_for_a_token={late_unsent} unanswered_by_deadline={unanswered} \
         emulator_requests={} observed_max_per_second={} (bound {bound}) \
         refusals_answered_after={:.3}s..{:.3}s burst_elapsed={:.2}s",
        RATE_LIMIT_DEADLINE.as_secs(),
        counters.requests,
        counters.max_requests_per_second,
        first_refusal.as_secs_f64(),
        last_refusal.as_secs_f64(),
        burst_elapsed.as_secs_f64(),
    );

    // The limit held at the provider.
    assert!(
        counters.max_requests_per_second <= bound,
        "{} requests in one second > rate {RATE} + burst {BURST}",
        counters.max_requests_per_second
    );
    // What the limiter let through over the whole burst of load.
    let capacity = BURST + (RATE as f64 * burst_elapsed.as_secs_f64()).ceil() as u64;
    assert!(
        counters.requests <= capacity,
        "{} requests > {capacity}",
        counters.requests
    );
    assert!(ok >= BURST, "at least the burst went through: {ok}");
    // Refused calls sent nothing: every request the emulator saw belongs to
    // an OK call or to one cut by its deadline.
    assert!(
        counters.requests >= ok && counters.requests <= ok + late_sent + unanswered,
        "{} requests for {ok} OK, {late_sent} cut and {unanswered} unanswered calls",
        counters.requests
    );
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert!(rate_limited > 0, "the load exceeded the limit");
    // Each refusal is decided when the call books its slot, not at its
    // deadline.
    assert!(
        last_refusal < RATE_LIMIT_DEADLINE / 3,
        "refusals came as late as {last_refusal:?}"
    );
    assert!(
        late_sent <= 10,
        "few calls get a token at the last moment: {late_sent}"
    );
    // Calls beyond capacity are refused with RESOURCE_EXHAUSTED before
    // their deadline, never left queued until (or past) it.
    assert_eq!(
        unanswered + late_unsent,
        0,
        "of {RATE_LIMIT_CALLS} calls, {unanswered} got no answer before their {}s deadline \
         (CANCELLED \"Timeout expired\", no ErrorInfo or RetryInfo) and {late_unsent} got \
         DEADLINE_EXCEEDED while waiting for a token: the gateway kept calls it could not serve \
         queued for a token; the {rate_limited} refusals it did send came {:.3}s..{:.3}s after the call",
        RATE_LIMIT_DEADLINE.as_secs(),
        first_refusal.as_secs_f64(),
        last_refusal.as_secs_f64(),
    );
    // "Never a silent queue": a call that cannot get a token before its
    // deadline is refused when that is known, at once (the rate limit layer
    // promises "fails at once" when the token comes after the deadline),
    // not after waiting out most of its deadline. With N waiters ahead, the
    // token a call can get is N intervals away, not the next one.
    assert!(
        last_refusal < REFUSED_WITHIN,
        "the {rate_limited} refusals came {:.3}s..{:.3}s after the call, not at once (< {:?}): \
         calls that could not be served before their {}s deadline were queued for a token \
         until just before it",
        first_refusal.as_secs_f64(),
        last_refusal.as_secs_f64(),
        REFUSED_WITHIN,
        RATE_LIMIT_DEADLINE.as_secs(),
    );
}

// ---------------------------------------------------------------------------
// Test 3: deadlines
// ---------------------------------------------------------------------------

const SHORT_DEADLINE: Duration = Duration::from_millis(200);
const ANSWER_WITHIN: Duration = Duration::from_millis(300);
const EMULATOR_LATENCY_MS: u64 = 2000;

/// The gateway's own DEADLINE_EXCEEDED, within `ANSWER_WITHIN`. tonic's
/// client ends a call whose deadline passed with CANCELLED "Timeout
/// expired": the gateway must answer before the caller's timer fires (it
/// sets its own deadline `deadline::margin` earlier, 10 ms for 200 ms).
fn assert_deadline_answer(status: &tonic::Status, elapsed: Duration, provider: &str, rpc: &str) {
    assert!(
        elapsed < ANSWER_WITHIN,
        "{provider} {rpc} answered after {elapsed:?}: {}",
        describe(status)
    );
    assert_eq!(
        status.code(),
        Code::DeadlineExceeded,
        "{provider} {rpc} after {elapsed:?}: {} (CANCELLED: the gateway's answer came after \
         the caller's own deadline timer)",
        describe(status)
    );
}

/// Both emulators answer after 2 s; calls with a 200 ms deadline answer
/// DEADLINE_EXCEEDED within 300 ms: AllocateIp as PROVIDER_OUTCOME_UNKNOWN
/// naming its idempotency key, GetAllocation as DEADLINE_EXCEEDED. Retrying
/// the key afterwards reconciles and ends with one allocation per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test3_deadline_is_answered_in_time_with_the_outcome_unknown() {
    let _serial = SERIAL.lock().await;
    let slow = FaultConfig {
        latency_ms: EMULATOR_LATENCY_MS,
        ..FaultConfig::default()
    };
    // A grace longer than the latency: a late allocation is found, not
    // made twice, when the key is retried.
    let grace = "reconcile_grace_ms = 2500\n";
    // A file store, as in production: recording the unknown outcome is a
    // durable write on the way to the answer.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("idempotency.redb");
    let top = format!(
        "[idempotency]\npath = {:?}\n",
        store.to_str().expect("a UTF-8 temporary path")
    );
    let env = emulators::start(emulator_options(FaultConfig::default()), &top, grace, grace).await;
    let mut client = env.gateway.client.clone();
    // Warm up (connections, first allocations, store) as a serving gateway
    // is; a cold first call is a few ms slower, which its 10 ms margin
    // barely absorbs in a debug build. Then make the emulators slow.
    let warm_up = [
        aliyun_allocate("res3-warm-ali", &pool_instance_id(1)),
        zenlayer_allocate("res3-warm-zl", "HKG-A"),
    ];
    for request in warm_up {
        client
            .allocate_ip(with_timeout(request, Duration::from_secs(5)))
            .await
            .expect("the warm-up allocation succeeds");
    }
    for url in [&env.aliyun_url, &env.zenlayer_url] {
        emulators::set_faults(url, &slow).await;
    }

    let allocations = [
        (
            "aliyun",
            aliyun_allocate("res3-ali", &pool_instance_id(0)),
            "res3-ali",
        ),
        ("zenlayer", zenlayer_allocate("res3-zl", "SEL-A"), "res3-zl"),
    ];
    let mut figures = Vec::new();
    for (provider, request, key) in &allocations {
        let started = Instant::now();
        let answer = client
            .allocate_ip(with_timeout(request.clone(), SHORT_DEADLINE))
            .await;
        let elapsed = started.elapsed();
        let status = answer.expect_err("the emulator answers after 2 s");
        assert_deadline_answer(&status, elapsed, provider, "AllocateIp");
        let (reason, _, metadata) = error_info(&status);
        assert_eq!(reason, "PROVIDER_OUTCOME_UNKNOWN", "{}", describe(&status));
        assert_eq!(
            metadata.get("idempotencyKey").map(String::as_str),
            Some(*key)
        );
        assert_eq!(
            metadata.get("provider").map(String::as_str),
            Some(*provider)
        );
        figures.push(format!("{provider}_allocate={}ms", elapsed.as_millis()));
    }

    let lookups = [("aliyun", ALIYUN_WITH_IP), ("zenlayer", "eip-res3-unknown")];
    for (provider, id) in lookups {
        let started = Instant::now();
        let answer = client
            .get_allocation(with_timeout(get_request(provider, id), SHORT_DEADLINE))
            .await;
        let elapsed = started.elapsed();
        let status = answer.expect_err("the emulator answers after 2 s");
        assert_deadline_answer(&status, elapsed, provider, "GetAllocation");
        assert_eq!(
            reason(&status).as_deref(),
            Some("DEADLINE_EXCEEDED"),
            "{}",
            describe(&status)
        );
        figures.push(format!("{provider}_get={}ms", elapsed.as_millis()));
    }

    // The caller does what the answer says: retry with the same key. The
    // gateway reconciles; whether or not the slow attempt landed, exactly
    // one allocation results.
    for url in [&env.aliyun_url, &env.zenlayer_url] {
        emulators::set_faults(url, &FaultConfig::default()).await;
    }
    let retried = Instant::now();
    let mut retries = 0;
    for (provider, request, key) in &allocations {
        let response = loop {
            let answer = client
                .allocate_ip(with_timeout(request.clone(), Duration::from_secs(5)))
                .await;
            match answer {
                Ok(response) => break response.into_inner(),
                Err(status)
                    if status.code() == Code::Aborted
                        && reason(&status).as_deref() == Some("PROVIDER_OUTCOME_PENDING") =>
                {
                    assert!(retried.elapsed() < Duration::from_secs(15), "{key}");
                    retries += 1;
                    let delay = retry_delay(&status).expect("RetryInfo");
                    tokio::time::sleep(delay.min(Duration::from_secs(3))).await;
                }
                Err(status) => panic!("{provider} retry of {key}: {}", describe(&status)),
            }
        };
        assert_eq!(response.allocations.len(), 1, "{response:?}");
    }
    let (aliyun, zenlayer) = both_counters(&env).await;
    // The warm-up's allocation and the retried key's, nothing twice.
    assert_eq!(aliyun.allocations, 2, "{aliyun:?}");
    assert_eq!(zenlayer.allocations, 2, "{zenlayer:?}");

    eprintln!(
        "resilience figure test3: deadline={}ms latency={EMULATOR_LATENCY_MS}ms {} (bound {}ms); \
         retried with the key: ok after {:.1}s and {retries} PROVIDER_OUTCOME_PENDING, allocations aliyun={} zenlayer={} (1 warm-up each)",
        SHORT_DEADLINE.as_millis(),
        figures.join(" "),
        ANSWER_WITHIN.as_millis(),
        retried.elapsed().as_secs_f64(),
        aliyun.allocations,
        zenlayer.allocations,
    );
}

// ---------------------------------------------------------------------------
// Test 4: the retry budget
// ---------------------------------------------------------------------------

const BUDGET_CALLS: usize = 200;
const BUDGET_AT_ONCE: usize = 8;
const BUDGET_RATIO: f64 = 0.2;
const BUDGET_MIN_PER_SECOND: u64 = 5;
/// `TpsBudget`'s window, fixed by the gateway.
const BUDGET_TTL: Duration = Duration::from_secs(10);

/// Both emulators throttle every request; 200 Aliyun GetAllocation and 200
/// Zenlayer AllocateIp calls, 8 at a time each: every call answers
/// RESOURCE_EXHAUSTED PROVIDER_THROTTLED, and each account's retry budget
/// holds its attempts to calls * (1 + ratio) + min_per_second * ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test4_retry_budget_caps_attempts_under_total_throttling() {
    let _serial = SERIAL.lock().await;
    let throttled = FaultConfig {
        throttle_probability: 1.0,
        ..FaultConfig::default()
    };
    let budget = format!(
        "max_attempts = 4\n\
         backoff_base_ms = 5\n\
         backoff_max_ms = 200\n\
         retry_budget_ratio = {BUDGET_RATIO}\n\
         retry_budget_min_per_second = {BUDGET_MIN_PER_SECOND}\n\
         rate_per_second = 10000\n\
         burst = 1000\n\
         max_concurrency = 64\n"
    );
    let env = emulators::start(emulator_options(throttled), "", &budget, &budget).await;
    let client = env.gateway.client.clone();

    let started = Instant::now();
    // Aliyun: GetAllocation (reads); Zenlayer: AllocateIp (writes), both at once.
    let reads = run_bounded(BUDGET_CALLS, BUDGET_AT_ONCE, |_| {
        let mut client = client.clone();
        async move {
            client
                .get_allocation(with_timeout(
                    get_request("aliyun", ALIYUN_WITH_IP),
                    Duration::from_secs(5),
                ))
                .await
                .map(|_| ())
        }
    });
    let writes = run_bounded(BUDGET_CALLS, BUDGET_AT_ONCE, |n| {
        let mut client = client.clone();
        async move {
            let request = zenlayer_allocate(&format!("res4-zl-{n:04}"), ZONES[n % ZONES.len()]);
            client
                .allocate_ip(with_timeout(request, Duration::from_secs(5)))
                .await
                .map(|_| ())
        }
    });
    let (reads, writes) = tokio::join!(reads, writes);
    let elapsed = started.elapsed();
    let (aliyun, zenlayer) = both_counters(&env).await;
    let bound = BUDGET_CALLS as f64 * (1.0 + BUDGET_RATIO)
        + (BUDGET_MIN_PER_SECOND * BUDGET_TTL.as_secs()) as f64;

    eprintln!(
        "resilience figure test4: throttle=100% max_attempts=4 ratio={BUDGET_RATIO} min_per_second={BUDGET_MIN_PER_SECOND} ttl={}s \
         aliyun GetAllocation requests={BUDGET_CALLS} attempts={} zenlayer AllocateIp requests={BUDGET_CALLS} attempts={} \
         (bound {bound:.0} each, {} without a budget) elapsed={:.1}s",
        BUDGET_TTL.as_secs(),
        aliyun.requests,
        zenlayer.requests,
        BUDGET_CALLS * 4,
        elapsed.as_secs_f64(),
    );

    for (what, answers) in [
        ("aliyun GetAllocation", &reads),
        ("zenlayer AllocateIp", &writes),
    ] {
        for answer in answers {
            let status = answer.as_ref().expect_err("every request is throttled");
            assert_eq!(
                (status.code(), reason(status).as_deref()),
                (Code::ResourceExhausted, Some("PROVIDER_THROTTLED")),
                "{what}: {}",
                describe(status)
            );
        }
    }
    assert!(
        elapsed < BUDGET_TTL,
        "the bound below holds within one budget window: {elapsed:?}"
    );
    for (what, counters) in [("aliyun", &aliyun), ("zenlayer", &zenlayer)] {
        assert_eq!(
            counters.throttled, counters.requests,
            "{what}: {counters:?}"
        );
        assert!(
            counters.requests as f64 <= bound,
            "{what}: {} attempts for {BUDGET_CALLS} calls > {bound}",
            counters.requests
        );
        assert!(
            counters.requests > BUDGET_CALLS as u64,
            "{what}: the budget allowed some retries"
        );
    }
    assert_eq!(zenlayer.allocations, 0);
}
