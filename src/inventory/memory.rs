//! The in-memory inventory: entries in a B-tree by their order, an index
//! by (account, id), and the released entries by release time, under one
//! mutex. Bounded by [`super::MAX_ENTRIES`] and by a byte bound (a quarter
//! of the idempotency store's `max_bytes`, [`super::memory_max_bytes`]).
//!
//! At either bound the oldest released entries make room (the release
//! index gives them in order, so making room costs a B-tree step per entry
//! dropped); when dropping every released entry would not make enough, a
//! new entry is refused at once, nothing dropped. An update is never
//! refused (it is the state of an entry already listed): a longer state
//! may take the inventory a little over its byte bound until the next
//! entry makes room.
//!
//! # What is counted ([`MemoryInventory::bytes`])
//!
//! An estimate of each entry's heap cost, kept per entry (so it falls back
//! to 0 as entries go), as glibc's allocator sizes each allocation
//! ([`crate::idempotency::heap_bytes`]):
//! - its slot in the B-tree (its `Cursor` key and a pointer to the boxed
//!   `Entry`), times 11/6: a node has 11 slots, and entries appended in
//!   order (creation time) leave about 6 in each; and the box;
//! - the heap buffers of its strings and tags (by capacity), and the
//!   copies of its account and id in the B-tree's key and in the index's;
//! - its slot in the index (hash key and created time plus a control
//!   byte), times 12/7: hashbrown keeps between 7/16 and 7/8 of its
//!   buckets in use;
//! - a released entry's slot in the release index (time and cursor, 11/6
//!   as in the B-tree) and the cursor's copies of account and id.
//!
//! For a Zenlayer EIP with a tag that is about 1,030 bytes.
//! `examples/memory.rs` reports RSS minus these bytes and the store's: it
//! stays within a few MiB of idle at 100,000 entries.

use std::collections::{BTreeMap, BTreeSet};
use std::mem::size_of;
use std::sync::Mutex;
use std::time::SystemTime;

use super::{Cursor, Entry, Filter, MAX_ENTRIES, Page, apply};
use crate::idempotency::{DEFAULT_MAX_BYTES, heap_bytes};
use crate::provider::{Allocation, Tag};

/// Entries and their indexes, within a byte bound.
#[derive(Debug)]
pub struct MemoryInventory {
    inner: Mutex<Tables>,
    max_bytes: u64,
}

impl Default for MemoryInventory {
    /// The bound of an inventory beside a store of the default size.
    fn default() -> Self {
        MemoryInventory::new(super::memory_max_bytes(DEFAULT_MAX_BYTES))
    }
}

#[derive(Debug, Default)]
struct Tables {
    /// Boxed: a B-tree node has room for 11 entries and holds about 6, so
    /// an entry inline would cost 11/6 of its 360 bytes.
    by_order: BTreeMap<Cursor, Box<Entry>>,
    /// (account, id) to the entry's created time (with them, its cursor).
    by_id: hashbrown::HashMap<(String, String), u64, foldhash::quality::RandomState>,
    /// The released entries, oldest release first.
    released: BTreeSet<(SystemTime, Cursor)>,
    /// Counted bytes of every entry ([`entry_bytes`]).
    bytes: u64,
    /// Of `bytes`, those of released entries.
    released_bytes: u64,
}

/// Bytes of a B-tree slot holding `slot` bytes: 11 slots a node, about 6
/// of them used (appended in order, a full node splits 6 + 5).
const fn tree_slot(slot: usize) -> u64 {
    (slot * 11 / 6) as u64
}

/// Bytes of a hash table slot holding `slot` bytes and its control byte:
/// 7/16 to 7/8 of the buckets are used; on average about 7/12.
const fn table_slot(slot: usize) -> u64 {
    ((slot + 1) * 12 / 7) as u64
}

/// An entry's slot in the B-tree.
const ORDER_SLOT: u64 = tree_slot(size_of::<Cursor>() + size_of::<Box<Entry>>());
/// An entry's slot in the index.
const INDEX_SLOT: u64 = table_slot(size_of::<((String, String), u64)>());
/// A released entry's slot in the release index.
const RELEASED_SLOT: u64 = tree_slot(size_of::<(SystemTime, Cursor)>());

/// The heap buffer of `s`.
fn string(s: &String) -> u64 {
    heap_bytes(s.capacity())
}

fn optional(s: &Option<String>) -> u64 {
    s.as_ref().map_or(0, string)
}

/// A copy of `s` (`clone` allocates its length exactly).
fn copy(s: &str) -> u64 {
    heap_bytes(s.len())
}

fn allocation_bytes(a: &Allocation) -> u64 {
    string(&a.id)
        + optional(&a.ip_address)
        + string(&a.provider_status)
        + optional(&a.zone_id)
        + optional(&a.region_id)
        + optional(&a.instance_id)
        + optional(&a.failure_reason)
}

/// What `entry` costs in the tables (see the module's docs).
pub(super) fn entry_bytes(entry: &Entry) -> u64 {
    let tags = heap_bytes(entry.tags.capacity() * size_of::<Tag>())
        + entry
            .tags
            .iter()
            .map(|t| string(&t.key) + string(&t.value))
            .sum::<u64>();
    let names = copy(&entry.account) + copy(&entry.id);
    let released = if entry.released.is_some() {
        RELEASED_SLOT + names
    } else {
        0
    };
    ORDER_SLOT
        + heap_bytes(size_of::<Entry>())
        + INDEX_SLOT
        + string(&entry.account)
        + string(&entry.id)
        + string(&entry.idempotency_key)
        + optional(&entry.caller)
        + tags
        + allocation_bytes(&entry.allocation)
        // The B-tree's key and the index's.
        + 2 * names
        + released
}

/// An `(account, id)` key looked up without building it: hashes as
/// `(String, String)` does (each string in turn), so a miss (every new
/// allocation) copies nothing.
#[derive(Hash)]
struct IdRef<'a>(&'a str, &'a str);

impl hashbrown::Equivalent<(String, String)> for IdRef<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

impl Tables {
    fn cursor_of(&self, account: &str, id: &str) -> Option<Cursor> {
        let created_ms = *self.by_id.get(&IdRef(account, id))?;
        Some(Cursor {
            created_ms,
            account: account.to_owned(),
            id: id.to_owned(),
        })
    }

    fn insert(&mut self, entry: Entry) {
        let cursor = entry.cursor();
        let size = entry_bytes(&entry);
        self.bytes += size;
        if let Some(at) = entry.released {
            self.released_bytes += size;
            self.released.insert((at, cursor.clone()));
        }
        self.by_id
            .insert((entry.account.clone(), entry.id.clone()), cursor.created_ms);
        self.by_order.insert(cursor, Box::new(entry));
    }

    fn remove(&mut self, cursor: &Cursor) {
        let Some(entry) = self.by_order.remove(cursor) else {
            return;
        };
        let size = entry_bytes(&entry);
        self.bytes = self.bytes.saturating_sub(size);
        if let Some(at) = entry.released {
            self.released_bytes = self.released_bytes.saturating_sub(size);
            self.released.remove(&(at, cursor.clone()));
        }
        self.by_id.remove(&(entry.account, entry.id));
    }

    /// Makes room for an entry of `need` bytes within `max_bytes` and
    /// [`MAX_ENTRIES`], dropping the oldest released entries. False (and
    /// nothing dropped) when dropping every released one would not do.
    fn make_room(&mut self, need: u64, max_bytes: u64) -> bool {
        let fits = |t: &Tables| t.by_order.len() < MAX_ENTRIES && t.bytes + need <= max_bytes;
        if fits(self) {
            return true;
        }
        let live = self.by_order.len() - self.released.len();
        if live >= MAX_ENTRIES || self.bytes - self.released_bytes + need > max_bytes {
            return false;
        }
        while !fits(self) {
            let Some((_, oldest)) = self.released.first().cloned() else {
                return false;
            };
            self.remove(&oldest);
        }
        true
    }
}

impl MemoryInventory {
    /// An empty inventory whose entries may take `max_bytes` (as counted,
    /// see the module's docs).
    pub fn new(max_bytes: u64) -> MemoryInventory {
        MemoryInventory {
            inner: Mutex::new(Tables::default()),
            max_bytes,
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves consistent maps (every
        // change is a few map operations); keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(&self, entries: Vec<Entry>) {
        let mut t = self.tables();
        for entry in entries {
            if let Some(old) = t.cursor_of(&entry.account, &entry.id) {
                t.remove(&old);
            }
            if !t.make_room(entry_bytes(&entry), self.max_bytes) {
                super::warn_full(&entry, MAX_ENTRIES, Some(self.max_bytes));
                continue;
            }
            t.insert(entry);
        }
    }

    pub fn update(&self, account: &str, allocations: &[Allocation], seen: SystemTime) {
        let mut t = self.tables();
        let t = &mut *t;
        for allocation in allocations {
            let Some(cursor) = t.cursor_of(account, &allocation.id) else {
                continue;
            };
            let Some(entry) = t.by_order.get_mut(&cursor) else {
                continue;
            };
            let (was, before) = (entry.released, entry_bytes(entry));
            apply(entry, allocation, seen);
            let (now, after) = (entry.released, entry_bytes(entry));
            t.bytes = (t.bytes + after).saturating_sub(before);
            if let Some(at) = was {
                t.released_bytes = t.released_bytes.saturating_sub(before);
                if was != now {
                    t.released.remove(&(at, cursor.clone()));
                }
            }
            if let Some(at) = now {
                t.released_bytes += after;
                if was != now {
                    t.released.insert((at, cursor));
                }
            }
        }
    }

    pub fn get(&self, account: &str, id: &str) -> Option<Entry> {
        let t = self.tables();
        let cursor = t.cursor_of(account, id)?;
        t.by_order.get(&cursor).map(|entry| Entry::clone(entry))
    }

    pub fn page(&self, filter: &Filter, after: Option<&Cursor>, limit: usize, scan: usize) -> Page {
        use std::ops::Bound;
        let t = self.tables();
        let range = match after {
            Some(after) => t
                .by_order
                .range((Bound::Excluded(after.clone()), Bound::Unbounded)),
            None => t.by_order.range(..),
        };
        let mut page = Page::default();
        let mut last = None;
        for (scanned, (cursor, entry)) in range.enumerate() {
            if page.entries.len() >= limit || scanned >= scan {
                page.next = last;
                return page;
            }
            last = Some(cursor.clone());
            if filter.matches(entry) {
                page.entries.push(Entry::clone(entry));
            }
        }
        page
    }

    pub fn purge_released(&self, before: SystemTime) -> usize {
        let mut t = self.tables();
        let mut purged = 0;
        while let Some((at, cursor)) = t.released.first().cloned()
            && at < before
        {
            t.remove(&cursor);
            purged += 1;
        }
        purged
    }

    pub fn len(&self) -> usize {
        self.tables().by_order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes its entries take, as counted (see the module's docs).
    pub fn bytes(&self) -> u64 {
        self.tables().bytes
    }

    /// The bound of [`MemoryInventory::bytes`].
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn an_id_ref_hashes_and_compares_as_its_owned_key() {
        let hasher = foldhash::quality::RandomState::default();
        let mut map = hashbrown::HashMap::with_hasher(hasher);
        let pairs = [("", ""), ("zl", "eip-1"), ("a", "bc"), ("ab", "c")];
        for (n, (account, id)) in pairs.into_iter().enumerate() {
            let owned = (account.to_owned(), id.to_owned());
            assert_eq!(hasher.hash_one(IdRef(account, id)), hasher.hash_one(&owned));
            map.insert(owned, n as u64);
        }
        for (n, (account, id)) in pairs.into_iter().enumerate() {
            assert_eq!(map.get(&IdRef(account, id)), Some(&(n as u64)));
        }
        assert_eq!(map.get(&IdRef("zl", "eip-2")), None);
    }
}
