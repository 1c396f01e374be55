//! The bench's command line: which scenarios and concurrency levels to run,
//! how long each level lasts, and the hidden `--serve-floor` child mode.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;

use crate::scenario::Scenario;

/// Side-by-side benchmark of ipalloc-gateway against a minimal tonic
/// server doing the same single provider call ("floor").
#[derive(Debug, Parser)]
pub struct Args {
    /// Scenarios to run, comma separated: zenlayer, aliyun, replay, get
    /// (in-memory store), the same names with `-file` (file store) or
    /// `-postgres` (fleet mode on PostgreSQL, see --postgres-url).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "zenlayer,aliyun,replay,get,zenlayer-file"
    )]
    pub scenarios: Vec<Scenario>,
    /// Concurrency levels (closed-loop callers over one HTTP/2 connection).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub levels: Vec<usize>,
    /// Measured seconds per level and server.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Rounds per level: floor then gateway, measured this many times in
    /// turn. The tables show the round with the median CPU ratio, and the
    /// spread of the ratios over all rounds (a noisy host's figures move
    /// between runs of the same binary; their ratio in one round moves less).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Unmeasured warm-up seconds before each level.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Most calls per level (warm-up included), whatever the duration.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_calls: u64,
    /// Smoke run: 1 s per level, 0.2 s warm-up.
    #[arg(long)]
    pub quick: bool,
    /// The gateway binary; default: `ipalloc-gateway` in the target
    /// directory this example was built into.
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// The gateway's `log.level` (its logs go to a file in a temporary
    /// directory).
    #[arg(long, default_value = "info")]
    pub gateway_log: String,
    /// The PostgreSQL server of the `-postgres` scenarios: the bench
    /// creates `ipalloc_bench_<pid>` on it for them and drops it at the end.
    #[arg(
        long,
        env = "IPALLOC_BENCH_POSTGRES_URL",
        hide_env_values = true,
        default_value = crate::postgres::DEFAULT_URL
    )]
    pub postgres_url: String,
    /// Worker threads of the floor's and the gateway's runtimes (the
    /// gateway's `--worker-threads`; the same number for both, so that the
    /// ratios compare the work per call, not the scheduler).
    #[arg(
        long,
        default_value_t = 1,
        value_parser = clap::value_parser!(u16)
            .range(1..=ipalloc_gateway::runtime::MAX_WORKER_THREADS as i64)
    )]
    pub worker_threads: u16,
    /// Internal: serve the floor against this fake provider URL.
    #[arg(long, hide = true)]
    pub serve_floor: Option<String>,
}

impl Args {
    /// Measured time per level.
    pub fn measure(&self) -> Duration {
        seconds(if self.quick { 1.0 } else { self.seconds })
    }

    /// Warm-up time per level.
    pub fn warm_up(&self) -> Duration {
        seconds(if self.quick { 0.2 } else { self.warmup })
    }

    /// Checks what clap cannot: levels and durations in range.
    pub fn check(&self) -> Result<(), String> {
        if self.levels.iter().any(|&c| c == 0 || c > 1024) {
            return Err("--levels must be from 1 to 1024".to_owned());
        }
        let in_range = |s: f64| s.is_finite() && (0.0..=3600.0).contains(&s);
        if !in_range(self.seconds) || self.seconds == 0.0 || !in_range(self.warmup) {
            return Err(
                "--seconds must be above 0 and --warmup at least 0, both at most 3600".into(),
            );
        }
        if !(1..=20).contains(&self.rounds) {
            return Err("--rounds must be from 1 to 20".to_owned());
        }
        if self.max_calls == 0 {
            return Err("--max-calls must be at least 1".to_owned());
        }
        Ok(())
    }
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(name: &str) -> Result<Scenario, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<String> = Scenario::ALL.iter().map(Scenario::name).collect();
                format!("unknown scenario {name:?}; one of {}", names.join(", "))
            })
    }
}
