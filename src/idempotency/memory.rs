//! The in-memory backend: a hash table from key to record behind one mutex,
//! with completed records packed into large segments, and exact accounting
//! of the bytes it holds.
//!
//! A call costs one table operation plus the record's encoding (about a
//! microsecond under the lock); nothing is copied on a miss. The lock is a
//! `std::sync::Mutex`, never held across an `.await`.
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
//! - The table (`hashbrown::HashTable`, keyed by a `RandomState` hash of the
//!   key, which callers control) holds one small slot per record.
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

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashTable;

use super::backend::{Backend, Decide, Limits, Plan, Read, Usage, Write};
use super::error::StoreError;
use super::record;

/// Location shown for the in-memory store.
pub(crate) const IN_MEMORY: &str = "(in memory)";

/// Bytes glibc's malloc takes for a request of `n` bytes (0: no allocation).
pub(crate) fn heap_bytes(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    (n.saturating_add(8 + 15) & !15).max(32) as u64
}

/// The size of segments for a bound: 1/64 of it, between 4 KiB and 1 MiB.
pub(crate) fn segment_bytes(max_bytes: u64) -> usize {
    (max_bytes / 64).clamp(4096, 1 << 20) as usize
}

/// Emptied segments kept for reuse.
const SPARE_SEGMENTS: usize = 2;

/// Header of a record in a segment: key length (u16), record length (u32).
const SEGMENT_HEADER: usize = 6;

/// Where a record is.
enum Slot {
    /// `[key length: u16][key][record]`.
    Heap(Box<[u8]>),
    /// In segment `segment` at `offset` (its header).
    Segment {
        segment: u32,
        offset: u32,
        key_len: u16,
        record_len: u32,
    },
}

struct Segment {
    data: Vec<u8>,
    /// Live records in it.
    live: u32,
}

/// Bytes of a table able to hold `capacity` entries (hashbrown: buckets a
/// power of two, 7/8 of them usable; one slot and one control byte each,
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

fn is_completed(bytes: &[u8]) -> bool {
    record::header(bytes).is_ok_and(|h| h.completed)
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..at + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize)
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

struct State {
    table: HashTable<Slot>,
    hasher: RandomState,
    segments: Vec<Option<Segment>>,
    free_ids: Vec<u32>,
    /// Segment ids, oldest first.
    order: VecDeque<u32>,
    /// The segment new completed records go to.
    active: Option<u32>,
    segment_size: usize,
    /// Emptied segment buffers kept for reuse.
    spare: Vec<Vec<u8>>,
    spare_total: u64,
    heap: u64,
    segment_total: u64,
}

impl State {
    fn new(segment_size: usize) -> Self {
        State {
            table: HashTable::new(),
            hasher: RandomState::new(),
            segments: Vec::new(),
            free_ids: Vec::new(),
            order: VecDeque::new(),
            active: None,
            segment_size,
            spare: Vec::new(),
            spare_total: 0,
            heap: 0,
            segment_total: 0,
        }
    }

    fn bytes(&self) -> u64 {
        self.heap
            + self.segment_total
            + self.spare_total
            + table_bytes(self.table.capacity())
            + heap_bytes(self.segments.capacity() * size_of::<Option<Segment>>())
            + heap_bytes(self.order.capacity() * 4)
            + heap_bytes(self.free_ids.capacity() * 4)
    }

    /// Bytes eviction could free: every segment.
    fn evictable(&self) -> u64 {
        self.segment_total
    }

    fn key_of<'a>(segments: &'a [Option<Segment>], slot: &'a Slot) -> &'a [u8] {
        match slot {
            Slot::Heap(bytes) => {
                let len = u16_at(bytes, 0);
                bytes.get(2..2 + len).unwrap_or_default()
            }
            Slot::Segment {
                segment,
                offset,
                key_len,
                ..
            } => {
                let start = *offset as usize + SEGMENT_HEADER;
                segments
                    .get(*segment as usize)
                    .and_then(Option::as_ref)
                    .and_then(|s| s.data.get(start..start + *key_len as usize))
                    .unwrap_or_default()
            }
        }
    }

    fn record_of<'a>(segments: &'a [Option<Segment>], slot: &'a Slot) -> &'a [u8] {
        match slot {
            Slot::Heap(bytes) => {
                let len = u16_at(bytes, 0);
                bytes.get(2 + len..).unwrap_or_default()
            }
            Slot::Segment {
                segment,
                offset,
                key_len,
                record_len,
            } => {
                let start = *offset as usize + SEGMENT_HEADER + *key_len as usize;
                segments
                    .get(*segment as usize)
                    .and_then(Option::as_ref)
                    .and_then(|s| s.data.get(start..start + *record_len as usize))
                    .unwrap_or_default()
            }
        }
    }

    fn find(&self, hash: u64, key: &str) -> Option<&Slot> {
        let segments = &self.segments;
        self.table
            .find(hash, |slot| Self::key_of(segments, slot) == key.as_bytes())
    }

    /// Forgets a slot's storage (the slot itself is already out of the table).
    fn release(&mut self, slot: Slot) {
        match slot {
            Slot::Heap(bytes) => self.heap -= heap_bytes(bytes.len()),
            Slot::Segment { segment, .. } => {
                let emptied = match self.segments.get_mut(segment as usize) {
                    Some(Some(s)) => {
                        s.live = s.live.saturating_sub(1);
                        s.live == 0
                    }
                    _ => false,
                };
                if emptied {
                    self.free_segment(segment);
                }
            }
        }
    }

    fn free_segment(&mut self, id: u32) {
        if let Some(segment) = self.segments.get_mut(id as usize).and_then(Option::take) {
            self.segment_total -= segment.data.capacity() as u64;
            self.keep_spare(segment.data);
            self.free_ids.push(id);
            self.order.retain(|s| *s != id);
            if self.active == Some(id) {
                self.active = None;
            }
        }
    }

    /// Keeps an emptied segment's buffer for the next segment (at most
    /// [`SPARE_SEGMENTS`]): reusing it here, rather than freeing it to the
    /// allocator of this thread and allocating one on another thread's,
    /// keeps eviction from growing RSS (measured: +14 MiB at a 64 MiB bound
    /// without it).
    fn keep_spare(&mut self, mut data: Vec<u8>) {
        if self.spare.len() < SPARE_SEGMENTS && data.capacity() == self.segment_size {
            data.clear();
            self.spare_total += data.capacity() as u64;
            self.spare.push(data);
        }
    }

    /// The space a new completed record of `size` bytes needs beyond what
    /// the active segment has left.
    fn segment_growth(&self, size: usize) -> u64 {
        let room = self
            .active
            .and_then(|id| self.segments.get(id as usize)?.as_ref())
            .map_or(0, |s| s.data.capacity() - s.data.len());
        if size <= room {
            0
        } else {
            size.max(self.segment_size) as u64
        }
    }

    /// Appends a completed record; returns its slot.
    fn append(&mut self, key: &str, record: &[u8]) -> Slot {
        let size = SEGMENT_HEADER + key.len() + record.len();
        if self.segment_growth(size) > 0 {
            let data = match self.spare.pop() {
                Some(data) if data.capacity() >= size => {
                    self.spare_total -= data.capacity() as u64;
                    data
                }
                other => {
                    if let Some(data) = other {
                        self.spare_total -= data.capacity() as u64;
                    }
                    Vec::with_capacity(size.max(self.segment_size))
                }
            };
            self.segment_total += data.capacity() as u64;
            let segment = Segment { data, live: 0 };
            let id = match self.free_ids.pop() {
                Some(id) => {
                    self.segments[id as usize] = Some(segment);
                    id
                }
                None => {
                    self.segments.push(Some(segment));
                    (self.segments.len() - 1) as u32
                }
            };
            self.order.push_back(id);
            self.active = Some(id);
        }
        let id = self.active.unwrap_or_default();
        let Some(Some(segment)) = self.segments.get_mut(id as usize) else {
            unreachable!("the active segment exists");
        };
        let offset = segment.data.len() as u32;
        segment
            .data
            .extend_from_slice(&(key.len() as u16).to_le_bytes());
        segment
            .data
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        segment.data.extend_from_slice(key.as_bytes());
        segment.data.extend_from_slice(record);
        segment.live += 1;
        Slot::Segment {
            segment: id,
            offset,
            key_len: key.len() as u16,
            record_len: record.len() as u32,
        }
    }

    /// Evicts the live records of the oldest segments until `free` bytes
    /// are freed or none is left. Returns how many.
    fn evict(&mut self, free: u64) -> u64 {
        let (mut freed, mut evicted) = (0u64, 0u64);
        while freed < free {
            let Some(&id) = self.order.front() else {
                break;
            };
            if self.active == Some(id) {
                self.active = None;
            }
            let Some(segment) = self.segments.get_mut(id as usize).and_then(Option::take) else {
                self.order.retain(|s| *s != id);
                continue;
            };
            let mut at = 0usize;
            while at + SEGMENT_HEADER <= segment.data.len() {
                let key_len = u16_at(&segment.data, at);
                let record_len = u32_at(&segment.data, at + 2);
                let key_start = at + SEGMENT_HEADER;
                let key = segment
                    .data
                    .get(key_start..key_start + key_len)
                    .unwrap_or_default();
                let hash = self.hasher.hash_one(key);
                if let Ok(entry) = self.table.find_entry(hash, |slot| match slot {
                    Slot::Segment {
                        segment, offset, ..
                    } => *segment == id && *offset as usize == at,
                    Slot::Heap(_) => false,
                }) {
                    entry.remove();
                    evicted += 1;
                }
                at = key_start + key_len + record_len;
            }
            self.segment_total -= segment.data.capacity() as u64;
            freed += segment.data.capacity() as u64;
            self.keep_spare(segment.data);
            self.free_ids.push(id);
            self.order.retain(|s| *s != id);
        }
        evicted
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }
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
            state: Mutex::new(State::new(segment_bytes(limits.max_bytes))),
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
            .store(state.table.len() as u64, Ordering::Relaxed);
        self.completed_bytes
            .store(state.segment_total, Ordering::Relaxed);
    }
}

/// Returns freed heap memory to the system after a purge freed segments
/// (glibc keeps it in its arenas otherwise).
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's
    // arenas; it has no preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn hash_slot(state_segments: &[Option<Segment>], hasher: &RandomState, slot: &Slot) -> u64 {
    hasher.hash_one(State::key_of(state_segments, slot))
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
        let current = state
            .find(hash, key)
            .map(|slot| State::record_of(&state.segments, slot));
        let old_heap = match state.find(hash, key) {
            Some(Slot::Heap(bytes)) => heap_bytes(bytes.len()),
            _ => 0,
        };
        let exists = current.is_some();
        let (bytes, admission) = match decide(current)? {
            Write::Keep => return Ok(()),
            Write::Remove => {
                let segments = &state.segments;
                if let Ok(entry) = state
                    .table
                    .find_entry(hash, |slot| State::key_of(segments, slot) == key.as_bytes())
                {
                    let (slot, _) = entry.remove();
                    state.release(slot);
                }
                self.publish(state);
                return Ok(());
            }
            Write::Put { bytes, admission } => (bytes, admission),
        };
        let completed = is_completed(&bytes);
        let new_size = if completed {
            state.segment_growth(SEGMENT_HEADER + key.len() + bytes.len())
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
        let old = {
            let segments = &state.segments;
            state
                .table
                .find_entry(hash, |slot| State::key_of(segments, slot) == key.as_bytes())
                .ok()
                .map(|entry| entry.remove().0)
        };
        // The new record is written before the old one is released, so that
        // a segment emptied by the release is not the one written to.
        let slot = if completed {
            state.append(key, &bytes)
        } else {
            let mut heap = Vec::with_capacity(2 + key.len() + bytes.len());
            heap.extend_from_slice(&(key.len() as u16).to_le_bytes());
            heap.extend_from_slice(key.as_bytes());
            heap.extend_from_slice(&bytes);
            let heap = heap.into_boxed_slice();
            state.heap += heap_bytes(heap.len());
            Slot::Heap(heap)
        };
        drop(bytes);
        if let Some(old) = old {
            state.release(old);
        }
        let State {
            table,
            segments,
            hasher,
            ..
        } = state;
        table.insert_unique(hash, slot, |slot| hash_slot(segments, hasher, slot));
        self.publish(state);
        Ok(())
    }

    fn read(&self, key: &str, read: &mut Read<'_>) -> Result<(), StoreError> {
        let state = self.lock()?;
        let hash = state.hash(key);
        read(
            state
                .find(hash, key)
                .map(|slot| State::record_of(&state.segments, slot)),
        )
    }

    fn purge(
        &self,
        expired: &mut dyn FnMut(&[u8]) -> Option<bool>,
    ) -> Result<(usize, usize), StoreError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        let segments_before = state.segments.iter().flatten().count();
        let (mut removed, mut unreadable) = (0usize, 0usize);
        let mut released: Vec<Slot> = Vec::new();
        {
            let segments = &state.segments;
            // `retain` hands out each slot mutably; expired ones are moved
            // out (replaced by an empty heap slot that is dropped with them).
            state
                .table
                .retain(|slot| match expired(State::record_of(segments, slot)) {
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
        if state.table.len() < state.table.capacity() / 4 {
            let State {
                table,
                segments,
                hasher,
                ..
            } = state;
            table.shrink_to_fit(|slot| hash_slot(segments, hasher, slot));
        }
        if state.segment_total == 0 {
            state.spare = Vec::new();
            state.spare_total = 0;
            state.segments = Vec::new();
            state.free_ids = Vec::new();
            state.order = VecDeque::new();
            state.active = None;
        }
        state.order.shrink_to_fit();
        state.free_ids.shrink_to_fit();
        let freed_segments = segments_before > state.segments.iter().flatten().count();
        self.publish(state);
        drop(guard);
        if freed_segments {
            give_back_free_memory();
        }
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
        *state = State::new(state.segment_size);
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
    fn segments_scale_with_the_bound() {
        assert_eq!(segment_bytes(16 * 1024), 4096);
        assert_eq!(segment_bytes(64 << 20), 1 << 20);
        assert_eq!(segment_bytes(1 << 40), 1 << 20);
    }

    #[test]
    fn table_growth_is_predicted_as_hashbrown_does_it() {
        let hasher = RandomState::new();
        let mut table: HashTable<u64> = HashTable::new();
        for i in 0..20_000u64 {
            let predicted = (table.len() == table.capacity()).then(|| grown_capacity(table.len()));
            table.insert_unique(hasher.hash_one(i), i, |v| hasher.hash_one(*v));
            if let Some(predicted) = predicted {
                assert_eq!(table.capacity(), predicted, "at {i}");
            }
        }
    }
}
