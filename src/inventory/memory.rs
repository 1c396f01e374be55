//! The in-memory inventory: entries in a B-tree by their order, an index
//! by (account, id), under one mutex. Bounded by [`super::MAX_ENTRIES`].
//!
//! The tables count their released entries, so that a full inventory of
//! live allocations refuses a new entry at once instead of scanning every
//! entry for a released one on each allocation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use super::{Cursor, Entry, Filter, MAX_ENTRIES, Page, apply};
use crate::provider::Allocation;

/// Entries and their index.
#[derive(Debug, Default)]
pub struct MemoryInventory {
    inner: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    by_order: BTreeMap<Cursor, Entry>,
    by_id: HashMap<(String, String), Cursor>,
    /// How many entries of `by_order` are released.
    released: usize,
}

impl Tables {
    fn remove(&mut self, cursor: &Cursor) {
        if let Some(entry) = self.by_order.remove(cursor) {
            if entry.released.is_some() {
                self.released = self.released.saturating_sub(1);
            }
            self.by_id.remove(&(entry.account, entry.id));
        }
    }

    /// Makes room for one entry: drops the oldest released one. False when
    /// none is released.
    fn make_room(&mut self) -> bool {
        if self.released == 0 {
            return false;
        }
        let oldest = self
            .by_order
            .iter()
            .filter_map(|(c, e)| e.released.map(|at| (at, c.clone())))
            .min();
        match oldest {
            Some((_, cursor)) => {
                self.remove(&cursor);
                true
            }
            None => false,
        }
    }
}

impl MemoryInventory {
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
            let id = (entry.account.clone(), entry.id.clone());
            if let Some(old) = t.by_id.get(&id).cloned() {
                t.remove(&old);
            }
            if t.by_order.len() >= MAX_ENTRIES && !t.make_room() {
                super::warn_full(&entry, MAX_ENTRIES);
                continue;
            }
            let cursor = entry.cursor();
            if entry.released.is_some() {
                t.released += 1;
            }
            t.by_id.insert(id, cursor.clone());
            t.by_order.insert(cursor, entry);
        }
    }

    pub fn update(&self, account: &str, allocations: &[Allocation], seen: SystemTime) {
        let mut t = self.tables();
        for allocation in allocations {
            let key = (account.to_owned(), allocation.id.clone());
            let Some(cursor) = t.by_id.get(&key).cloned() else {
                continue;
            };
            if let Some(entry) = t.by_order.get_mut(&cursor) {
                let was = entry.released.is_some();
                apply(entry, allocation, seen);
                match (was, entry.released.is_some()) {
                    (false, true) => t.released += 1,
                    (true, false) => t.released = t.released.saturating_sub(1),
                    _ => {}
                }
            }
        }
    }

    pub fn get(&self, account: &str, id: &str) -> Option<Entry> {
        let t = self.tables();
        let cursor = t.by_id.get(&(account.to_owned(), id.to_owned()))?;
        t.by_order.get(cursor).cloned()
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
                page.entries.push(entry.clone());
            }
        }
        page
    }

    pub fn purge_released(&self, before: SystemTime) -> usize {
        let mut t = self.tables();
        let old: Vec<Cursor> = t
            .by_order
            .iter()
            .filter(|(_, e)| e.released.is_some_and(|at| at < before))
            .map(|(c, _)| c.clone())
            .collect();
        for cursor in &old {
            t.remove(cursor);
        }
        old.len()
    }

    pub fn len(&self) -> usize {
        self.tables().by_order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
