//! The in-memory backend: a hash table from key to record behind one mutex,
//! with completed records packed into large segments, and exact accounting
//! of the bytes it holds.
//!
//! A call costs one table operation plus the record's encoding (about a
//! microsecond under the lock); nothing is copied on a miss. The lock is a
//! `std::sync::Mutex`, never held across an `.await`. The state under it is
//! in `table` (the slots and the byte count), the packed completed records
//! in `segments`.
//!
//! # Layout
//!
//! - A record in flight or with an unknown outcome (short-lived, few) is one
//!   heap allocation: `[key length: u16][key][record]`.
//! - A completed record (long-lived, the bulk) is appended to the current
//!   *segment*, a buffer of [`segment_bytes`] (1 MiB at the default bound),
//!   as `[key length: u16][record length: u32][key][record]`. Keeping a
//!   million small allocations on the general heap, interleaved with every
//!   request's short-lived ones, cost about 60 bytes a record of
//!   fragmentation (measured with `examples/memory.rs`); segments cost none.
//!   Completed records leave in completion order (expiry counts from
//!   completion; eviction takes the oldest), so whole segments empty out and
//!   are freed; a segment is freed when its last live record goes.
//! - The table (`hashbrown::HashTable`, keyed by a per-process seeded
//!   foldhash of the key, which callers control) holds one small slot per
//!   record.
//!
//! # What is counted ([`Usage::bytes`])
//!
//! Everything the store allocates: every segment's full capacity (dead
//! records in it included), each heap record as glibc's allocator sizes it
//! (the request plus an 8-byte header, rounded up to 16, at least 32: see
//! [`heap_bytes`]), and the table (its buckets times one slot and one control
//! byte). That is what the records cost in RSS.
//!
//! # Eviction
//!
//! Segments are kept oldest first; evicting drops every live record of the
//! oldest segment and frees it, repeated until enough is freed. Records
//! in flight or with an unknown outcome are never in a segment.

mod buffer;
mod ledger;
mod segments;
mod table;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::backend::{Backend, Decide, Limits, Plan, Read, Usage, Write};
use super::error::StoreError;
use super::record;
use super::spend::LedgerChange;
use ledger::MemoryLedger;
use segments::{SEGMENT_HEADER, segment_bytes};
use table::{Slot, State, grown_capacity, table_bytes};

/// Location shown for the in-memory store.
pub(crate) const IN_MEMORY: &str = "(in memory)";

/// Bytes glibc's malloc takes for a request of `n` bytes (0: no allocation).
pub(crate) fn heap_bytes(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    (n.saturating_add(8 + 15) & !15).max(32) as u64
}

fn is_completed(bytes: &[u8]) -> bool {
    record::header(bytes).is_ok_and(|h| h.completed)
}

/// Records in memory, lost when the process ends.
pub(crate) struct MemoryBackend {
    state: Mutex<State>,
    limits: Limits,
    /// Mirrors of the state's counters, read without the lock.
    bytes: AtomicU64,
    records: AtomicU64,
    completed_bytes: AtomicU64,
    evicted: AtomicU64,
    closed: AtomicBool,
    /// The spend ledger (its own lock: never held with the records').
    ledger: Mutex<MemoryLedger>,
}

impl MemoryBackend {
    pub(crate) fn new(limits: Limits) -> Self {
        MemoryBackend {
            state: Mutex::new(State::new(segment_bytes(limits.max_bytes))),
            limits,
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            completed_bytes: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            ledger: Mutex::new(MemoryLedger::default()),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed {
                location: IN_MEMORY.to_owned(),
            });
        }
        // Nothing panics while holding the lock; a poisoned lock still holds
        // consistent data (every change is applied after all checks).
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn publish(&self, state: &State) {
        self.bytes.store(state.bytes(), Ordering::Relaxed);
        self.records
            .store(state.table.len() as u64, Ordering::Relaxed);
        self.completed_bytes
            .store(state.segments.total(), Ordering::Relaxed);
    }
}

impl Backend for MemoryBackend {
    fn location(&self) -> &str {
        IN_MEMORY
    }

    fn update(
        &self,
        key: &str,
        _op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<(), StoreError> {
        if key.len() > u16::MAX as usize {
            return Err(StoreError::Encode {
                location: IN_MEMORY.to_owned(),
                key: key.chars().take(64).collect(),
                reason: "the key is longer than 65535 bytes".to_owned(),
            });
        }
        let mut guard = self.lock()?;
        let state = &mut *guard;
        let hash = state.hash(key);
        let found = state.find(hash, key);
        let old_heap = match found {
            Some(Slot::Heap(bytes)) => heap_bytes(bytes.len()),
            _ => 0,
        };
        let current = found.map(|slot| slot.record(&state.segments));
        let exists = current.is_some();
        let (bytes, admission) = match decide(current)? {
            Write::Keep => return Ok(()),
            Write::Remove => {
                if let Some(slot) = state.take(hash, key) {
                    state.release(slot);
                }
                self.publish(state);
                return Ok(());
            }
            Write::Put { bytes, admission } => (bytes, admission),
        };
        let completed = is_completed(&bytes);
        let new_size = if completed {
            state
                .segments
                .growth(SEGMENT_HEADER + key.len() + bytes.len())
        } else {
            heap_bytes(2 + key.len() + bytes.len())
        };
        let mut grow = new_size as i64 - old_heap as i64;
        if !exists && state.table.len() == state.table.capacity() {
            grow += table_bytes(grown_capacity(state.table.len())) as i64
                - table_bytes(state.table.capacity()) as i64;
        }
        match self
            .limits
            .plan(state.bytes(), state.evictable(), grow, admission)
        {
            Plan::Write => {}
            Plan::EvictThenWrite { free } => {
                let evicted = state.evict(free);
                self.evicted.fetch_add(evicted, Ordering::Relaxed);
            }
            Plan::Refuse => {
                return Err(StoreError::Full {
                    location: IN_MEMORY.to_owned(),
                    bytes: state.bytes(),
                    max_bytes: self.limits.max_bytes,
                });
            }
        }
        // Take the old slot out (eviction may have taken it already).
        let old = state.take(hash, key);
        // The new record is written before the old one is released, so that
        // a segment emptied by the release is not the one written to.
        let slot = state.store(key, &bytes, completed);
        drop(bytes);
        if let Some(old) = old {
            state.release(old);
        }
        state.insert(hash, slot);
        self.publish(state);
        Ok(())
    }

    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        let state = self.lock()?;
        let hash = state.hash(key);
        read(
            state
                .find(hash, key)
                .map(|slot| slot.record(&state.segments)),
        )
    }

    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        let (mut removed, mut unreadable) = (0usize, 0usize);
        let mut released: Vec<Slot> = Vec::new();
        {
            let segments = &state.segments;
            // `retain` hands out each slot mutably; expired ones are moved
            // out (replaced by an empty heap slot that is dropped with them).
            state
                .table
                .retain(|slot| match expired(slot.record(segments)) {
                    Some(true) => {
                        removed += 1;
                        released.push(std::mem::replace(slot, Slot::Heap(Box::new([]))));
                        false
                    }
                    Some(false) => true,
                    None => {
                        unreadable += 1;
                        true
                    }
                });
        }
        for slot in released {
            state.release(slot);
        }
        state.shrink_table();
        state.segments.shrink();
        self.publish(state);
        drop(guard);
        Ok((removed, unreadable))
    }

    fn ledger(&self, _op: &'static str, change: &mut LedgerChange<'_>) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed {
                location: IN_MEMORY.to_owned(),
            });
        }
        // A change writes only once it has decided (nothing to roll back).
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut *ledger).map(drop)
    }

    fn usage(&self) -> Usage {
        Usage {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            completed_bytes: self.completed_bytes.load(Ordering::Relaxed),
        }
    }

    fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = State::new(state.segments.size());
        self.publish(&state);
        *self.ledger.lock().unwrap_or_else(PoisonError::into_inner) = MemoryLedger::default();
    }
}
