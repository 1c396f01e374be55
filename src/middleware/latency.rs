//! What a provider account has shown about its attempt latency: a windowed
//! histogram giving the 99th percentile over the last minute, from which
//! the rate limit's admission derives the time it reserves for an attempt
//! (see `rate_limit`).
//!
//! Cheap and lock-free with bounded memory: six ten-second periods (a ring),
//! each with 80 logarithmic buckets (four per doubling, ~19 % wide, 1 ms to
//! about 17 minutes) of atomic counters, under 2 KiB per histogram.
//! Recording is one relaxed increment (plus, once per period, a reset of the
//! slot it reuses); a quantile reads the 480 counters. A record racing with
//! a period's reset may be lost, which an estimate can afford. The clock is
//! tokio's, so tests drive it with paused time.
//!
//! Why not a crate: `hdrhistogram` needs a lock around every record and
//! has no time window; a sliding window of sorted samples needs a lock and
//! memory that grows with the call rate.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Length of one period of the ring.
const PERIOD: Duration = Duration::from_secs(10);
/// Periods kept: the window is `PERIODS * PERIOD`, one minute.
const PERIODS: usize = 6;
/// Buckets per period.
const BUCKETS: usize = 80;
/// Buckets per doubling of latency.
const PER_OCTAVE: f64 = 4.0;
/// Upper bound of the first bucket.
const FIRST_BUCKET: Duration = Duration::from_millis(1);

/// Attempt latencies of the last minute.
#[derive(Debug)]
pub struct LatencyWindow {
    origin: Instant,
    periods: [Period; PERIODS],
}

#[derive(Debug)]
struct Period {
    /// Which period (counted from `origin`, plus one) the counts belong
    /// to; 0 before first use.
    tag: AtomicU64,
    counts: [AtomicU32; BUCKETS],
}

impl Default for Period {
    fn default() -> Self {
        Period {
            tag: AtomicU64::new(0),
            counts: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

impl Default for LatencyWindow {
    fn default() -> Self {
        LatencyWindow::new()
    }
}

impl LatencyWindow {
    pub fn new() -> Self {
        LatencyWindow {
            origin: Instant::now(),
            periods: std::array::from_fn(|_| Period::default()),
        }
    }

    /// The period `now` falls in, counted from `origin` (plus one).
    fn tag(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs() / PERIOD.as_secs() + 1
    }

    /// Records one attempt that took `latency`, seen at `now`.
    pub fn record(&self, now: Instant, latency: Duration) {
        let tag = self.tag(now);
        let period = &self.periods[(tag as usize) % PERIODS];
        let seen = period.tag.load(Ordering::Acquire);
        if seen != tag
            && period
                .tag
                .compare_exchange(seen, tag, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // This slot last counted a period at least a minute old.
            for count in &period.counts {
                count.store(0, Ordering::Relaxed);
            }
        }
        let count = &period.counts[bucket(latency)];
        // Saturating: a counter never wraps back to small numbers.
        let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1));
    }

    /// The `q` quantile (0..=1) of the latencies recorded in the minute
    /// before `now`, as the upper bound of its bucket; `None` without any.
    pub fn quantile(&self, now: Instant, q: f64) -> Option<Duration> {
        let current = self.tag(now);
        let oldest = current.saturating_sub(PERIODS as u64 - 1);
        let mut totals = [0u64; BUCKETS];
        for period in &self.periods {
            let tag = period.tag.load(Ordering::Acquire);
            if tag == 0 || tag < oldest || tag > current {
                continue;
            }
            for (total, count) in totals.iter_mut().zip(&period.counts) {
                *total += u64::from(count.load(Ordering::Relaxed));
            }
        }
        let samples: u64 = totals.iter().sum();
        if samples == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * samples as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, total) in totals.iter().enumerate() {
            seen += total;
            if seen >= rank {
                return Some(upper_bound(index));
            }
        }
        Some(upper_bound(BUCKETS - 1))
    }
}

/// The bucket of `latency`: 0 up to 1 ms, then four per doubling.
fn bucket(latency: Duration) -> usize {
    let ratio = latency.as_secs_f64() / FIRST_BUCKET.as_secs_f64();
    if ratio <= 1.0 {
        return 0;
    }
    let index = (ratio.log2() * PER_OCTAVE).ceil();
    // NaN cannot happen (ratio > 1); huge values land in the last bucket.
    (index as usize).min(BUCKETS - 1)
}

/// The largest latency bucket `index` holds.
fn upper_bound(index: usize) -> Duration {
    FIRST_BUCKET.mul_f64((index as f64 / PER_OCTAVE).exp2())
}

/// How much more than the p99 admission reserves: the tail beyond it, a
/// provider slowing down within the minute, and the gateway's own work
/// between the answer and the caller (recording it durably) all need room.
pub const HEADROOM: u32 = 2;

/// The time admission reserves for an attempt: [`HEADROOM`] times the 99th
/// percentile of the minute's attempts of the same kind, never below
/// `floor` nor above `ceiling` (the per-attempt timeout, which bounds an
/// attempt anyway).
pub fn reserve(
    window: &LatencyWindow,
    now: Instant,
    floor: Duration,
    ceiling: Duration,
) -> Duration {
    let p99 = window.quantile(now, 0.99).unwrap_or(Duration::ZERO);
    p99.saturating_mul(HEADROOM)
        .min(ceiling.max(floor))
        .max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_quarter_octave_wide() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_millis(1)), 0);
        assert_eq!(bucket(Duration::from_millis(2)), 4);
        assert_eq!(bucket(Duration::from_millis(4)), 8);
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS - 1);
        assert_eq!(bucket(Duration::MAX), BUCKETS - 1);
        for ms in [1u64, 3, 7, 50, 250, 999, 2_500, 30_000] {
            let latency = Duration::from_millis(ms);
            let bound = upper_bound(bucket(latency));
            assert!(bound >= latency, "{latency:?} <= {bound:?}");
            assert!(
                bound.as_secs_f64() <= latency.as_secs_f64() * 1.19 + 0.001,
                "{latency:?}: {bound:?} at most one bucket above"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn p99_of_the_last_minute() {
        let window = LatencyWindow::new();
        assert_eq!(window.quantile(Instant::now(), 0.99), None);
        // 990 fast attempts and 10 slow ones: p99 is the fast bucket, p99.5
        // the slow one.
        for _ in 0..990 {
            window.record(Instant::now(), Duration::from_millis(20));
        }
        for _ in 0..10 {
            window.record(Instant::now(), Duration::from_millis(800));
        }
        let now = Instant::now();
        let p99 = window.quantile(now, 0.99).unwrap();
        assert!(
            p99 >= Duration::from_millis(20) && p99 < Duration::from_millis(24),
            "{p99:?}"
        );
        let slow = window.quantile(now, 0.995).unwrap();
        assert!(slow >= Duration::from_millis(800), "{slow:?}");

        // Fifty seconds on, still in the window; a minute on, forgotten.
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(window.quantile(Instant::now(), 0.99).is_some());
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(window.quantile(Instant::now(), 0.99), None);
    }

    #[tokio::test(start_paused = true)]
    async fn old_periods_give_way_to_new_ones() {
        let window = LatencyWindow::new();
        window.record(Instant::now(), Duration::from_secs(5));
        // Every ten seconds for two minutes, one fast attempt: the slow one
        // leaves the window after a minute, and slots are reused without
        // mixing periods.
        for _ in 0..12 {
            tokio::time::advance(PERIOD).await;
            window.record(Instant::now(), Duration::from_millis(10));
        }
        let max = window.quantile(Instant::now(), 1.0).unwrap();
        assert!(max < Duration::from_millis(12), "{max:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_is_twice_the_p99_between_floor_and_ceiling() {
        let window = LatencyWindow::new();
        let (floor, ceiling) = (Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(
            reserve(&window, Instant::now(), floor, ceiling),
            floor,
            "no data"
        );
        for _ in 0..100 {
            window.record(Instant::now(), Duration::from_millis(5));
        }
        assert_eq!(
            reserve(&window, Instant::now(), floor, ceiling),
            floor,
            "fast provider"
        );
        assert_eq!(
            reserve(&window, Instant::now(), Duration::ZERO, ceiling),
            upper_bound(bucket(Duration::from_millis(5))) * HEADROOM,
            "twice the p99 above the floor"
        );
        for _ in 0..100 {
            window.record(Instant::now(), Duration::from_millis(700));
        }
        let slow = reserve(&window, Instant::now(), floor, ceiling);
        assert!(
            slow >= Duration::from_millis(1400) && slow < Duration::from_millis(1680),
            "{slow:?}"
        );
        for _ in 0..1000 {
            window.record(Instant::now(), Duration::from_secs(30));
        }
        assert_eq!(
            reserve(&window, Instant::now(), floor, ceiling),
            ceiling,
            "capped"
        );
    }
}
