//! The provider account's request rate: a GCRA limiter (`rate_per_second`,
//! `burst`) shared by every stack of the account. Every attempt, retries
//! included, takes a slot, since every attempt is a real provider request.
//!
//! Each attempt books its own slot: the earliest moment the rate allows,
//! after the slots already booked. A slot within the deadline is kept (the
//! attempt sleeps until it, then goes); one after the deadline is refused at
//! once with `RateLimited { retry_after }` and nothing is booked or sent.
//! Booking (rather than every waiter racing for the next token) serves
//! waiters in order and refuses the ones that cannot make it straight away,
//! instead of at their deadlines. The limiter reads tokio's clock, so tests
//! can drive it with paused time.
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use super::AttemptRequest;
use crate::provider::Operation;
use crate::provider::error::ProviderError;

/// A GCRA limiter that hands out reservations: `rate` slots per second with
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
    pub fn new(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        let interval = Duration::from_secs(1) / rate.get();
        ProviderRateLimiter {
            tat: Mutex::new(Instant::now()),
            interval,
            tolerance: interval * (burst.get() - 1),
        }
    }

    /// Books the earliest free slot. `Err(wait)` when that slot comes after
    /// `deadline`; then nothing is booked.
    pub fn reserve(&self, now: Instant, deadline: Option<Instant>) -> Result<Instant, Duration> {
        // A poisoned lock only means a panic elsewhere; the instant is valid.
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let base = (*tat).max(now);
        let slot = base
            .checked_sub(self.tolerance)
            .map_or(now, |earliest| earliest.max(now));
        if deadline.is_some_and(|deadline| slot > deadline) {
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

/// Wraps a service in [`RateLimit`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Arc<ProviderRateLimiter>,
}

impl RateLimitLayer {
    pub fn new(limiter: Arc<ProviderRateLimiter>) -> Self {
        RateLimitLayer { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limiter: Arc::clone(&self.limiter),
        }
    }
}

/// Calls the inner service only in a slot booked with the limiter.
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiter: Arc<ProviderRateLimiter>,
}

/// Books a slot: `None` to go now, `Some(at)` to go at `at`, or the error
/// when the deadline has passed or comes before the slot.
fn book(
    limiter: &ProviderRateLimiter,
    op: Operation,
    deadline: Option<Instant>,
) -> Result<Option<Instant>, ProviderError> {
    let now = Instant::now();
    if deadline.is_some_and(|deadline| deadline <= now) {
        return Err(ProviderError::DeadlineExceeded { op, sent: false });
    }
    match limiter.reserve(now, deadline) {
        Ok(slot) if slot <= now => Ok(None),
        Ok(slot) => Ok(Some(slot)),
        Err(retry_after) => Err(ProviderError::RateLimited { op, retry_after }),
    }
}

impl<S, R> Service<R> for RateLimit<S>
where
    S: Service<R, Error = ProviderError> + Clone,
    R: AttemptRequest,
{
    type Response = S::Response;
    type Error = ProviderError;
    type Future = ResponseFuture<S, R, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let op = request.operation();
        let deadline = request.deadline();
        let state = match book(&self.limiter, op, deadline) {
            Ok(None) => State::Called {
                future: self.inner.call(request),
            },
            Ok(Some(at)) => {
                // The ready service goes into the future; its clone stays.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                State::Waiting {
                    sleep: tokio::time::sleep_until(at),
                    service: Some(service),
                    request: Some(request),
                }
            }
            Err(error) => State::Failed { error: Some(error) },
        };
        ResponseFuture {
            op,
            deadline,
            state,
        }
    }
}

pin_project! {
    /// Waits for a token (within the deadline), then runs the attempt.
    pub struct ResponseFuture<S, R, F> {
        op: Operation,
        deadline: Option<Instant>,
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
            service: Option<S>,
            request: Option<R>,
        },
        Called { #[pin] future: F },
    }
}

impl<S, R, F, T> Future for ResponseFuture<S, R, F>
where
    S: Service<R, Future = F, Error = ProviderError>,
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
                StateProj::Waiting {
                    sleep,
                    service,
                    request,
                } => {
                    // The slot is booked: no one else can take it.
                    ready!(sleep.poll(cx));
                    let (Some(mut service), Some(request)) = (service.take(), request.take())
                    else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    let future = service.call(request);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => return future.poll(cx),
            }
        }
    }
}

fn polled_after_completion() -> ProviderError {
    ProviderError::Internal("rate-limit future polled after completion".into())
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;
    use crate::middleware::testing::{ALLOCATE, READ, Scripted, TestRequest, ok};

    fn limiter(rate: u32, burst: u32) -> Arc<ProviderRateLimiter> {
        Arc::new(ProviderRateLimiter::new(
            NonZeroU32::new(rate).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        ))
    }

    /// Under contention, callers that cannot get a slot before their
    /// deadline are refused at once, not at their deadlines; the others go
    /// in booking order at the rate.
    #[tokio::test(start_paused = true)]
    async fn refusals_come_at_once_and_slots_are_served_in_order() {
        let inner = Scripted::always(ok());
        let service = RateLimitLayer::new(limiter(20, 5)).layer(inner.clone());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for id in 0..200 {
            let request = TestRequest::new(READ)
                .id(id)
                .deadline_in(Duration::from_secs(3));
            let call = service.clone().oneshot(request);
            tasks.push(tokio::spawn(async move {
                let result = call.await;
                (result, start.elapsed())
            }));
        }
        let (mut passed, mut refused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (Ok(_), elapsed) => {
                    passed += 1;
                    assert!(elapsed <= Duration::from_secs(3));
                }
                (Err(ProviderError::RateLimited { retry_after, .. }), elapsed) => {
                    refused += 1;
                    assert_eq!(elapsed, Duration::ZERO, "refused at once");
                    assert!(retry_after > Duration::from_secs(3), "{retry_after:?}");
                }
                (Err(other), _) => panic!("unexpected {other:?}"),
            }
        }
        // 5 at once, then one every 50 ms up to the 3 s deadline.
        assert_eq!(passed, 5 + 60);
        assert_eq!(refused, 200 - 65);
        assert_eq!(inner.calls(), 65);
    }

    /// Many concurrent callers without deadlines: in every window of the
    /// paused clock, at most `rate * seconds + burst` calls got through.
    #[tokio::test(start_paused = true)]
    async fn never_more_than_rate_times_seconds_plus_burst() {
        const RATE: u32 = 10;
        const BURST: u32 = 5;
        const CALLERS: u32 = 60;
        let inner = Scripted::always(ok());
        let service = RateLimitLayer::new(limiter(RATE, BURST)).layer(inner.clone());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for id in 0..CALLERS {
            let request = TestRequest::new(READ).id(id);
            tasks.push(tokio::spawn(service.clone().oneshot(request)));
        }
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        let mut times: Vec<Instant> = inner.seen().into_iter().map(|(_, at)| at).collect();
        times.sort();
        assert_eq!(times.len(), CALLERS as usize);
        for (i, from) in times.iter().enumerate() {
            for (j, to) in times.iter().enumerate().skip(i) {
                let calls = (j - i + 1) as f64;
                let window = (*to - *from).as_secs_f64();
                assert!(
                    calls <= f64::from(RATE) * window + f64::from(BURST),
                    "{calls} calls in {window} s"
                );
            }
        }
        // And it does let them through at that rate: (60 - 5) / 10 s.
        assert_eq!(start.elapsed(), Duration::from_millis(5500));
    }

    #[tokio::test(start_paused = true)]
    async fn too_close_deadline_is_rate_limited_at_once() {
        let inner = Scripted::always(ok());
        let service = RateLimitLayer::new(limiter(1, 1)).layer(inner.clone());
        assert!(
            service
                .clone()
                .oneshot(TestRequest::new(READ))
                .await
                .is_ok()
        );

        let start = Instant::now();
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(100));
        let error = service.oneshot(request).await.err();
        assert_eq!(start.elapsed(), Duration::ZERO, "failed without waiting");
        match error {
            Some(ProviderError::RateLimited { op, retry_after }) => {
                assert_eq!(op, ALLOCATE);
                assert!(
                    retry_after > Duration::from_millis(900)
                        && retry_after <= Duration::from_secs(1),
                    "{retry_after:?}"
                );
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert_eq!(inner.calls(), 1, "the rate-limited attempt was not sent");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_token_when_the_deadline_allows() {
        let inner = Scripted::always(ok());
        let service = RateLimitLayer::new(limiter(10, 1)).layer(inner.clone());
        assert!(
            service
                .clone()
                .oneshot(TestRequest::new(READ))
                .await
                .is_ok()
        );

        let start = Instant::now();
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(1));
        assert!(service.oneshot(request).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        assert_eq!(inner.calls(), 2);
    }

    /// Waiters racing for the same token: the losers wait again, or give up
    /// with RateLimited when their deadline comes first.
    #[tokio::test(start_paused = true)]
    async fn racing_waiters_respect_their_deadlines() {
        let inner = Scripted::always(ok());
        let service = RateLimitLayer::new(limiter(10, 1)).layer(inner.clone());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for id in 0..10 {
            // Every caller allows 250 ms: room for the burst token and two more.
            let request = TestRequest::new(READ)
                .id(id)
                .deadline_in(Duration::from_millis(250));
            tasks.push(tokio::spawn(service.clone().oneshot(request)));
        }
        let mut passed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => passed += 1,
                Err(ProviderError::RateLimited { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(passed, 3);
        assert_eq!(inner.calls(), 3);
        assert!(start.elapsed() <= Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn passed_deadline_takes_no_token() {
        let inner = Scripted::always(ok());
        let limiter = limiter(1, 1);
        let service = RateLimitLayer::new(Arc::clone(&limiter)).layer(inner.clone());
        let error = service
            .oneshot(TestRequest::new(ALLOCATE).deadline_in(Duration::ZERO))
            .await
            .err();
        assert_eq!(
            error,
            Some(ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: false
            })
        );
        assert_eq!(inner.calls(), 0);
        assert!(limiter.available_now(), "the slot is still free");
    }
}
