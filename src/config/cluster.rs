//! The `[cluster]` table: fleet mode, where several gateways share their
//! idempotency records and each account's rate limit in PostgreSQL. Without
//! `postgres_url` the gateway runs alone on its embedded store.

use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;

/// How the connection to PostgreSQL is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseTls {
    /// Plain TCP (a database on loopback or a Unix socket).
    Disable,
    /// TLS, the server's certificate not checked (like libpq's `require`).
    Require,
    /// TLS, the certificate checked against `ca_file` (or the system roots)
    /// and the host name (libpq's `verify-full`).
    VerifyFull,
}

/// The checked `[cluster]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `postgres://user@host:port/database` (may hold a password: a secret,
    /// never logged).
    pub postgres_url: Secret,
    /// The password, from `password_env` or `password_file` (overrides one
    /// in the URL).
    pub password: Option<Secret>,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Longest wait for a new connection.
    pub connect_timeout: Duration,
    /// Longest run of one statement (sent as the session's
    /// `statement_timeout`, and enforced on the client too).
    pub statement_timeout: Duration,
    pub tls: DatabaseTls,
    /// CA certificates (PEM) for `verify-full`; the system roots otherwise.
    pub ca_file: Option<PathBuf>,
    /// This gateway's name in lease records (default: host name, process id
    /// and a random suffix).
    pub replica_id: String,
    /// How long a claim on a key lasts before another replica may take it
    /// over; an allocation attempt never runs past its lease.
    pub lease: Duration,
    /// Gateways sharing each account: reads fall back to the account's rate
    /// divided by this when the database is unreachable.
    pub replicas: u32,
    /// How often expired records are purged (by one replica at a time).
    pub purge_interval: Duration,
}

/// Defaults of the optional `[cluster]` keys.
pub const DEFAULT_POOL_SIZE: usize = 16;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
pub const DEFAULT_PURGE_INTERVAL: Duration = Duration::from_secs(60);
