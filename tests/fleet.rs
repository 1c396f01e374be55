//! Fleet mode end to end: three gateway processes (the real binary) on one
//! PostgreSQL database, in front of the Zenlayer emulator (multi-EIP
//! allocations, reconciliation by tag). Each test has its own fresh
//! database, emulator and processes, and the tests take turns (one lock):
//! they measure rates and timings that two tests sharing two cores would
//! distort.
//!
//! 1. 1,000 keys, each sent twice to two different replicas (at the same
//!    moment, or seconds apart), under 20 % throttling and 20 %
//!    allocate-then-drop: every call ends definite, 0 duplicates, one
//!    allocation per key that ended OK, and both answers of a key name the
//!    same allocations.
//! 2. The same with one replica SIGKILLed mid-run and not restarted.
//! 3. The shared rate limit: 20/s, burst 5, offered 5x that on every
//!    replica: the emulator never sees more than 25 requests in a second.
//! 4. The database connection cut for 3 s mid-run: 0 duplicates, UNAVAILABLE
//!    with RetryInfo meanwhile, nothing allocated, health NOT_SERVING and
//!    back.
//! 5. A stuck lease: a replica frozen (SIGSTOP) with its allocation in
//!    flight, past its lease; another takes the key over and completes it;
//!    the frozen one's late write is refused by the fencing token.
//!
//! Every test prints one `fleet figure testN: ...` line (run with
//! `--nocapture` to see them).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::emulators::set_faults;
use common::fleet::*;
use common::postgres::{TestDatabase, fresh_database, server_addr};
use common::tcp_proxy::TcpProxy;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

/// One test at a time (see the module comment).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const REPLICAS: usize = 3;
/// Short, so that taking over a dead replica's key takes seconds.
const LEASE_MS: u64 = 2000;
/// EIPs per allocation.
const AMOUNT: u32 = 2;

type Client = IpAllocationClient<Channel>;

fn options(db: &TestDatabase, provider: String, faults: FaultConfig) -> FleetOptions {
    FleetOptions {
        replicas: REPLICAS,
        postgres_url: db.url.clone(),
        lease_ms: LEASE_MS,
        provider,
        faults,
    }
}

/// The caller's patience for a key: long enough to outlast a dead
/// replica's lease and a database outage several times over.
const PATIENT: Patience = Patience {
    attempts: 40,
    give_up: Duration::from_secs(60),
    deadline: Duration::from_secs(10),
};

/// Fails with the first problems of a run (after its figures are printed).
fn assert_no_problems(test: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{test}: {} problems, e.g. {:#?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
}

/// Every key that ended OK has a completed record.
fn record_problems(
    runs: &[KeyRun],
    states: &std::collections::HashMap<String, String>,
) -> Vec<String> {
    runs.iter()
        .filter(|run| run.calls.iter().any(|c| c.answer.is_ok()))
        .filter(|run| states.get(&run.key).map(String::as_str) != Some("completed"))
        .map(|run| format!("{}: ended OK, record {:?}", run.key, states.get(&run.key)))
        .collect()
}

// ---------------------------------------------------------------------------
// Tests 1 and 2: 1,000 keys, each sent twice to two replicas
// ---------------------------------------------------------------------------

const KEYS: usize = 1000;
/// Keys in flight at once (a key waiting between its two sends counts).
const KEYS_AT_ONCE: usize = 48;
/// Test 2 kills a replica once this many keys are done.
const KILL_AFTER_KEYS: usize = 300;

/// When a key's second send starts after its first: half at the same
/// moment (the two race for the claim), a quarter 1 s later and a quarter
/// 2.5 s later (replays, unless the first is still being retried).
fn gap(index: usize) -> Option<Duration> {
    match index % 4 {
        0 | 1 => None,
        2 => Some(Duration::from_millis(1000)),
        _ => Some(Duration::from_millis(2500)),
    }
}

/// The two replicas a key is sent to: always two different ones.
fn replicas_of(index: usize) -> (usize, usize) {
    let first = index % REPLICAS;
    let second = (first + 1 + (index / REPLICAS) % (REPLICAS - 1)) % REPLICAS;
    (first, second)
}

async fn run_key(clients: &[Client], prefix: &str, index: usize) -> KeyRun {
    let key = format!("{prefix}-{index:04}");
    let request = allocate(&key, index, AMOUNT);
    let (first, second) = replicas_of(index);
    let started = Instant::now();
    let later = async {
        if let Some(gap) = gap(index) {
            tokio::time::sleep_until(started + gap).await;
        }
        call(clients, second, &request, PATIENT).await
    };
    let (a, b) = tokio::join!(call(clients, first, &request, PATIENT), later);
    KeyRun {
        key,
        calls: vec![a, b],
    }
}

/// Every key, [`KEYS_AT_ONCE`] at a time; `done` counts finished keys.
async fn run_keys(
    clients: Vec<Client>,
    prefix: &'static str,
    done: Arc<AtomicUsize>,
) -> Vec<KeyRun> {
    let clients = Arc::new(clients);
    let permits = Arc::new(Semaphore::new(KEYS_AT_ONCE));
    let mut tasks = JoinSet::new();
    for index in 0..KEYS {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let clients = Arc::clone(&clients);
        let done = Arc::clone(&done);
        tasks.spawn(async move {
            let run = run_key(&clients, prefix, index).await;
            drop(permit);
            done.fetch_add(1, Ordering::SeqCst);
            (index, run)
        });
    }
    let mut runs = Vec::with_capacity(KEYS);
    while let Some(joined) = tasks.join_next().await {
        runs.push(joined.expect("a key's task panicked"));
    }
    runs.sort_by_key(|(index, _)| *index);
    runs.into_iter().map(|(_, run)| run).collect()
}

/// SIGKILLs replica 0 while it holds the lease of at least one key it has
/// not completed: freezes it (SIGSTOP, so no lease changes meanwhile), looks
/// at its leases, and kills it if it holds one, else resumes it and looks
/// again 20 ms later (at most 250 times). Returns the keys it held.
async fn kill_mid_allocation(fleet: &mut Fleet, records: &tokio_postgres::Client) -> Vec<String> {
    for _ in 0..250 {
        fleet.replicas[0].process.signal(libc::SIGSTOP);
        let held = leased_to(records, &fleet.replicas[0].id).await;
        if !held.is_empty() {
            fleet.kill(0);
            return held;
        }
        fleet.replicas[0].process.signal(libc::SIGCONT);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("replica 0 never held a lease in 250 looks");
}

/// Tests 1 and 2: the 1,000 keys under faults; with `kill`, replica 0 is
/// SIGKILLed once [`KILL_AFTER_KEYS`] keys are done, and not restarted.
async fn keys_under_faults(test: &str, prefix: &'static str, kill: bool) {
    let _serial = SERIAL.lock().await;
    let db = fresh_database().await;
    let mut fleet = Fleet::start(&options(
        &db,
        provider_under_faults(),
        drops_and_throttling(),
    ))
    .await;
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let run = tokio::spawn(run_keys(fleet.clients(), prefix, Arc::clone(&done)));
    let records = db.client().await;
    let mut killed_at = None;
    let mut orphans = Vec::new();
    if kill {
        let bound = Instant::now() + Duration::from_secs(120);
        while done.load(Ordering::SeqCst) < KILL_AFTER_KEYS {
            assert!(
                Instant::now() < bound,
                "{KILL_AFTER_KEYS} keys within 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        orphans = kill_mid_allocation(&mut fleet, &records).await;
        killed_at = Some(started.elapsed());
    }
    let runs = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("every key ends within 3 minutes")
        .expect("the keys' driver panicked");
    let elapsed = started.elapsed();
    let mut tally = tally(&runs, fleet.emulator());
    let states = record_states(&records).await;
    let taken_over = takeovers(&records).await;
    tally.problems.extend(record_problems(&runs, &states));
    let together = (0..KEYS).filter(|i| gap(*i).is_none()).count();
    let killed = killed_at
        .map(|at| {
            format!(
                " killed=r1 at {:.1}s ({KILL_AFTER_KEYS} keys done, {} keys leased to it)",
                at.as_secs_f64(),
                orphans.len()
            )
        })
        .unwrap_or_default();
    eprintln!(
        "fleet figure {test}: replicas={REPLICAS} lease={LEASE_MS}ms amount={AMOUNT} \
         elapsed={:.1}s{killed} sent_together={together} sent_apart={} {tally} {} records={:?} taken_over={taken_over}",
        elapsed.as_secs_f64(),
        KEYS - together,
        emulator_figures(fleet.emulator()),
        count_states(&states),
    );
    assert_no_problems(test, &tally.problems);
    assert_eq!(tally.duplicates, 0);
    let counters = fleet.emulator().faults().snapshot();
    assert!(counters.dropped > 0, "the drop fault fired");
    assert!(counters.throttled > 0, "throttling fired");
    assert!(
        tally.ok_keys > KEYS / 2,
        "most keys ended OK: {}",
        tally.ok_keys
    );
    if kill {
        assert!(tally.failovers > 0, "some calls met the killed replica");
        // The keys it held finished on the others: each ended OK with a
        // completed record (checked above for every key).
        assert!(!orphans.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test1_keys_sent_to_two_replicas_under_faults_allocate_once() {
    keys_under_faults("test1", "fleet1", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test2_keys_of_a_sigkilled_replica_finish_on_the_others() {
    keys_under_faults("test2", "fleet2", true).await;
}

// ---------------------------------------------------------------------------
// Test 3: the shared rate limit
// ---------------------------------------------------------------------------

const RATE: u64 = 20;
const BURST: u64 = 5;
/// Each replica is offered this many times the account's rate.
const OFFERED: u64 = 5;
const OFFER_FOR: Duration = Duration::from_secs(3);
const RATE_DEADLINE: Duration = Duration::from_secs(2);

/// New keys (no faults), 100 calls per second on each of the three
/// replicas for 3 s, against an account limited to 20/s with a burst of 5:
/// the emulator never sees more than 25 requests in any second, and the
/// calls refused are GATEWAY_RATE_LIMITED with RetryInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test3_the_rate_limit_holds_across_the_fleet() {
    let _serial = SERIAL.lock().await;
    let db = fresh_database().await;
    let provider = format!("rate_per_second = {RATE}\nburst = {BURST}\nmax_concurrency = 256\n");
    let fleet = Fleet::start(&options(&db, provider, FaultConfig::default())).await;
    let connections = fleet.connections(2).await;
    let once = Patience {
        attempts: 1,
        give_up: RATE_DEADLINE,
        deadline: RATE_DEADLINE,
    };
    let per_replica = (RATE * OFFERED) as usize * OFFER_FOR.as_secs() as usize;
    let interval = Duration::from_micros(1_000_000 / (RATE * OFFERED));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..per_replica {
        tokio::time::sleep_until(started + interval * n as u32).await;
        for (replica, clients) in connections.iter().enumerate() {
            let clients = vec![clients[n % clients.len()].clone()];
            tasks.spawn(async move {
                let key = format!("fleet3-{replica}-{n:04}");
                let request = allocate(&key, n, 1);
                let call = call(&clients, 0, &request, once).await;
                (
                    replica,
                    KeyRun {
                        key,
                        calls: vec![call],
                    },
                )
            });
        }
    }
    let offered_for = started.elapsed();
    let mut runs = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        runs.push(joined.expect("a call task panicked"));
    }
    let elapsed = started.elapsed();
    let counters = fleet.emulator().faults().snapshot();

    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let mut ok_by_replica = [0usize; REPLICAS];
    let mut problems = Vec::new();
    for (replica, run) in &runs {
        let call = &run.calls[0];
        *answers.entry(label(&call.answer)).or_default() += 1;
        match &call.answer {
            Ok(_) => ok_by_replica[*replica] += 1,
            Err(status) if reason(status).as_deref() == Some("GATEWAY_RATE_LIMITED") => {
                if common::retry_delay(status).is_none() {
                    problems.push(format!("{}: rate limited without RetryInfo", run.key));
                }
            }
            Err(_) => {}
        }
    }
    let ok: usize = ok_by_replica.iter().sum();
    let runs: Vec<KeyRun> = runs.into_iter().map(|(_, run)| run).collect();
    let held = eips_by_key(fleet.emulator());
    for run in &runs {
        if held.get(&run.key) != run.calls[0].ids().as_ref() && run.calls[0].answer.is_ok() {
            problems.push(format!(
                "{}: answered ids the emulator does not hold",
                run.key
            ));
        }
    }
    let bound = RATE + BURST;
    eprintln!(
        "fleet figure test3: rate={RATE}/s burst={BURST} replicas={REPLICAS} offered={}/s per replica \
         for {:.1}s calls={} deadline={}s answers={answers:?} ok={ok} ok_by_replica={ok_by_replica:?} \
         elapsed={:.1}s emulator_requests={} allocate_calls={} max_per_second={} (bound {bound})",
        RATE * OFFERED,
        offered_for.as_secs_f64(),
        runs.len(),
        RATE_DEADLINE.as_secs(),
        elapsed.as_secs_f64(),
        counters.requests,
        counters.allocate_calls,
        counters.max_requests_per_second,
    );
    assert!(
        counters.max_requests_per_second <= bound,
        "{} requests in one second > rate {RATE} + burst {BURST}",
        counters.max_requests_per_second
    );
    assert_no_problems("test3", &problems);
    // What the limit lets through while offered: the burst and the rate.
    let capacity = BURST + (RATE as f64 * elapsed.as_secs_f64()).ceil() as u64;
    assert!(
        counters.requests <= capacity,
        "{} requests > {capacity}",
        counters.requests
    );
    // Counted at the emulator: on a busy machine some callers give up
    // before an allocation's answer reaches them (CANCELLED "Timeout
    // expired"), which says nothing of the limit.
    assert!(
        counters.allocate_calls >= BURST + RATE,
        "the limit let through at least the burst and a second's worth: {}",
        counters.allocate_calls
    );
    assert!(
        answers
            .get("ResourceExhausted/GATEWAY_RATE_LIMITED")
            .is_some_and(|n| *n > 0),
        "the offer exceeded the limit: {answers:?}"
    );
}

// ---------------------------------------------------------------------------
// Test 4: the database connection cut mid-run
// ---------------------------------------------------------------------------

/// Load before the cut, the cut, and load after it.
const BEFORE_CUT: Duration = Duration::from_millis(1500);
const CUT_FOR: Duration = Duration::from_secs(3);
const AFTER_CUT: Duration = Duration::from_millis(1500);
/// Callers, each sending its keys one after another, every key twice at
/// once to two replicas.
const CALLERS: usize = 12;
const KEYS_PER_CALLER: usize = 400;
/// Health must turn NOT_SERVING this soon after the cut.
const HEALTH_DOWN_WITHIN: Duration = Duration::from_millis(2500);
const HEALTH_UP_WITHIN: Duration = Duration::from_secs(5);
/// Allocations sent before the cut may still reach the provider this long
/// after it (their claim was written; retries and backoffs finish).
const IN_FLIGHT_SETTLE: Duration = Duration::from_secs(1);

/// Polls a replica's API health every 25 ms until `stop`; the changes seen.
async fn watch_health(
    mut health: tonic_health::pb::health_client::HealthClient<Channel>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(Instant, Option<ServingStatus>)> {
    let mut seen: Vec<(Instant, Option<ServingStatus>)> = Vec::new();
    let bound = Instant::now() + Duration::from_secs(120);
    while !*stop.borrow() && Instant::now() < bound {
        let status = api_health(&mut health).await;
        if seen.last().map(|(_, s)| *s) != Some(status) {
            seen.push((Instant::now(), status));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen
}

/// Keys driven one after another until `until`.
async fn caller(clients: Arc<Vec<Client>>, caller: usize, until: Instant) -> Vec<KeyRun> {
    let mut runs = Vec::new();
    for n in 0..KEYS_PER_CALLER {
        if Instant::now() >= until {
            break;
        }
        let key = format!("fleet4-{caller:02}-{n:03}");
        let request = allocate(&key, n, AMOUNT);
        let (a, b) = (caller % REPLICAS, (caller + 1) % REPLICAS);
        let (first, second) = tokio::join!(
            call(&clients, a, &request, PATIENT),
            call(&clients, b, &request, PATIENT)
        );
        runs.push(KeyRun {
            key,
            calls: vec![first, second],
        });
    }
    runs
}

/// The gateways reach the database through a proxy that drops every
/// connection and refuses new ones for 3 s, mid-run, with 20 %
/// allocate-then-drop: 0 duplicates; the calls during the outage are
/// answered UNAVAILABLE with RetryInfo (or OK); no allocation is sent once
/// those in flight have settled; health turns NOT_SERVING within 2.5 s and
/// SERVING again after the database returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test4_a_database_outage_fails_closed_and_recovers() {
    let _serial = SERIAL.lock().await;
    let db = fresh_database().await;
    let proxy = TcpProxy::start(server_addr()).await;
    let mut options = options(
        &db,
        provider_under_faults(),
        FaultConfig {
            drop_after_allocate_probability: 0.2,
            ..FaultConfig::default()
        },
    );
    options.postgres_url = db.url_via(proxy.addr());
    let fleet = Fleet::start(&options).await;
    let (stop_health, stop) = tokio::sync::watch::channel(false);
    let watchers: Vec<_> = fleet
        .replicas
        .iter()
        .map(|r| tokio::spawn(watch_health(r.health.clone(), stop.clone())))
        .collect();

    let started = Instant::now();
    let until = started + BEFORE_CUT + CUT_FOR + AFTER_CUT;
    let clients = Arc::new(fleet.clients());
    let callers: Vec<_> = (0..CALLERS)
        .map(|n| tokio::spawn(caller(Arc::clone(&clients), n, until)))
        .collect();
    tokio::time::sleep_until(started + BEFORE_CUT).await;
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep_until(cut_at + IN_FLIGHT_SETTLE).await;
    let settled = fleet.emulator().faults().snapshot().allocate_calls;
    tokio::time::sleep_until(cut_at + CUT_FOR).await;
    let before_restore = fleet.emulator().faults().snapshot().allocate_calls;
    proxy.restore();
    let restored_at = Instant::now();

    let mut runs = Vec::new();
    for joined in callers {
        runs.extend(
            tokio::time::timeout(Duration::from_secs(120), joined)
                .await
                .expect("the callers finish")
                .expect("a caller panicked"),
        );
    }
    let elapsed = started.elapsed();
    let mut health_up = Vec::new();
    for replica in &fleet.replicas {
        let mut health = replica.health.clone();
        health_up.push(await_health(&mut health, ServingStatus::Serving, HEALTH_UP_WITHIN).await);
    }
    stop_health.send(true).unwrap();
    let mut seen = Vec::new();
    for watcher in watchers {
        seen.push(watcher.await.unwrap());
    }

    let mut tally = tally(&runs, fleet.emulator());
    let records = db.client().await;
    let states = record_states(&records).await;
    let taken_over = takeovers(&records).await;
    tally.problems.extend(record_problems(&runs, &states));
    // What the calls sent during the outage were answered.
    let mut during: BTreeMap<String, usize> = BTreeMap::new();
    for attempt in runs.iter().flat_map(|r| &r.calls).flat_map(|c| &c.attempts) {
        let answered = attempt.at + attempt.took;
        if attempt.label.starts_with("Unavailable/")
            && !attempt.label.ends_with("no ErrorInfo")
            && !attempt.retry_info
        {
            tally
                .problems
                .push(format!("UNAVAILABLE without RetryInfo: {}", attempt.label));
        }
        if attempt.at >= cut_at && answered <= restored_at {
            *during.entry(attempt.label.clone()).or_default() += 1;
            if attempt.label != "OK" && !attempt.retry_info {
                tally.problems.push(format!(
                    "sent {:.2}s into the outage: {} without RetryInfo",
                    (attempt.at - cut_at).as_secs_f64(),
                    attempt.label
                ));
            }
        }
    }
    // Health: NOT_SERVING during the outage, SERVING after it.
    let mut down_after = Vec::new();
    let mut up_after = Vec::new();
    for (n, changes) in seen.iter().enumerate() {
        let down = changes
            .iter()
            .find(|(at, s)| *at >= cut_at && *s == Some(ServingStatus::NotServing))
            .map(|(at, _)| *at - cut_at);
        let up = changes
            .iter()
            .find(|(at, s)| *at >= restored_at && *s == Some(ServingStatus::Serving))
            .map(|(at, _)| *at - restored_at);
        match down {
            Some(after) if after <= HEALTH_DOWN_WITHIN => {}
            _ => tally.problems.push(format!(
                "r{}: health NOT_SERVING {down:?} after the cut (bound {HEALTH_DOWN_WITHIN:?}); changes seen: {:?}",
                n + 1,
                changes.iter().map(|(at, s)| (at.duration_since(started), *s)).collect::<Vec<_>>()
            )),
        }
        if health_up[n].is_none() {
            tally.problems.push(format!(
                "r{}: health not SERVING {HEALTH_UP_WITHIN:?} after the restore",
                n + 1
            ));
        }
        down_after.push(down.map(|d| format!("{:.2}s", d.as_secs_f64())));
        up_after.push(up.map(|d| format!("{:.2}s", d.as_secs_f64())));
    }
    let sent_in_outage = before_restore - settled;
    if sent_in_outage != 0 {
        tally.problems.push(format!(
            "{sent_in_outage} allocations sent between {IN_FLIGHT_SETTLE:?} after the cut and the restore"
        ));
    }
    let store_unavailable = during
        .get("Unavailable/IDEMPOTENCY_STORE_UNAVAILABLE")
        .copied()
        .unwrap_or(0);
    eprintln!(
        "fleet figure test4: replicas={REPLICAS} cut={:.1}s after {:.1}s elapsed={:.1}s {tally} {} \
         answers_during_outage={during:?} allocations_sent_in_outage={sent_in_outage} \
         health_not_serving_after={down_after:?} health_serving_after_restore={up_after:?} records={:?} taken_over={taken_over} \
         proxy_connections={} proxy_refused={}",
        CUT_FOR.as_secs_f64(),
        BEFORE_CUT.as_secs_f64(),
        elapsed.as_secs_f64(),
        emulator_figures(fleet.emulator()),
        count_states(&states),
        proxy.connections(),
        proxy.refused(),
    );
    assert_no_problems("test4", &tally.problems);
    assert_eq!(tally.duplicates, 0);
    assert!(
        store_unavailable > 0,
        "calls during the outage were answered IDEMPOTENCY_STORE_UNAVAILABLE: {during:?}"
    );
}

// ---------------------------------------------------------------------------
// Test 5: a stuck lease and the fencing token
// ---------------------------------------------------------------------------

/// One send with a deadline well inside A's lease.
const LEASED_PATIENCE: Patience = Patience {
    attempts: 1,
    give_up: Duration::from_millis(500),
    deadline: Duration::from_millis(500),
};

/// How long the emulator holds the frozen replica's allocation before
/// performing it (long enough to see it arrive and freeze the sender).
const SLOW_ALLOCATION_MS: u64 = 800;

/// Replica A sends an allocation (the emulator slow to answer it) and is
/// frozen with SIGSTOP while it is in flight, past its lease; the emulator
/// performs it meanwhile. Replica B gets the same key, takes the record
/// over (a new fencing token), reconciles by tag and completes with A's
/// EIPs. A is resumed: its late write is refused by the fencing token (a
/// WARN line saying so) and the record keeps B's outcome; a replay on C
/// answers it, and one allocation was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test5_a_frozen_replicas_late_write_is_fenced_off() {
    let _serial = SERIAL.lock().await;
    let db = fresh_database().await;
    let records = db.client().await;
    let fleet = Fleet::start(&options(
        &db,
        provider_under_faults(),
        FaultConfig::default(),
    ))
    .await;
    let clients = fleet.clients();
    let key = "fleet5-stuck";
    let request = allocate(key, 0, AMOUNT);
    let faults = fleet.emulator().faults().clone();
    set_faults(
        &fleet.zenlayer_url,
        &FaultConfig {
            latency_ms: SLOW_ALLOCATION_MS,
            ..FaultConfig::default()
        },
    )
    .await;

    let started = Instant::now();
    let on_a = tokio::spawn({
        let mut client = clients[0].clone();
        let request = request.clone();
        async move {
            let mut message = tonic::Request::new(request);
            message.set_timeout(Duration::from_secs(30));
            client
                .allocate_ip(message)
                .await
                .map(tonic::Response::into_inner)
        }
    });
    assert!(
        poll_until(Duration::from_secs(10), || {
            let faults = faults.clone();
            async move { faults.snapshot().requests >= 1 }
        })
        .await,
        "A's allocation reached the emulator"
    );
    fleet.replicas[0].process.signal(libc::SIGSTOP);
    let frozen_at = Instant::now();
    set_faults(&fleet.zenlayer_url, &FaultConfig::default()).await;
    let a_claim = record(&records, key).await.expect("A's claim is recorded");
    assert_eq!(
        (a_claim.state.as_str(), a_claim.lease_owner.as_deref()),
        ("in_flight", Some("r1")),
        "{a_claim:?}"
    );
    // While A's lease lives, B waits for the key until its deadline, then
    // answers IN_PROGRESS with RetryInfo (nothing sent).
    let while_leased = call(&clients, 1, &request, LEASED_PATIENCE).await;
    assert!(
        poll_until(Duration::from_secs(10), || {
            let faults = faults.clone();
            async move { faults.snapshot().allocate_calls == 1 }
        })
        .await,
        "the emulator performed A's allocation"
    );
    assert!(
        poll_until(Duration::from_millis(LEASE_MS * 3), || async {
            record(&records, key).await.is_some_and(|r| r.lease_expired)
        })
        .await,
        "A's lease expired"
    );
    let lease_expired_after = frozen_at.elapsed();

    let on_b = call(&clients, 1, &request, PATIENT).await;
    let b_record = record(&records, key).await.expect("the record");
    let b_ids = on_b.ids();

    fleet.replicas[0].process.signal(libc::SIGCONT);
    let thawed_at = Instant::now();
    let a_answer = tokio::time::timeout(Duration::from_secs(30), on_a)
        .await
        .expect("A answers its caller once resumed")
        .unwrap();
    let fenced = poll_until(Duration::from_secs(15), || {
        let log = fleet.log(0);
        async move { log.contains("fencing token") }
    })
    .await;
    let fenced_after = thawed_at.elapsed();
    let fence_lines: Vec<String> = fleet
        .log(0)
        .lines()
        .filter(|l| l.contains("fencing token"))
        .map(str::to_owned)
        .collect();
    let after = record(&records, key).await.expect("the record");
    let on_c = call(&clients, 2, &request, PATIENT).await;
    let held = eips_by_key(fleet.emulator());
    let counters = faults.snapshot();
    eprintln!(
        "fleet figure test5: lease={LEASE_MS}ms frozen_for={:.2}s lease_expired_after={:.2}s \
         b_while_leased={} (retry_info={}, {:.2}s) a_fence={} b_answer={} b_sends={} b_took={:.2}s record_after_b={b_record:?} a_answer={} \
         fencing_token_logged_after={:.2}s ({} lines) record_after_a={after:?} c_answer={} eips={} \
         allocate_calls={} emulator_requests={} max_per_second={} elapsed={:.1}s",
        (thawed_at - frozen_at).as_secs_f64(),
        lease_expired_after.as_secs_f64(),
        label(&while_leased.answer),
        while_leased.attempts[0].retry_info,
        while_leased.took.as_secs_f64(),
        a_claim.fence,
        label(&on_b.answer),
        on_b.attempts.len(),
        on_b.took.as_secs_f64(),
        label(&a_answer),
        fenced_after.as_secs_f64(),
        fence_lines.len(),
        label(&on_c.answer),
        held.get(key).map_or(0, Vec::len),
        counters.allocate_calls,
        counters.requests,
        counters.max_requests_per_second,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(
        label(&while_leased.answer),
        "Aborted/IDEMPOTENCY_KEY_IN_PROGRESS"
    );
    assert!(while_leased.attempts[0].retry_info, "with RetryInfo");
    assert!(
        while_leased.took < Duration::from_secs(1),
        "answered by its deadline: {:?}",
        while_leased.took
    );
    let b_ids = b_ids.unwrap_or_else(|| panic!("B completes the key: {:?}", on_b.answer));
    assert_eq!(b_ids.len(), AMOUNT as usize);
    assert!(
        b_record.fence > a_claim.fence,
        "B took the record over: {b_record:?}"
    );
    assert_eq!(b_record.state, "completed");
    assert!(
        fenced,
        "A's late write is refused and logged:\n{}",
        fleet.log(0)
    );
    assert!(
        fence_lines.iter().any(|l| l.contains("WARN")),
        "logged at WARN: {fence_lines:#?}"
    );
    assert_eq!(
        (after.state.as_str(), after.fence),
        ("completed", b_record.fence),
        "the record keeps B's outcome"
    );
    if let Ok(response) = &a_answer {
        let mut ids: Vec<String> = response.allocations.iter().map(|a| a.id.clone()).collect();
        ids.sort();
        assert_eq!(ids, b_ids, "A's answer names the same EIPs");
    }
    assert_eq!(on_c.ids().as_ref(), Some(&b_ids), "C replays B's outcome");
    assert_eq!(held.get(key), Some(&b_ids), "the EIPs tagged with the key");
    assert_eq!(held.len(), 1, "no other EIP: {held:?}");
    assert_eq!(counters.allocate_calls, 1, "one allocation, 0 duplicates");
}
