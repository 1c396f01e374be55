//! The provider account's request rate: GCRA limiters shared by every stack
//! of the account (in fleet mode, by every gateway), and the admission rule
//! that decides, at once, whether an attempt gets a slot. Every attempt,
//! retries included, takes a slot, since every attempt is a real provider
//! request.
//!
//! **Admission leaves time for the call.** Each attempt books its own slot:
//! the earliest moment the rate allows, after the slots already booked. The
//! slot is kept only if the slot plus a *reserve* for the attempt itself
//! still comes before the caller's deadline; otherwise the attempt is
//! refused at once with `RateLimited { retry_after }` (the slot's time),
//! nothing booked or sent. The reserve follows what the provider has shown:
//! twice the 99th percentile of the account's attempt latency over the last
//! minute (`latency`), for writes and reads separately, never below
//! `reserve_floor` nor above the attempt timeout. So an allocation is never
//! sent so late that its answer cannot come back before the deadline, and
//! no caller waits for a slot only to die unsent at its deadline.
//!
//! **Reads cannot starve allocations.** Calls on [`Lane::Read`] (polling for
//! `wait` and `WatchAllocation`, `GetAllocation`, the refresh of a replay)
//! first book a slot on the read limiter, which runs at `read_share` of the
//! account's rate and burst, and only then, once that slot has come, a slot
//! on the account limiter. Reads thus use at most their share, and
//! allocations (and their reconciliation, on [`Lane::Allocation`]) keep the
//! rest however many watches are open; unused read capacity is theirs too.
//!
//! **Fleet mode: one schedule for every gateway of the account.** With
//! [`ProviderLimits::shared`](super::ProviderLimits::shared), the account's
//! slots are booked on a [`SharedRate`] (PostgreSQL, one statement per
//! booking) that every gateway using the account shares, at the account's
//! whole `rate_per_second` and `burst`; so all replicas together stay
//! within them. The admission rule is the same: the shared limiter keeps a
//! slot only within `deadline - now - reserve` (any, without a deadline);
//! a deadline too short for the reserve is refused at once without asking.
//! The attempt waits for the answer (never past its deadline:
//! `DeadlineExceeded`, unsent), then for the slot: the shared state places
//! it on its own clock, so on this one it is known only within some
//! uncertainty ([`SharedSlot`]); the attempt goes at the latest the slot
//! can be, never before it, and a slot it may have missed by more than the
//! slack (half an interval) is given up and another booked, twice at most,
//! then refused (a read takes the local fallback below), so that neither
//! early nor late sends bunch past the rate. A slot the answer came too
//! late for is refused. Refused: `RateLimited { retry_after }` as above.
//! When the shared state cannot be reached, an allocation
//! ([`Lane::Allocation`]) fails closed with `SharedStateUnavailable`,
//! nothing sent, never retried. Reads keep
//! working: their read share is a local limiter at this replica's part of
//! it (divided by the configured replica count, bursts at least 1), and
//! they book the account's slot on the shared limiter while it is
//! [usable](SharedRate::usable), else (or when the booking fails) on a
//! local limiter at the account's rate and burst divided by the replica
//! count. The retry budget and the in-flight cap stay each process's own.
//!
//! Booking (rather than every waiter racing for the next token) serves
//! waiters in order and refuses the ones that cannot make it straight away,
//! instead of at their deadlines. Everything reads tokio's clock, so tests
//! drive it with paused time. Each admitted attempt's wait for its slot(s)
//! and each refusal are recorded in the account's metrics, by lane.
mod admission;
mod shared;
#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::FutureExt as _;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::Service;

pub use admission::Admission;
use admission::Asked;
pub use shared::{
    FleetRate, SharedAccount, SharedBooking, SharedRate, SharedRateError, SharedSlot,
};

use super::AttemptRequest;
use super::deadline::{Attempt, Finish, Guard, GuardLayer, Turn};
use crate::admin::AccountMetrics;
use crate::provider::error::ProviderError;
use crate::provider::{Lane, Operation};

/// Wraps a service in [`RateLimit`].
pub type RateLimitLayer = GuardLayer<RateLimit>;

impl RateLimitLayer {
    /// The layer recording into metrics of its own.
    #[cfg(test)]
    pub fn new(admission: Arc<Admission>) -> Self {
        RateLimitLayer::counted(admission, AccountMetrics::detached("unnamed"))
    }

    /// The layer recording waits and refusals into `metrics`.
    pub fn counted(admission: Arc<Admission>, metrics: Arc<AccountMetrics>) -> Self {
        GuardLayer(RateLimit { admission, metrics })
    }
}

/// Calls the inner service only in a slot booked through [`Admission`].
#[derive(Debug, Clone)]
pub struct RateLimit {
    admission: Arc<Admission>,
    metrics: Arc<AccountMetrics>,
}

impl<S: Service<R, Error = ProviderError> + Clone, R: AttemptRequest> Guard<S, R> for RateLimit {
    type Future = Attempt<SlotWait, S, R, S::Future>;

    fn call(&self, inner: &mut S, request: R, _now: Instant) -> Self::Future {
        let booking = Booking {
            op: request.operation(),
            deadline: request.deadline(),
            lane: request.lane(),
            admission: Arc::clone(&self.admission),
            metrics: Arc::clone(&self.metrics),
            booked: Instant::now(),
            rebooked: std::cell::Cell::new(0),
        };
        match booking.first() {
            Step::Go => Attempt::called(inner, request, booking.admitted()),
            Step::Fail(error) => Attempt::failed(booking.refused(error)),
            step => Attempt::waiting(inner, request, SlotWait::new(booking, step)),
        }
    }
}

/// One attempt's way to its slot(s).
struct Booking {
    op: Operation,
    deadline: Option<Instant>,
    lane: Lane,
    admission: Arc<Admission>,
    metrics: Arc<AccountMetrics>,
    /// When the attempt asked for its slot.
    booked: Instant,
    /// Late shared slots given up so far.
    rebooked: std::cell::Cell<u8>,
}

/// Where an attempt waits.
enum Stage {
    /// For the read share's slot: the account's is booked when it comes.
    ReadShare,
    /// For the shared limiter's answer (fleet mode).
    Asking(Asked),
    /// For the account's slot: the attempt goes when it comes.
    Account,
    /// For a slot booked on the shared limiter, no earlier than `earliest`
    /// (when it was asked plus the delay).
    Shared { earliest: Instant },
}

/// What an attempt does next.
enum Step {
    /// Its slot is now: it goes.
    Go,
    /// It sleeps until the instant, in the stage.
    Sleep(Instant, Stage),
    /// It waits for the shared limiter's answer.
    Ask(Asked),
    /// It is refused, unsent.
    Fail(ProviderError),
}

impl Booking {
    /// The attempt goes now: its wait is recorded, its timing starts.
    fn admitted(&self) -> Timing {
        let now = Instant::now();
        let waited = now.saturating_duration_since(self.booked);
        self.metrics.rate_limit_waited(self.lane, waited);
        Timing::start(&self.admission, self.op)
    }

    /// The attempt fails unsent with `error`: a refusal of the rate limit
    /// is counted.
    fn refused(&self, error: ProviderError) -> ProviderError {
        if matches!(error, ProviderError::RateLimited { .. }) {
            self.metrics.rate_limit_refused(self.lane);
        }
        error
    }

    /// The first step: reads book the read share first.
    fn first(&self) -> Step {
        match self.lane {
            Lane::Allocation => self.account(false),
            Lane::Read => {
                let admission = &self.admission;
                match admission.book(admission.reads(), self.op, self.deadline, false) {
                    // The read share's slot is now: book the account's at once.
                    Ok(None) => self.account(true),
                    Ok(Some(at)) => Step::Sleep(at, Stage::ReadShare),
                    Err(error) => Step::Fail(error),
                }
            }
        }
    }

    /// Books the account's slot: on the shared limiter in fleet mode (for
    /// reads only while it answers), on the local one otherwise.
    /// `admitted`: see [`Admission::book`].
    fn account(&self, admitted: bool) -> Step {
        let admission = &self.admission;
        match admission.fleet() {
            Some(fleet) if self.lane == Lane::Allocation || fleet.usable() => {
                match admission.ask(fleet, self.op, self.deadline, admitted) {
                    Ok(asked) => Step::Ask(asked),
                    Err(error) => Step::Fail(error),
                }
            }
            _ => self.local_account(admitted),
        }
    }

    fn local_account(&self, admitted: bool) -> Step {
        let admission = &self.admission;
        match admission.book(admission.account(), self.op, self.deadline, admitted) {
            Ok(None) => Step::Go,
            Ok(Some(at)) => Step::Sleep(at, Stage::Account),
            Err(error) => Step::Fail(error),
        }
    }

    /// A shared slot has come: the attempt goes, unless it may be later
    /// than the slack after the slot (counted from the slot's earliest
    /// time: the booking's way there or back was slow, or the process was
    /// starved): then the slot is given up and another booked, at most
    /// [`shared::MAX_REBOOKINGS`] times; a slot still not kept after that
    /// is refused to an allocation (`RateLimited`, nothing sent), since
    /// going late could bunch sends past the account's rate and burst, and
    /// a read books the local fallback, as when the shared state cannot be
    /// reached.
    fn on_time(&self, earliest: Instant) -> Step {
        let Some(fleet) = self.admission.fleet() else {
            return Step::Go;
        };
        let Some(slack) = fleet.slack() else {
            return Step::Go;
        };
        let late = Instant::now().saturating_duration_since(earliest);
        if late <= slack {
            return Step::Go;
        }
        let rebooked = self.rebooked.get();
        if rebooked >= shared::MAX_REBOOKINGS {
            tracing::debug!(
                op = self.op.name,
                late_ms = late.as_millis(),
                "no shared rate-limit slot could be kept on time"
            );
            return match self.lane {
                Lane::Allocation => Step::Fail(ProviderError::RateLimited {
                    op: self.op,
                    retry_after: fleet.interval(),
                }),
                // As when the shared state cannot be reached.
                Lane::Read => self.local_account(true),
            };
        }
        self.rebooked.set(rebooked + 1);
        tracing::debug!(
            op = self.op.name,
            late_ms = late.as_millis(),
            "a shared rate-limit slot came too late; booking another"
        );
        match self.admission.ask(fleet, self.op, self.deadline, true) {
            Ok(asked) => Step::Ask(asked),
            Err(error) => Step::Fail(error),
        }
    }

    /// The shared limiter's answer to `asked`. Allocations fail closed when
    /// the shared state cannot be reached; reads fall back to the local
    /// limiter.
    fn answered(&self, asked: &Asked, answer: Result<SharedBooking, SharedRateError>) -> Step {
        let now = Instant::now();
        match answer {
            Ok(Ok(slot)) => match asked.slot(self.op, self.deadline, slot, now) {
                Ok(slot) if slot.latest <= now => self.on_time(slot.earliest),
                Ok(slot) => Step::Sleep(
                    slot.latest,
                    Stage::Shared {
                        earliest: slot.earliest,
                    },
                ),
                Err(error) => Step::Fail(error),
            },
            Ok(Err(retry_after)) => Step::Fail(ProviderError::RateLimited {
                op: self.op,
                retry_after,
            }),
            Err(error) => match self.lane {
                Lane::Allocation => Step::Fail(ProviderError::SharedStateUnavailable {
                    op: self.op,
                    detail: error.0,
                }),
                Lane::Read => {
                    tracing::debug!(
                        op = self.op.name,
                        error = %error,
                        "shared rate limit unreachable; the read books the local fallback"
                    );
                    self.local_account(asked.admitted)
                }
            },
        }
    }
}

pin_project! {
    /// The wait for the booked slot(s): sleeping until a slot, or for the
    /// shared limiter's answer (bounded by the deadline).
    pub struct SlotWait {
        #[pin]
        sleep: Sleep,
        stage: Stage,
        booking: Booking,
    }
}

impl SlotWait {
    /// Waits from `step` (a sleep or an ask).
    fn new(booking: Booking, step: Step) -> Self {
        let now = Instant::now();
        let mut wait = SlotWait {
            sleep: tokio::time::sleep_until(now),
            stage: Stage::Account,
            booking,
        };
        match step {
            Step::Sleep(at, stage) => {
                wait.sleep = tokio::time::sleep_until(at);
                wait.stage = stage;
            }
            Step::Ask(asked) => {
                wait.sleep = tokio::time::sleep_until(wait.booking.deadline.unwrap_or(now));
                wait.stage = Stage::Asking(asked);
            }
            // Not waits: the guard handles them without one.
            Step::Go | Step::Fail(_) => {}
        }
        wait
    }
}

impl Turn for SlotWait {
    type Token = Timing;

    fn poll_turn(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Timing, ProviderError>> {
        let mut this = self.project();
        loop {
            let step = match this.stage {
                // The slot is booked: no one else can take it.
                Stage::ReadShare => {
                    ready!(this.sleep.as_mut().poll(cx));
                    this.booking.account(true)
                }
                Stage::Account => {
                    ready!(this.sleep.as_mut().poll(cx));
                    Step::Go
                }
                Stage::Shared { earliest } => {
                    ready!(this.sleep.as_mut().poll(cx));
                    this.booking.on_time(*earliest)
                }
                Stage::Asking(asked) => match asked.answer.poll_unpin(cx) {
                    Poll::Ready(answer) => this.booking.answered(asked, answer),
                    // The sleep is the deadline.
                    Poll::Pending if this.booking.deadline.is_some() => {
                        ready!(this.sleep.as_mut().poll(cx));
                        Step::Fail(ProviderError::DeadlineExceeded {
                            op: this.booking.op,
                            sent: false,
                        })
                    }
                    Poll::Pending => return Poll::Pending,
                },
            };
            match step {
                Step::Go => return Poll::Ready(Ok(this.booking.admitted())),
                Step::Sleep(at, stage) => {
                    this.sleep.as_mut().reset(at);
                    *this.stage = stage;
                }
                Step::Ask(asked) => {
                    if let Some(deadline) = this.booking.deadline {
                        this.sleep.as_mut().reset(deadline);
                    }
                    *this.stage = Stage::Asking(asked);
                }
                Step::Fail(error) => return Poll::Ready(Err(this.booking.refused(error))),
            }
        }
    }
}

/// Times an attempt from its slot to its answer, for the reserve.
pub struct Timing {
    admission: Arc<Admission>,
    op: Operation,
    started: Instant,
}

impl Timing {
    fn start(admission: &Arc<Admission>, op: Operation) -> Self {
        Timing {
            admission: Arc::clone(admission),
            op,
            started: Instant::now(),
        }
    }
}

impl Finish for Timing {
    /// Records how long the attempt took, when it went out.
    fn finish<T>(self, result: &Result<T, ProviderError>) {
        if went_out(result) {
            let now = Instant::now();
            let took = now.saturating_duration_since(self.started);
            self.admission.record(self.op, now, took);
        }
    }
}

/// Whether an attempt's result tells how long the provider took: an answer
/// or a failure after sending, not a refusal before it.
fn went_out<T>(result: &Result<T, ProviderError>) -> bool {
    match result {
        Ok(_) => true,
        Err(ProviderError::DeadlineExceeded { sent, .. }) => *sent,
        Err(
            ProviderError::RateLimited { .. }
            | ProviderError::SharedStateUnavailable { .. }
            | ProviderError::Internal(_),
        ) => false,
        Err(_) => true,
    }
}
