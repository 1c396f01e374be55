//! One zone's pool of public IPv4 addresses: hands out aligned blocks (one
//! address for netmask 32, eight for 29, ...), lowest free first, and takes
//! them back. The pool's first and last addresses are never handed out.

use std::net::Ipv4Addr;

#[derive(Debug, Clone)]
pub struct Pool {
    base: u32,
    used: Vec<bool>,
}

impl Pool {
    /// The pool `base/prefix` (prefix 8..=31, so it has at least 2 and at
    /// most 2^24 addresses; a /31 has no address to hand out).
    pub fn new(base: Ipv4Addr, prefix: u8) -> Pool {
        let prefix = prefix.clamp(8, 31);
        let size = 1usize << (32 - u32::from(prefix));
        let mut used = vec![false; size];
        used[0] = true;
        used[size - 1] = true;
        Pool {
            base: u32::from(base),
            used,
        }
    }

    /// Reserves the lowest free aligned block for `netmask` (1..=32); `None`
    /// when no such block is free.
    pub fn reserve(&mut self, netmask: u32) -> Option<Ipv4Addr> {
        let block = block_size(netmask)?;
        if block > self.used.len() {
            return None;
        }
        let start = (0..self.used.len())
            .step_by(block)
            .find(|&start| self.used[start..start + block].iter().all(|u| !u))?;
        self.used[start..start + block].fill(true);
        u32::try_from(start)
            .ok()
            .and_then(|offset| self.base.checked_add(offset))
            .map(Ipv4Addr::from)
    }

    /// Returns a block reserved with the same netmask.
    pub fn release(&mut self, address: Ipv4Addr, netmask: u32) {
        let Some(block) = block_size(netmask) else {
            return;
        };
        let Some(offset) = u32::from(address).checked_sub(self.base) else {
            return;
        };
        let start = offset as usize;
        if let Some(range) = self.used.get_mut(start..start + block) {
            range.fill(false);
        }
        // Keep the pool's own first and last addresses out of circulation.
        if let Some(first) = self.used.first_mut() {
            *first = true;
        }
        if let Some(last) = self.used.last_mut() {
            *last = true;
        }
    }

    /// How many aligned blocks for `netmask` are free, counted up to
    /// `cap` (callers only need to know "more than N").
    pub fn available_blocks(&self, netmask: u32, cap: usize) -> usize {
        let Some(block) = block_size(netmask) else {
            return 0;
        };
        if block > self.used.len() {
            return 0;
        }
        self.used
            .chunks_exact(block)
            .filter(|chunk| chunk.iter().all(|u| !u))
            .take(cap)
            .count()
    }

    /// Addresses not reserved.
    pub fn free(&self) -> usize {
        self.used.iter().filter(|u| !**u).count()
    }
}

/// Addresses in a block of `netmask`, for netmasks 1..=32.
fn block_size(netmask: u32) -> Option<usize> {
    (1..=32)
        .contains(&netmask)
        .then(|| 1usize.checked_shl(32 - netmask))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_aligned_blocks_and_takes_them_back() {
        let mut pool = Pool::new(Ipv4Addr::new(128, 1, 32, 0), 20);
        assert_eq!(pool.free(), 4094);
        assert_eq!(pool.reserve(32), Some(Ipv4Addr::new(128, 1, 32, 1)));
        assert_eq!(pool.reserve(32), Some(Ipv4Addr::new(128, 1, 32, 2)));
        // The first block of 8 holds .0 (reserved) and .1/.2: next is .8.
        assert_eq!(pool.reserve(29), Some(Ipv4Addr::new(128, 1, 32, 8)));
        assert_eq!(pool.reserve(32), Some(Ipv4Addr::new(128, 1, 32, 3)));
        pool.release(Ipv4Addr::new(128, 1, 32, 2), 32);
        assert_eq!(pool.reserve(32), Some(Ipv4Addr::new(128, 1, 32, 2)));
        pool.release(Ipv4Addr::new(128, 1, 32, 8), 29);
        assert_eq!(pool.reserve(29), Some(Ipv4Addr::new(128, 1, 32, 8)));
    }

    #[test]
    fn runs_out_and_ignores_foreign_addresses() {
        let mut pool = Pool::new(Ipv4Addr::new(98, 98, 16, 0), 30);
        assert_eq!(pool.free(), 2);
        assert!(pool.reserve(32).is_some());
        assert!(pool.reserve(32).is_some());
        assert_eq!(pool.reserve(32), None);
        assert_eq!(pool.reserve(1), None);
        assert_eq!(pool.reserve(0), None);
        assert_eq!(pool.reserve(33), None);
        pool.release(Ipv4Addr::new(1, 1, 1, 1), 32);
        pool.release(Ipv4Addr::new(255, 255, 255, 255), 1);
        pool.release(Ipv4Addr::new(98, 98, 16, 0), 30);
        assert_eq!(pool.free(), 2);
    }

    #[test]
    fn counts_available_blocks() {
        let mut pool = Pool::new(Ipv4Addr::new(107, 155, 8, 0), 29);
        let counts = |pool: &Pool| [32, 31, 30, 29, 28].map(|n| pool.available_blocks(n, 100));
        assert_eq!(counts(&pool), [6, 2, 0, 0, 0]);
        assert_eq!(pool.available_blocks(32, 4), 4, "counted up to the cap");
        assert!(pool.reserve(31).is_some());
        assert_eq!(counts(&pool), [4, 1, 0, 0, 0]);
        let none = Pool::new(Ipv4Addr::new(156, 59, 0, 0), 31);
        assert_eq!((none.free(), counts(&none)), (0, [0; 5]));
        assert_eq!(none.available_blocks(0, 10), 0);
        let big = Pool::new(Ipv4Addr::new(128, 1, 32, 0), 20);
        assert_eq!(big.available_blocks(28, 1000), 254);
    }

    #[test]
    fn thousands_fit() {
        let mut pool = Pool::new(Ipv4Addr::new(128, 14, 64, 0), 20);
        for _ in 0..4000 {
            assert!(pool.reserve(32).is_some());
        }
    }
}
