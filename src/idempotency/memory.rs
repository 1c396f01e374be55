//! The in-memory backend: a `HashMap` from key to encoded record behind one
//! mutex, with exact accounting of the heap bytes it holds and, when
//! eviction is allowed, a queue of completed records in completion order.
//!
//! A call costs one map operation plus the record's encoding (about a
//! microsecond under the lock); nothing is copied on a miss. The lock is a
//! `std::sync::Mutex`, never held across an `.await`.
//!
//! # What is counted ([`Usage::bytes`])
//!
//! Every heap allocation the store makes for its records, as glibc's
//! allocator sizes it (the request plus an 8-byte header, rounded up to 16,
//! at least 32: see [`heap_bytes`]): each key and each encoded record, the
//! map's table (its buckets times one slot and one control byte), and with
//! eviction the queue (its capacity times one slot, plus a copy of each
//! completed record's key). That is what the records cost in RSS, give or
//! take the allocator's free lists.
//!
//! # Eviction
//!
//! Completed records enter the queue in the order they complete, with a
//! sequence number also kept in their map entry. Evicting pops the front:
//! an entry whose record has since changed or gone (its sequence number no
//! longer matches) is skipped. Such stale entries are counted until they are
//! popped or until the next purge, which rebuilds the queue. Records in
//! flight or with an unknown outcome are never in the queue.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::backend::{Backend, Decide, Limits, Plan, Read, Usage, Write};
use super::record;
use super::store::StoreError;

/// Location shown for the in-memory store.
pub(crate) const IN_MEMORY: &str = "(in memory)";

/// Bytes glibc's malloc takes for a request of `n` bytes (0: no allocation).
pub(crate) fn heap_bytes(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    (n.saturating_add(8 + 15) & !15).max(32) as u64
}

struct Entry {
    record: Box<[u8]>,
    /// Position in the eviction queue (0: not queued).
    seq: u64,
}

type Slot = (Box<str>, Entry);

/// Bytes of a map table able to hold `capacity` entries (hashbrown: buckets
/// a power of two, 7/8 of them usable; one slot and one control byte each,
/// plus one group of control bytes).
fn table_bytes(capacity: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    };
    heap_bytes(buckets * (size_of::<Slot>() + 1) + 16)
}

/// The capacity a full table grows to when one more entry is inserted.
fn grown_capacity(len: usize) -> usize {
    let want = len + 1;
    let buckets = if want < 4 {
        4
    } else if want < 8 {
        8
    } else {
        (want.saturating_mul(8) / 7).next_power_of_two()
    };
    if buckets < 8 {
        buckets - 1
    } else {
        buckets / 8 * 7
    }
}

fn entry_bytes(key: &str, record: &[u8]) -> u64 {
    heap_bytes(key.len()) + heap_bytes(record.len())
}

fn queue_entry_bytes(key: &str) -> u64 {
    heap_bytes(key.len())
}

fn queue_bytes(capacity: usize) -> u64 {
    heap_bytes(capacity * size_of::<(u64, Box<str>)>())
}

#[derive(Default)]
struct State {
    map: HashMap<Box<str>, Entry>,
    queue: VecDeque<(u64, Box<str>)>,
    next_seq: u64,
    /// Keys and records.
    entry_bytes: u64,
    /// Keys and records of completed records.
    completed_bytes: u64,
    /// Key copies held by the queue (live or stale).
    queued_key_bytes: u64,
}

impl State {
    fn bytes(&self) -> u64 {
        self.entry_bytes
            + table_bytes(self.map.capacity())
            + queue_bytes(self.queue.capacity())
            + self.queued_key_bytes
    }

    fn remove(&mut self, key: &str) {
        if let Some((key, entry)) = self.map.remove_entry(key) {
            let bytes = entry_bytes(&key, &entry.record);
            self.entry_bytes -= bytes;
            if is_completed(&entry.record) {
                self.completed_bytes -= bytes;
            }
        }
    }

    /// Evicts completed records, oldest first and never `except`, until
    /// `free` bytes are freed or none is left. Returns how many.
    fn evict(&mut self, free: u64, except: &str) -> u64 {
        let mut freed = 0u64;
        let mut evicted = 0u64;
        while freed < free {
            let Some((seq, key)) = self.queue.pop_front() else {
                break;
            };
            self.queued_key_bytes -= queue_entry_bytes(&key);
            let live = &*key != except && self.map.get(&*key).is_some_and(|e| e.seq == seq);
            if live {
                if let Some(entry) = self.map.get(&*key) {
                    freed += entry_bytes(&key, &entry.record);
                }
                self.remove(&key);
                evicted += 1;
            }
        }
        evicted
    }
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
}

impl MemoryBackend {
    pub(crate) fn new(limits: Limits) -> Self {
        MemoryBackend {
            state: Mutex::new(State::default()),
            limits,
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            completed_bytes: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            closed: AtomicBool::new(false),
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
            .store(state.map.len() as u64, Ordering::Relaxed);
        self.completed_bytes
            .store(state.completed_bytes, Ordering::Relaxed);
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
        let mut state = self.lock()?;
        let current = state.map.get(key).map(|e| &*e.record);
        let old_completed = current.is_some_and(is_completed);
        let old_bytes = current.map_or(0, |r| entry_bytes(key, r));
        let (bytes, admission) = match decide(current)? {
            Write::Keep => return Ok(()),
            Write::Remove => {
                state.remove(key);
                self.publish(&state);
                return Ok(());
            }
            Write::Put { bytes, admission } => (bytes, admission),
        };
        let new_completed = is_completed(&bytes);
        let new_bytes = entry_bytes(key, &bytes);
        let mut grow = new_bytes as i64 - old_bytes as i64;
        let inserting = !state.map.contains_key(key);
        if inserting && state.map.len() == state.map.capacity() {
            grow += table_bytes(grown_capacity(state.map.len())) as i64
                - table_bytes(state.map.capacity()) as i64;
        }
        if new_completed && self.limits.evict_completed {
            grow += queue_entry_bytes(key) as i64;
        }
        let evictable = state.completed_bytes - if old_completed { old_bytes } else { 0 };
        match self.limits.plan(state.bytes(), evictable, grow, admission) {
            Plan::Write => {}
            Plan::EvictThenWrite { free } => {
                let evicted = state.evict(free, key);
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
        let seq = if new_completed && self.limits.evict_completed {
            // A record that stays completed keeps its place in the queue.
            match state.map.get(key) {
                Some(entry) if old_completed && entry.seq != 0 => entry.seq,
                _ => {
                    state.next_seq += 1;
                    let seq = state.next_seq;
                    state.queued_key_bytes += queue_entry_bytes(key);
                    state.queue.push_back((seq, key.into()));
                    seq
                }
            }
        } else {
            0
        };
        let record = bytes.into_boxed_slice();
        state.entry_bytes = state.entry_bytes - old_bytes + new_bytes;
        if old_completed {
            state.completed_bytes -= old_bytes;
        }
        if new_completed {
            state.completed_bytes += new_bytes;
        }
        match state.map.get_mut(key) {
            Some(entry) => {
                entry.record = record;
                entry.seq = seq;
            }
            None => {
                state.map.insert(key.into(), Entry { record, seq });
            }
        }
        self.publish(&state);
        Ok(())
    }

    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        let state = self.lock()?;
        read(state.map.get(key).map(|e| &*e.record))
    }

    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let mut state = self.lock()?;
        let (mut removed, mut unreadable) = (0usize, 0usize);
        let mut freed = 0u64;
        let mut freed_completed = 0u64;
        state.map.retain(|key, entry| match expired(&entry.record) {
            Some(true) => {
                removed += 1;
                let bytes = entry_bytes(key, &entry.record);
                freed += bytes;
                if is_completed(&entry.record) {
                    freed_completed += bytes;
                }
                false
            }
            Some(false) => true,
            None => {
                unreadable += 1;
                true
            }
        });
        state.entry_bytes -= freed;
        state.completed_bytes -= freed_completed;
        // Drop stale queue entries, and give memory back after a big purge.
        let State { map, queue, .. } = &mut *state;
        queue.retain(|(seq, key)| map.get(&**key).is_some_and(|e| e.seq == *seq));
        state.queued_key_bytes = state
            .queue
            .iter()
            .map(|(_, key)| queue_entry_bytes(key))
            .sum();
        if state.map.len() < state.map.capacity() / 4 {
            state.map.shrink_to_fit();
        }
        if state.queue.len() < state.queue.capacity() / 4 {
            state.queue.shrink_to_fit();
        }
        self.publish(&state);
        Ok((removed, unreadable))
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
        *state = State::default();
        self.publish(&state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_bytes_follow_glibc_chunk_sizes() {
        assert_eq!(heap_bytes(0), 0);
        assert_eq!(heap_bytes(1), 32);
        assert_eq!(heap_bytes(24), 32);
        assert_eq!(heap_bytes(25), 48);
        assert_eq!(heap_bytes(300), 320);
    }

    #[test]
    fn table_growth_is_predicted_as_hashbrown_does_it() {
        let mut map: HashMap<Box<str>, Entry> = HashMap::new();
        for i in 0..20_000usize {
            if map.len() == map.capacity() {
                let predicted = grown_capacity(map.len());
                map.insert(
                    format!("k{i}").into(),
                    Entry {
                        record: Box::new([]),
                        seq: 0,
                    },
                );
                assert_eq!(map.capacity(), predicted, "at {i}");
            } else {
                map.insert(
                    format!("k{i}").into(),
                    Entry {
                        record: Box::new([]),
                        seq: 0,
                    },
                );
            }
        }
        assert!(table_bytes(map.capacity()) > 20_000 * size_of::<Slot>() as u64);
    }
}
