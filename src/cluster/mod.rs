//! Fleet mode: several gateways (a sidecar per pod, or central replicas)
//! sharing their idempotency records and each provider account's rate limit
//! in PostgreSQL (`[cluster] postgres_url`). Without it the gateway runs
//! alone on its embedded store, and nothing here is used.
//!
//! - `database`: the pool, how a statement runs (prepared, timed out,
//!   counted) and whether the database answers;
//! - `tls`: rustls for `tls = "require"` and `"verify-full"`;
//! - `migrate`: the embedded schema (`sql/`), applied under a lock;
//! - `records`: the shared idempotency records, leases and fencing tokens;
//! - `rate`: the shared GCRA limiter;
//! - `clock`: where the database's moments (the limiter's slots) fall on
//!   this process's clock;
//! - `spend`: the shared spend ledger (limits per caller and account);
//! - `inventory`: the shared allocation inventory (`crate::inventory`);
//! - `maintain`: the background task that migrates a database that was down
//!   at start, watches it, and purges expired records.
//!
//! Shared: idempotency records (one row per account and key), each
//! account's rate limit, the spend ledger, and the allocation inventory. Per process: the retry
//! budget, the concurrency cap, the latency window the admission reserve
//! follows, and the waiting of duplicate calls inside one process.

mod clock;
mod database;
mod error;
pub mod inventory;
mod maintain;
pub mod migrate;
mod rate;
mod records;
mod spend;
mod tls;

pub use database::Database;
pub use error::ClusterError;
pub use inventory::SharedInventory;
pub use rate::SharedRateLimiter;
pub use records::{Lease, SharedRecords, Written};

use std::time::Duration;

use crate::config::cluster::ClusterConfig;

/// Fleet mode's handles: the database, its records and its rate limiter.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub database: Database,
    pub records: SharedRecords,
    pub rate: SharedRateLimiter,
    pub replicas: u32,
}

impl Cluster {
    /// Connects and brings the schema up to date. A database at a newer
    /// schema is an error (the gateway must not start); an unreachable one
    /// is not: the gateway starts NOT_SERVING and migrates once it answers.
    /// Spawns the maintenance task (a tokio runtime must be running).
    pub async fn start(config: &ClusterConfig, retention: Duration) -> Result<Self, ClusterError> {
        let database = Database::new(config)?;
        match migrate::migrate(&database).await {
            Ok(_) => database.set_migrated(),
            Err(e @ ClusterError::SchemaNewer { .. }) => return Err(e),
            Err(e) => tracing::warn!(
                error = %e,
                "the fleet database cannot be prepared yet; serving NOT_SERVING until it can"
            ),
        }
        let records = SharedRecords::new(
            database.clone(),
            config.replica_id.clone(),
            config.lease,
            retention,
        );
        tokio::spawn(maintain::run(records.clone(), config.purge_interval));
        Ok(Cluster {
            rate: SharedRateLimiter::new(database.clone()),
            database,
            records,
            replicas: config.replicas.max(1),
        })
    }
}
