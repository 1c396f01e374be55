//! Benchmark: the gateway's per-call cost and footprint against a floor, in
//! one run.
//!
//! ```sh
//! cargo build --release            # the gateway binary the bench starts
//! cargo run --release --example bench -- [--scenarios zenlayer,aliyun,replay,get,zenlayer-file]
//!     [--levels 1,8,64] [--seconds 5] [--warmup 1] [--rounds 1] [--quick]
//!     [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]
//! ```
//!
//! Starts a fake provider answering both clouds instantly (in this
//! process, `fake_provider`), and per scenario two servers as child
//! processes: the floor (this executable with `--serve-floor`, a tonic
//! server whose handler is one reqwest call plus a JSON parse, `floor`) and
//! the release gateway binary (`gateway`) with the in-memory or the file
//! store, or in fleet mode on a PostgreSQL database the bench creates
//! afresh for each `-postgres` scenario (`postgres`; the server at
//! `--postgres-url`, env `IPALLOC_BENCH_POSTGRES_URL`). Each gets the same closed-loop load (`load`) at each level over
//! one HTTP/2 connection, floor then gateway, after a warm-up (`--rounds
//! N`: N times in turn; the tables show the round with the median CPU
//! ratio, and the ratios' spread over the rounds); their CPU
//! time and peak RSS come from `/proc/PID` (`server`, `measure`). Prints
//! Markdown (`report`): per scenario calls/s, p50/p90/p99, server CPU per
//! call, peak RSS, provider requests per call (a replay answered from the
//! store makes none) and the gateway/floor ratios; the gateway's figures of
//! each call across the stores it ran with, side by side; for the fleet
//! scenarios, the database round trips per call (the statements the
//! gateway logs having sent when SIGTERM stops it, over all its calls;
//! and, as a check, the database's transaction count); the gateway's
//! start-to-SERVING times and its binary size.
//!
//! Exit code 1 when any call failed. Nothing here asserts on timings.

// A measuring tool: a failed setup step ends the run with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod fake_provider;
mod floor;
mod gateway;
mod load;
mod measure;
mod postgres;
mod report;
mod scenario;
mod server;
#[path = "../common/zenlayer_request.rs"]
mod zenlayer_request;

use std::error::Error;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use clap::Parser;

use crate::args::Args;
use crate::measure::{Plan, Target};
use crate::postgres::BenchDatabase;
use crate::report::{FleetRun, LevelRow};
use crate::scenario::{Scenario, Store};
use crate::server::Server;

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> Result<ExitCode, BoxError> {
    let args = Args::parse();
    args.check()?;
    match &args.serve_floor {
        Some(provider) => {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(usize::from(args.worker_threads))
                .enable_all()
                .build()?
                .block_on(floor::serve(provider))?;
            Ok(ExitCode::SUCCESS)
        }
        // The load and the fake provider: tokio's default (one worker per core).
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(bench(&args)),
    }
}

async fn bench(args: &Args) -> Result<ExitCode, BoxError> {
    let binary = gateway::binary(args.gateway.as_deref())?;
    let database = if args.scenarios.iter().any(|s| s.store == Store::Postgres) {
        Some(BenchDatabase::connect(&args.postgres_url).await?)
    } else {
        None
    };
    let result = run(args, &binary, database.as_ref()).await;
    if let Some(database) = &database {
        // Dropped whatever happened in the run.
        if let Err(e) = database.drop_database().await {
            eprintln!("{e}");
        }
    }
    result
}

async fn run(
    args: &Args,
    binary: &std::path::Path,
    database: Option<&BenchDatabase>,
) -> Result<ExitCode, BoxError> {
    let provider = fake_provider::start().await?;
    let plan = Plan {
        provider_requests: Arc::clone(&provider.requests),
        warm_up: args.warm_up(),
        measure: args.measure(),
        max_calls: args.max_calls,
    };
    print!(
        "{}",
        report::header(plan.measure, plan.warm_up, args.worker_threads)
    );
    let mut starts: Vec<report::Start> = Vec::new();
    let mut results: Vec<(Scenario, Vec<LevelRow>)> = Vec::new();
    let mut fleet: Vec<FleetRun> = Vec::new();
    let mut errors = 0;
    for scenario in &args.scenarios {
        eprintln!("running {} ...", scenario.name());
        let mut floor = Command::new(std::env::current_exe()?);
        floor
            .arg("--serve-floor")
            .arg(&provider.url)
            .arg("--worker-threads")
            .arg(args.worker_threads.to_string());
        let floor = Target::connect(Server::spawn_announcing(floor)?).await?;
        let database = match scenario.store {
            Store::Postgres => {
                let database = database.ok_or("no bench database")?;
                database.recreate().await?;
                Some(database)
            }
            Store::Memory | Store::File => None,
        };
        let started = gateway::start(
            binary,
            &provider.url,
            scenario.store,
            &args.gateway_log,
            database.map(|d| d.url.as_str()),
            args.worker_threads,
        )
        .await?;
        starts.push(report::Start {
            store: scenario.store,
            to_serving: started.start_to_serving,
            idle_rss: started.idle_rss,
        });
        let gateway = Target::connect(started.server).await?;
        let mut rows = Vec::with_capacity(args.levels.len());
        for &concurrency in &args.levels {
            let mut rounds = Vec::with_capacity(args.rounds);
            for _ in 0..args.rounds {
                let floor = measure::level(&floor, scenario.call, concurrency, &plan).await?;
                let gateway = measure::level(&gateway, scenario.call, concurrency, &plan).await?;
                errors += floor.sample.errors + gateway.sample.errors;
                rounds.push((floor, gateway));
            }
            rows.push(LevelRow::from_rounds(concurrency, rounds)?);
        }
        print!("{}", report::scenario(scenario, &rows));
        results.push((*scenario, rows));
        let calls = gateway.calls_made();
        let statements = gateway::stop(gateway.into_server(), &started.log).await?;
        if let Some(database) = database {
            if statements.is_none() {
                eprintln!(
                    "{}: the gateway's log has no statement count (no \"fleet database: closing \
                     the pool\" line)",
                    scenario.name()
                );
            }
            fleet.push(FleetRun {
                scenario: *scenario,
                calls,
                statements,
                transactions: database.transactions_after_exit().await?,
            });
        }
    }
    print!("{}", report::by_store(&results));
    print!("{}", report::round_trips(&fleet));
    print!("{}", report::gateway(binary, &starts));
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{errors} call(s) failed");
        ExitCode::FAILURE
    })
}
