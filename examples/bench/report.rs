//! The Markdown output: the machine and date at the top, one table per
//! scenario (floor and gateway side by side per level) with the
//! gateway/floor ratios; the gateway's figures of each call across the
//! stores it ran with (embedded and fleet side by side); the fleet
//! database's round trips per call; the gateway's start-to-SERVING times
//! and the size of its release binary.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::measure::Measured;
use crate::scenario::{Call, Scenario, Store};

/// One level of a scenario: the floor's figures and the gateway's (of the
/// round with the median CPU ratio, when there were several).
pub struct LevelRow {
    pub concurrency: usize,
    pub floor: Measured,
    pub gateway: Measured,
    /// Every round's gateway/floor ratios (CPU per call, calls/s), sorted
    /// by the CPU ratio.
    pub ratios: Vec<(f64, f64)>,
}

impl LevelRow {
    /// The row of `rounds` (floor, gateway), at least one: the figures of
    /// the round with the median CPU ratio, and every round's ratios.
    pub fn from_rounds(
        concurrency: usize,
        rounds: Vec<(Measured, Measured)>,
    ) -> Result<LevelRow, crate::BoxError> {
        // NaN when the floor's figure is zero (shown as "-").
        let quotient = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        let ratio_of = |(f, g): &(Measured, Measured)| {
            let cpu = quotient(
                g.cpu_per_call().as_secs_f64(),
                f.cpu_per_call().as_secs_f64(),
            );
            let rate = quotient(g.sample.calls_per_second(), f.sample.calls_per_second());
            (cpu, rate)
        };
        let mut rounds: Vec<((f64, f64), (Measured, Measured))> =
            rounds.into_iter().map(|r| (ratio_of(&r), r)).collect();
        rounds.sort_by(|a, b| a.0.0.total_cmp(&b.0.0));
        let ratios = rounds.iter().map(|(r, _)| *r).collect();
        let middle = rounds.len() / 2;
        let (_, (floor, gateway)) = rounds
            .into_iter()
            .nth(middle)
            .ok_or("a level needs at least one round")?;
        Ok(LevelRow {
            concurrency,
            floor,
            gateway,
            ratios,
        })
    }
}

/// The heading: machine, kernel, CPU, date, and what the run does.
pub fn header(measure: Duration, warm_up: Duration, worker_threads: u16) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!(
        "# ipalloc-gateway benchmark\n\n\
         - date: {date}\n- machine: {nproc} CPUs ({cpu}), Linux {}\n\
         - load: closed loop over one HTTP/2 connection, {:.1} s per level after {:.1} s of \
         warm-up; fake provider and client in the bench process, floor and gateway in \
         child processes of their own (CPU from /proc/PID/stat), {worker_threads} worker \
         thread(s) each\n",
        kernel.trim(),
        measure.as_secs_f64(),
        warm_up.as_secs_f64(),
    )
}

/// The tables of one scenario.
pub fn scenario(scenario: &Scenario, rows: &[LevelRow]) -> String {
    let mut out = format!("\n## {}\n\n", scenario.title());
    out.push_str(
        "| c | server | calls/s | p50 ms | p90 ms | p99 ms | CPU/call µs | peak RSS MiB | provider requests/call | errors |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        for (name, m) in [("floor", &row.floor), ("gateway", &row.gateway)] {
            let s = &m.sample;
            let _ = writeln!(
                out,
                "| {} | {name} | {:.0} | {} | {} | {} | {:.0} | {:.1}{} | {:.2} | {} |",
                row.concurrency,
                s.calls_per_second(),
                ms(s.quantile(0.5)),
                ms(s.quantile(0.9)),
                ms(s.quantile(0.99)),
                m.cpu_per_call().as_secs_f64() * 1e6,
                m.peak_rss as f64 / 1_048_576.0,
                if m.peak_is_level { "" } else { "*" },
                m.provider_requests_per_call(),
                s.errors,
            );
        }
    }
    out.push_str(
        "\n| c | calls/s gateway/floor | CPU/call gateway/floor | p50 gateway − floor |\n\
         |---:|---:|---:|---:|\n",
    );
    for row in rows {
        let (f, g) = (&row.floor, &row.gateway);
        let p50 = g.sample.quantile(0.5).as_secs_f64() - f.sample.quantile(0.5).as_secs_f64();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:+.3} ms |",
            row.concurrency,
            ratio(g.sample.calls_per_second(), f.sample.calls_per_second()),
            ratio(
                g.cpu_per_call().as_secs_f64(),
                f.cpu_per_call().as_secs_f64()
            ),
            p50 * 1e3,
        );
    }
    if rows.iter().any(|r| r.ratios.len() > 1) {
        out.push_str(
            "\n| c | rounds | CPU/call gateway/floor: min, median, max | calls/s gateway/floor: min, median, max |\n\
             |---:|---:|---|---|\n",
        );
        for row in rows {
            let cpu: Vec<f64> = row.ratios.iter().map(|r| r.0).collect();
            let mut rate: Vec<f64> = row.ratios.iter().map(|r| r.1).collect();
            rate.sort_by(f64::total_cmp);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                row.concurrency,
                row.ratios.len(),
                spread(&cpu),
                spread(&rate),
            );
        }
    }
    if rows
        .iter()
        .any(|r| !r.floor.peak_is_level || !r.gateway.peak_is_level)
    {
        out.push_str("\n\\* peak since the server started (/proc/PID/clear_refs not writable)\n");
    }
    for row in rows {
        for (name, m) in [("floor", &row.floor), ("gateway", &row.gateway)] {
            if let Some(error) = &m.sample.first_error {
                let _ = writeln!(out, "\nc={} {name}: first error: {error}", row.concurrency);
            }
        }
    }
    out
}

/// A fleet scenario's database cost over its whole run.
pub struct FleetRun {
    pub scenario: Scenario,
    /// Calls made to the gateway: fixture, warm-ups, measured runs.
    pub calls: u64,
    /// Statements the gateway sent for calls (its log at shutdown).
    pub statements: Option<u64>,
    /// Transactions of the bench database (`pg_stat_database`).
    pub transactions: Option<u64>,
}

/// The gateway's figures for each call that ran with more than one store,
/// the stores side by side per level.
pub fn by_store(results: &[(Scenario, Vec<LevelRow>)]) -> String {
    let mut calls: Vec<Call> = Vec::new();
    for (scenario, _) in results {
        let stores = results.iter().filter(|(s, _)| s.call == scenario.call);
        if !calls.contains(&scenario.call) && stores.count() > 1 {
            calls.push(scenario.call);
        }
    }
    if calls.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n## The gateway by store\n");
    for call in calls {
        let _ = write!(
            out,
            "\n{}\n\n\
             | c | store | calls/s | p50 ms | p90 ms | p99 ms | CPU/call µs | peak RSS MiB | calls/s gateway/floor | errors |\n\
             |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            call.title()
        );
        let mut levels: Vec<usize> = Vec::new();
        for (_, rows) in results.iter().filter(|(s, _)| s.call == call) {
            for row in rows {
                if !levels.contains(&row.concurrency) {
                    levels.push(row.concurrency);
                }
            }
        }
        for concurrency in levels {
            for store in Store::ALL {
                let row = results
                    .iter()
                    .filter(|(s, _)| s.call == call && s.store == store)
                    .flat_map(|(_, rows)| rows)
                    .find(|r| r.concurrency == concurrency);
                let Some(row) = row else { continue };
                let (g, f) = (&row.gateway, &row.floor);
                let s = &g.sample;
                let _ = writeln!(
                    out,
                    "| {concurrency} | {} | {:.0} | {} | {} | {} | {:.0} | {:.1}{} | {} | {} |",
                    store.label(),
                    s.calls_per_second(),
                    ms(s.quantile(0.5)),
                    ms(s.quantile(0.9)),
                    ms(s.quantile(0.99)),
                    g.cpu_per_call().as_secs_f64() * 1e6,
                    g.peak_rss as f64 / 1_048_576.0,
                    if g.peak_is_level { "" } else { "*" },
                    ratio(s.calls_per_second(), f.sample.calls_per_second()),
                    s.errors,
                );
            }
        }
    }
    out
}

/// The fleet database's round trips per call of each fleet scenario.
pub fn round_trips(runs: &[FleetRun]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Fleet database round trips per call\n\n\
         Statements the gateway sent for calls (its own count, health checks left out, logged \
         when its pool closes at SIGTERM) over every call of the scenario: the fixture's, the \
         warm-ups' and the measured ones. External check: the transactions of the bench \
         database (`pg_stat_database`, read after the gateway exited), which also hold the \
         migration at start, the preparation of each statement on each pooled connection and \
         the health checks (one a second).\n\n\
         | scenario | calls | statements | round trips/call | PG transactions | transactions/call |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let per_call = |n: Option<u64>, calls: u64| {
        n.map_or_else(
            || "-".to_owned(),
            |n| format!("{:.3}", n as f64 / calls.max(1) as f64),
        )
    };
    let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            run.scenario.name(),
            run.calls,
            count(run.statements),
            per_call(run.statements, run.calls),
            count(run.transactions),
            per_call(run.transactions, run.calls),
        );
    }
    out
}

/// Start-to-SERVING of every gateway started, and the binary's size.
/// One start of the gateway.
pub struct Start {
    pub store: Store,
    pub to_serving: Duration,
    pub idle_rss: u64,
}

pub fn gateway(binary: &Path, starts: &[Start]) -> String {
    let mut out = String::from("\n## Gateway start and size\n\n");
    for store in Store::ALL {
        let of_store: Vec<&Start> = starts.iter().filter(|s| s.store == store).collect();
        if of_store.is_empty() {
            continue;
        }
        let name = match store {
            Store::Memory => "in-memory store",
            Store::File => "file store (new file)",
            Store::Postgres => "PostgreSQL (new database, migrated at start)",
        };
        let times: Vec<String> = of_store.iter().map(|s| ms(s.to_serving)).collect();
        let _ = writeln!(out, "- start to SERVING, {name}: {} ms", times.join(", "));
        let rss: Vec<String> = of_store.iter().map(|s| mib(s.idle_rss)).collect();
        let _ = writeln!(
            out,
            "- idle RSS 1 s after SERVING, {name}: {} MiB",
            rss.join(", ")
        );
    }
    let size = std::fs::metadata(binary).map_or(0, |m| m.len());
    let _ = writeln!(
        out,
        "- gateway binary: {} ({} MiB)",
        binary.display(),
        mib(size)
    );
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_048_576.0)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".to_owned()
    }
}

/// Min, median and max of sorted ratios.
fn spread(sorted: &[f64]) -> String {
    if sorted.iter().any(|r| r.is_nan()) {
        return "-".to_owned();
    }
    match (sorted.first(), sorted.get(sorted.len() / 2), sorted.last()) {
        (Some(min), Some(median), Some(max)) => {
            format!("{min:.2}x, {median:.2}x, {max:.2}x")
        }
        _ => "-".to_owned(),
    }
}
