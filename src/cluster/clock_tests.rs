//! Tests of the database clock estimate: every span holds the true moment
//! (constant offset, slewed clocks, a stepped clock), spans tighten to the
//! fastest round trip seen and widen with its age, and readings beyond any
//! clock are refused without panicking.

use super::*;

/// The database's clock reads this much more than local µs since `base`.
const OFFSET: i64 = 1_764_000_000_000_000;

/// A deterministic stream of round-trip halves: mostly slow (20-60 ms),
/// one in `fast_every` taking 200 µs.
struct Ways {
    state: u64,
    fast_every: u64,
    n: u64,
}

impl Ways {
    fn new(seed: u64, fast_every: u64) -> Self {
        Ways {
            state: seed,
            fast_every,
            n: 0,
        }
    }

    fn next(&mut self) -> (i64, i64) {
        self.n += 1;
        if self.fast_every > 0 && self.n.is_multiple_of(self.fast_every) {
            return (100, 100);
        }
        let mut draw = || {
            self.state = self
                .state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            20_000 + ((self.state >> 33) % 40_000) as i64
        };
        (draw(), draw())
    }
}

fn at(clock: &DatabaseClock, local_us: i64) -> Instant {
    clock.instant(local_us).unwrap()
}

/// One booking at local `t` with ways (there, back) on a clock offset by
/// `offset`: the database reads at t + there; the slot is `delay` later.
fn booking(
    clock: &DatabaseClock,
    offset: i64,
    t: i64,
    (there, back): (i64, i64),
    delay: i64,
) -> (SharedSlot, Instant) {
    let reading = t + there + offset;
    let span = clock
        .place(
            reading,
            at(clock, t),
            at(clock, t + there + back),
            reading + delay,
        )
        .unwrap();
    (span, at(clock, t + there + delay))
}

/// The span of booking `k` holds the true moment.
fn assert_holds(span: &SharedSlot, truth: Instant, k: i64) {
    assert!(
        span.earliest <= truth && truth <= span.latest,
        "booking {k}: {span:?}"
    );
}

fn width(span: &SharedSlot) -> Duration {
    span.latest - span.earliest
}

#[test]
fn one_reading_places_the_moment_within_its_round_trip() {
    let clock = DatabaseClock::new();
    let (span, truth) = booking(&clock, OFFSET, 1_000_000, (30_000, 10_000), 50_000);
    // Sent at 1 s, answered at 1.04 s: the slot is 50 ms after a moment
    // between them, each bound widened by its age when answered (500 ppm
    // of 40 ms: 20 µs).
    assert_eq!(span.earliest, at(&clock, 1_050_000 - 20));
    assert_eq!(span.latest, at(&clock, 1_090_000 + 20));
    assert!(span.earliest <= truth && truth <= span.latest);
}

#[test]
fn spans_always_hold_the_truth_and_tighten_to_the_fastest_round_trip() {
    let clock = DatabaseClock::new();
    let mut ways = Ways::new(7, 50);
    let mut widest_after_fast = Duration::ZERO;
    for k in 0..2_000 {
        let t = 1_000_000 + k * 5_000;
        let (span, truth) = booking(&clock, OFFSET, t, ways.next(), 25_000);
        assert_holds(&span, truth, k);
        if k >= 50 {
            widest_after_fast = widest_after_fast.max(width(&span));
        }
    }
    // Round trips of 40-120 ms alone would leave spans that wide; a 200 µs
    // one every 250 ms keeps them within it plus its aging by the time the
    // last booking before the next fast one is answered (500 ppm of
    // 250 + 120 ms, on each side).
    assert!(
        widest_after_fast <= Duration::from_micros(200 + 370 + 1),
        "{widest_after_fast:?}"
    );
}

#[test]
fn without_a_fast_round_trip_spans_stay_as_wide_as_the_round_trips() {
    let clock = DatabaseClock::new();
    let mut ways = Ways::new(11, 0);
    for k in 0..500 {
        let t = 1_000_000 + k * 5_000;
        let (span, truth) = booking(&clock, OFFSET, t, ways.next(), 0);
        assert_holds(&span, truth, k);
        // The tightest bound on each side comes from some reading: never
        // narrower than the shortest way there plus the shortest way back.
        assert!(width(&span) >= Duration::from_millis(40), "{span:?}");
    }
}

#[test]
fn a_slewed_clock_stays_within_the_aged_bounds() {
    let clock = DatabaseClock::new();
    let mut ways = Ways::new(3, 500);
    // The database's clock runs 400 ppm fast (within the 500 allowed):
    // readings are seconds apart, so only the aging keeps the truth in.
    for k in 0..300 {
        let t = 1_000_000 + k * 1_000_000;
        let offset = OFFSET + t * 400 / 1_000_000;
        let (span, truth) = booking(&clock, offset, t, ways.next(), 10_000);
        assert_holds(&span, truth, k);
    }
}

#[test]
fn a_stepped_clock_is_learned_anew() {
    let clock = DatabaseClock::new();
    let mut ways = Ways::new(5, 10);
    for k in 0..100 {
        let t = 1_000_000 + k * 10_000;
        // At booking 50 the database's clock steps 2 s back.
        let offset = if k < 50 { OFFSET } else { OFFSET - 2_000_000 };
        let (span, truth) = booking(&clock, offset, t, ways.next(), 5_000);
        assert_holds(&span, truth, k);
        if k > 60 {
            assert!(
                width(&span) < Duration::from_millis(1),
                "booking {k}: {span:?}"
            );
        }
    }
}

#[test]
fn readings_beyond_any_clock_are_refused() {
    let clock = DatabaseClock::new();
    let sent = at(&clock, 1_000);
    let by = at(&clock, 2_000);
    assert_eq!(clock.place(i64::MIN, sent, by, 0), None);
    assert_eq!(clock.place(i64::MAX, sent, by, i64::MIN), None);
    assert_eq!(clock.place(i64::MIN + 5_000, sent, by, i64::MAX), None);
    // A sane reading after them still places: bounds it does not meet
    // restart from it.
    let span = clock.place(OFFSET, sent, by, OFFSET).unwrap();
    assert!(span.earliest <= span.latest);
    // An answer "before" its sending counts as at once.
    let span = clock
        .place(OFFSET + 5_000, by, sent, OFFSET + 5_000)
        .unwrap();
    assert!(span.earliest <= span.latest);
}

#[test]
fn a_moment_surely_by_a_local_one_is_never_after_it() {
    let clock = DatabaseClock::new();
    assert_eq!(
        clock.surely_by(at(&clock, 5_000), at(&clock, 5_000)),
        None,
        "nothing read yet"
    );
    let mut ways = Ways::new(9, 7);
    for k in 0..200 {
        let t = 1_000_000 + k * 5_000;
        booking(&clock, OFFSET, t, ways.next(), 0);
        let now = at(&clock, t + 200_000);
        let by = at(&clock, t + 1_000_000);
        let db = clock.surely_by(by, now).unwrap();
        // The database reads `db` at local db - OFFSET: no later than `by`,
        // and (readings this tight) within a millisecond of it.
        let local = db - OFFSET;
        assert!(local <= t + 1_000_000, "booking {k}: {local}");
        if k > 10 {
            assert!(local > t + 1_000_000 - 1_000, "booking {k}: {local}");
        }
    }
}
