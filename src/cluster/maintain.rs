//! The fleet database's background task: migrates a database that was
//! unreachable at start, checks every second that it answers (so health
//! flips to NOT_SERVING with no call failing first, and back to SERVING
//! when it returns), and purges expired records every purge interval (one
//! replica at a time: `ipalloc_purge` takes an advisory lock), and released
//! allocations kept as long from the inventory. It ends when
//! the database is closed.

use std::time::Duration;

use tokio::time::Instant;

use super::inventory::SharedInventory;
use super::migrate;
use super::records::SharedRecords;

/// How often the database is checked while it answers, and while it does not.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_DOWN_EVERY: Duration = Duration::from_millis(250);

pub async fn run(records: SharedRecords, purge_every: Duration) {
    let db = records.database().clone();
    let inventory = SharedInventory::new(db.clone());
    let mut next_purge = Instant::now() + purge_every;
    loop {
        let pause = if db.usable() {
            CHECK_EVERY
        } else {
            CHECK_DOWN_EVERY
        };
        tokio::time::sleep(pause).await;
        if db.is_closed() {
            return;
        }
        if !db.migrated() {
            match migrate::migrate(&db).await {
                Ok(_) => db.set_migrated(),
                Err(e) => {
                    tracing::debug!(error = %e, "the fleet database cannot be migrated yet");
                    continue;
                }
            }
        }
        if let Err(e) = db.ping().await {
            tracing::debug!(error = %e, "fleet database health check failed");
            continue;
        }
        if Instant::now() >= next_purge {
            next_purge = Instant::now() + purge_every;
            match records.purge_expired().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged expired idempotency records"),
                Err(e) => tracing::warn!(error = %e, "purging expired idempotency records failed"),
            }
            let before = std::time::SystemTime::now()
                .checked_sub(records.retention())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
            match inventory.purge_released(before).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged released allocations"),
                Err(e) => tracing::warn!(error = %e, "purging released allocations failed"),
            }
        }
    }
}
