//! The store's transactions on the file: one change applied inside a write
//! transaction (the committer's batches, `committer`), read transactions for
//! lookups, purges without fsync, and eviction of the oldest completed
//! records inside a write.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};

use super::super::backend::{Decide, Plan, Read, Usage, Write};
use super::super::error::StoreError;
use super::Shared;
use super::schema::{
    COMPLETED, Index, RECORDS, Records, completed_at, full_cost, index_cost, record_cost,
};

impl Shared {
    /// Counts the records of a freshly opened database.
    pub(super) fn count(&self, db: &Database) -> Result<Usage, StoreError> {
        let op = "count";
        let txn = db.begin_read().map_err(|e| self.db_error(op, e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.db_error(op, e))?;
        let mut usage = Usage::default();
        for entry in table.iter().map_err(|e| self.db_error(op, e))? {
            let (key, value) = entry.map_err(|e| self.db_error(op, e))?;
            let (cost, completed) = full_cost(key.value(), value.value());
            usage.records += 1;
            usage.bytes += cost;
            if completed {
                usage.completed_bytes += cost;
            }
        }
        Ok(usage)
    }

    /// The records table and the eviction index of a write transaction.
    pub(super) fn tables<'txn>(
        &self,
        txn: &'txn WriteTransaction,
        op: &'static str,
    ) -> Result<(Records<'txn>, Index<'txn>), StoreError> {
        let records = txn.open_table(RECORDS).map_err(|e| self.db_error(op, e))?;
        let index = txn
            .open_table(COMPLETED)
            .map_err(|e| self.db_error(op, e))?;
        Ok((records, index))
    }

    /// Evicts completed records, oldest first and never `except`, until
    /// `free` bytes are freed or none is left. Returns (freed bytes, records).
    fn evict(
        &self,
        records: &mut Records<'_>,
        index: &mut Index<'_>,
        free: u64,
        except: &str,
    ) -> Result<(u64, u64), StoreError> {
        let op = "evict";
        let (mut freed, mut evicted) = (0u64, 0u64);
        while freed < free {
            // The oldest entries, a batch at a time (`except` has at most one).
            let mut batch: Vec<(u64, String)> = Vec::with_capacity(64);
            for entry in index.iter().map_err(|e| self.db_error(op, e))?.take(65) {
                let (k, _) = entry.map_err(|e| self.db_error(op, e))?;
                let (at, key) = k.value();
                if key != except {
                    batch.push((at, key.to_owned()));
                }
            }
            if batch.is_empty() {
                break;
            }
            for (at, key) in batch {
                if freed >= free {
                    break;
                }
                index
                    .remove((at, key.as_str()))
                    .map_err(|e| self.db_error(op, e))?;
                let value = records
                    .get(key.as_str())
                    .map_err(|e| self.db_error(op, e))?
                    .map(|v| v.value().to_vec());
                // A stale index entry (the record changed) is just dropped.
                if let Some(value) = value
                    && completed_at(&value) == Some(at)
                {
                    records
                        .remove(key.as_str())
                        .map_err(|e| self.db_error(op, e))?;
                    freed += record_cost(&key, &value) + index_cost(&key);
                    evicted += 1;
                }
            }
        }
        Ok((freed, evicted))
    }

    /// Applies one change of `key` inside a write transaction: reads its
    /// record, lets `decide` choose the write, applies it (evicting at the
    /// bound when allowed) and updates `next`. Returns whether it wrote and
    /// how many records it evicted. A refusal (an error of `decide`, or
    /// [`StoreError::Full`]) leaves the tables and `next` unchanged.
    pub(super) fn apply(
        &self,
        records: &mut Records<'_>,
        index: &mut Index<'_>,
        next: &mut Usage,
        key: &str,
        op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<(bool, u64), StoreError> {
        let shared = self;
        let current = records
            .get(key)
            .map_err(|e| shared.db_error(op, e))?
            .map(|v| v.value().to_vec());
        let old_at = current.as_deref().and_then(completed_at);
        let (old_cost, old_completed) =
            current.as_deref().map_or((0, false), |v| full_cost(key, v));
        match decide(current.as_deref())? {
            Write::Keep => Ok((false, 0)),
            Write::Remove => {
                records.remove(key).map_err(|e| shared.db_error(op, e))?;
                if let Some(at) = old_at {
                    index
                        .remove((at, key))
                        .map_err(|e| shared.db_error(op, e))?;
                }
                if current.is_some() {
                    next.records -= 1;
                    next.bytes -= old_cost;
                    if old_completed {
                        next.completed_bytes -= old_cost;
                    }
                }
                Ok((true, 0))
            }
            Write::Put { bytes, admission } => {
                let new_at = completed_at(&bytes);
                let (new_cost, new_completed) = full_cost(key, &bytes);
                let grow = new_cost as i64 - old_cost as i64;
                let evictable = next.completed_bytes - if old_completed { old_cost } else { 0 };
                let mut evicted = 0;
                match shared
                    .options
                    .limits
                    .plan(next.bytes, evictable, grow, admission)
                {
                    Plan::Write => {}
                    Plan::EvictThenWrite { free } => {
                        let (freed, gone) = shared.evict(records, index, free, key)?;
                        next.bytes -= freed;
                        next.completed_bytes -= freed;
                        next.records -= gone;
                        evicted = gone;
                    }
                    Plan::Refuse => {
                        return Err(StoreError::Full {
                            location: shared.location.clone(),
                            bytes: next.bytes,
                            max_bytes: shared.options.limits.max_bytes,
                        });
                    }
                }
                records
                    .insert(key, bytes.as_slice())
                    .map_err(|e| shared.db_error(op, e))?;
                if old_at != new_at {
                    if let Some(at) = old_at {
                        index
                            .remove((at, key))
                            .map_err(|e| shared.db_error(op, e))?;
                    }
                    if let Some(at) = new_at {
                        index
                            .insert((at, key), ())
                            .map_err(|e| shared.db_error(op, e))?;
                    }
                }
                if current.is_none() {
                    next.records += 1;
                }
                next.bytes = next.bytes - old_cost + new_cost;
                if old_completed {
                    next.completed_bytes -= old_cost;
                }
                if new_completed {
                    next.completed_bytes += new_cost;
                }
                Ok((true, evicted))
            }
        }
    }

    /// One change in its own write transaction, committed (fsync) before it
    /// returns. The store's record changes go through the committer
    /// (`committer`); this serves the test hook that stores raw bytes.
    pub(super) fn update(
        self: &Arc<Self>,
        key: &str,
        op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<(), StoreError> {
        let shared = self;
        shared.with_db(|db| {
            let mut usage = shared.lock_usage();
            let txn = db.begin_write().map_err(|e| shared.db_error(op, e))?;
            let mut next = *usage;
            let (changed, evicted) = {
                let (mut records, mut index) = shared.tables(&txn, op)?;
                shared.apply(&mut records, &mut index, &mut next, key, op, decide)?
            };
            if changed {
                txn.commit().map_err(|e| shared.db_error(op, e))?;
                shared.set_usage(&mut usage, next);
                shared.evicted.fetch_add(evicted, Ordering::Relaxed);
            } else {
                txn.abort().map_err(|e| shared.db_error(op, e))?;
            }
            Ok(())
        })
    }

    pub(super) fn read(self: &Arc<Self>, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        let shared = self;
        shared.with_db(|db| {
            let op = "read";
            let txn = db.begin_read().map_err(|e| shared.db_error(op, e))?;
            let table = txn
                .open_table(RECORDS)
                .map_err(|e| shared.db_error(op, e))?;
            let value = table.get(key).map_err(|e| shared.db_error(op, e))?;
            read(value.as_ref().map(|v| v.value()))
        })
    }

    pub(super) fn purge(
        self: &Arc<Self>,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let shared = self;
        shared.with_db(|db| {
            let op = "purge expired";
            let mut usage = shared.lock_usage();
            let mut txn = db.begin_write().map_err(|e| shared.db_error(op, e))?;
            txn.set_durability(Durability::None)
                .map_err(|e| shared.db_error(op, e))?;
            let mut next = *usage;
            let (mut removed, mut unreadable) = (0usize, 0usize);
            {
                let (mut records, mut index) = shared.tables(&txn, op)?;
                let mut indexed: Vec<(u64, String)> = Vec::new();
                records
                    .retain(|key, value| match expired(value) {
                        Some(true) => {
                            removed += 1;
                            let (cost, completed) = full_cost(key, value);
                            next.records -= 1;
                            next.bytes -= cost;
                            if completed {
                                next.completed_bytes -= cost;
                            }
                            if let Some(at) = completed_at(value) {
                                indexed.push((at, key.to_owned()));
                            }
                            false
                        }
                        Some(false) => true,
                        None => {
                            unreadable += 1;
                            true
                        }
                    })
                    .map_err(|e| shared.db_error(op, e))?;
                for (at, key) in &indexed {
                    index
                        .remove((*at, key.as_str()))
                        .map_err(|e| shared.db_error(op, e))?;
                }
            }
            if removed > 0 {
                txn.commit().map_err(|e| shared.db_error(op, e))?;
                shared.set_usage(&mut usage, next);
            } else {
                txn.abort().map_err(|e| shared.db_error(op, e))?;
            }
            Ok((removed, unreadable))
        })
    }
}
