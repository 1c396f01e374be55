//! The `[server]` table: inbound limits, connection handling, shutdown,
//! the health-only listener and what is served (reflection). The Unix
//! socket keys are checked in `listeners.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use super::problems::Collector;
use super::raw::RawServer;
use super::values::{Table, setting};

/// Inbound limits, connection handling and shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Server-wide cap on concurrent API calls; more are shed (UNAVAILABLE).
    pub max_concurrent_calls: usize,
    /// Largest request message accepted.
    pub max_request_bytes: usize,
    /// Longest life of one WatchAllocation stream; it then ends with
    /// UNAVAILABLE `WATCH_LIFETIME_ENDED` (watch again to continue).
    pub watch_max_lifetime: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// How long a request's message may take to arrive after its headers.
    pub request_body_timeout: Duration,
    /// How long a new connection may take to send the HTTP/2 preface.
    pub handshake_timeout: Duration,
    /// A connection without open streams for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 PING after this much silence on a connection.
    pub keepalive_interval: Duration,
    /// A PING not answered within this closes the connection.
    pub keepalive_timeout: Duration,
    /// After SIGTERM: how long health says NOT_SERVING while still serving.
    pub shutdown_drain: Duration,
    /// After SIGTERM: the longest the whole shutdown may take.
    pub shutdown_timeout: Duration,
    /// A second TCP listener serving only `grpc.health.v1` (probes).
    pub health_listen: Option<SocketAddr>,
    /// Serve a non-loopback `listen` without TLS or caller authentication
    /// (warned about at start and every hour).
    pub allow_insecure: bool,
    /// Serve gRPC reflection (v1 and v1alpha).
    pub reflection: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_concurrent_calls: 1024,
            max_request_bytes: 256 * 1024,
            watch_max_lifetime: Duration::from_secs(3600),
            max_concurrent_streams: 256,
            request_body_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            shutdown_drain: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
            health_listen: None,
            allow_insecure: false,
            reflection: true,
        }
    }
}

/// The checked `[server]` table (defaults for what it leaves out).
pub(super) fn server_config(s: &RawServer, c: &mut Collector) -> ServerConfig {
    let mut server = ServerConfig::default();
    let mut t = Table::new(c, "server.");
    setting!(t, server.max_concurrent_calls = s.max_concurrent_calls in 1..=100_000);
    setting!(t, server.max_request_bytes = s.max_request_bytes in 1024..=16 * 1024 * 1024);
    setting!(t, server.max_concurrent_streams = s.max_concurrent_streams in 1..=10_000);
    setting!(t, server.request_body_timeout = s.request_body_timeout_ms in 1..=600_000);
    setting!(t, server.handshake_timeout = s.handshake_timeout_ms in 1..=600_000);
    setting!(t, server.idle_timeout = s.idle_timeout_ms in 1..=86_400_000);
    setting!(t, server.keepalive_interval = s.keepalive_interval_ms in 1..=86_400_000);
    setting!(t, server.watch_max_lifetime = s.watch_max_lifetime_ms in 1000..=24 * 3_600_000);
    setting!(t, server.keepalive_timeout = s.keepalive_timeout_ms in 1..=600_000);
    setting!(t, server.shutdown_drain = s.shutdown_drain_ms in 0..=3_600_000);
    setting!(t, server.shutdown_timeout = s.shutdown_timeout_ms in 1..=3_600_000);
    if server.shutdown_drain >= server.shutdown_timeout {
        t.add(
            "shutdown_drain_ms",
            "must be below server.shutdown_timeout_ms (the timeout bounds the whole shutdown, drain included)",
        );
    }
    if let Some(text) = s.health_listen.as_deref() {
        match text.parse::<SocketAddr>() {
            Ok(address) => server.health_listen = Some(address),
            Err(_) => t.add("health_listen", "is not an address like 0.0.0.0:50052"),
        }
    }
    server.allow_insecure = s.allow_insecure.unwrap_or(server.allow_insecure);
    server.reflection = s.reflection.unwrap_or(server.reflection);
    server
}
