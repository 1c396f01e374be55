//! The connection pool to the fleet database (deadpool-postgres over
//! tokio-postgres) and the one way statements are run: a prepared statement
//! per connection (one round trip per call once prepared), bounded by the
//! statement timeout on both sides, counted, timed into the metrics
//! (`ipalloc_store_operation_duration_seconds`, store `postgres`, by
//! statement name), and feeding the health watch.

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::watch;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::error::ClusterError;
use super::tls;
use crate::admin::metrics::{Metrics, STORE_POSTGRES};
use crate::config::cluster::ClusterConfig;

/// The name of the health check statement.
const PING: &str = "health check";

/// The fleet database: a pool, its timeouts, and whether it answers.
/// Cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    statement_timeout: Duration,
    /// Statements sent (round trips), for the benchmark and tests.
    statements: AtomicU64,
    health: watch::Sender<bool>,
    /// The schema is at this binary's version: until then the database
    /// counts as unusable.
    migrated: AtomicBool,
    closed: AtomicBool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold the password.
        f.debug_struct("Database")
            .field("statement_timeout", &self.inner.statement_timeout)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Builds the pool (no connection is made yet).
    pub fn new(config: &ClusterConfig) -> Result<Self, ClusterError> {
        let mut pg =
            tokio_postgres::Config::from_str(config.postgres_url.expose()).map_err(|_| {
                // Its message could quote the URL: say only what is wrong.
                ClusterError::Refused {
                    op: "configuration",
                    detail: "[cluster] postgres_url is not a valid PostgreSQL URL".to_owned(),
                }
            })?;
        if let Some(password) = &config.password {
            pg.password(password.expose());
        }
        let statement_ms = config.statement_timeout.as_millis().max(1);
        pg.application_name("ipalloc-gateway")
            .connect_timeout(config.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .options(format!(
                "-c statement_timeout={statement_ms} -c client_min_messages=warning"
            ));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls::connector(config.tls, config.ca_file.as_deref())? {
            Some(tls) => Manager::from_config(pg, tls, manager_config),
            None => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| ClusterError::Unexpected {
                op: "pool",
                detail: e.to_string(),
            })?;
        let (health, _) = watch::channel(false);
        Ok(Database {
            inner: Arc::new(Inner {
                pool,
                statement_timeout: config.statement_timeout,
                statements: AtomicU64::new(0),
                health,
                migrated: AtomicBool::new(false),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Runs one statement of a call (`op` names it in errors; counted in
    /// [`Database::statements`]) and returns its rows.
    pub async fn query(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, ClusterError> {
        self.statement(op, sql, params, true)
            .await
            .map(|(rows, _)| rows)
    }

    /// [`Database::query_one`], also answering when the statement was
    /// handed to its connection (after any wait for a pooled connection):
    /// the server began it no earlier than that.
    pub async fn query_one_sent(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(Row, tokio::time::Instant), ClusterError> {
        let (mut rows, sent) = self.statement(op, sql, params, true).await?;
        match (rows.pop(), rows.is_empty()) {
            (Some(row), true) => Ok((row, sent)),
            _ => Err(ClusterError::Unexpected {
                op,
                detail: "not exactly one row".to_owned(),
            }),
        }
    }

    /// Runs one statement, bounded by the statement timeout, timed, and
    /// feeding the health watch; `counted` adds it to the round trips of
    /// calls. Answers its rows and the moment it was handed to its
    /// connection.
    async fn statement(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        counted: bool,
    ) -> Result<(Vec<Row>, tokio::time::Instant), ClusterError> {
        let timeout = self.inner.statement_timeout;
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(timeout, self.run(op, sql, params, counted)).await;
        let result = result.unwrap_or_else(|_| {
            Err(ClusterError::Timeout {
                op,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })
        });
        let failure = result.as_ref().err().map(ClusterError::metric_kind);
        Metrics::global().store_operation(STORE_POSTGRES, op, started.elapsed(), failure);
        match &result {
            Ok(_) => self.mark(true),
            Err(e) if e.is_unreachable() => self.mark(false),
            Err(_) => {}
        }
        result
    }

    /// [`Database::query`] for a statement answering exactly one row.
    pub async fn query_one(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, ClusterError> {
        self.query_one_sent(op, sql, params)
            .await
            .map(|(row, _)| row)
    }

    async fn run(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        counted: bool,
    ) -> Result<(Vec<Row>, tokio::time::Instant), ClusterError> {
        let client = self
            .inner
            .pool
            .get()
            .await
            .map_err(|e| ClusterError::Unreachable {
                op,
                detail: pool_error(&e),
            })?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| ClusterError::from_postgres(op, &e))?;
        if counted {
            self.inner.statements.fetch_add(1, Ordering::Relaxed);
        }
        let sent = tokio::time::Instant::now();
        client
            .query(&statement, params)
            .await
            .map(|rows| (rows, sent))
            .map_err(|e| ClusterError::from_postgres(op, &e))
    }

    /// A connection of the pool held by the caller (migrations hold a
    /// session lock on it while they run).
    pub async fn dedicated(&self) -> Result<deadpool_postgres::Object, ClusterError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| ClusterError::Unreachable {
                op: "connect",
                detail: pool_error(&e),
            })
    }

    /// Checks that the database answers (not counted in
    /// [`Database::statements`]).
    pub async fn ping(&self) -> Result<(), ClusterError> {
        self.statement(PING, "SELECT 1", &[], false).await.map(drop)
    }

    /// Statements sent so far for calls (each one round trip), health checks
    /// left out.
    pub fn statements(&self) -> u64 {
        self.inner.statements.load(Ordering::Relaxed)
    }

    /// Whether the database answered the last statement, now and on every
    /// change.
    pub fn health(&self) -> watch::Receiver<bool> {
        self.inner.health.subscribe()
    }

    /// Whether the database answered the last statement.
    pub fn usable(&self) -> bool {
        *self.inner.health.borrow()
    }

    /// The schema is up to date: the database may serve calls.
    pub fn set_migrated(&self) {
        self.inner.migrated.store(true, Ordering::Release);
        self.mark(true);
    }

    /// Whether the schema is up to date.
    pub fn migrated(&self) -> bool {
        self.inner.migrated.load(Ordering::Acquire)
    }

    /// Whether [`Database::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Records whether the database answers (counted only once migrated);
    /// logs the changes.
    pub fn mark(&self, answers: bool) {
        let answers = answers && self.migrated() && !self.is_closed();
        let changed = self.inner.health.send_if_modified(|current| {
            let changed = *current != answers;
            *current = answers;
            changed
        });
        if changed {
            if answers {
                tracing::info!("the fleet database answers: allocations are served");
            } else {
                tracing::warn!("the fleet database is unreachable: allocations are refused");
            }
        }
    }

    /// Closes the pool: later calls fail.
    pub fn close(&self) {
        tracing::info!(
            statements = self.statements(),
            "fleet database: closing the pool (statements counts the round trips of calls)"
        );
        self.inner.closed.store(true, Ordering::Release);
        self.inner.pool.close();
        self.inner.health.send_replace(false);
    }
}

/// A pool error as one line (never holds the URL or password).
fn pool_error(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => {
            ClusterError::from_postgres("connect", e).to_string()
        }
        other => other.to_string(),
    }
}
