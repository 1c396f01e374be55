//! Load benchmark: the gateway's own per-call overhead, measured in-process.
//!
//! ```sh
//! cargo run --release --example load -- [--workers 32] [--calls 20000] [--duration 30]
//! ```
//!
//! Starts both provider emulators and the gateway on 127.0.0.1:0 (loopback
//! only), with the providers' rate limit and concurrency cap raised far above
//! the load, then drives the gateway with a tonic client: `--workers`
//! concurrent callers per scenario, until `--calls` calls or `--duration`
//! seconds, whichever comes first. Scenarios, in this order:
//!
//! 1. `ListProviders`: no provider call, gateway overhead only.
//! 2. `GetAllocation` on Zenlayer: one provider round trip (DescribeEipAddresses).
//! 3. `AllocateIp` on Zenlayer with a fresh idempotency key per call:
//!    idempotency store writes plus one AllocateEipAddresses.
//! 4. `AllocateIp` on Aliyun with a fresh key per call, one per seeded pool
//!    instance (`i-emupool0000`..`i-emupool1999`, so at most 2000 calls).
//! 5. Replay: the keys that succeeded in 3 and 4 again with the same
//!    parameters: answered from the idempotency store, no provider call.
//!    Each answer must name the allocation the first call made.
//!
//! Gateway, emulators and client run on three Tokio runtimes with named
//! threads, so the CPU time of each is read apart from `/proc/self/task`.
//! The run fails (exit code 1) when any call fails, a replay answers a
//! different allocation, or a scenario that must not reach a provider does.

// A measuring tool: a failed setup step ends the run with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ipalloc_gateway::config::{IdempotencyConfig, ProviderConfig, ServerConfig};
use ipalloc_gateway::emulator::aliyun::AliyunEmulator;
use ipalloc_gateway::emulator::zenlayer::ZenlayerEmulator;
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::allocate_ip_request::Params;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::{EmulatorOptions, start_emulators};
use ipalloc_gateway::server::{self, Gateway};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tonic::transport::Channel;

type BoxError = Box<dyn Error + Send + Sync>;
type Client = IpAllocationClient<Channel>;

/// Provider limits for the benchmark: far above the load, so that the
/// gateway's own overhead is measured, not its rate limiter.
const PROVIDER_RATE_PER_SECOND: u32 = 100_000;
const PROVIDER_BURST: u32 = 100_000;
const PROVIDER_MAX_CONCURRENCY: usize = 256;
/// Seeded Aliyun pool instances: each can get a public IP once.
const ALIYUN_POOL: usize = 2000;
/// Zenlayer emulator zones that sell EIPs, and the addresses their pools
/// hold together (3 x /20, minus each pool's first and last address). EIPs
/// beyond that are still created (the call is the same) but end CREATE_FAILED.
const ZENLAYER_ZONES: [&str; 3] = ["SEL-A", "HKG-A", "FRA-A"];
const ZENLAYER_POOL: u64 = 3 * 4094;

/// Load benchmark of ipalloc-gateway against its in-process emulators.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent callers per scenario.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Most calls per scenario (Aliyun allocations: at most 2000).
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Longest time per scenario, in seconds.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// HTTP/2 connections the callers share (round robin).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Deadline of each call (grpc-timeout), in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Keep idempotency records in a temporary file (one fsync per write)
    /// instead of in memory (the default configuration).
    #[arg(long)]
    store_file: bool,
}

fn main() -> Result<ExitCode, BoxError> {
    let args = Args::parse();
    if args.workers == 0 || args.calls == 0 || args.connections == 0 {
        return Err("--workers, --calls and --connections must be at least 1".into());
    }
    let emulator_rt = runtime("ipa-emulator")?;
    let gateway_rt = runtime("ipa-gateway")?;
    let client_rt = runtime("ipa-client")?;

    // Emulators: their accept loops and connections run on `emulator_rt`.
    let emulators = emulator_rt.block_on(start_emulators(&EmulatorOptions::default()))?;
    let zenlayer = emulators
        .zenlayer
        .as_ref()
        .map(|(_, e)| Arc::clone(e))
        .ok_or("the Zenlayer emulator did not start")?;
    let aliyun = emulators
        .aliyun
        .as_ref()
        .map(|(_, e)| Arc::clone(e))
        .ok_or("the Aliyun emulator did not start")?;

    let mut providers = emulators.provider_configs();
    for provider in &mut providers {
        let resilience = match provider {
            ProviderConfig::Aliyun(s) => &mut s.resilience,
            ProviderConfig::Zenlayer(s) => &mut s.resilience,
        };
        resilience.rate_per_second = PROVIDER_RATE_PER_SECOND;
        resilience.burst = PROVIDER_BURST;
        resilience.max_concurrency = PROVIDER_MAX_CONCURRENCY;
        resilience.validate()?;
    }
    let store_dir = if args.store_file {
        Some(tempfile::tempdir()?)
    } else {
        None
    };
    let idempotency = IdempotencyConfig {
        path: store_dir
            .as_ref()
            .map(|d| d.path().join("idempotency.redb")),
        ..IdempotencyConfig::default()
    };
    let server_config = ServerConfig::default();
    let gateway = Gateway::from_parts(&providers, &idempotency, server_config)?;

    // Gateway: the server, its calls and its provider HTTP clients run on
    // `gateway_rt`.
    let listener = gateway_rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = gateway_rt.spawn(server::serve(listener, gateway, async {
        let _ = stopped.await;
    }));

    let setup = Setup {
        args: &args,
        addr,
        zenlayer,
        aliyun,
        max_concurrent_calls: server_config.max_concurrent_calls,
    };
    let passed = client_rt.block_on(benchmark(&setup))?;

    let _ = stop.send(());
    gateway_rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(5), served).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(BoxError::from(e)),
            Ok(Err(e)) => Err(BoxError::from(e)),
            Err(_) => Err("the gateway did not stop within 5 s".into()),
        }
    })?;
    drop(emulators);
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A multi-thread runtime (one worker per CPU) whose threads carry `name`.
fn runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(name)
        .enable_all()
        .build()
}

struct Setup<'a> {
    args: &'a Args,
    addr: SocketAddr,
    zenlayer: Arc<ZenlayerEmulator>,
    aliyun: Arc<AliyunEmulator>,
    max_concurrent_calls: usize,
}

/// Runs every scenario and prints the report; false when a check failed.
async fn benchmark(setup: &Setup<'_>) -> Result<bool, BoxError> {
    let args = setup.args;
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let channel = Channel::from_shared(format!("http://{}", setup.addr))?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await?;
        clients.push(IpAllocationClient::new(channel));
    }
    let runner = Runner {
        clients,
        workers: args.workers,
        duration: Duration::from_secs(args.duration),
        timeout: Duration::from_millis(args.timeout_ms),
        zenlayer: Arc::clone(&setup.zenlayer),
        aliyun: Arc::clone(&setup.aliyun),
    };

    // One EIP to read back, then a warm-up that opens the gateway's
    // connections to both emulators (not reported).
    let mut client = runner.clients[0].clone();
    let created = client
        .allocate_ip(pb::AllocateIpRequest {
            provider: "zenlayer".to_owned(),
            idempotency_key: "load-setup".to_owned(),
            params: Some(Params::Zenlayer(zenlayer_params(ZENLAYER_ZONES[0]))),
            ..Default::default()
        })
        .await?
        .into_inner();
    let eip_id = created
        .allocations
        .first()
        .map(|a| a.id.clone())
        .ok_or("the setup allocation returned no EIP")?;
    let warm_up: Vec<Call> = (0..args.workers * 4)
        .map(|i| {
            Call::Get(pb::GetAllocationRequest {
                provider: if i % 2 == 0 { "zenlayer" } else { "aliyun" }.to_owned(),
                id: if i % 2 == 0 {
                    eip_id.clone()
                } else {
                    "i-emuhasip001".to_owned()
                },
                ..Default::default()
            })
        })
        .collect();
    let warm = runner.run("warm-up", Arc::new(warm_up)).await?;
    if warm.failed() > 0 {
        eprintln!("warning: warm-up calls failed: {:?}", warm.errors);
    }

    let mut reports = Vec::new();

    let list = vec![Call::List; args.calls];
    reports.push(
        runner
            .run("`ListProviders` (no provider call)", Arc::new(list))
            .await?,
    );

    let get = vec![
        Call::Get(pb::GetAllocationRequest {
            provider: "zenlayer".to_owned(),
            id: eip_id,
            ..Default::default()
        });
        args.calls
    ];
    reports.push(
        runner
            .run("`GetAllocation` Zenlayer (1 provider call)", Arc::new(get))
            .await?,
    );

    let zl_calls: Arc<Vec<Call>> = Arc::new(
        (0..args.calls)
            .map(|i| {
                Call::Allocate(pb::AllocateIpRequest {
                    provider: "zenlayer".to_owned(),
                    idempotency_key: format!("load-zl-{i}"),
                    params: Some(Params::Zenlayer(zenlayer_params(
                        ZENLAYER_ZONES[i % ZENLAYER_ZONES.len()],
                    ))),
                    ..Default::default()
                })
            })
            .collect(),
    );
    let zl = runner
        .run(
            "`AllocateIp` Zenlayer, new key (store + 1 provider call)",
            Arc::clone(&zl_calls),
        )
        .await?;

    let ali_calls: Arc<Vec<Call>> = Arc::new(
        (0..args.calls.min(ALIYUN_POOL))
            .map(|i| {
                Call::Allocate(pb::AllocateIpRequest {
                    provider: "aliyun".to_owned(),
                    idempotency_key: format!("load-ali-{i}"),
                    params: Some(Params::Aliyun(pb::AliyunAllocateParams {
                        instance_id: format!("i-emupool{i:04}"),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
            })
            .collect(),
    );
    let ali = runner
        .run(
            "`AllocateIp` Aliyun, new key (store + 1 provider call)",
            Arc::clone(&ali_calls),
        )
        .await?;

    // The same requests again, alternating providers, each expecting the
    // allocation its first call answered.
    let mut replays = Vec::new();
    let mut zl_done = replay_calls(&zl_calls, &zl.allocated).into_iter();
    let mut ali_done = replay_calls(&ali_calls, &ali.allocated).into_iter();
    while replays.len() < args.calls {
        match (zl_done.next(), ali_done.next()) {
            (None, None) => break,
            (a, b) => replays.extend(a.into_iter().chain(b)),
        }
    }
    replays.truncate(args.calls);
    let zl_allocated = zl.ok;
    reports.push(zl);
    reports.push(ali);
    reports.push(
        runner
            .run(
                "`AllocateIp` replay, same keys (store only)",
                Arc::new(replays),
            )
            .await?,
    );

    print_report(setup, &reports);

    let mut failures = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        if report.failed() > 0 {
            failures.push(format!("{}: {} calls failed", report.name, report.failed()));
        }
        if report.calls == 0 {
            failures.push(format!("{}: no call was made", report.name));
        }
        let provider_calls = report.provider_requests.0 + report.provider_requests.1;
        // ListProviders (first) and the replay (last) must not reach a provider.
        if (i == 0 || i == reports.len() - 1) && provider_calls != 0 {
            failures.push(format!(
                "{}: {provider_calls} provider requests, expected none",
                report.name
            ));
        }
    }
    if zl_allocated + 1 > ZENLAYER_POOL {
        println!(
            "Note: the Zenlayer emulator's pools hold {ZENLAYER_POOL} addresses; the EIPs allocated beyond that end CREATE_FAILED later (the AllocateIp call itself is the same)."
        );
    }
    if failures.is_empty() {
        println!(
            "\nChecks passed: no failed call, every replay answered its original allocation, no provider request for ListProviders or replays."
        );
        Ok(true)
    } else {
        println!("\nChecks FAILED:");
        for failure in &failures {
            println!("- {failure}");
        }
        Ok(false)
    }
}

fn zenlayer_params(zone: &str) -> pb::ZenlayerAllocateParams {
    pb::ZenlayerAllocateParams {
        zone_id: zone.to_owned(),
        charge_type: pb::ChargeType::Postpaid as i32,
        ..Default::default()
    }
}

/// The successful allocations of a scenario, as replays of their requests.
fn replay_calls(calls: &[Call], allocated: &[(usize, String)]) -> Vec<Call> {
    let mut done: Vec<&(usize, String)> = allocated.iter().collect();
    done.sort();
    done.into_iter()
        .filter_map(|(index, id)| match calls.get(*index) {
            Some(Call::Allocate(request)) => Some(Call::Replay {
                request: request.clone(),
                expect_id: id.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// One call a worker makes.
#[derive(Clone)]
enum Call {
    List,
    Get(pb::GetAllocationRequest),
    Allocate(pb::AllocateIpRequest),
    /// A repeated AllocateIp that must answer the allocation `expect_id`.
    Replay {
        request: pb::AllocateIpRequest,
        expect_id: String,
    },
}

/// A failed call: the gRPC code (or `ReplayMismatch`) and its message.
struct Failure {
    code: String,
    message: String,
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure {
            code: format!("{:?}", status.code()),
            message: status.message().to_owned(),
        }
    }
}

fn with_deadline<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// Makes one call; `Ok(Some(id))` names the allocation an AllocateIp answered.
async fn execute(
    client: &mut Client,
    call: &Call,
    timeout: Duration,
) -> Result<Option<String>, Failure> {
    match call {
        Call::List => {
            client
                .list_providers(with_deadline(pb::ListProvidersRequest {}, timeout))
                .await?;
            Ok(None)
        }
        Call::Get(request) => {
            let allocation = client
                .get_allocation(with_deadline(request.clone(), timeout))
                .await?
                .into_inner();
            Ok(Some(allocation.id))
        }
        Call::Allocate(request) => {
            let response = client
                .allocate_ip(with_deadline(request.clone(), timeout))
                .await?
                .into_inner();
            Ok(response.allocations.first().map(|a| a.id.clone()))
        }
        Call::Replay { request, expect_id } => {
            let response = client
                .allocate_ip(with_deadline(request.clone(), timeout))
                .await?
                .into_inner();
            let got = response.allocations.first().map(|a| a.id.as_str());
            if got == Some(expect_id.as_str()) {
                Ok(Some(expect_id.clone()))
            } else {
                Err(Failure {
                    code: "ReplayMismatch".to_owned(),
                    message: format!("expected allocation {expect_id}, got {got:?}"),
                })
            }
        }
    }
}

struct Runner {
    clients: Vec<Client>,
    workers: usize,
    duration: Duration,
    timeout: Duration,
    zenlayer: Arc<ZenlayerEmulator>,
    aliyun: Arc<AliyunEmulator>,
}

/// What one scenario measured.
struct Report {
    name: String,
    calls: usize,
    ok: u64,
    /// By code: how many, and the first message.
    errors: BTreeMap<String, (u64, String)>,
    elapsed: Duration,
    /// Every call's latency, sorted.
    latencies_us: Vec<u64>,
    /// Emulator API requests during the scenario: (Zenlayer, Aliyun).
    provider_requests: (u64, u64),
    cpu: Option<Cpu>,
    /// (call index, allocation id) of each successful AllocateIp.
    allocated: Vec<(usize, String)>,
}

impl Report {
    fn failed(&self) -> u64 {
        self.errors.values().map(|(n, _)| n).sum()
    }

    /// The nearest-rank percentile `q` (0..=1) of the latencies.
    fn percentile(&self, q: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let rank = (q * self.latencies_us.len() as f64).ceil() as usize;
        self.latencies_us[rank.clamp(1, self.latencies_us.len()) - 1]
    }
}

impl Runner {
    /// Runs `calls` with `workers` callers until they are done or the
    /// scenario's time is up.
    async fn run(&self, name: &str, calls: Arc<Vec<Call>>) -> Result<Report, BoxError> {
        let counters_before = self.provider_requests();
        let cpu_before = Cpu::now();
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let stop_at = started + self.duration;
        let mut workers = JoinSet::new();
        for worker in 0..self.workers {
            let mut client = self.clients[worker % self.clients.len()].clone();
            let (calls, next, timeout) = (Arc::clone(&calls), Arc::clone(&next), self.timeout);
            workers.spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < stop_at {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(call) = calls.get(index) else { break };
                    let begun = Instant::now();
                    let outcome = execute(&mut client, call, timeout).await;
                    let micros = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
                    samples.push((index, micros, outcome));
                }
                samples
            });
        }
        let mut report = Report {
            name: name.to_owned(),
            calls: 0,
            ok: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
            latencies_us: Vec::with_capacity(calls.len()),
            provider_requests: (0, 0),
            cpu: None,
            allocated: Vec::new(),
        };
        while let Some(samples) = workers.join_next().await {
            for (index, micros, outcome) in samples? {
                report.calls += 1;
                report.latencies_us.push(micros);
                match outcome {
                    Ok(id) => {
                        report.ok += 1;
                        if let (Call::Allocate(_), Some(id)) = (&calls[index], id) {
                            report.allocated.push((index, id));
                        }
                    }
                    Err(failure) => {
                        let entry = report
                            .errors
                            .entry(failure.code)
                            .or_insert((0, failure.message));
                        entry.0 += 1;
                    }
                }
            }
        }
        report.elapsed = started.elapsed();
        report.latencies_us.sort_unstable();
        let counters_after = self.provider_requests();
        report.provider_requests = (
            counters_after.0 - counters_before.0,
            counters_after.1 - counters_before.1,
        );
        report.cpu = cpu_before.zip(Cpu::now()).map(|(a, b)| b.since(&a));
        Ok(report)
    }

    /// API requests each emulator has received so far: (Zenlayer, Aliyun).
    fn provider_requests(&self) -> (u64, u64) {
        (
            self.zenlayer.faults().snapshot().requests,
            self.aliyun.faults().snapshot().requests,
        )
    }
}

/// CPU time (user + system) of the process and of each runtime's threads.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    process: Duration,
    gateway: Duration,
    emulator: Duration,
    client: Duration,
}

impl Cpu {
    /// Reads `/proc/self/stat` and `/proc/self/task/*/{comm,stat}`; `None`
    /// where `/proc` is not available. Threads that already exited count in
    /// `process` only.
    fn now() -> Option<Cpu> {
        let mut cpu = Cpu {
            process: stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)?,
            ..Cpu::default()
        };
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("stat")),
            ) else {
                continue; // the thread exited meanwhile
            };
            let Some(time) = stat_cpu(&stat) else {
                continue;
            };
            match comm.trim() {
                "ipa-gateway" => cpu.gateway += time,
                "ipa-emulator" => cpu.emulator += time,
                "ipa-client" => cpu.client += time,
                _ => {}
            }
        }
        Some(cpu)
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            process: self.process.saturating_sub(before.process),
            gateway: self.gateway.saturating_sub(before.gateway),
            emulator: self.emulator.saturating_sub(before.emulator),
            client: self.client.saturating_sub(before.client),
        }
    }
}

/// utime + stime (fields 14 and 15) of a `/proc` stat line, in USER_HZ
/// ticks, which Linux fixes at 100 per second for user space.
fn stat_cpu(stat: &str) -> Option<Duration> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn print_report(setup: &Setup<'_>, reports: &[Report]) {
    let args = setup.args;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let command: Vec<String> = std::env::args().skip(1).collect();
    let command = if command.is_empty() {
        "cargo run --release --example load".to_owned()
    } else {
        format!(
            "cargo run --release --example load -- {}",
            command.join(" ")
        )
    };

    println!("\n## Load benchmark\n");
    println!("Command: `{command}`\n");
    if cfg!(debug_assertions) {
        println!("**Debug build: these numbers are not representative; use --release.**\n");
    }
    println!(
        "Machine: {cpus} CPUs (nproc), {model}. Gateway, both emulators and the client run in one process on 127.0.0.1, each on its own Tokio runtime ({cpus} worker threads each), so they compete for the same CPUs.\n"
    );
    println!(
        "Load: {workers} concurrent callers on {connections} HTTP/2 connection(s), per-call deadline {timeout} ms, each scenario bounded by {calls} calls or {duration} s (Aliyun allocations: at most {pool}, one per seeded pool instance). Provider limits raised to {rate}/s, burst {burst}, {conc} in flight; server cap {cap} concurrent calls; idempotency store {store}.\n",
        workers = args.workers,
        connections = args.connections,
        timeout = args.timeout_ms,
        calls = args.calls,
        duration = args.duration,
        pool = ALIYUN_POOL,
        rate = PROVIDER_RATE_PER_SECOND,
        burst = PROVIDER_BURST,
        conc = PROVIDER_MAX_CONCURRENCY,
        cap = setup.max_concurrent_calls,
        store = if args.store_file {
            "in a file (fsync per write)"
        } else {
            "in memory"
        },
    );
    println!(
        "| Scenario | Calls | OK | Errors | Calls/s | p50 µs | p90 µs | p99 µs | max µs | Provider requests (emulator) | CPU µs/call gateway / emulator / client | Process CPU s |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|---:|");
    for r in reports {
        let errors = if r.errors.is_empty() {
            "0".to_owned()
        } else {
            r.errors
                .iter()
                .map(|(code, (n, _))| format!("{code} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rate = r.calls as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let provider = match r.provider_requests {
            (0, 0) => "none".to_owned(),
            (z, 0) => format!("Zenlayer {z}"),
            (0, a) => format!("Aliyun {a}"),
            (z, a) => format!("Zenlayer {z}, Aliyun {a}"),
        };
        let per_call = |d: Duration| d.as_micros() as f64 / r.calls.max(1) as f64;
        let (cpu_split, cpu_total) = match &r.cpu {
            Some(c) => (
                format!(
                    "{:.0} / {:.0} / {:.0}",
                    per_call(c.gateway),
                    per_call(c.emulator),
                    per_call(c.client)
                ),
                format!("{:.2}", c.process.as_secs_f64()),
            ),
            None => ("n/a".to_owned(), "n/a".to_owned()),
        };
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.calls,
            r.ok,
            errors,
            rate,
            r.percentile(0.50),
            r.percentile(0.90),
            r.percentile(0.99),
            r.latencies_us.last().copied().unwrap_or(0),
            provider,
            cpu_split,
            cpu_total,
        );
    }
    println!(
        "\nLatency: every call, errors included, measured by the client (so it includes the client's own work). CPU: user + system time from /proc (10 ms ticks) of each runtime's threads, divided by the calls made; wall time of each scenario: {}.",
        reports
            .iter()
            .map(|r| format!("{:.2} s", r.elapsed.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in reports {
        for (code, (n, message)) in &r.errors {
            println!("- {}: {n} x {code}, first: {message}", r.name);
        }
    }
}
