//! The allocation inventory: every allocation made through this gateway,
//! with the state it last showed, kept until some time after it was
//! released. `ListAllocations` pages through it; `ReleaseAllocation` and
//! `GetAllocation` consult it for allocations the provider no longer knows
//! (a purged Zenlayer EIP, an Alibaba instance whose IP was reclaimed).
//!
//! It lives where the idempotency records do, so it is as durable as they
//! are: in memory (lost on restart), in the redb file of the single-node
//! store, or, in fleet mode, in a PostgreSQL table every replica shares.
//! Unlike an idempotency record, an entry does not expire while its
//! allocation is live: only released entries are purged, after the
//! store's retention.
//!
//! Entries are ordered by (creation time in ms, account, id): the order of
//! `ListAllocations` and the position its page tokens carry.

mod memory;

use std::sync::Arc;
use std::time::SystemTime;

pub use memory::MemoryInventory;

use crate::idempotency::StoreError;
use crate::provider::{Allocation, AllocationState, ProviderKind, Tag};

/// Most entries an inventory keeps. When it is full, the oldest released
/// entries make room; when none is released, a new allocation is not
/// recorded (logged) rather than refused: it was already made.
pub const MAX_ENTRIES: usize = 100_000;

/// One allocation the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The provider account's configured name.
    pub account: String,
    /// The allocation id (Zenlayer eipId, Aliyun instance id).
    pub id: String,
    pub kind: ProviderKind,
    /// The idempotency key it was allocated under.
    pub idempotency_key: String,
    /// The configured caller that allocated it.
    pub caller: Option<String>,
    /// Tags given at allocation (Zenlayer).
    pub tags: Vec<Tag>,
    /// When the gateway recorded it (ms precision).
    pub created: SystemTime,
    /// Its state as last read from the provider.
    pub allocation: Allocation,
    /// When that state was read.
    pub state_time: SystemTime,
    /// When the gateway first saw it released.
    pub released: Option<SystemTime>,
}

impl Entry {
    /// Its position in the inventory's order.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_ms: millis(self.created),
            account: self.account.clone(),
            id: self.id.clone(),
        }
    }
}

/// A position in the inventory's order; a page starts after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub created_ms: u64,
    pub account: String,
    pub id: String,
}

/// Which entries a page holds. Every condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these accounts; `None`: every account.
    pub accounts: Option<Vec<String>>,
    /// Only keys with this prefix (empty: any).
    pub key_prefix: String,
    /// Only entries carrying every one of these tags.
    pub tags: Vec<Tag>,
}

impl Filter {
    /// Whether `entry` passes.
    pub fn matches(&self, entry: &Entry) -> bool {
        self.accounts
            .as_ref()
            .is_none_or(|accounts| accounts.contains(&entry.account))
            && entry.idempotency_key.starts_with(&self.key_prefix)
            && self.tags.iter().all(|t| entry.tags.contains(t))
    }
}

/// One page of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// In order, at most the limit asked for.
    pub entries: Vec<Entry>,
    /// Where the next page starts; `None` when no entry follows the last
    /// one looked at. Also set when the scan stopped at its bound with
    /// fewer matching entries than asked (the page may then be empty).
    pub next: Option<Cursor>,
}

/// Where the inventory lives (cheap to clone).
#[derive(Debug, Clone)]
pub enum Inventory {
    Memory(Arc<MemoryInventory>),
}

impl Inventory {
    /// A new in-memory inventory.
    pub fn memory() -> Inventory {
        Inventory::Memory(Arc::new(MemoryInventory::default()))
    }

    /// Records newly made allocations. An entry with the same account and
    /// id replaces the earlier one (an Alibaba instance can get a public IP
    /// again after a release).
    pub async fn record(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        match self {
            Inventory::Memory(m) => {
                m.record(entries);
                Ok(())
            }
        }
    }

    /// Stores the states just read from the provider (`seen` is when) for
    /// the entries of `account` they name; others are ignored. An entry
    /// whose new state is `Released` gets its release time (once).
    pub async fn update(
        &self,
        account: &str,
        allocations: &[Allocation],
        seen: SystemTime,
    ) -> Result<(), StoreError> {
        match self {
            Inventory::Memory(m) => {
                m.update(account, allocations, seen);
                Ok(())
            }
        }
    }

    /// The entry of `id` in `account`, if any.
    pub async fn get(&self, account: &str, id: &str) -> Result<Option<Entry>, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.get(account, id)),
        }
    }

    /// Up to `limit` entries passing `filter`, in order, after `after`
    /// (from the start when `None`), looking at no more than `scan`
    /// entries (so a filter that matches little cannot make one call read
    /// the whole inventory).
    pub async fn page(
        &self,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: usize,
        scan: usize,
    ) -> Result<Page, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.page(filter, after, limit, scan)),
        }
    }

    /// Removes entries released before `before`; returns how many.
    pub async fn purge_released(&self, before: SystemTime) -> Result<usize, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.purge_released(before)),
        }
    }

    /// How many entries it holds.
    pub async fn len(&self) -> Result<usize, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.len()),
        }
    }

    /// Whether it holds no entry.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
}

/// Milliseconds since the epoch (0 before it, saturating far after).
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the epoch (saturating).
pub fn from_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(std::time::Duration::from_millis(ms))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Applies a state read at `seen` to `entry`.
pub fn apply(entry: &mut Entry, allocation: &Allocation, seen: SystemTime) {
    entry.allocation = allocation.clone();
    entry.state_time = seen;
    if allocation.state == AllocationState::Released && entry.released.is_none() {
        entry.released = Some(seen);
    }
}

#[cfg(test)]
mod tests;
