//! One segment's bytes: an anonymous memory mapping of a fixed capacity, so
//! that freeing a segment gives its pages back to the system at once.
//! (Memory from the allocator stays in its arenas after a purge; getting it
//! back from glibc would take `malloc_trim`, an unsafe call, and the crate
//! forbids unsafe code.) A mapping that cannot be made falls back to the
//! heap.

use std::ops::Range;

use memmap2::MmapMut;

/// Bytes appended up to a fixed capacity.
pub(super) struct Buffer {
    storage: Storage,
    len: usize,
}

enum Storage {
    Mapped(MmapMut),
    Heap(Box<[u8]>),
}

impl Buffer {
    /// An empty buffer of `capacity` bytes (at least one).
    pub(super) fn with_capacity(capacity: usize) -> Buffer {
        let capacity = capacity.max(1);
        let storage = match MmapMut::map_anon(capacity) {
            Ok(map) => Storage::Mapped(map),
            Err(_) => Storage::Heap(vec![0; capacity].into_boxed_slice()),
        };
        Buffer { storage, len: 0 }
    }

    fn all(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped(map) => map,
            Storage::Heap(heap) => heap,
        }
    }

    fn all_mut(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Mapped(map) => map,
            Storage::Heap(heap) => heap,
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.all().len()
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes in `range` of what was appended.
    pub(super) fn get(&self, range: Range<usize>) -> Option<&[u8]> {
        self.all().get(..self.len)?.get(range)
    }

    /// Appends `bytes`; returns false (appending nothing) when they do not
    /// fit. Callers check the room first ([`Buffer::capacity`] minus
    /// [`Buffer::len`]).
    pub(super) fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        let start = self.len;
        let Some(end) = start.checked_add(bytes.len()) else {
            return false;
        };
        match self.all_mut().get_mut(start..end) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = end;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_up_to_its_capacity_and_no_further() {
        let mut buffer = Buffer::with_capacity(8);
        assert_eq!(buffer.capacity(), 8);
        assert!(buffer.extend_from_slice(b"abcde"));
        assert_eq!(buffer.get(1..4), Some(&b"bcd"[..]));
        assert_eq!(buffer.get(4..6), None, "only what was appended is read");
        assert!(
            !buffer.extend_from_slice(b"wxyz"),
            "4 bytes do not fit in 3"
        );
        assert_eq!(buffer.len(), 5);
        assert!(buffer.extend_from_slice(b"xyz"));
        assert_eq!(buffer.get(0..8), Some(&b"abcdexyz"[..]));
        buffer.clear();
        assert_eq!(buffer.len(), 0);
        assert_eq!(buffer.get(0..1), None);
    }
}
