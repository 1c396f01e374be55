//! The closed loop: `c` callers share one HTTP/2 connection (one tonic
//! `Channel`), each making its next call as soon as the last one answered,
//! until the level's time is up or its call budget is spent; every call's
//! latency is kept for the percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::BoxError;
use crate::scenario::{self, Call, Fixture};

/// What one level measured on the client side.
#[derive(Debug, Default)]
pub struct Sample {
    pub calls: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latencies of the successful calls, sorted.
    latencies: Vec<Duration>,
}

impl Sample {
    pub fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The `q` quantile (0..=1) of the latencies, nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// The load for one level: who is called, with what, how hard and how long.
pub struct Level<'a> {
    pub channel: &'a Channel,
    pub call: Call,
    pub fixture: &'a Fixture,
    pub concurrency: usize,
    pub duration: Duration,
    pub max_calls: u64,
    /// Numbers the calls (new keys) across the levels of a server.
    pub next: &'a Arc<AtomicU64>,
}

/// Runs one level to its end.
pub async fn run(level: &Level<'_>) -> Result<Sample, BoxError> {
    let started = Instant::now();
    let deadline = started + level.duration;
    let budget = Arc::new(AtomicU64::new(level.max_calls));
    let mut callers = JoinSet::new();
    for _ in 0..level.concurrency {
        let mut client = IpAllocationClient::new(level.channel.clone());
        let (call, fixture) = (level.call, level.fixture.clone());
        let (next, budget) = (Arc::clone(level.next), Arc::clone(&budget));
        callers.spawn(async move {
            let mut sample = Sample::default();
            while Instant::now() < deadline
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                    .is_ok()
            {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                match scenario::call(&mut client, call, n, &fixture).await {
                    Ok(()) => {
                        sample.calls += 1;
                        sample.latencies.push(sent.elapsed());
                    }
                    Err(status) => {
                        sample.errors += 1;
                        sample.first_error.get_or_insert_with(|| {
                            format!("{:?}: {}", status.code(), status.message())
                        });
                    }
                }
            }
            sample
        });
    }
    let mut all = Sample::default();
    while let Some(sample) = callers.join_next().await {
        let sample = sample?;
        all.calls += sample.calls;
        all.errors += sample.errors;
        if all.first_error.is_none() {
            all.first_error = sample.first_error;
        }
        all.latencies.extend(sample.latencies);
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    Ok(all)
}
