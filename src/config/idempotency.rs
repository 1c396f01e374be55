//! The `[idempotency]` table: where idempotency records live, for how long,
//! and how many bytes they may take.

use std::time::Duration;

use super::problems::Collector;
use super::raw::RawIdempotency;
use super::values::{Table, setting};

/// Where idempotency records live, for how long, and how many bytes they
/// may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// The embedded database file; `None` keeps records in memory (lost on
    /// restart).
    pub path: Option<std::path::PathBuf>,
    pub retention: Duration,
    /// Byte bound of the records (`[idempotency] max_bytes`).
    pub max_bytes: u64,
    /// At the bound, evict the oldest completed records instead of refusing
    /// new keys (`[idempotency] evict_completed`).
    pub evict_completed: bool,
    /// Move an existing file that is not a valid store aside and start empty
    /// (`[idempotency] start_fresh_if_invalid`, `--start-fresh-if-invalid`).
    pub start_fresh_if_invalid: bool,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            path: None,
            retention: Duration::from_secs(24 * 3600),
            max_bytes: crate::idempotency::DEFAULT_MAX_BYTES,
            evict_completed: false,
            start_fresh_if_invalid: false,
        }
    }
}

impl IdempotencyConfig {
    /// The store's options.
    pub fn store_options(&self) -> crate::idempotency::StoreOptions {
        let mut options =
            crate::idempotency::StoreOptions::new(self.path.as_deref(), self.retention);
        options.max_bytes = self.max_bytes;
        options.evict_completed = self.evict_completed;
        options.start_fresh_if_invalid = self.start_fresh_if_invalid;
        options
    }
}

/// Smallest and largest `[idempotency] max_bytes`.
pub const IDEMPOTENCY_MAX_BYTES_RANGE: std::ops::RangeInclusive<u64> = 65_536..=1 << 40;

/// The checked `[idempotency]` table (defaults for what it leaves out).
pub(super) fn idempotency_config(raw: &RawIdempotency, c: &mut Collector) -> IdempotencyConfig {
    let mut config = IdempotencyConfig {
        path: raw
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from),
        evict_completed: raw.evict_completed.unwrap_or(false),
        start_fresh_if_invalid: raw.start_fresh_if_invalid.unwrap_or(false),
        ..IdempotencyConfig::default()
    };
    let mut t = Table::new(c, "idempotency.");
    let mut retention_hours = config.retention.as_secs() / 3600;
    setting!(t, retention_hours = raw.retention_hours in 1..=24 * 365);
    config.retention = Duration::from_secs(retention_hours * 3600);
    setting!(t, config.max_bytes = raw.max_bytes in IDEMPOTENCY_MAX_BYTES_RANGE);
    config
}
