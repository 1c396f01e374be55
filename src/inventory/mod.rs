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
//!
//! Backends (one concept per file):
//! - `memory`: a B-tree and an index under a mutex;
//! - `file`: three tables in the single-node store's redb file (the
//!   entries in the versioned form of `encode`), surviving restarts;
//! - `crate::cluster::SharedInventory`: fleet mode, one PostgreSQL table
//!   (`ipalloc_inventory`, schema version 3) every replica reads and writes.
//!
//! The memory and file backends keep at most [`MAX_ENTRIES`]; in memory
//! the entries' bytes are also counted and bounded by a quarter of the
//! store's `max_bytes` ([`memory_max_bytes`]); the fleet table has no such
//! bound (the database holds it; the statement timeout
//! bounds each call, and `purge_released` removes the released entries).
//! On a file, `record`, `update`, `page` and `purge_released` run on
//! tokio's blocking threads (each is a write transaction with an fsync, or
//! a scan); `get` and `len` are one short read, as the store's own lookups.
//!
//! The fleet database's calls are awaited boxed: their futures (a pooled
//! connection, a statement) are large, and unboxed every in-memory call's
//! future would be as large, copied at each level of the allocation flow.

pub mod encode;
mod file;
mod memory;

use std::sync::Arc;
use std::time::SystemTime;

pub use file::FileInventory;
pub use memory::MemoryInventory;

use crate::cluster::SharedInventory;
use crate::idempotency::{IdempotencyStore, Records, StoreError};
use crate::provider::{Allocation, AllocationState, ProviderKind, Tag};

/// Most entries an inventory keeps. When it is full, the oldest released
/// entries make room; when none is released, a new allocation is not
/// recorded (logged) rather than refused: it was already made.
pub const MAX_ENTRIES: usize = 100_000;

/// The byte bound of the in-memory inventory beside a store whose records
/// may take `store_max_bytes`: a quarter of it (16 MiB at the default
/// bound). At it, as at [`MAX_ENTRIES`], the oldest released entries make
/// room, else a new allocation is not recorded.
pub fn memory_max_bytes(store_max_bytes: u64) -> u64 {
    store_max_bytes / 4
}

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
    File(FileInventory),
    Shared(SharedInventory),
}

impl Inventory {
    /// A new in-memory inventory, bounded as beside a store of the default
    /// size.
    pub fn memory() -> Inventory {
        Inventory::Memory(Arc::new(MemoryInventory::default()))
    }

    /// A new in-memory inventory whose entries may take `max_bytes`.
    pub fn memory_within(max_bytes: u64) -> Inventory {
        Inventory::Memory(Arc::new(MemoryInventory::new(max_bytes)))
    }

    /// The inventory where `records` live: in memory for an in-memory
    /// store, in the same redb file for a file store, in the fleet
    /// database (same pool) for shared records.
    pub fn for_records(records: &Records) -> Inventory {
        match records {
            Records::Local(store) => Inventory::for_store(store),
            Records::Shared(shared) => {
                Inventory::Shared(SharedInventory::new(shared.database().clone()))
            }
        }
    }

    /// The inventory of a single-node store: its redb file, or memory
    /// (bounded by [`memory_max_bytes`] of the store's bound).
    pub fn for_store(store: &IdempotencyStore) -> Inventory {
        match store.redb() {
            Some(db) => Inventory::File(FileInventory::new(db)),
            None => Inventory::memory_within(memory_max_bytes(store.max_bytes())),
        }
    }

    /// The bytes an in-memory inventory's entries take, as counted against
    /// its bound; `None` for the others (their entries are not in this
    /// process's memory).
    pub fn memory_bytes(&self) -> Option<u64> {
        match self {
            Inventory::Memory(m) => Some(m.bytes()),
            Inventory::File(_) | Inventory::Shared(_) => None,
        }
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
            Inventory::File(f) => blocking(f, move |f| f.record(entries)).await,
            Inventory::Shared(s) => Box::pin(s.record(&entries)).await,
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
            Inventory::File(f) => {
                let (account, allocations) = (account.to_owned(), allocations.to_vec());
                blocking(f, move |f| f.update(&account, &allocations, seen)).await
            }
            Inventory::Shared(s) => Box::pin(s.update(account, allocations, seen)).await,
        }
    }

    /// The entry of `id` in `account`, if any.
    pub async fn get(&self, account: &str, id: &str) -> Result<Option<Entry>, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.get(account, id)),
            Inventory::File(f) => f.get(account, id),
            Inventory::Shared(s) => Box::pin(s.get(account, id)).await,
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
            Inventory::File(f) => {
                let (filter, after) = (filter.clone(), after.cloned());
                blocking(f, move |f| f.page(&filter, after.as_ref(), limit, scan)).await
            }
            Inventory::Shared(s) => Box::pin(s.page(filter, after, limit, scan)).await,
        }
    }

    /// Removes entries released before `before`; returns how many.
    pub async fn purge_released(&self, before: SystemTime) -> Result<usize, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.purge_released(before)),
            Inventory::File(f) => blocking(f, move |f| f.purge_released(before)).await,
            Inventory::Shared(s) => Box::pin(s.purge_released(before)).await,
        }
    }

    /// How many entries it holds.
    pub async fn len(&self) -> Result<usize, StoreError> {
        match self {
            Inventory::Memory(m) => Ok(m.len()),
            Inventory::File(f) => f.len(),
            Inventory::Shared(s) => Box::pin(s.len()).await,
        }
    }

    /// Whether it holds no entry.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.len().await.map(|n| n == 0)
    }
}

/// Runs `work` on the file inventory on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    inventory: &FileInventory,
    work: impl FnOnce(&FileInventory) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let inventory = inventory.clone();
    let location = inventory.location().to_owned();
    tokio::task::spawn_blocking(move || work(&inventory))
        .await
        .unwrap_or_else(|e| {
            Err(StoreError::Unavailable {
                location,
                reason: format!("the inventory's blocking task failed: {e}"),
            })
        })
}

/// Logs that `entry` was not recorded, the inventory being full of live
/// allocations: at most once a minute (a full inventory would otherwise
/// log on every allocation), with how many went unlisted meanwhile.
/// `max_bytes`: the byte bound of an in-memory inventory.
pub(crate) fn warn_full(entry: &Entry, max: usize, max_bytes: Option<u64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    static UNLISTED: AtomicU64 = AtomicU64::new(0);
    let unlisted = UNLISTED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = millis(SystemTime::now()) / 1000;
    let last = LAST.load(Ordering::Relaxed);
    if (last == 0 || now.saturating_sub(last) >= 60)
        && LAST
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        UNLISTED.store(0, Ordering::Relaxed);
        tracing::warn!(
            account = %entry.account,
            id = %entry.id,
            max,
            max_bytes,
            unlisted,
            "the allocation inventory is full of live allocations; new ones are not listed \
             (release some, or raise the bound); logged at most once a minute"
        );
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
