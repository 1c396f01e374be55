//! The TOML schema of the configuration file, exactly as written by users.
//! Unknown keys are errors (a typo must not silently drop a setting).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// gRPC listen address.
    pub listen: Option<String>,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub idempotency: RawIdempotency,
    /// TLS (and mTLS) on the gRPC listener.
    #[serde(default)]
    pub tls: RawTls,
    /// Fleet mode: shared state on PostgreSQL.
    #[serde(default)]
    pub cluster: RawCluster,
    /// The admin listener (metrics, liveness, readiness).
    #[serde(default)]
    pub admin: RawAdmin,
    /// Provider accounts by name.
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// Who may call the gateway, by name; none: authorization is off.
    #[serde(default)]
    pub callers: BTreeMap<String, RawCaller>,
    /// Where the audit trail goes.
    #[serde(default)]
    pub audit: RawAudit,
}

/// One `[callers.NAME]` table: the identities it matches, what it may use,
/// and its spend limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaller {
    /// Hex SHA-256 hashes of bearer tokens.
    pub token_sha256: Option<Vec<String>>,
    /// Files each holding one bearer token.
    pub token_files: Option<Vec<String>>,
    /// Environment variables each holding one bearer token.
    pub token_env: Option<Vec<String>>,
    /// Subject alternative names of mTLS client certificates.
    pub cert_sans: Option<Vec<String>>,
    /// Unix socket peer user ids.
    pub unix_uids: Option<Vec<u64>>,
    /// Unix socket peer group ids.
    pub unix_gids: Option<Vec<u64>>,
    /// Provider accounts it may use (absent: all).
    pub providers: Option<Vec<String>>,
    /// RPCs it may call (absent: all).
    pub rpcs: Option<Vec<String>>,
    /// Addresses it may allocate per hour.
    pub max_addresses_per_hour: Option<u64>,
    /// Addresses it may allocate per day.
    pub max_addresses_per_day: Option<u64>,
}

/// The `[audit]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// A file, or "-" for stderr (the default).
    pub path: Option<String>,
    /// A file is rotated before it grows past this many bytes.
    pub max_bytes: Option<u64>,
    /// Rotated files kept.
    pub keep: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A tracing filter, e.g. `info` or `ipalloc_gateway=debug`.
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Server-wide cap on concurrent API calls; more are shed.
    pub max_concurrent_calls: Option<u64>,
    /// Largest request message accepted, in bytes.
    pub max_request_bytes: Option<u64>,
    /// Longest life of one WatchAllocation stream, in milliseconds.
    pub watch_max_lifetime_ms: Option<u64>,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: Option<u64>,
    /// How long a request's message may take to arrive after its headers.
    pub request_body_timeout_ms: Option<u64>,
    /// How long a new connection may take to send the HTTP/2 preface.
    pub handshake_timeout_ms: Option<u64>,
    /// A connection without open streams for this long is closed.
    pub idle_timeout_ms: Option<u64>,
    /// HTTP/2 PING after this much silence on a connection.
    pub keepalive_interval_ms: Option<u64>,
    /// A PING not answered within this closes the connection.
    pub keepalive_timeout_ms: Option<u64>,
    /// After SIGTERM: how long health says NOT_SERVING while still serving.
    pub shutdown_drain_ms: Option<u64>,
    /// After SIGTERM: the longest the whole shutdown may take.
    pub shutdown_timeout_ms: Option<u64>,
    /// The API on a Unix domain socket at this path.
    pub unix_socket: Option<String>,
    /// The socket file's permission bits, octal (`"0660"`).
    pub unix_socket_mode: Option<String>,
    /// The socket file's owner (user id).
    pub unix_socket_uid: Option<u64>,
    /// The socket file's group id.
    pub unix_socket_gid: Option<u64>,
    /// A TCP address serving only `grpc.health.v1`.
    pub health_listen: Option<String>,
    /// Serve a non-loopback `listen` without TLS or caller authentication.
    pub allow_insecure: Option<bool>,
    /// Serve gRPC reflection.
    pub reflection: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// The server's certificate chain (PEM).
    pub cert_file: Option<String>,
    /// The server's private key (PEM).
    pub key_file: Option<String>,
    /// CA certificates (PEM) client certificates must chain to (mTLS).
    pub client_ca_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdempotency {
    /// File of the embedded store; in memory when absent.
    pub path: Option<String>,
    /// How long keys are remembered after their last activity.
    pub retention_hours: Option<u64>,
    /// Byte bound of the records.
    pub max_bytes: Option<u64>,
    /// At the bound, evict the oldest completed records.
    pub evict_completed: Option<bool>,
    /// Move an invalid store file aside and start empty.
    pub start_fresh_if_invalid: Option<bool>,
}

/// The `[admin]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// HTTP listen address of `/metrics`, `/live` and `/ready`; `""` turns
    /// the admin listener off.
    pub listen: Option<String>,
}

/// The `[cluster]` table (fleet mode). Every key but `postgres_url` has a
/// default; without `postgres_url` the table must be empty.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// `postgres://user@host:port/database`; may hold a password.
    pub postgres_url: Option<String>,
    /// The environment variable holding the database password.
    pub password_env: Option<String>,
    /// The file holding the database password.
    pub password_file: Option<String>,
    /// Connections in the pool.
    pub pool_size: Option<u64>,
    /// Longest wait for a new connection.
    pub connect_timeout_ms: Option<u64>,
    /// Longest run of one statement.
    pub statement_timeout_ms: Option<u64>,
    /// `disable`, `require` or `verify-full`.
    pub tls: Option<String>,
    /// CA certificates (PEM) for `verify-full`.
    pub ca_file: Option<String>,
    /// This gateway's name in lease records.
    pub replica_id: Option<String>,
    /// How long a claim on a key lasts.
    pub lease_ms: Option<u64>,
    /// Gateways sharing each account.
    pub replicas: Option<u64>,
    /// How often expired records are purged.
    pub purge_interval_ms: Option<u64>,
}

// Hand-written so a password in the URL never reaches a log through `{:?}`.
impl std::fmt::Debug for RawCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCluster")
            .field("postgres_url", &self.postgres_url.as_ref().map(|_| "***"))
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("replica_id", &self.replica_id)
            .field("lease_ms", &self.lease_ms)
            .field("replicas", &self.replicas)
            .field("purge_interval_ms", &self.purge_interval_ms)
            .finish()
    }
}

/// One `[providers.NAME]` table. Every field is optional here; which ones a
/// kind requires or accepts is checked in `config::load`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub signature_version: Option<String>,
    pub api_version: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_id_env: Option<String>,
    pub access_key_secret: Option<String>,
    pub access_key_secret_env: Option<String>,
    pub security_token: Option<String>,
    pub security_token_env: Option<String>,
    pub access_key_password: Option<String>,
    pub access_key_password_env: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub max_attempts: Option<u64>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub retry_budget_ratio: Option<f64>,
    pub retry_budget_min_per_second: Option<u64>,
    pub retry_budget_window_ms: Option<u64>,
    pub rate_per_second: Option<u64>,
    pub burst: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub poll_initial_ms: Option<u64>,
    pub poll_max_ms: Option<u64>,
    pub terminate_failed: Option<bool>,
    pub reconcile_grace_ms: Option<u64>,
    pub read_share: Option<f64>,
    pub reserve_floor_ms: Option<u64>,
    pub max_addresses_per_hour: Option<u64>,
    pub max_addresses_per_day: Option<u64>,
}

// Hand-written so inline secrets never reach a log through `{:?}`.
impl std::fmt::Debug for RawProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("RawProvider")
            .field("kind", &self.kind)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("signature_version", &self.signature_version)
            .field("api_version", &self.api_version)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_id_env", &self.access_key_id_env)
            .field("access_key_secret", &hidden(&self.access_key_secret))
            .field("access_key_secret_env", &self.access_key_secret_env)
            .field("security_token", &hidden(&self.security_token))
            .field("security_token_env", &self.security_token_env)
            .field("access_key_password", &hidden(&self.access_key_password))
            .field("access_key_password_env", &self.access_key_password_env)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_ms", &self.backoff_base_ms)
            .field("backoff_max_ms", &self.backoff_max_ms)
            .field("retry_budget_ratio", &self.retry_budget_ratio)
            .field(
                "retry_budget_min_per_second",
                &self.retry_budget_min_per_second,
            )
            .field("rate_per_second", &self.rate_per_second)
            .field("burst", &self.burst)
            .field("max_concurrency", &self.max_concurrency)
            .field("poll_initial_ms", &self.poll_initial_ms)
            .field("poll_max_ms", &self.poll_max_ms)
            .field("terminate_failed", &self.terminate_failed)
            .field("reconcile_grace_ms", &self.reconcile_grace_ms)
            .field("read_share", &self.read_share)
            .field("reserve_floor_ms", &self.reserve_floor_ms)
            .field("max_addresses_per_hour", &self.max_addresses_per_hour)
            .field("max_addresses_per_day", &self.max_addresses_per_day)
            .finish()
    }
}
