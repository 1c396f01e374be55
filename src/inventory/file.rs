//! The inventory in the single-node store's redb file, next to the
//! idempotency records, so it is as durable as they are and survives a
//! restart. Three tables (see `idempotency::file::schema`): the entries by
//! their order key, the index by (account, id) holding each entry's order
//! key and release time, and the released entries by release time (the
//! order of purge and of eviction at [`super::MAX_ENTRIES`]). Entries are
//! stored in the versioned form of `encode`.
//!
//! Every change is one write transaction, durable (fsync) when it returns:
//! the store's committer runs it in a batch with the store's own changes;
//! a purge commits without fsync, as the store's own purge does (a lost
//! purge only brings back released entries). The entries are outside the
//! store's byte bound: [`super::MAX_ENTRIES`] bounds them the way it bounds
//! the in-memory inventory.
//!
//! An entry that cannot be decoded is an error naming it for `get`; `page`
//! logs it and goes on (it counts as looked at), so the others stay
//! listable; `update` leaves it as it is; replacement, purge and eviction
//! work from the index, so they remove it like any other.

use std::ops::Bound;
use std::time::SystemTime;

use redb::{Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table};

use super::encode::{decode_entry, encode_entry, nanos};
use super::{Cursor, Entry, Filter, MAX_ENTRIES, Page, apply};
use crate::idempotency::AlsoInTransaction;
use crate::idempotency::{
    INVENTORY_ENTRIES, INVENTORY_IDS, INVENTORY_RELEASED, RedbHandle, StoreError,
};
use crate::provider::Allocation;

/// The inventory of one store file (cheap to clone).
#[derive(Clone)]
pub struct FileInventory {
    db: RedbHandle,
    /// [`MAX_ENTRIES`] but in tests.
    pub(super) max_entries: usize,
}

impl std::fmt::Debug for FileInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileInventory")
            .field("location", &self.db.location())
            .finish()
    }
}

type EntriesTable<'t> = Table<'t, (u64, &'static str, &'static str), &'static [u8]>;
type IdsTable<'t> = Table<'t, (&'static str, &'static str), (u64, Option<u64>)>;
type ReleasedTable<'t> = Table<'t, (u64, u64, &'static str, &'static str), ()>;

/// The three tables in one write transaction.
struct Tables<'t, 'h> {
    entries: EntriesTable<'t>,
    ids: IdsTable<'t>,
    released: ReleasedTable<'t>,
    db: &'h RedbHandle,
    op: &'static str,
}

impl Tables<'_, '_> {
    fn fail(&self, e: impl Into<redb::Error>) -> StoreError {
        self.db.db_error(self.op, e)
    }

    /// Removes the entry of (account, id), if any; true when there was one.
    fn remove(&mut self, account: &str, id: &str) -> Result<bool, StoreError> {
        let old = self
            .ids
            .remove((account, id))
            .map_err(|e| self.db.db_error(self.op, e))?
            .map(|v| v.value());
        let Some((created_ms, released_ns)) = old else {
            return Ok(false);
        };
        self.entries
            .remove((created_ms, account, id))
            .map_err(|e| self.db.db_error(self.op, e))?;
        if let Some(at) = released_ns {
            self.released
                .remove((at, created_ms, account, id))
                .map_err(|e| self.db.db_error(self.op, e))?;
        }
        Ok(true)
    }

    /// Drops the oldest released entry; false when none is released.
    fn make_room(&mut self) -> Result<bool, StoreError> {
        let oldest = self
            .released
            .first()
            .map_err(|e| self.fail(e))?
            .map(|(k, _)| {
                let (_, _, account, id) = k.value();
                (account.to_owned(), id.to_owned())
            });
        match oldest {
            Some((account, id)) => {
                self.remove(&account, &id)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Writes `entry` (its index rows too); the caller removed any earlier
    /// entry of its (account, id).
    fn put(&mut self, entry: &Entry) -> Result<(), StoreError> {
        let bytes = encode_entry(entry).map_err(|reason| StoreError::Encode {
            location: self.db.location().to_owned(),
            key: entry_name(&entry.account, &entry.id),
            reason,
        })?;
        let created_ms = super::millis(entry.created);
        let (account, id) = (entry.account.as_str(), entry.id.as_str());
        let released_ns = entry.released.map(nanos);
        self.entries
            .insert((created_ms, account, id), bytes.as_slice())
            .map_err(|e| self.db.db_error(self.op, e))?;
        self.ids
            .insert((account, id), (created_ms, released_ns))
            .map_err(|e| self.db.db_error(self.op, e))?;
        if let Some(at) = released_ns {
            self.released
                .insert((at, created_ms, account, id), ())
                .map_err(|e| self.db.db_error(self.op, e))?;
        }
        Ok(())
    }
}

/// How an entry is named in errors and logs.
fn entry_name(account: &str, id: &str) -> String {
    format!("inventory entry {account}/{id}")
}

impl FileInventory {
    /// The inventory kept in the file of `db`.
    pub(crate) fn new(db: RedbHandle) -> Self {
        FileInventory {
            db,
            max_entries: MAX_ENTRIES,
        }
    }

    /// The same inventory bounded at `max_entries` (tests of the bound).
    #[cfg(test)]
    pub(crate) fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The file's path, for messages.
    pub fn location(&self) -> &str {
        self.db.location()
    }

    /// Runs `change` in one write transaction, committed when it answers
    /// true: a durable change through the store's committer (it shares the
    /// fsync of the store's own changes, `idempotency::file::committer`), a
    /// change that need not be durable (`durable` false) in a transaction of
    /// its own without fsync.
    fn write<T: Send + 'static>(
        &self,
        op: &'static str,
        durable: bool,
        change: impl FnOnce(&mut Tables<'_, '_>) -> Result<(T, bool), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let run = self.in_tables(op, change);
        if durable {
            return self.db.write_queued(op, run);
        }
        let handle = &self.db;
        handle.with_db(|db| {
            let mut txn = db.begin_write().map_err(|e| handle.db_error(op, e))?;
            txn.set_durability(Durability::None)
                .map_err(|e| handle.db_error(op, e))?;
            let (out, changed) = run(&txn)?;
            if changed {
                txn.commit().map_err(|e| handle.db_error(op, e))?;
            } else {
                txn.abort().map_err(|e| handle.db_error(op, e))?;
            }
            Ok(out)
        })
    }

    /// `change` on the inventory's tables of a write transaction.
    fn in_tables<T>(
        &self,
        op: &'static str,
        change: impl FnOnce(&mut Tables<'_, '_>) -> Result<(T, bool), StoreError> + Send + 'static,
    ) -> impl FnOnce(&redb::WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static
    {
        let handle = self.db.clone();
        move |txn: &redb::WriteTransaction| {
            let mut tables = Tables {
                entries: txn
                    .open_table(INVENTORY_ENTRIES)
                    .map_err(|e| handle.db_error(op, e))?,
                ids: txn
                    .open_table(INVENTORY_IDS)
                    .map_err(|e| handle.db_error(op, e))?,
                released: txn
                    .open_table(INVENTORY_RELEASED)
                    .map_err(|e| handle.db_error(op, e))?,
                db: &handle,
                op,
            };
            change(&mut tables)
        }
    }

    /// Runs `read` in a read transaction on the entries and the index; an
    /// inventory whose tables do not exist yet reads as empty (`None`).
    fn read<T>(
        &self,
        op: &'static str,
        read: impl FnOnce(
            &redb::ReadOnlyTable<(u64, &'static str, &'static str), &'static [u8]>,
            &redb::ReadOnlyTable<(&'static str, &'static str), (u64, Option<u64>)>,
        ) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let handle = &self.db;
        handle.with_db(|db| {
            let txn = db.begin_read().map_err(|e| handle.db_error(op, e))?;
            let entries = match txn.open_table(INVENTORY_ENTRIES) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(handle.db_error(op, e)),
            };
            let ids = match txn.open_table(INVENTORY_IDS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(handle.db_error(op, e)),
            };
            read(&entries, &ids).map(Some)
        })
    }

    pub fn record(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let max = self.max_entries;
        self.write("inventory record", true, move |t| {
            record_entries(t, &entries, max)
        })
    }

    /// [`Self::record`] as a write made in the transaction of a record
    /// change (the completion of the allocation that made `entries`), so
    /// that both share one durable commit.
    pub(crate) fn record_with_completion(&self, entries: Vec<Entry>) -> AlsoInTransaction {
        let max = self.max_entries;
        let run = self.in_tables("inventory record", move |t| {
            record_entries(t, &entries, max)
        });
        Box::new(move |txn| run(txn).map(|((), wrote)| wrote))
    }

    pub fn update(
        &self,
        account: &str,
        allocations: &[Allocation],
        seen: SystemTime,
    ) -> Result<(), StoreError> {
        if allocations.is_empty() {
            return Ok(());
        }
        let (account, allocations) = (account.to_owned(), allocations.to_vec());
        self.write("inventory update", true, move |t| {
            let account = account.as_str();
            let mut changed = false;
            for allocation in &allocations {
                let id = allocation.id.as_str();
                let known = t
                    .ids
                    .get((account, id))
                    .map_err(|e| t.fail(e))?
                    .map(|v| v.value());
                let Some((created_ms, _)) = known else {
                    continue;
                };
                let bytes = t
                    .entries
                    .get((created_ms, account, id))
                    .map_err(|e| t.fail(e))?
                    .map(|v| v.value().to_vec());
                let Some(bytes) = bytes else {
                    continue;
                };
                let mut entry = match decode_entry(&bytes) {
                    Ok(entry) => entry,
                    Err(reason) => {
                        tracing::warn!(
                            store = %t.db.location(),
                            entry = %entry_name(account, id),
                            %reason,
                            "an unreadable inventory entry was not updated"
                        );
                        continue;
                    }
                };
                apply(&mut entry, allocation, seen);
                t.remove(account, id)?;
                t.put(&entry)?;
                changed = true;
            }
            Ok(((), changed))
        })
    }

    pub fn get(&self, account: &str, id: &str) -> Result<Option<Entry>, StoreError> {
        let location = self.db.location();
        let handle = &self.db;
        let found = self.read("inventory get", |entries, ids| {
            let fail = |e: redb::StorageError| handle.db_error("inventory get", e);
            let Some((created_ms, _)) = ids.get((account, id)).map_err(fail)?.map(|v| v.value())
            else {
                return Ok(None);
            };
            let Some(bytes) = entries
                .get((created_ms, account, id))
                .map_err(fail)?
                .map(|v| v.value().to_vec())
            else {
                return Ok(None);
            };
            decode_entry(&bytes)
                .map(Some)
                .map_err(|reason| StoreError::CorruptRecord {
                    location: location.to_owned(),
                    key: entry_name(account, id),
                    reason,
                })
        })?;
        Ok(found.flatten())
    }

    pub fn page(
        &self,
        filter: &Filter,
        after: Option<&Cursor>,
        limit: usize,
        scan: usize,
    ) -> Result<Page, StoreError> {
        let handle = &self.db;
        let page = self.read("inventory page", |entries, _| {
            let fail = |e: redb::StorageError| handle.db_error("inventory page", e);
            let start = match after {
                Some(c) => Bound::Excluded((c.created_ms, c.account.as_str(), c.id.as_str())),
                None => Bound::Unbounded,
            };
            let rows = entries
                .range::<(u64, &str, &str)>((start, Bound::Unbounded))
                .map_err(fail)?;
            let mut page = Page::default();
            let mut last = None;
            for (scanned, row) in rows.enumerate() {
                if page.entries.len() >= limit || scanned >= scan {
                    page.next = last;
                    return Ok(page);
                }
                let (key, value) = row.map_err(fail)?;
                let (created_ms, account, id) = key.value();
                last = Some(Cursor {
                    created_ms,
                    account: account.to_owned(),
                    id: id.to_owned(),
                });
                match decode_entry(value.value()) {
                    Ok(entry) if filter.matches(&entry) => page.entries.push(entry),
                    Ok(_) => {}
                    Err(reason) => tracing::warn!(
                        store = %handle.location(),
                        entry = %entry_name(account, id),
                        %reason,
                        "an unreadable inventory entry is left out of the list"
                    ),
                }
            }
            Ok(page)
        })?;
        Ok(page.unwrap_or_default())
    }

    pub fn purge_released(&self, before: SystemTime) -> Result<usize, StoreError> {
        let before_ns = nanos(before);
        self.write("inventory purge", false, move |t| {
            let mut old: Vec<(String, String)> = Vec::new();
            for row in t
                .released
                .range(..(before_ns, 0, "", ""))
                .map_err(|e| t.fail(e))?
            {
                let (key, _) = row.map_err(|e| t.fail(e))?;
                let (_, _, account, id) = key.value();
                old.push((account.to_owned(), id.to_owned()));
            }
            for (account, id) in &old {
                t.remove(account, id)?;
            }
            Ok((old.len(), !old.is_empty()))
        })
    }

    pub fn len(&self) -> Result<usize, StoreError> {
        let handle = &self.db;
        let n = self.read("inventory len", |entries, _| {
            entries
                .len()
                .map_err(|e| handle.db_error("inventory len", e))
        })?;
        Ok(n.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        self.len().map(|n| n == 0)
    }
}

/// Records `entries` in the tables (an entry with the same account and id
/// replaced), at most `max` in all: when full, the oldest released entry
/// makes room, else the entry is left out (logged).
fn record_entries(
    t: &mut Tables<'_, '_>,
    entries: &[Entry],
    max: usize,
) -> Result<((), bool), StoreError> {
    let mut changed = false;
    for entry in entries {
        changed |= t.remove(&entry.account, &entry.id)?;
        let full = t.entries.len().map_err(|e| t.fail(e))? >= max as u64;
        if full && !t.make_room()? {
            super::warn_full(entry, max, None);
            continue;
        }
        t.put(entry)?;
        changed = true;
    }
    Ok(((), changed))
}
