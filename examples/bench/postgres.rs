//! The fleet scenarios' database: `ipalloc_bench_<pid>` on the server at
//! `--postgres-url` (`IPALLOC_BENCH_POSTGRES_URL`), created empty before
//! each `-postgres` scenario (so every one starts from an unmigrated,
//! empty database, as a first deployment does) and dropped at the end with
//! `DROP DATABASE ... WITH (FORCE)`. Creation first drops the
//! `ipalloc_bench_<pid>` databases of bench runs that no longer run (killed
//! before their end).
//!
//! It also reads the external check of the gateway's own statement count:
//! the database's committed and rolled-back transactions
//! (`pg_stat_database`) after the gateway has exited. Every statement the
//! gateway sends outside a transaction block is one transaction, so this
//! counts its calls' statements plus the health checks (one a second), the
//! preparation of each statement on each pooled connection and the
//! migration at start. Backends report their statistics when they exit
//! (and at most once a second while they run): the figure is read once no
//! backend is left on the database and two readings 300 ms apart agree.

use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use crate::BoxError;

/// The server used when `IPALLOC_BENCH_POSTGRES_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The prefix of the bench's database names.
const PREFIX: &str = "ipalloc_bench_";

/// Longest wait for a connection or one administrative statement.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for the gateway's backends to leave and their statistics
/// to settle, and the pause between readings.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
const SETTLE_POLL: Duration = Duration::from_millis(300);

/// The bench's database and a connection to the server's own database
/// (never to the bench's, so it is not counted there).
pub struct BenchDatabase {
    admin: Client,
    /// `ipalloc_bench_<pid>`.
    pub name: String,
    /// The server URL with the bench's database, for the gateway.
    pub url: String,
}

impl BenchDatabase {
    /// Connects to the server at `server_url` and drops the databases of
    /// dead bench runs; the bench's own is created by [`Self::recreate`].
    pub async fn connect(server_url: &str) -> Result<BenchDatabase, BoxError> {
        let mut config = tokio_postgres::Config::from_str(server_url)
            .map_err(|_| "--postgres-url (IPALLOC_BENCH_POSTGRES_URL) is not a PostgreSQL URL")?;
        config.connect_timeout(Duration::from_secs(10));
        let (admin, connection) = within(config.connect(NoTls)).await.map_err(|e| {
            format!(
                "PostgreSQL at --postgres-url (IPALLOC_BENCH_POSTGRES_URL, default {DEFAULT_URL}) \
                 does not answer: {e}; the -postgres scenarios need it (check: pg_isready -h \
                 127.0.0.1 -p 5432)"
            )
        })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let name = format!("{PREFIX}{}", std::process::id());
        let database = BenchDatabase {
            url: with_database(server_url, &name),
            admin,
            name,
        };
        database.drop_stale().await?;
        Ok(database)
    }

    /// Drops the bench's database if it exists and creates it empty.
    pub async fn recreate(&self) -> Result<(), BoxError> {
        self.drop_database().await?;
        within(
            self.admin
                .batch_execute(&format!("CREATE DATABASE \"{}\"", self.name)),
        )
        .await
        .map_err(|e| format!("cannot create the bench database {}: {e}", self.name))?;
        Ok(())
    }

    /// Drops the bench's database (and every connection still on it).
    pub async fn drop_database(&self) -> Result<(), BoxError> {
        within(self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .await
        .map_err(|e| format!("cannot drop the bench database {}: {e}", self.name))?;
        Ok(())
    }

    /// Transactions committed or rolled back in the bench's database so
    /// far, read once its backends have gone (after the gateway exited) and
    /// the figure no longer moves; `None` when it did not settle in time.
    pub async fn transactions_after_exit(&self) -> Result<Option<u64>, BoxError> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last = None;
        while Instant::now() < deadline {
            tokio::time::sleep(SETTLE_POLL).await;
            let row = within(self.admin.query_one(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1), \
                        (SELECT coalesce(xact_commit + xact_rollback, 0) \
                         FROM pg_stat_database WHERE datname = $1)",
                &[&self.name],
            ))
            .await?;
            let backends: i64 = row.get(0);
            let transactions: Option<i64> = row.get(1);
            let transactions = transactions.and_then(|t| u64::try_from(t).ok());
            if backends > 0 {
                last = None;
                continue;
            }
            if last.is_some() && last == transactions {
                return Ok(last);
            }
            last = transactions;
        }
        Ok(None)
    }

    /// Drops the `ipalloc_bench_<pid>` databases whose bench no longer runs.
    async fn drop_stale(&self) -> Result<(), BoxError> {
        let rows = within(self.admin.query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'ipalloc\\_bench\\_%'",
            &[],
        ))
        .await?;
        for row in rows {
            let name: String = row.get(0);
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            eprintln!("dropping {name}, left by a bench run that no longer runs");
            within(
                self.admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")),
            )
            .await?;
        }
        Ok(())
    }
}

/// `future`, or a timeout error after [`TIMEOUT`]; errors with their cause
/// (the server's own words).
async fn within<T>(
    future: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(result) => result.map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// `url` (`scheme://[user@]host[:port][/db][?options]`) with the database
/// `name`.
fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let host_start = scheme_end + url[scheme_end..].find('@').map_or(0, |i| i + 1);
    let path_start = url[host_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| host_start + i);
    let (head, rest) = url.split_at(path_start);
    match rest.split_once('?') {
        Some((_, options)) => format!("{head}/{name}?{options}"),
        None => format!("{head}/{name}"),
    }
}
