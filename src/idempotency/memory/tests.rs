//! Tests of the in-memory backend's accounting: glibc's chunk sizes, the
//! segment size, and hashbrown's growth.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::heap_bytes;
use super::segments::segment_bytes;
use super::table::grown_capacity;

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
