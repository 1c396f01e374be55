//! The Markdown output: the machine and date at the top, one table per
//! scenario (floor and gateway side by side per level) with the
//! gateway/floor ratios, the gateway's start-to-SERVING times and the size
//! of its release binary.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::measure::Measured;
use crate::scenario::{Scenario, Store};

/// One level of a scenario: the floor's figures and the gateway's.
pub struct LevelRow {
    pub concurrency: usize,
    pub floor: Measured,
    pub gateway: Measured,
}

/// The heading: machine, kernel, CPU, date, and what the run does.
pub fn header(measure: Duration, warm_up: Duration) -> String {
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
         child processes of their own (CPU from /proc/PID/stat)\n",
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

/// Start-to-SERVING of every gateway started, and the binary's size.
pub fn gateway(binary: &Path, starts: &[(Store, Duration)]) -> String {
    let mut out = String::from("\n## Gateway start and size\n\n");
    for store in [Store::Memory, Store::File] {
        let times: Vec<String> = starts
            .iter()
            .filter(|(s, _)| *s == store)
            .map(|(_, d)| ms(*d))
            .collect();
        if !times.is_empty() {
            let name = match store {
                Store::Memory => "in-memory store",
                Store::File => "file store (new file)",
            };
            let _ = writeln!(out, "- start to SERVING, {name}: {} ms", times.join(", "));
        }
    }
    let size = std::fs::metadata(binary).map_or(0, |m| m.len());
    let _ = writeln!(
        out,
        "- gateway binary: {} ({:.1} MiB)",
        binary.display(),
        size as f64 / 1_048_576.0
    );
    out
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
