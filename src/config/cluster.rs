//! The `[cluster]` table: fleet mode, where several gateways share their
//! idempotency records and each account's rate limit in PostgreSQL. Without
//! `postgres_url` the gateway runs alone on its embedded store.
//!
//! The URL may hold a password, and the password may come from an
//! environment variable (`password_env`) or a file (`password_file`): no
//! problem message ever quotes either, only the key at fault.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::EnvLookup;
use super::problems::{Collector, Problem, problem};
use super::raw::RawCluster;
use super::secret::Secret;
use super::values::{Table, setting};

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

/// The longest `replica_id`.
pub const MAX_REPLICA_ID_CHARS: usize = 128;

/// The checked `[cluster]` table: `None` without `postgres_url` (or when
/// anything is wrong, every problem recorded in `c`). `warnings` gets what
/// start-up should log (a password file others can read).
pub(super) fn cluster_config(
    raw: &RawCluster,
    env: EnvLookup<'_>,
    c: &mut Collector,
    warnings: &mut Vec<String>,
) -> Option<ClusterConfig> {
    let mut t = Table::new(c, "cluster.");
    let url = raw.postgres_url.as_deref().map(str::trim).unwrap_or("");
    if url.is_empty() {
        for field in set_fields(raw) {
            t.add(
                field,
                "is set but cluster.postgres_url is not: fleet mode needs the database URL",
            );
        }
        return None;
    }
    let postgres_url = t.take(check_postgres_url(url, &t.key("postgres_url")));
    let password = t.take(read_password(raw, env, &t, warnings));
    let mut config = ClusterConfig {
        postgres_url: Secret::new(url),
        password: None,
        pool_size: DEFAULT_POOL_SIZE,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        tls: DatabaseTls::VerifyFull,
        ca_file: None,
        replica_id: String::new(),
        lease: DEFAULT_LEASE,
        replicas: 1,
        purge_interval: DEFAULT_PURGE_INTERVAL,
    };
    setting!(t, config.pool_size = raw.pool_size in 1..=256);
    setting!(t, config.connect_timeout = raw.connect_timeout_ms in 100..=60_000);
    setting!(t, config.statement_timeout = raw.statement_timeout_ms in 100..=60_000);
    setting!(t, config.lease = raw.lease_ms in 1000..=600_000);
    setting!(t, config.replicas = raw.replicas in 1..=1000);
    setting!(t, config.purge_interval = raw.purge_interval_ms in 1000..=86_400_000);
    let tls = match raw.tls.as_deref().unwrap_or("verify-full") {
        "disable" => Some(DatabaseTls::Disable),
        "require" => Some(DatabaseTls::Require),
        "verify-full" => Some(DatabaseTls::VerifyFull),
        other => {
            let message = super::not_one_of(other, &["disable", "require", "verify-full"]);
            t.add("tls", message);
            None
        }
    };
    let ca_file = match (raw.ca_file.as_deref(), tls) {
        (None, _) => Some(None),
        (Some(_), Some(tls)) if tls != DatabaseTls::VerifyFull => {
            t.add(
                "ca_file",
                "is only used with cluster.tls = \"verify-full\" (the certificate is not checked otherwise)",
            );
            None
        }
        (Some(path), _) if !Path::new(path).is_file() => {
            t.add("ca_file", "does not exist or is not a file");
            None
        }
        (Some(path), _) => Some(Some(PathBuf::from(path))),
    };
    let replica_id = match raw.replica_id.as_deref() {
        None => Some(default_replica_id(env)),
        Some(id) if valid_replica_id(id) => Some(id.to_owned()),
        Some(_) => {
            t.add(
                "replica_id",
                format!(
                    "must be 1 to {MAX_REPLICA_ID_CHARS} characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'"
                ),
            );
            None
        }
    };
    postgres_url?;
    config.password = password?;
    config.tls = tls?;
    config.ca_file = ca_file?;
    config.replica_id = replica_id?;
    Some(config)
}

/// The keys of `raw` that are set, but `postgres_url`.
fn set_fields(raw: &RawCluster) -> Vec<&'static str> {
    [
        ("password_env", raw.password_env.is_some()),
        ("password_file", raw.password_file.is_some()),
        ("pool_size", raw.pool_size.is_some()),
        ("connect_timeout_ms", raw.connect_timeout_ms.is_some()),
        ("statement_timeout_ms", raw.statement_timeout_ms.is_some()),
        ("tls", raw.tls.is_some()),
        ("ca_file", raw.ca_file.is_some()),
        ("replica_id", raw.replica_id.is_some()),
        ("lease_ms", raw.lease_ms.is_some()),
        ("replicas", raw.replicas.is_some()),
        ("purge_interval_ms", raw.purge_interval_ms.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}

/// A `postgres://` (or `postgresql://`) URL that tokio-postgres accepts,
/// names a host and leaves TLS to `[cluster] tls`. The messages never quote
/// the URL (it may hold a password).
fn check_postgres_url(url: &str, key: &str) -> Result<(), Problem> {
    let form = "is not a URL like \"postgres://user@host:5432/database\"";
    let Some(rest) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
    else {
        return Err(problem(key, form));
    };
    if url_parameters(rest).any(|name| name.starts_with("ssl")) {
        return Err(problem(
            key,
            "must not set sslmode (or another ssl* option): use cluster.tls (\"disable\", \"require\" or \"verify-full\") and cluster.ca_file",
        ));
    }
    let parsed = tokio_postgres::Config::from_str(url).map_err(|e| {
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        match cause.filter(|cause| safe_cause(cause)) {
            Some(cause) => problem(key, format!("is not a valid PostgreSQL URL: {cause}")),
            None => problem(key, form),
        }
    })?;
    if parsed.get_hosts().is_empty() && parsed.get_hostaddrs().is_empty() {
        return Err(problem(
            key,
            "names no host (postgres://user@HOST:5432/database)",
        ));
    }
    Ok(())
}

/// The names of the `?name=value&...` parameters of a URL without its
/// scheme, percent-decoded. The credentials end at the first `@`, as
/// tokio-postgres reads them, so a password is never taken for a name.
fn url_parameters(rest: &str) -> impl Iterator<Item = String> + '_ {
    let after_credentials = rest.split_once('@').map_or(rest, |(_, after)| after);
    let query = after_credentials
        .split_once('?')
        .map_or("", |(_, query)| query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
        .map(|name| {
            percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Whether a tokio-postgres parse error may be shown: the ones that name
/// an option (its name is the library's or a plain word), never a value.
fn safe_cause(cause: &str) -> bool {
    let named = |prefix: &str| {
        cause
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('`'))
            .is_some_and(|name| {
                !name.is_empty()
                    && name.len() <= 32
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
    };
    named("invalid value for option `") || named("unknown option `")
}

/// The password from `password_env` or `password_file` (one at most).
fn read_password(
    raw: &RawCluster,
    env: EnvLookup<'_>,
    t: &Table<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<Secret>, Problem> {
    let password = match (raw.password_env.as_deref(), raw.password_file.as_deref()) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(problem(
                t.key("password_env"),
                "set either cluster.password_env or cluster.password_file, not both",
            ));
        }
        (Some(var), None) => {
            let key = t.key("password_env");
            if var.is_empty() {
                return Err(problem(key, "is empty"));
            }
            let value = env(var)
                .ok_or_else(|| problem(&key, format!("environment variable {var} is not set")))?;
            if value.is_empty() {
                return Err(problem(key, format!("environment variable {var} is empty")));
            }
            value
        }
        (None, Some(path)) => {
            let key = t.key("password_file");
            let value = super::secret::read_secret_file(Path::new(path), "the password")
                .map_err(|m| problem(&key, m))?;
            if let Some(warning) =
                super::permissions::insecure_secret_file_warning(Path::new(path), &key)
            {
                warnings.push(warning);
            }
            value
        }
    };
    Ok(Some(Secret::new(password)))
}

/// A replica id: 1 to 128 characters of `[A-Za-z0-9._:-]`.
pub fn valid_replica_id(id: &str) -> bool {
    (1..=MAX_REPLICA_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// `<host name>-<process id>-<4 random hex digits>`: unique across
/// restarts on one host, readable in lease records.
fn default_replica_id(env: EnvLookup<'_>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| env("HOSTNAME"))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "gateway".to_owned());
    let host: String = host
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | ':' | '-') {
                ch
            } else {
                '-'
            }
        })
        .take(MAX_REPLICA_ID_CHARS - 24)
        .collect();
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
