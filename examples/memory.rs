//! Memory benchmark: does the gateway's memory stay flat under load, apart
//! from its idempotency records?
//!
//! ```sh
//! cargo run --release --example memory -- [--calls 1000000] [--checkpoint 100000]
//!     [--workers 32] [--max-bytes 1073741824] [--evict] [--duration 1200]
//! ```
//!
//! Runs the gateway (release build, in-memory store) in a child process of
//! its own, so its RSS is its alone, in front of a trivial fake Zenlayer
//! provider in this process (one canned `AllocateEipAddresses` answer with a
//! new EIP id per call, on 127.0.0.1). Drives it with `--workers` concurrent
//! callers in a closed loop over one HTTP/2 connection, a new idempotency
//! key per call, up to `--calls` calls or `--duration` seconds. Before the
//! load, at each `--checkpoint` and at the end (after 2 s idle) the child
//! reports its RSS (`VmRSS`), its store's counted bytes and its allocation
//! inventory's (in memory, bounded by a quarter of `--max-bytes`); the
//! table shows RSS minus both against the idle RSS: what grows outside
//! them.
//!
//! Exit code 1 when a call fails other than by the store's bound.

// A measuring tool: a failed setup step ends the run with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ipalloc_gateway::config;
use ipalloc_gateway::emulator::zenlayer;
use ipalloc_gateway::inventory::Inventory;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::server::{self, Gateway};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// The gateway binary's allocator (see Cargo.toml), so that the child's RSS
/// is what the binary's would be.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/zenlayer_request.rs"]
mod zenlayer_request;
use zenlayer_request::zenlayer_request;

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Parser)]
struct Args {
    /// Calls in all (each with a new idempotency key).
    #[arg(long, default_value_t = 1_000_000)]
    calls: u64,
    /// Report memory every this many calls.
    #[arg(long, default_value_t = 100_000)]
    checkpoint: u64,
    /// Concurrent callers, over one HTTP/2 connection.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// `[idempotency] max_bytes` of the gateway.
    #[arg(long, default_value_t = 1 << 30)]
    max_bytes: u64,
    /// `[idempotency] evict_completed = true`.
    #[arg(long)]
    evict: bool,
    /// Longest run, in seconds.
    #[arg(long, default_value_t = 1200)]
    duration: u64,
    /// Internal: run as the gateway child, provider at this URL.
    #[arg(long, hide = true)]
    gateway_child: Option<String>,
}

fn main() -> Result<ExitCode, BoxError> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.gateway_child.clone() {
        Some(provider) => {
            runtime.block_on(child(&args, &provider))?;
            Ok(ExitCode::SUCCESS)
        }
        None => runtime.block_on(parent(&args)),
    }
}

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The gateway: serves on 127.0.0.1:0, prints `PORT <n>`, then answers each
/// `stats` line on stdin with
/// `STATS <rss KiB> <store bytes> <records> <inventory bytes> <entries>`.
async fn child(args: &Args, provider: &str) -> Result<(), BoxError> {
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[idempotency]\nmax_bytes = {}\nevict_completed = {}\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{provider}\"\n\
         access_key_id = \"{}\"\naccess_key_password = \"{}\"\n\
         rate_per_second = 100000\nburst = 100000\nmax_concurrency = 1024\n",
        args.max_bytes,
        args.evict,
        zenlayer::SANDBOX_ACCESS_KEY_ID,
        zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    );
    let config = config::load(&text, "memory benchmark", &|_| None)?;
    let gateway = Gateway::build(&config)?;
    let Some(store) = gateway.allocator.store.local().cloned() else {
        return Err("the memory example runs on the embedded store".into());
    };
    let Inventory::Memory(inventory) = gateway.allocator.inventory.clone() else {
        return Err("the memory example runs on the in-memory inventory".into());
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "stats" {
                let stats = store.stats();
                println!(
                    "STATS {} {} {} {} {}",
                    rss_kib(),
                    stats.bytes,
                    stats.records,
                    inventory.bytes(),
                    inventory.len()
                );
                let _ = std::io::stdout().flush();
            }
        }
        std::process::exit(0);
    });
    server::serve(listener, gateway, std::future::pending()).await?;
    Ok(())
}

/// A fake Zenlayer: every request allocates one EIP.
async fn fake_provider() -> Result<String, BoxError> {
    let counter = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/api/v2/bmc",
        axum::routing::post(move || {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            async move {
                let id = format!("T{n:08X}-0000-4000-8000-000000000000");
                (
                    [("content-type", "application/json")],
                    format!(
                        "{{\"requestId\":\"{id}\",\"response\":{{\"requestId\":\"{id}\",\
                         \"eipIdSet\":[\"eip-{n:020}\"],\"orderNumber\":\"\"}}}}"
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

struct Child {
    process: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

/// What the child reports.
#[derive(Clone, Copy)]
struct Stats {
    rss_kib: u64,
    store_bytes: u64,
    records: u64,
    inventory_bytes: u64,
    entries: u64,
}

impl Stats {
    /// RSS minus the counted bytes of the store and the inventory, in MiB.
    fn uncounted_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0 - (self.store_bytes + self.inventory_bytes) as f64 / 1048576.0
    }
}

impl Child {
    fn stats(&mut self) -> Result<Stats, BoxError> {
        writeln!(self.stdin, "stats")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let fields: Vec<u64> = line
            .strip_prefix("STATS ")
            .ok_or_else(|| format!("unexpected child output {line:?}"))?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        match fields[..] {
            [rss_kib, store_bytes, records, inventory_bytes, entries] => Ok(Stats {
                rss_kib,
                store_bytes,
                records,
                inventory_bytes,
                entries,
            }),
            _ => Err(format!("unexpected child output {line:?}").into()),
        }
    }
}

async fn parent(args: &Args) -> Result<ExitCode, BoxError> {
    let provider = fake_provider().await?;
    let mut process = Command::new(std::env::current_exe()?)
        .arg("--gateway-child")
        .arg(&provider)
        .arg("--max-bytes")
        .arg(args.max_bytes.to_string())
        .args(args.evict.then_some("--evict"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdin = process.stdin.take().ok_or("no stdin")?;
    let mut stdout = BufReader::new(process.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .ok_or_else(|| format!("unexpected child output {line:?}"))?
        .parse()?;
    let mut child = Child {
        process,
        stdin,
        stdout,
    };
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect()
        .await?;
    let client = IpAllocationClient::new(channel);

    // Warm up (first connections, lazy statics), then idle.
    run(&client, 0, 1000.min(args.calls), args.workers).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = child.stats()?;
    let mut rows = vec![("idle (after 1,000 warm-up calls)".to_owned(), idle, 1000)];
    let started = Instant::now();
    let mut done = 1000.min(args.calls);
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    while done < args.calls && started.elapsed() < Duration::from_secs(args.duration) {
        let next = (done + args.checkpoint).min(args.calls);
        for (code, n) in run(&client, done, next, args.workers).await? {
            *codes.entry(code).or_default() += n;
        }
        done = next;
        rows.push((format!("after {done} calls"), child.stats()?, done));
        eprintln!(
            "{done} calls, {:.0} calls/s",
            (done - 1000) as f64 / started.elapsed().as_secs_f64()
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    rows.push(("idle again (2 s later)".to_owned(), child.stats()?, done));

    println!(
        "\nmax_bytes {} evict_completed {}; results: {codes:?}\n",
        args.max_bytes, args.evict
    );
    println!(
        "| Point | RSS | Store bytes | Records | Inventory bytes | Entries | \
         RSS - store - inventory | vs idle |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    for (name, s, _) in &rows {
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {} | {:.1} MiB | {} | {:.1} MiB | {:+.1} MiB |",
            s.rss_kib as f64 / 1024.0,
            mib(s.store_bytes),
            s.records,
            mib(s.inventory_bytes),
            s.entries,
            s.uncounted_mib(),
            s.uncounted_mib() - idle.uncounted_mib()
        );
    }
    if let Some((_, s, _)) = rows.last()
        && s.records > 0
    {
        println!(
            "\nper record: {:.0} bytes counted, {:.0} bytes of RSS above idle",
            s.store_bytes as f64 / s.records as f64,
            (s.rss_kib as f64 - idle.rss_kib as f64) * 1024.0 / s.records as f64
        );
    }
    if let Some((_, s, _)) = rows.last()
        && s.entries > 0
    {
        println!(
            "per inventory entry: {:.0} bytes counted",
            s.inventory_bytes as f64 / s.entries as f64
        );
    }
    let _ = child.process.kill();
    let failed: u64 = codes
        .iter()
        .filter(|(code, _)| code.as_str() != "Ok" && code.as_str() != "Unavailable")
        .map(|(_, n)| n)
        .sum();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Calls `from..to` (keys `mem-<n>`) with `workers` concurrent callers;
/// returns the count per gRPC code.
async fn run(
    client: &IpAllocationClient<Channel>,
    from: u64,
    to: u64,
    workers: usize,
) -> Result<BTreeMap<String, u64>, BoxError> {
    let next = Arc::new(AtomicU64::new(from));
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (mut client, next) = (client.clone(), Arc::clone(&next));
        tasks.spawn(async move {
            let mut codes: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= to {
                    break;
                }
                let request = zenlayer_request(format!("mem-{n:09}"));
                let code = match client.allocate_ip(request).await {
                    Ok(_) => "Ok".to_owned(),
                    Err(status) => format!("{:?}", status.code()),
                };
                *codes.entry(code).or_default() += 1;
            }
            codes
        });
    }
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(codes) = tasks.join_next().await {
        for (code, n) in codes? {
            *all.entry(code).or_default() += n;
        }
    }
    Ok(all)
}
