//! The database's clock as this process sees it, for the shared rate
//! limit: each booking's slot is a moment of the database's clock, and the
//! replica must know when that is on its own (monotonic) clock to send
//! neither before the slot nor later than the slack after it.
//!
//! One booking alone places the database's clock only within its round
//! trip: the statement began (`now()`, read there) some time after it was
//! handed to its connection and before its answer came back, less the time
//! it ran. On a busy machine that is tens of milliseconds, more than the
//! slack of a 20/s account. But the offset between the two clocks hardly
//! moves, so every booking's reading bounds it, and the bounds of all of
//! them together (NTP's way) are about as tight as the fastest round trip
//! seen lately. Each bound widens with its age at the most a clock may be
//! slewed (500 ppm), so a bound never claims more than it knows; a reading
//! outside the bounds means a clock was stepped, and the bounds restart
//! from it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::middleware::SharedSlot;

/// The most a clock is slewed, in parts per million (the kernel's limit
/// for NTP adjustments): how fast a bound of the offset ages.
const DRIFT_PPM: i64 = 500;

/// What this process knows of the offset between the database's clock and
/// its own. Shared by every booking of one database.
#[derive(Debug)]
pub struct DatabaseClock {
    /// Local moments are counted in microseconds from here.
    base: Instant,
    bounds: Mutex<Option<Bounds>>,
}

/// The offset (database µs since the epoch minus local µs since `base`)
/// lies in `lo..=hi`, as known at local moments `lo_at` and `hi_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    lo: i64,
    lo_at: i64,
    hi: i64,
    hi_at: i64,
}

impl Bounds {
    /// The bounds widened by their age at `now` (local µs).
    fn aged(&self, now: i64) -> (i64, i64) {
        let drift = |at: i64| now.saturating_sub(at).max(0).saturating_mul(DRIFT_PPM) / 1_000_000;
        (
            self.lo.saturating_sub(drift(self.lo_at)),
            self.hi.saturating_add(drift(self.hi_at)),
        )
    }
}

impl DatabaseClock {
    pub fn new() -> Self {
        DatabaseClock {
            base: Instant::now(),
            bounds: Mutex::new(None),
        }
    }

    /// Takes in a reading `db_us` of the database's clock (µs since the
    /// epoch) made at some moment between `sent` and `by` on this clock,
    /// and answers where the database moment `at_us` lies on this clock
    /// (between the span's `earliest` and `latest`), by everything read so
    /// far. `None`: beyond what this clock can
    /// represent (or `by` before `sent`).
    pub fn place(&self, db_us: i64, sent: Instant, by: Instant, at_us: i64) -> Option<SharedSlot> {
        let sent_us = self.local_us(sent)?;
        let by_us = self.local_us(by)?.max(sent_us);
        // The reading came after `sent` and before `by`.
        let sample = Bounds {
            lo: db_us.checked_sub(by_us)?,
            lo_at: sent_us,
            hi: db_us.checked_sub(sent_us)?,
            hi_at: sent_us,
        };
        let (lo, hi) = {
            let mut bounds = self.bounds.lock().unwrap_or_else(|e| e.into_inner());
            let next = merged(*bounds, sample, by_us);
            *bounds = Some(next);
            next.aged(by_us)
        };
        // The moment is at_us - offset on this clock.
        let earliest = self.instant(at_us.checked_sub(hi)?)?;
        let latest = self.instant(at_us.checked_sub(lo)?)?;
        Some(SharedSlot { earliest, latest })
    }

    /// The latest moment of the database's clock (µs since the epoch) that
    /// is surely no later than `at` on this clock, by what is known `now`:
    /// a slot the database places no later than this comes by `at`.
    /// `None` before any reading (or beyond either clock).
    pub fn surely_by(&self, at: Instant, now: Instant) -> Option<i64> {
        let now_us = self.local_us(now)?;
        let bounds = *self.bounds.lock().unwrap_or_else(|e| e.into_inner());
        let (lo, _) = bounds?.aged(now_us);
        self.local_us(at)?.checked_add(lo)
    }

    fn local_us(&self, at: Instant) -> Option<i64> {
        let since = at.checked_duration_since(self.base)?;
        i64::try_from(since.as_micros()).ok()
    }

    fn instant(&self, local_us: i64) -> Option<Instant> {
        match u64::try_from(local_us) {
            Ok(us) => self.base.checked_add(Duration::from_micros(us)),
            Err(_) => self
                .base
                .checked_sub(Duration::from_micros(local_us.unsigned_abs())),
        }
    }
}

/// `known` tightened by `sample` (taken by local moment `now`): each bound
/// is the tighter of the aged one and the sample's. A sample that does not
/// meet the aged bounds means a clock was stepped: the bounds restart from
/// it.
fn merged(known: Option<Bounds>, sample: Bounds, now: i64) -> Bounds {
    let Some(known) = known else {
        return sample;
    };
    let (lo, hi) = known.aged(now);
    if sample.lo > hi || sample.hi < lo {
        tracing::debug!(
            "the database's clock moved against this one's; its offset is learned anew"
        );
        return sample;
    }
    let (lo, lo_at) = if sample.lo >= lo {
        (sample.lo, sample.lo_at)
    } else {
        (known.lo, known.lo_at)
    };
    let (hi, hi_at) = if sample.hi <= hi {
        (sample.hi, sample.hi_at)
    } else {
        (known.hi, known.hi_at)
    };
    Bounds {
        lo,
        lo_at,
        hi,
        hi_at,
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
