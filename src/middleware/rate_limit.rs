//! The provider account's request rate: GCRA limiters shared by every stack
//! of the account, and the admission rule that decides, at once, whether an
//! attempt gets a slot. Every attempt, retries included, takes a slot, since
//! every attempt is a real provider request.
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
//! Booking (rather than every waiter racing for the next token) serves
//! waiters in order and refuses the ones that cannot make it straight away,
//! instead of at their deadlines. Everything reads tokio's clock, so tests
//! drive it with paused time.
mod admission;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::Service;

pub use admission::Admission;

use super::AttemptRequest;
use super::deadline::{Attempt, Finish, Guard, GuardLayer, Turn};
use crate::provider::error::ProviderError;
use crate::provider::{Lane, Operation};

/// Wraps a service in [`RateLimit`].
pub type RateLimitLayer = GuardLayer<RateLimit>;

impl RateLimitLayer {
    pub fn new(admission: Arc<Admission>) -> Self {
        GuardLayer(RateLimit { admission })
    }
}

/// Calls the inner service only in a slot booked through [`Admission`].
#[derive(Debug, Clone)]
pub struct RateLimit {
    admission: Arc<Admission>,
}

impl<S: Service<R, Error = ProviderError> + Clone, R: AttemptRequest> Guard<S, R> for RateLimit {
    type Future = Attempt<SlotWait, S, R, S::Future>;

    fn call(&self, inner: &mut S, request: R, _now: Instant) -> Self::Future {
        let op = request.operation();
        let deadline = request.deadline();
        let admission = &self.admission;
        let booked = match request.lane() {
            Lane::Allocation => admission
                .book(admission.account(), op, deadline, false)
                .map(|slot| (slot, Booked::Account)),
            Lane::Read => admission
                .book(admission.reads(), op, deadline, false)
                .map(|slot| (slot, Booked::ReadShare)),
        };
        let booked = match booked {
            // The read share's slot is now: book the account's at once.
            Ok((None, Booked::ReadShare)) => admission
                .book(admission.account(), op, deadline, true)
                .map(|slot| (slot, Booked::Account)),
            other => other,
        };
        match booked {
            Ok((None, _)) => Attempt::called(inner, request, Timing::start(admission, op)),
            Ok((Some(at), booked)) => {
                let wait = SlotWait {
                    sleep: tokio::time::sleep_until(at),
                    booked,
                    op,
                    deadline,
                    admission: Arc::clone(admission),
                };
                Attempt::waiting(inner, request, wait)
            }
            Err(error) => Attempt::failed(error),
        }
    }
}

/// Which slot a waiting attempt holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Booked {
    /// The read share's: the account's slot is booked when it comes.
    ReadShare,
    /// The account's: the attempt goes when it comes.
    Account,
}

pin_project! {
    /// The wait for the booked slot(s).
    pub struct SlotWait {
        #[pin]
        sleep: Sleep,
        booked: Booked,
        op: Operation,
        deadline: Option<Instant>,
        admission: Arc<Admission>,
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
            // The slot is booked: no one else can take it.
            ready!(this.sleep.as_mut().poll(cx));
            if *this.booked == Booked::ReadShare {
                let account = this.admission.account();
                match this.admission.book(account, *this.op, *this.deadline, true) {
                    Ok(Some(at)) => {
                        this.sleep.as_mut().reset(at);
                        *this.booked = Booked::Account;
                        continue;
                    }
                    Ok(None) => {}
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
            return Poll::Ready(Ok(Timing::start(this.admission, *this.op)));
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
        Err(ProviderError::RateLimited { .. } | ProviderError::Internal(_)) => false,
        Err(_) => true,
    }
}
