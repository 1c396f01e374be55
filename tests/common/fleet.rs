//! Fleet mode under test: several gateway processes (the real binary) on
//! one PostgreSQL database, in front of one Zenlayer emulator in this
//! process; a caller that honours the gateway's answers (it retries with the
//! same key when RetryInfo or an unsettled reason says so, and moves to
//! another replica when one does not answer at all), bounded in attempts and
//! time; and the checks of what the emulator made against what the callers
//! were told (duplicates, unaccounted EIPs, answers that disagree) and
//! against the shared records.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::zenlayer::{
    self, SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD, ZenlayerEmulator,
    ZenlayerEmulatorConfig,
};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::provider::zenlayer::IDEMPOTENCY_TAG_KEY;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{details, process, requests, retry_delay};

/// The provider account every replica shares.
pub const ACCOUNT: &str = "zenlayer";
/// The API's name in grpc.health.v1.
pub const API_SERVICE: &str = "ipalloc.v1.IpAllocation";
/// Zones that sell EIPs in the Zenlayer emulator (pools of 4,094).
pub const ZONES: [&str; 3] = ["SEL-A", "HKG-A", "FRA-A"];
/// The shared idempotency records.
pub const RECORDS_TABLE: &str = "ipalloc_records";

/// Reasons that leave a key without a definite answer even without
/// RetryInfo: the caller retries with the key.
pub const UNSETTLED: [&str; 6] = [
    "PROVIDER_OUTCOME_UNKNOWN",
    "PROVIDER_OUTCOME_PENDING",
    "IDEMPOTENCY_KEY_IN_PROGRESS",
    "IDEMPOTENCY_STORE_UNAVAILABLE",
    "ALLOCATION_INTERRUPTED",
    "GATEWAY_SHUTTING_DOWN",
];

/// How a fleet is started.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub replicas: usize,
    /// What the gateways connect to (the test database, or a proxy of it).
    pub postgres_url: String,
    /// `[cluster] lease_ms`.
    pub lease_ms: u64,
    /// Extra lines of `[providers.zenlayer]`.
    pub provider: String,
    /// The emulator's faults from the start.
    pub faults: FaultConfig,
}

/// A provider table for runs under faults: two attempts per call with short
/// backoffs, so some throttled calls reach the caller; the rate limit out of
/// the way; attempts shorter than the lease; a short reconcile grace.
pub fn provider_under_faults() -> String {
    "max_attempts = 2\n\
     backoff_base_ms = 10\n\
     backoff_max_ms = 200\n\
     rate_per_second = 100000\n\
     burst = 100000\n\
     max_concurrency = 256\n\
     request_timeout_ms = 1500\n\
     reconcile_grace_ms = 300\n"
        .to_owned()
}

/// 20 % throttling and 20 % allocate-then-drop.
pub fn drops_and_throttling() -> FaultConfig {
    FaultConfig {
        throttle_probability: 0.2,
        drop_after_allocate_probability: 0.2,
        ..FaultConfig::default()
    }
}

/// One gateway process of the fleet.
pub struct Replica {
    /// Its `[cluster] replica_id` (`r1`, `r2`, ...).
    pub id: String,
    pub process: process::Gateway,
    pub addr: SocketAddr,
    pub client: IpAllocationClient<Channel>,
    pub health: HealthClient<Channel>,
}

/// The Zenlayer emulator on a runtime of its own (one thread, stopped when
/// this is dropped), so that the moment it counts a request's arrival (its
/// requests-per-second figure) is not delayed behind the test's own callers
/// queued on the test's runtime.
pub struct OwnEmulator {
    pub emulator: Arc<ZenlayerEmulator>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OwnEmulator {
    /// Starts it with `faults` (and the default 2 s creation delay).
    pub fn start(faults: FaultConfig) -> OwnEmulator {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the emulator's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let config = ZenlayerEmulatorConfig {
                    faults,
                    ..ZenlayerEmulatorConfig::default()
                };
                let (running, emulator) = zenlayer::start(listener, config)
                    .await
                    .expect("the Zenlayer emulator starts");
                ready_tx.send((running.url(), emulator)).unwrap();
                let _ = stopped.await;
                drop(running);
            });
        });
        let (url, emulator) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the emulator's thread starts it");
        OwnEmulator {
            emulator,
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Gateway processes on one database in front of one Zenlayer emulator;
/// every process is killed when this is dropped.
pub struct Fleet {
    pub zenlayer: OwnEmulator,
    pub zenlayer_url: String,
    pub replicas: Vec<Replica>,
    _dir: tempfile::TempDir,
}

/// One replica's configuration file.
pub fn gateway_config(zenlayer_url: &str, options: &FleetOptions, replica_id: &str) -> String {
    let cluster = super::postgres::cluster_table(
        &options.postgres_url,
        &format!(
            "lease_ms = {lease}\nreplicas = {replicas}\nreplica_id = \"{replica_id}\"\n\
             statement_timeout_ms = 1000\nconnect_timeout_ms = 1000\npurge_interval_ms = 60000",
            lease = options.lease_ms,
            replicas = options.replicas,
        ),
    );
    format!(
        "listen = \"127.0.0.1:0\"\n\
         [log]\nlevel = \"info,ipalloc_gateway::access=off\"\n\
         {cluster}\
         [providers.{ACCOUNT}]\nkind = \"zenlayer\"\nendpoint = \"{zenlayer_url}\"\n\
         access_key_id = \"{SANDBOX_ACCESS_KEY_ID}\"\n\
         access_key_password = \"{SANDBOX_ACCESS_KEY_PASSWORD}\"\n{provider}\n",
        provider = options.provider,
    )
}

impl Fleet {
    /// Starts the emulator, then every replica at once (they migrate the
    /// database side by side), connects to each once it listens, and waits
    /// until each is SERVING.
    pub async fn start(options: &FleetOptions) -> Fleet {
        let zenlayer = OwnEmulator::start(options.faults.clone());
        let zenlayer_url = zenlayer.url.clone();
        let dir = tempfile::tempdir().unwrap();
        let mut processes = Vec::new();
        for n in 1..=options.replicas {
            let id = format!("r{n}");
            let home = dir.path().join(&id);
            std::fs::create_dir(&home).unwrap();
            let config = gateway_config(&zenlayer_url, options, &id);
            processes.push((id, process::spawn(&home, &config, |_| {})));
        }
        let mut replicas = Vec::new();
        for (id, mut process) in processes {
            // Polls the log file: not on a worker the emulator needs.
            let addr = tokio::task::block_in_place(|| process.wait_listening());
            let channel = super::channel(addr).await;
            replicas.push(Replica {
                id,
                process,
                addr,
                client: IpAllocationClient::new(channel.clone()),
                health: HealthClient::new(channel),
            });
        }
        // As a readiness probe would: load only once every replica serves
        // (one that lost the race to migrate is NOT_SERVING, and refuses
        // allocations, until its schema check passes).
        for replica in &mut replicas {
            let ready = await_health(
                &mut replica.health,
                ServingStatus::Serving,
                Duration::from_secs(30),
            )
            .await;
            assert!(
                ready.is_some(),
                "replica {} never became SERVING",
                replica.id
            );
        }
        Fleet {
            zenlayer,
            zenlayer_url,
            replicas,
            _dir: dir,
        }
    }

    pub fn emulator(&self) -> &ZenlayerEmulator {
        &self.zenlayer.emulator
    }

    /// A client of every replica, in order.
    pub fn clients(&self) -> Vec<IpAllocationClient<Channel>> {
        self.replicas.iter().map(|r| r.client.clone()).collect()
    }

    /// `count` clients of every replica, each on its own connection: an
    /// HTTP/2 client opens at most 100 streams on one.
    pub async fn connections(&self, count: usize) -> Vec<Vec<IpAllocationClient<Channel>>> {
        let mut all = Vec::new();
        for replica in &self.replicas {
            let mut own = Vec::new();
            for _ in 0..count {
                own.push(IpAllocationClient::new(super::channel(replica.addr).await));
            }
            all.push(own);
        }
        all
    }

    /// SIGKILL, and the exit reaped (within 10 s).
    pub fn kill(&mut self, replica: usize) {
        let process = &mut self.replicas[replica].process;
        process.signal(libc::SIGKILL);
        tokio::task::block_in_place(|| process.wait_exit(Duration::from_secs(10)));
    }

    /// The whole log of a replica so far.
    pub fn log(&self, replica: usize) -> String {
        self.replicas[replica].process.log_text()
    }
}

/// The API's status on a health client; `None` when the call fails or
/// takes over 1 s.
pub async fn api_health(health: &mut HealthClient<Channel>) -> Option<ServingStatus> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: API_SERVICE.into(),
    });
    request.set_timeout(Duration::from_secs(1));
    let answer = tokio::time::timeout(Duration::from_secs(1), health.check(request)).await;
    match answer {
        Ok(Ok(response)) => Some(response.into_inner().status()),
        _ => None,
    }
}

/// Polls `replica`'s API health every 20 ms until it is `wanted` (or
/// `bound` passes); how long that took.
pub async fn await_health(
    health: &mut HealthClient<Channel>,
    wanted: ServingStatus,
    bound: Duration,
) -> Option<Duration> {
    let from = Instant::now();
    while from.elapsed() < bound {
        if api_health(health).await == Some(wanted) {
            return Some(from.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// AllocateIp of `amount` POSTPAID EIPs in one of [`ZONES`] under `key`.
pub fn allocate(key: &str, zone: usize, amount: u32) -> pb::AllocateIpRequest {
    let params = pb::ZenlayerAllocateParams {
        amount: Some(amount),
        ..requests::postpaid(ZONES[zone % ZONES.len()])
    };
    requests::keyed(key, requests::zenlayer(ACCOUNT, params))
}

pub type Answer = Result<pb::AllocateIpResponse, tonic::Status>;

/// How far a caller goes for one call.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Sends, the first included.
    pub attempts: u32,
    /// No new send after this long.
    pub give_up: Duration,
    /// Each send's deadline (`grpc-timeout`).
    pub deadline: Duration,
}

/// What a caller does after an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// A definite answer: stop.
    Done,
    /// Told to wait this long and retry with the same key, on the same
    /// replica.
    Retry(Duration),
    /// No answer from the gateway itself (no ErrorInfo: it is gone, or the
    /// deadline passed in transit): try the next replica.
    Elsewhere,
}

/// The ErrorInfo reason of a status, if it has one.
pub fn reason(status: &tonic::Status) -> Option<String> {
    details(status).error_info().map(|info| info.reason.clone())
}

/// `Code/REASON` of an answer (`OK`, `Unavailable/no ErrorInfo`, ...).
pub fn label(answer: &Answer) -> String {
    match answer {
        Ok(_) => "OK".to_owned(),
        Err(status) => format!(
            "{:?}/{}",
            status.code(),
            reason(status).unwrap_or_else(|| "no ErrorInfo".to_owned())
        ),
    }
}

/// The next step of a caller that honours the gateway's answers.
pub fn next_step(answer: &Answer) -> Next {
    let Err(status) = answer else {
        return Next::Done;
    };
    let Some(reason) = reason(status) else {
        return Next::Elsewhere;
    };
    match retry_delay(status) {
        Some(delay) => Next::Retry(delay),
        None if UNSETTLED.contains(&reason.as_str()) => Next::Retry(Duration::from_millis(200)),
        None => Next::Done,
    }
}

/// One send of a call.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub replica: usize,
    /// When it was sent.
    pub at: Instant,
    pub took: Duration,
    /// [`label`] of its answer.
    pub label: String,
    pub retry_info: bool,
}

/// One call, driven to its end.
#[derive(Debug)]
pub struct Call {
    pub answer: Answer,
    pub attempts: Vec<Attempt>,
    pub took: Duration,
}

impl Call {
    /// OK, or an error that asks for nothing more.
    pub fn definite(&self) -> bool {
        next_step(&self.answer) == Next::Done
    }

    /// The allocation ids answered, sorted (OK only).
    pub fn ids(&self) -> Option<Vec<String>> {
        self.answer.as_ref().ok().map(|response| {
            let mut ids: Vec<String> = response.allocations.iter().map(|a| a.id.clone()).collect();
            ids.sort();
            ids
        })
    }
}

/// Sends `request` to `clients[first]` and follows the answers: retries
/// where RetryInfo (or an unsettled reason) says, waiting what it says
/// (between 20 ms and 2 s), and moves to the next replica when one does not
/// answer; stops at a definite answer or when `patience` runs out.
pub async fn call(
    clients: &[IpAllocationClient<Channel>],
    first: usize,
    request: &pb::AllocateIpRequest,
    patience: Patience,
) -> Call {
    let started = Instant::now();
    let mut replica = first % clients.len();
    let mut attempts = Vec::new();
    loop {
        let mut client = clients[replica].clone();
        let mut message = tonic::Request::new(request.clone());
        message.set_timeout(patience.deadline);
        let at = Instant::now();
        // The caller's own bound, in case the gateway never answers.
        let answer = match tokio::time::timeout(
            patience.deadline + Duration::from_secs(2),
            client.allocate_ip(message),
        )
        .await
        {
            Ok(answer) => answer.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded("no answer at all")),
        };
        attempts.push(Attempt {
            replica,
            at,
            took: at.elapsed(),
            label: label(&answer),
            retry_info: answer.as_ref().err().and_then(retry_delay).is_some(),
        });
        let wait = match next_step(&answer) {
            Next::Done => None,
            Next::Retry(delay) => {
                Some(delay.clamp(Duration::from_millis(20), Duration::from_secs(2)))
            }
            Next::Elsewhere => {
                replica = (replica + 1) % clients.len();
                Some(Duration::from_millis(20))
            }
        };
        let out_of_patience = attempts.len() as u32 >= patience.attempts
            || started.elapsed() + wait.unwrap_or_default() > patience.give_up;
        match wait {
            Some(wait) if !out_of_patience => tokio::time::sleep(wait).await,
            _ => {
                return Call {
                    answer,
                    attempts,
                    took: started.elapsed(),
                };
            }
        }
    }
}

/// A key and the calls made with it.
#[derive(Debug)]
pub struct KeyRun {
    pub key: String,
    pub calls: Vec<Call>,
}

/// Every EIP the emulator holds, by the idempotency key it is tagged with
/// (sorted ids); EIPs without the tag under `""`.
pub fn eips_by_key(emulator: &ZenlayerEmulator) -> HashMap<String, Vec<String>> {
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for eip in emulator.eips() {
        let key = eip
            .tags
            .tags
            .iter()
            .find(|t| t.key == IDEMPOTENCY_TAG_KEY)
            .map(|t| t.value.clone())
            .unwrap_or_default();
        held.entry(key).or_default().push(eip.eip_id);
    }
    for ids in held.values_mut() {
        ids.sort();
    }
    held
}

/// What a run of keys came to, and what was wrong with it.
#[derive(Debug, Default)]
pub struct Tally {
    pub keys: usize,
    pub calls: usize,
    /// Sends beyond each call's first.
    pub retries: usize,
    /// Why they were retried (`Code/REASON` of the answer that asked).
    pub retried_on: BTreeMap<String, usize>,
    pub ok_keys: usize,
    /// The final answer of every call that did not end OK.
    pub errors: BTreeMap<String, usize>,
    /// Keys holding more EIPs than one call makes, and EIPs with no key.
    pub duplicates: usize,
    /// Calls that changed replica because one did not answer.
    pub failovers: usize,
    /// Each call's time to its end, p50 and p99.
    pub p50: Duration,
    pub p99: Duration,
    pub problems: Vec<String>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "keys={} calls={} sends={} retries={} retried_on={:?} ok_keys={} errors={:?} \
             duplicates={} failovers={} call_p50={:.3}s call_p99={:.3}s problems={}",
            self.keys,
            self.calls,
            self.calls + self.retries,
            self.retries,
            self.retried_on,
            self.ok_keys,
            self.errors,
            self.duplicates,
            self.failovers,
            self.p50.as_secs_f64(),
            self.p99.as_secs_f64(),
            self.problems.len(),
        )
    }
}

/// Checks a run against what the emulator holds: every call ended definite;
/// the OK answers of a key carry the same allocation ids, which are exactly
/// the EIPs tagged with that key; a key with no OK answer holds no EIP;
/// every EIP names its key; the emulator performed one allocation call per
/// key that ended OK.
pub fn tally(runs: &[KeyRun], emulator: &ZenlayerEmulator) -> Tally {
    let mut t = Tally {
        keys: runs.len(),
        ..Tally::default()
    };
    let held = eips_by_key(emulator);
    let mut took = Vec::new();
    for run in runs {
        let mut answered: Option<Vec<String>> = None;
        for call in &run.calls {
            t.calls += 1;
            t.retries += call.attempts.len().saturating_sub(1);
            took.push(call.took);
            for pair in call.attempts.windows(2) {
                *t.retried_on.entry(pair[0].label.clone()).or_default() += 1;
                t.failovers += usize::from(pair[0].replica != pair[1].replica);
            }
            if !call.definite() {
                t.problems.push(format!(
                    "{}: no definite answer after {} sends in {:.1}s: {}",
                    run.key,
                    call.attempts.len(),
                    call.took.as_secs_f64(),
                    label(&call.answer)
                ));
            }
            match call.ids() {
                Some(ids) => match &answered {
                    Some(earlier) if *earlier != ids => t.problems.push(format!(
                        "{}: two OK answers with different ids: {earlier:?} and {ids:?}",
                        run.key
                    )),
                    _ => answered = Some(ids),
                },
                None => *t.errors.entry(label(&call.answer)).or_default() += 1,
            }
        }
        match (&answered, held.get(&run.key)) {
            (Some(ids), Some(eips)) if ids == eips => t.ok_keys += 1,
            (None, None) => {}
            (Some(ids), eips) => {
                t.ok_keys += 1;
                t.problems.push(format!(
                    "{}: answered {ids:?}, the emulator holds {eips:?}",
                    run.key
                ));
            }
            (None, Some(eips)) => t.problems.push(format!(
                "{}: no OK answer, yet the emulator holds {eips:?}",
                run.key
            )),
        }
    }
    let amount_of = |key: &str| {
        runs.iter()
            .find(|r| r.key == key)
            .and_then(|r| r.calls.iter().find_map(Call::ids))
            .map(|ids| ids.len())
    };
    for (key, eips) in &held {
        if key.is_empty() {
            t.duplicates += eips.len();
            t.problems
                .push(format!("{} EIPs carry no idempotency key", eips.len()));
        } else if amount_of(key).is_some_and(|amount| eips.len() > amount) {
            t.duplicates += 1;
        }
    }
    let allocate_calls = emulator.faults().snapshot().allocate_calls as usize;
    if allocate_calls != t.ok_keys {
        t.problems.push(format!(
            "the emulator performed {allocate_calls} allocation calls for {} keys that ended OK",
            t.ok_keys
        ));
    }
    took.sort();
    t.p50 = percentile(&took, 0.50);
    t.p99 = percentile(&took, 0.99);
    t
}

/// The `q` quantile of sorted durations (zero when empty).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The emulator's counters, in one figure.
pub fn emulator_figures(emulator: &ZenlayerEmulator) -> String {
    let c = emulator.faults().snapshot();
    format!(
        "emulator_requests={} allocate_calls={} eips={} throttled={} dropped={} max_per_second={}",
        c.requests,
        c.allocate_calls,
        c.allocations,
        c.throttled,
        c.dropped,
        c.max_requests_per_second
    )
}

/// One shared record as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub state: String,
    pub fence: i64,
    pub lease_owner: Option<String>,
    /// `lease_expires <= now()` on the database's clock.
    pub lease_expired: bool,
}

/// The record of `key` on [`ACCOUNT`], if there is one.
pub async fn record(db: &tokio_postgres::Client, key: &str) -> Option<RecordRow> {
    let row = db
        .query_opt(
            &format!(
                "SELECT state::text, fence::bigint, lease_owner::text, \
                 coalesce(lease_expires <= now(), true) \
                 FROM {RECORDS_TABLE} WHERE account = $1 AND key = $2"
            ),
            &[&ACCOUNT, &key],
        )
        .await
        .expect("the records table answers");
    row.map(|row| RecordRow {
        state: row.get(0),
        fence: row.get(1),
        lease_owner: row.get(2),
        lease_expired: row.get(3),
    })
}

/// The state of every record of [`ACCOUNT`], by key.
pub async fn record_states(db: &tokio_postgres::Client) -> HashMap<String, String> {
    db.query(
        &format!("SELECT key::text, state::text FROM {RECORDS_TABLE} WHERE account = $1"),
        &[&ACCOUNT],
    )
    .await
    .expect("the records table answers")
    .into_iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

/// How many records of [`ACCOUNT`] were taken over from a replica whose
/// lease ran out (a fencing token above the first claim's).
pub async fn takeovers(db: &tokio_postgres::Client) -> i64 {
    db.query_one(
        &format!("SELECT count(*) FROM {RECORDS_TABLE} WHERE account = $1 AND fence > 1"),
        &[&ACCOUNT],
    )
    .await
    .expect("the records table answers")
    .get(0)
}

/// The keys of [`ACCOUNT`] whose record is not completed and leased to
/// replica `owner`.
pub async fn leased_to(db: &tokio_postgres::Client, owner: &str) -> Vec<String> {
    db.query(
        &format!(
            "SELECT key::text FROM {RECORDS_TABLE} \
             WHERE account = $1 AND lease_owner = $2 AND state <> 'completed'"
        ),
        &[&ACCOUNT, &owner],
    )
    .await
    .expect("the records table answers")
    .into_iter()
    .map(|row| row.get(0))
    .collect()
}

/// How many records are in each state.
pub fn count_states(states: &HashMap<String, String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for state in states.values() {
        *counts.entry(state.clone()).or_default() += 1;
    }
    counts
}

/// Polls `condition` every 20 ms until it holds (true) or `bound` passes.
pub async fn poll_until<F, Fut>(bound: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + bound;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
