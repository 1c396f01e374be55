//! The state under the in-memory backend's lock: the table from key to
//! [`Slot`] (a record on the heap, or its place in a segment), the segments,
//! and the bytes all of it takes.

//!
//! The layout of a heap record and of the table is described in the parent
//! module.

use std::hash::BuildHasher;
use std::mem::size_of;

use foldhash::quality::RandomState;
use hashbrown::HashTable;

use super::heap_bytes;
use super::segments::{SEGMENT_HEADER, Segments, u16_at};

/// Where a record is.
pub(super) enum Slot {
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

impl Slot {
    pub(super) fn key<'a>(&'a self, segments: &'a Segments) -> &'a [u8] {
        match self {
            Slot::Heap(bytes) => {
                let len = u16_at(bytes, 0);
                bytes.get(2..2 + len).unwrap_or_default()
            }
            Slot::Segment {
                segment,
                offset,
                key_len,
                ..
            } => segments.bytes_at(
                *segment,
                *offset as usize + SEGMENT_HEADER,
                *key_len as usize,
            ),
        }
    }

    pub(super) fn record<'a>(&'a self, segments: &'a Segments) -> &'a [u8] {
        match self {
            Slot::Heap(bytes) => {
                let len = u16_at(bytes, 0);
                bytes.get(2 + len..).unwrap_or_default()
            }
            Slot::Segment {
                segment,
                offset,
                key_len,
                record_len,
            } => segments.bytes_at(
                *segment,
                *offset as usize + SEGMENT_HEADER + *key_len as usize,
                *record_len as usize,
            ),
        }
    }
}

/// A heap record: `[key length: u16][key][record]`.
fn heap_record(key: &str, record: &[u8]) -> Box<[u8]> {
    let mut heap = Vec::with_capacity(2 + key.len() + record.len());
    heap.extend_from_slice(&(key.len() as u16).to_le_bytes());
    heap.extend_from_slice(key.as_bytes());
    heap.extend_from_slice(record);
    heap.into_boxed_slice()
}

/// Bytes of a table able to hold `capacity` entries (hashbrown: buckets a
/// power of two, 7/8 of them usable; one slot and one control byte each,
/// plus one group of control bytes).
pub(super) fn table_bytes(capacity: usize) -> u64 {
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
pub(super) fn grown_capacity(len: usize) -> usize {
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

pub(super) struct State {
    pub(super) table: HashTable<Slot>,
    hasher: RandomState,
    pub(super) segments: Segments,
    /// Bytes of the heap records.
    heap: u64,
}

impl State {
    pub(super) fn new(segment_size: usize) -> Self {
        State {
            table: HashTable::new(),
            hasher: RandomState::default(),
            segments: Segments::new(segment_size),
            heap: 0,
        }
    }

    pub(super) fn bytes(&self) -> u64 {
        self.heap + self.segments.bytes() + table_bytes(self.table.capacity())
    }

    /// Bytes eviction could free: every segment.
    pub(super) fn evictable(&self) -> u64 {
        self.segments.total()
    }

    pub(super) fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }

    pub(super) fn find(&self, hash: u64, key: &str) -> Option<&Slot> {
        let segments = &self.segments;
        self.table
            .find(hash, |slot| slot.key(segments) == key.as_bytes())
    }

    /// Takes the slot of `key` out of the table (its storage is still
    /// counted: [`State::release`] it).
    pub(super) fn take(&mut self, hash: u64, key: &str) -> Option<Slot> {
        let segments = &self.segments;
        self.table
            .find_entry(hash, |slot| slot.key(segments) == key.as_bytes())
            .ok()
            .map(|entry| entry.remove().0)
    }

    /// Stores a record: completed ones in a segment, others on the heap.
    /// The slot is not in the table yet ([`State::insert`]).
    pub(super) fn store(&mut self, key: &str, record: &[u8], completed: bool) -> Slot {
        if completed {
            let (segment, offset) = self.segments.append(key, record);
            Slot::Segment {
                segment,
                offset,
                key_len: key.len() as u16,
                record_len: record.len() as u32,
            }
        } else {
            let bytes = heap_record(key, record);
            self.heap += heap_bytes(bytes.len());
            Slot::Heap(bytes)
        }
    }

    /// Puts a slot of a key that is not in the table into it.
    pub(super) fn insert(&mut self, hash: u64, slot: Slot) {
        let State {
            table,
            segments,
            hasher,
            ..
        } = self;
        table.insert_unique(hash, slot, |slot| hasher.hash_one(slot.key(segments)));
    }

    /// Forgets a slot's storage (the slot itself is already out of the table).
    pub(super) fn release(&mut self, slot: Slot) {
        match slot {
            Slot::Heap(bytes) => self.heap -= heap_bytes(bytes.len()),
            Slot::Segment { segment, .. } => self.segments.release(segment),
        }
    }

    /// Shrinks the table when it is mostly empty.
    pub(super) fn shrink_table(&mut self) {
        if self.table.len() < self.table.capacity() / 4 {
            let State {
                table,
                segments,
                hasher,
                ..
            } = self;
            table.shrink_to_fit(|slot| hasher.hash_one(slot.key(segments)));
        }
    }

    /// Evicts the live records of the oldest segments until `free` bytes
    /// are freed or none is left. Returns how many.
    pub(super) fn evict(&mut self, free: u64) -> u64 {
        let (mut freed, mut evicted) = (0u64, 0u64);
        while freed < free {
            let Some((id, segment)) = self.segments.take_oldest() else {
                break;
            };
            for (at, key) in segment.keys() {
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
            }
            freed += self.segments.recycle(id, segment);
        }
        evicted
    }
}
