//! Measuring one server at one level: a warm-up run, then the measured run,
//! with the server's CPU time (from `/proc/PID/stat`) taken just before and
//! after it and its peak RSS reset before it and read after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tonic::transport::{Channel, Endpoint};

use crate::BoxError;
use crate::load::{self, Level, Sample};
use crate::scenario::{Call, Fixture};
use crate::server::Server;

/// A server under test, its one HTTP/2 connection and its fixture.
pub struct Target {
    pub server: Server,
    channel: Channel,
    fixture: Fixture,
    next: Arc<AtomicU64>,
}

impl Target {
    /// Connects to `server` (one connection for all levels) and prepares
    /// the scenario's fixture.
    pub async fn connect(server: Server) -> Result<Target, BoxError> {
        let channel = Endpoint::from_shared(server.endpoint.clone())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect()
            .await?;
        let fixture = Fixture::prepare(&mut IpAllocationClient::new(channel.clone())).await?;
        Ok(Target {
            server,
            channel,
            fixture,
            next: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Every call made to the server so far, answered or failed: the
    /// fixture's and those of every warm-up and measured run.
    pub fn calls_made(&self) -> u64 {
        1 + self.next.load(Ordering::Relaxed)
    }

    /// The server, its connection closed.
    pub fn into_server(self) -> Server {
        self.server
    }
}

/// One server's figures at one level.
pub struct Measured {
    pub sample: Sample,
    /// Requests the fake provider answered during the measured run.
    pub provider_requests: u64,
    pub cpu: Duration,
    pub peak_rss: u64,
    /// Whether the peak RSS is this level's (false: since the start).
    pub peak_is_level: bool,
}

impl Measured {
    /// Provider requests per successful call.
    pub fn provider_requests_per_call(&self) -> f64 {
        self.provider_requests as f64 / self.sample.calls.max(1) as f64
    }

    /// Server CPU per successful call.
    pub fn cpu_per_call(&self) -> Duration {
        self.cpu
            .checked_div(u32::try_from(self.sample.calls).unwrap_or(u32::MAX))
            .unwrap_or(Duration::ZERO)
    }
}

/// How hard and how long each level runs.
pub struct Plan {
    /// The fake provider's request count.
    pub provider_requests: Arc<AtomicU64>,
    pub warm_up: Duration,
    pub measure: Duration,
    pub max_calls: u64,
}

/// Warms `target` up at `concurrency`, then measures it.
pub async fn level(
    target: &Target,
    call: Call,
    concurrency: usize,
    plan: &Plan,
) -> Result<Measured, BoxError> {
    let mut level = Level {
        channel: &target.channel,
        call,
        fixture: &target.fixture,
        concurrency,
        duration: plan.warm_up,
        max_calls: plan.max_calls,
        next: &target.next,
    };
    if !plan.warm_up.is_zero() {
        load::run(&level).await?;
    }
    level.duration = plan.measure;
    let peak_is_level = target.server.reset_peak_rss();
    let cpu_before = target.server.cpu()?;
    let requests_before = plan.provider_requests.load(Ordering::Relaxed);
    let sample = load::run(&level).await?;
    let cpu = target.server.cpu()?.saturating_sub(cpu_before);
    let provider_requests = plan.provider_requests.load(Ordering::Relaxed) - requests_before;
    Ok(Measured {
        sample,
        provider_requests,
        cpu,
        peak_rss: target.server.peak_rss()?,
        peak_is_level,
    })
}
