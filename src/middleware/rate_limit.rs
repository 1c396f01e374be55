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
use super::deadline::{Guard, GuardLayer, Held};
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
    type Future = ResponseFuture<S, R, S::Future>;

    fn call(&self, inner: &mut S, request: R, _now: Instant) -> Self::Future {
        let op = request.operation();
        let deadline = request.deadline();
        let admission = Arc::clone(&self.admission);
        let booked = match request.lane() {
            Lane::Allocation => admission
                .book(admission.account(), op, deadline, false)
                .map(|slot| (slot, Turn::Account)),
            Lane::Read => admission
                .book(admission.reads(), op, deadline, false)
                .map(|slot| (slot, Turn::ReadShare)),
        };
        let state = match booked {
            // The read share's slot is now: book the account's at once.
            Ok((None, Turn::ReadShare)) => {
                match admission.book(admission.account(), op, deadline, true) {
                    Ok(slot) => start(inner, slot, Turn::Account, request),
                    Err(error) => State::Failed { error: Some(error) },
                }
            }
            Ok((slot, turn)) => start(inner, slot, turn, request),
            Err(error) => State::Failed { error: Some(error) },
        };
        ResponseFuture {
            op,
            deadline,
            admission,
            state,
        }
    }
}

/// Calls now (`slot` is `None`), or waits for `slot` holding the ready
/// service (its clone stays in `inner`).
fn start<S, R>(
    inner: &mut S,
    slot: Option<Instant>,
    turn: Turn,
    request: R,
) -> State<S, R, S::Future>
where
    S: Service<R, Error = ProviderError> + Clone,
{
    match slot {
        None => State::Called {
            future: inner.call(request),
            started: Instant::now(),
        },
        Some(at) => State::Waiting {
            sleep: tokio::time::sleep_until(at),
            turn,
            held: Held::new(inner, request),
        },
    }
}

/// Which slot a waiting attempt holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The read share's: the account's slot is booked when it comes.
    ReadShare,
    /// The account's: the attempt goes when it comes.
    Account,
}

pin_project! {
    /// Waits for the booked slot(s), then runs the attempt and records how
    /// long it took.
    pub struct ResponseFuture<S, R, F> {
        op: Operation,
        deadline: Option<Instant>,
        admission: Arc<Admission>,
        #[pin]
        state: State<S, R, F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R, F> {
        Failed { error: Option<ProviderError> },
        Waiting {
            #[pin]
            sleep: Sleep,
            turn: Turn,
            held: Held<S, R>,
        },
        Called {
            #[pin]
            future: F,
            started: Instant,
        },
    }
}

impl<S, R, F, T> Future for ResponseFuture<S, R, F>
where
    S: Service<R, Future = F, Error = ProviderError> + Clone,
    F: Future<Output = Result<T, ProviderError>>,
{
    type Output = Result<T, ProviderError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error.take().unwrap_or_else(polled_after_completion)));
                }
                StateProj::Waiting { sleep, turn, held } => {
                    // The slot is booked: no one else can take it.
                    ready!(sleep.poll(cx));
                    let mut held = held.take();
                    if *turn == Turn::ReadShare {
                        match this.admission.book(
                            this.admission.account(),
                            *this.op,
                            *this.deadline,
                            true,
                        ) {
                            Ok(Some(at)) => {
                                this.state.set(State::Waiting {
                                    sleep: tokio::time::sleep_until(at),
                                    turn: Turn::Account,
                                    held,
                                });
                                continue;
                            }
                            Ok(None) => {}
                            Err(error) => return Poll::Ready(Err(error)),
                        }
                    }
                    let Some(future) = held.call() else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    this.state.set(State::Called {
                        future,
                        started: Instant::now(),
                    });
                }
                StateProj::Called { future, started } => {
                    let result = ready!(future.poll(cx));
                    if went_out(&result) {
                        let now = Instant::now();
                        this.admission.record(
                            *this.op,
                            now,
                            now.saturating_duration_since(*started),
                        );
                    }
                    return Poll::Ready(result);
                }
            }
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

fn polled_after_completion() -> ProviderError {
    ProviderError::Internal("rate-limit future polled after completion".into())
}
