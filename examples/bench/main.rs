//! Benchmark: the gateway's per-call cost and footprint against a floor, in
//! one run.
//!
//! ```sh
//! cargo build --release            # the gateway binary the bench starts
//! cargo run --release --example bench -- [--scenarios zenlayer,aliyun,replay,get,zenlayer-file]
//!     [--levels 1,8,64] [--seconds 5] [--warmup 1] [--quick]
//! ```
//!
//! Starts a fake provider answering both clouds instantly (in this
//! process, `fake_provider`), and per scenario two servers as child
//! processes: the floor (this executable with `--serve-floor`, a tonic
//! server whose handler is one reqwest call plus a JSON parse, `floor`) and
//! the release gateway binary (`gateway`) with the in-memory or the file
//! store. Each gets the same closed-loop load (`load`) at each level over
//! one HTTP/2 connection, floor then gateway, after a warm-up; their CPU
//! time and peak RSS come from `/proc/PID` (`server`, `measure`). Prints
//! Markdown (`report`): per scenario calls/s, p50/p90/p99, server CPU per
//! call, peak RSS, provider requests per call (a replay answered from the
//! store makes none) and the gateway/floor ratios; the gateway's
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
mod report;
mod scenario;
mod server;
#[path = "../common/zenlayer_request.rs"]
mod zenlayer_request;

use std::error::Error;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::args::Args;
use crate::measure::{Plan, Target};
use crate::report::LevelRow;
use crate::scenario::Store;
use crate::server::Server;

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> Result<ExitCode, BoxError> {
    let args = Args::parse();
    args.check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &args.serve_floor {
        Some(provider) => {
            runtime.block_on(floor::serve(provider))?;
            Ok(ExitCode::SUCCESS)
        }
        None => runtime.block_on(bench(&args)),
    }
}

async fn bench(args: &Args) -> Result<ExitCode, BoxError> {
    let binary = gateway::binary(args.gateway.as_deref())?;
    let provider = fake_provider::start().await?;
    let plan = Plan {
        provider_requests: Arc::clone(&provider.requests),
        warm_up: args.warm_up(),
        measure: args.measure(),
        max_calls: args.max_calls,
    };
    print!("{}", report::header(plan.measure, plan.warm_up));
    let mut starts: Vec<(Store, Duration)> = Vec::new();
    let mut errors = 0;
    for scenario in &args.scenarios {
        eprintln!("running {} ...", scenario.name());
        let mut floor = Command::new(std::env::current_exe()?);
        floor.arg("--serve-floor").arg(&provider.url);
        let floor = Target::connect(Server::spawn_announcing(floor)?).await?;
        let started =
            gateway::start(&binary, &provider.url, scenario.store, &args.gateway_log).await?;
        starts.push((scenario.store, started.start_to_serving));
        let gateway = Target::connect(started.server).await?;
        let mut rows = Vec::with_capacity(args.levels.len());
        for &concurrency in &args.levels {
            let floor = measure::level(&floor, scenario.call, concurrency, &plan).await?;
            let gateway = measure::level(&gateway, scenario.call, concurrency, &plan).await?;
            errors += floor.sample.errors + gateway.sample.errors;
            rows.push(LevelRow {
                concurrency,
                floor,
                gateway,
            });
        }
        print!("{}", report::scenario(scenario, &rows));
    }
    print!("{}", report::gateway(&binary, &starts));
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{errors} call(s) failed");
        ExitCode::FAILURE
    })
}
