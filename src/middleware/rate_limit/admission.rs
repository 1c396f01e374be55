//! Admission: the GCRA limiters of one provider account (the account's and
//! the read share's, and in fleet mode the shared one), the latencies the
//! reserve follows, and the rule that keeps a slot only when the attempt
//! still fits before its deadline (see the parent module).

use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::super::deadline;
use super::super::latency::{self, LatencyWindow};
use super::shared::{Fleet, SharedAccount, SharedBooking, SharedRateError, SharedSlot};
use crate::provider::Operation;
use crate::provider::error::ProviderError;
use futures_util::future::BoxFuture;

/// A GCRA limiter that hands out reservations: one slot per `interval` with
/// up to `burst` at once.
#[derive(Debug)]
pub struct ProviderRateLimiter {
    /// The theoretical arrival time of the next request.
    tat: Mutex<Instant>,
    /// Time between slots at the sustained rate.
    interval: Duration,
    /// How far ahead of `tat` a slot may be used (the burst).
    tolerance: Duration,
}

impl ProviderRateLimiter {
    /// One slot per `interval` (at least 1 ns), `burst` at once.
    pub fn with_interval(interval: Duration, burst: NonZeroU32) -> Self {
        let interval = interval.max(Duration::from_nanos(1));
        ProviderRateLimiter {
            tat: Mutex::new(Instant::now()),
            interval,
            tolerance: interval.saturating_mul(burst.get() - 1),
        }
    }

    /// Books the earliest free slot when `accept` takes it. `Err(wait)`,
    /// booking nothing, when it does not; `wait` is how far away the slot is.
    pub fn book(
        &self,
        now: Instant,
        accept: impl FnOnce(Instant) -> bool,
    ) -> Result<Instant, Duration> {
        // A poisoned lock only means a panic elsewhere; the instant is valid.
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let base = (*tat).max(now);
        let slot = base
            .checked_sub(self.tolerance)
            .map_or(now, |earliest| earliest.max(now));
        if !accept(slot) {
            return Err(slot - now);
        }
        *tat = base + self.interval;
        Ok(slot)
    }

    /// True when an attempt starting now would go at once (books nothing).
    #[cfg(test)]
    pub fn available_now(&self) -> bool {
        let tat = *self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        tat.checked_sub(self.tolerance)
            .is_none_or(|earliest| earliest <= now)
    }
}

/// The admission rule: an attempt in `slot` that needs `reserve` fits when
/// it ends no later than `deadline` (always, without one).
pub fn fits(slot: Instant, reserve: Duration, deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|deadline| {
        slot.checked_add(reserve)
            .is_some_and(|finished| finished <= deadline)
    })
}

/// Everything admission shares across one account's stacks: the account's
/// limiter, the read share's limiter, the latencies the reserve is derived
/// from, and in fleet mode the account's shared limiter.
#[derive(Debug)]
pub struct Admission {
    /// The account's limiter; in fleet mode, the reads' fallback at this
    /// replica's part of the rate.
    account: ProviderRateLimiter,
    reads: ProviderRateLimiter,
    /// Fleet mode: the account's limiter shared by every gateway.
    fleet: Option<Fleet>,
    write_latency: LatencyWindow,
    read_latency: LatencyWindow,
    reserve_floor: Duration,
    reserve_ceiling: Duration,
}

impl Admission {
    /// `rate` per second with `burst`, `read_share` (0..=1) of both for
    /// reads; reserves between `reserve_floor` and `reserve_ceiling`.
    pub fn new(
        rate: NonZeroU32,
        burst: NonZeroU32,
        read_share: f64,
        reserve_floor: Duration,
        reserve_ceiling: Duration,
    ) -> Self {
        let reserve = (reserve_floor, reserve_ceiling);
        Self::build(rate, burst, read_share, reserve, None)
    }

    /// Fleet mode: like [`Admission::new`], the account's `rate` and `burst`
    /// booked on `shared`'s limiter, and the local limiters (the read share,
    /// and the reads' fallback for the account) at this replica's part of
    /// them: divided by `shared.replicas`, bursts at least 1.
    pub fn shared(
        rate: NonZeroU32,
        burst: NonZeroU32,
        read_share: f64,
        reserve_floor: Duration,
        reserve_ceiling: Duration,
        shared: SharedAccount,
    ) -> Self {
        let reserve = (reserve_floor, reserve_ceiling);
        Self::build(rate, burst, read_share, reserve, Some(shared))
    }

    fn build(
        rate: NonZeroU32,
        burst: NonZeroU32,
        read_share: f64,
        (reserve_floor, reserve_ceiling): (Duration, Duration),
        shared: Option<SharedAccount>,
    ) -> Self {
        let replicas = shared.as_ref().map_or(1, |shared| shared.replicas.max(1));
        let share = if read_share.is_nan() {
            1.0
        } else {
            read_share.clamp(0.001, 1.0)
        };
        // This replica's part: all of it, alone.
        let part = f64::from(replicas);
        let read_interval = Duration::from_secs_f64(1.0 / (f64::from(rate.get()) * share / part));
        let read_burst = NonZeroU32::new((f64::from(burst.get()) * share / part).floor() as u32)
            .unwrap_or(NonZeroU32::MIN);
        let interval = Duration::from_secs(1) / rate.get();
        let account_interval = Duration::from_secs(1).saturating_mul(replicas) / rate.get();
        let account_burst = NonZeroU32::new(burst.get() / replicas).unwrap_or(NonZeroU32::MIN);
        Admission {
            account: ProviderRateLimiter::with_interval(account_interval, account_burst),
            reads: ProviderRateLimiter::with_interval(read_interval, read_burst),
            fleet: shared.map(|shared| Fleet::new(shared, interval, burst.get())),
            write_latency: LatencyWindow::new(),
            read_latency: LatencyWindow::new(),
            reserve_floor,
            reserve_ceiling,
        }
    }

    /// The account's limiter (every attempt books a slot on it).
    pub(in crate::middleware) fn account(&self) -> &ProviderRateLimiter {
        &self.account
    }

    /// The read share's limiter (reads book a slot on it first).
    pub(super) fn reads(&self) -> &ProviderRateLimiter {
        &self.reads
    }

    /// Fleet mode's shared limiter of the account.
    pub(super) fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    fn latency(&self, op: Operation) -> &LatencyWindow {
        if op.mutating {
            &self.write_latency
        } else {
            &self.read_latency
        }
    }

    /// The time reserved for an attempt of `op` starting at `now`.
    pub fn reserve(&self, op: Operation, now: Instant) -> Duration {
        latency::reserve(
            self.latency(op),
            now,
            self.reserve_floor,
            self.reserve_ceiling,
        )
    }

    /// Records what one attempt of `op` took, slot to answer.
    pub fn record(&self, op: Operation, now: Instant, took: Duration) {
        self.latency(op).record(now, took);
    }

    /// Books a slot on `limiter` for `op`, leaving the reserve before
    /// `deadline`. With `admitted`, the attempt already passed the rule for
    /// a slot on the read share that has now come: a free account slot is
    /// taken at once (the reserve was kept from the read slot; checking it
    /// again would refuse for the timer's slack); a later one must still
    /// leave the reserve.
    pub(super) fn book(
        &self,
        limiter: &ProviderRateLimiter,
        op: Operation,
        deadline: Option<Instant>,
        admitted: bool,
    ) -> Result<Option<Instant>, ProviderError> {
        let now = Instant::now();
        deadline::check(op, deadline, now)?;
        let reserve = self.reserve(op, now);
        let accept = |slot: Instant| (admitted && slot <= now) || fits(slot, reserve, deadline);
        match limiter.book(now, accept) {
            Ok(slot) if slot <= now => Ok(None),
            Ok(slot) => Ok(Some(slot)),
            Err(retry_after) => Err(ProviderError::RateLimited { op, retry_after }),
        }
    }

    /// Asks `fleet` for a slot for `op` that leaves the reserve before
    /// `deadline`: the same rule as [`Admission::book`], as the longest
    /// delay the shared limiter may book (`admitted`: at least a slot now).
    /// Refused at once, asking nothing, when no slot could leave it.
    pub(super) fn ask(
        &self,
        fleet: &Fleet,
        op: Operation,
        deadline: Option<Instant>,
        admitted: bool,
    ) -> Result<Asked, ProviderError> {
        let now = Instant::now();
        deadline::check(op, deadline, now)?;
        let reserve = self.reserve(op, now);
        let max_delay = match deadline {
            None => None,
            Some(deadline) => match deadline
                .checked_duration_since(now)
                .and_then(|left| left.checked_sub(reserve))
            {
                Some(room) => Some(room),
                None if admitted => Some(Duration::ZERO),
                // Even a slot now would not leave the reserve: a longer
                // deadline is what helps, not waiting.
                None => {
                    return Err(ProviderError::RateLimited {
                        op,
                        retry_after: Duration::ZERO,
                    });
                }
            },
        };
        Ok(Asked {
            answer: fleet.book(max_delay),
            reserve,
            admitted,
        })
    }
}

/// A booking on the shared limiter, waiting for its answer.
pub struct Asked {
    pub(super) answer: BoxFuture<'static, Result<SharedBooking, SharedRateError>>,
    /// The reserve the attempt needs, as when it was asked.
    reserve: Duration,
    pub(super) admitted: bool,
}

impl Asked {
    /// The booked `slot`, if the attempt still fits in it: a slot the
    /// answer came too late for is refused like one that never fitted
    /// (booked, and left unused), unless the attempt was admitted and the
    /// slot is now. The fit is judged from the slot's earliest time, as the
    /// shared state judged `max_delay` on its own clock: judged from the
    /// latest, a slot booked at the edge of the deadline would be refused
    /// here, and left unused, for the booking's round trip. The attempt
    /// goes at the slot's latest time on this clock (or now, if that has
    /// passed): never before the slot; a slot already past when the answer
    /// comes is checked against the slack (see `Fleet::slack`).
    pub(super) fn slot(
        &self,
        op: Operation,
        deadline: Option<Instant>,
        slot: SharedSlot,
        now: Instant,
    ) -> Result<SharedSlot, ProviderError> {
        if (self.admitted && slot.latest <= now)
            || fits(slot.earliest.max(now), self.reserve, deadline)
        {
            Ok(slot)
        } else {
            Err(ProviderError::RateLimited {
                op,
                retry_after: slot.latest.saturating_duration_since(now),
            })
        }
    }
}
