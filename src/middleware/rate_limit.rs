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
use super::latency::{self, LatencyWindow};
use crate::provider::error::ProviderError;
use crate::provider::{Lane, Operation};

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
    pub fn new(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        Self::with_interval(Duration::from_secs(1) / rate.get(), burst)
    }

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
/// limiter, the read share's limiter, and the latencies the reserve is
/// derived from.
#[derive(Debug)]
pub struct Admission {
    account: ProviderRateLimiter,
    reads: ProviderRateLimiter,
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
        let share = if read_share.is_nan() {
            1.0
        } else {
            read_share.clamp(0.001, 1.0)
        };
        let read_interval = Duration::from_secs_f64(1.0 / (f64::from(rate.get()) * share));
        let read_burst = NonZeroU32::new((f64::from(burst.get()) * share).floor() as u32)
            .unwrap_or(NonZeroU32::MIN);
        Admission {
            account: ProviderRateLimiter::new(rate, burst),
            reads: ProviderRateLimiter::with_interval(read_interval, read_burst),
            write_latency: LatencyWindow::new(),
            read_latency: LatencyWindow::new(),
            reserve_floor,
            reserve_ceiling,
        }
    }

    /// The account's limiter (every attempt books a slot on it).
    #[cfg(test)]
    pub fn account(&self) -> &ProviderRateLimiter {
        &self.account
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
    fn book(
        &self,
        limiter: &ProviderRateLimiter,
        op: Operation,
        deadline: Option<Instant>,
        admitted: bool,
    ) -> Result<Option<Instant>, ProviderError> {
        let now = Instant::now();
        if deadline.is_some_and(|deadline| deadline <= now) {
            return Err(ProviderError::DeadlineExceeded { op, sent: false });
        }
        let reserve = self.reserve(op, now);
        let accept = |slot: Instant| (admitted && slot <= now) || fits(slot, reserve, deadline);
        match limiter.book(now, accept) {
            Ok(slot) if slot <= now => Ok(None),
            Ok(slot) => Ok(Some(slot)),
            Err(retry_after) => Err(ProviderError::RateLimited { op, retry_after }),
        }
    }
}

/// Wraps a service in [`RateLimit`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    admission: Arc<Admission>,
}

impl RateLimitLayer {
    pub fn new(admission: Arc<Admission>) -> Self {
        RateLimitLayer { admission }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            admission: Arc::clone(&self.admission),
        }
    }
}

/// Calls the inner service only in a slot booked through [`Admission`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    admission: Arc<Admission>,
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
        let admission = Arc::clone(&self.admission);
        let booked = match request.lane() {
            Lane::Allocation => admission
                .book(&admission.account, op, deadline, false)
                .map(|slot| (slot, Turn::Account)),
            Lane::Read => admission
                .book(&admission.reads, op, deadline, false)
                .map(|slot| (slot, Turn::ReadShare)),
        };
        let state = match booked {
            // The read share's slot is now: book the account's at once.
            Ok((None, Turn::ReadShare)) => {
                match admission.book(&admission.account, op, deadline, true) {
                    Ok(slot) => start(&mut self.inner, slot, Turn::Account, request),
                    Err(error) => State::Failed { error: Some(error) },
                }
            }
            Ok((slot, turn)) => start(&mut self.inner, slot, turn, request),
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
        Some(at) => {
            let clone = inner.clone();
            let service = std::mem::replace(inner, clone);
            State::Waiting {
                sleep: tokio::time::sleep_until(at),
                turn,
                service: Some(service),
                request: Some(request),
            }
        }
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
            service: Option<S>,
            request: Option<R>,
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
                    turn,
                    service,
                    request,
                } => {
                    // The slot is booked: no one else can take it.
                    ready!(sleep.poll(cx));
                    let turn = *turn;
                    let (Some(mut service), Some(request)) = (service.take(), request.take())
                    else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    if turn == Turn::ReadShare {
                        match this.admission.book(
                            &this.admission.account,
                            *this.op,
                            *this.deadline,
                            true,
                        ) {
                            Ok(Some(at)) => {
                                this.state.set(State::Waiting {
                                    sleep: tokio::time::sleep_until(at),
                                    turn: Turn::Account,
                                    service: Some(service),
                                    request: Some(request),
                                });
                                continue;
                            }
                            Ok(None) => {}
                            Err(error) => return Poll::Ready(Err(error)),
                        }
                    }
                    let future = service.call(request);
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

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;
    use crate::middleware::testing::{ALLOCATE, READ, Scripted, Step, TestRequest, ok};

    /// The account's limiter alone: no read share, no reserve (a slot fits
    /// when it is no later than the deadline).
    fn limiter(rate: u32, burst: u32) -> Arc<Admission> {
        admission(rate, burst, 1.0, Duration::ZERO)
    }

    fn admission(rate: u32, burst: u32, read_share: f64, floor: Duration) -> Arc<Admission> {
        Arc::new(Admission::new(
            NonZeroU32::new(rate).unwrap(),
            NonZeroU32::new(burst).unwrap(),
            read_share,
            floor,
            Duration::from_secs(30),
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
                    assert!(retry_after >= Duration::from_secs(3), "{retry_after:?}");
                }
                (Err(other), _) => panic!("unexpected {other:?}"),
            }
        }
        // 5 at once, then one every 50 ms up to the 3 s deadline, the last
        // one excepted: the attempts have shown up to 1 ms (the first
        // bucket), which the slot at 3 s would not leave.
        assert_eq!(passed, 5 + 59);
        assert_eq!(refused, 200 - 64);
        assert_eq!(inner.calls(), 64);
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
        let limiter = limiter.account();
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

    #[test]
    fn the_admission_rule_leaves_the_reserve_before_the_deadline() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let deadline = Some(now + ms(1000));
        assert!(fits(now, ms(200), deadline));
        assert!(fits(now + ms(800), ms(200), deadline), "exactly fits");
        assert!(!fits(now + ms(801), ms(200), deadline));
        assert!(
            !fits(now, ms(1001), deadline),
            "the reserve alone is too long"
        );
        assert!(fits(now + ms(1000), Duration::ZERO, deadline));
        assert!(fits(now + Duration::from_secs(86_400), ms(200), None));
        assert!(!fits(now, Duration::MAX, deadline), "no overflow");
    }

    /// 100 attempts at once against 20/s with a burst of 20 and 2 s
    /// deadlines, with a 250 ms reserve: the ones whose slot leaves the
    /// reserve go (20 at once, then one every 50 ms up to 1.75 s), every
    /// other is refused at once with the time of its slot, and none is sent
    /// later than 250 ms before its deadline.
    #[tokio::test(start_paused = true)]
    async fn a_slot_is_kept_only_if_the_reserve_fits_before_the_deadline() {
        let inner = Scripted::always(ok());
        let reserve = Duration::from_millis(250);
        let service = RateLimitLayer::new(admission(20, 20, 1.0, reserve)).layer(inner.clone());
        let start = Instant::now();
        let deadline = Duration::from_secs(2);
        let mut tasks = Vec::new();
        for id in 0..100 {
            let request = TestRequest::new(ALLOCATE).id(id).deadline_in(deadline);
            let call = service.clone().oneshot(request);
            tasks.push(tokio::spawn(async move { (call.await, start.elapsed()) }));
        }
        let (mut sent, mut refused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (Ok(_), _) => sent += 1,
                (Err(ProviderError::RateLimited { retry_after, .. }), elapsed) => {
                    refused += 1;
                    assert_eq!(elapsed, Duration::ZERO, "refused at once");
                    assert!(
                        retry_after + reserve > deadline,
                        "the refused slot did not fit: {retry_after:?}"
                    );
                }
                (Err(other), _) => panic!("unexpected {other:?}"),
            }
        }
        // 20 at once, then slots at 50 ms .. 1750 ms.
        assert_eq!(sent, 20 + 35);
        assert_eq!(refused, 100 - 55);
        let latest = inner.seen().into_iter().map(|(_, at)| at - start).max();
        assert_eq!(latest, Some(deadline - reserve));
    }

    /// The reserve follows what the provider shows: after attempts that took
    /// 700 ms, an attempt with 500 ms left is refused at once instead of
    /// being sent to time out, while one with 2 s left still goes.
    #[tokio::test(start_paused = true)]
    async fn the_reserve_adapts_to_the_providers_latency() {
        let slow = Scripted::then_always(
            (0..20).map(|_| Step::After(Duration::from_millis(700), ok())),
            ok(),
        );
        let admission = admission(1000, 1000, 1.0, Duration::from_millis(10));
        let service = RateLimitLayer::new(Arc::clone(&admission)).layer(slow.clone());
        let request = || TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(500));
        assert!(
            service.clone().oneshot(request()).await.is_ok(),
            "the floor fits"
        );
        let mut tasks = Vec::new();
        for _ in 0..19 {
            tasks.push(tokio::spawn(
                service.clone().oneshot(TestRequest::new(ALLOCATE)),
            ));
        }
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        let reserve = admission.reserve(ALLOCATE, Instant::now());
        assert!(reserve >= Duration::from_millis(700), "{reserve:?}");
        // Reads have shown nothing yet: their reserve is still the floor.
        assert_eq!(
            admission.reserve(READ, Instant::now()),
            Duration::from_millis(10)
        );

        let start = Instant::now();
        let refused = service.clone().oneshot(request()).await;
        assert!(
            matches!(refused, Err(ProviderError::RateLimited { .. })),
            "{refused:?}"
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        let calls = slow.calls();
        let roomy = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(2));
        assert!(service.clone().oneshot(roomy).await.is_ok());
        assert_eq!(slow.calls(), calls + 1);
        // A minute later the slow attempts are forgotten.
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(
            admission.reserve(ALLOCATE, Instant::now()),
            Duration::from_millis(10)
        );
    }

    /// 300 reads without a deadline (open watches) queue on the read share
    /// (half of 10/s); allocations arriving meanwhile still get the other
    /// half at once: every allocation with a 1 s deadline goes through.
    #[tokio::test(start_paused = true)]
    async fn reads_cannot_starve_allocations() {
        let inner = Scripted::always(ok());
        let service =
            RateLimitLayer::new(admission(10, 10, 0.5, Duration::ZERO)).layer(inner.clone());
        let start = Instant::now();
        let mut reads = Vec::new();
        for id in 0..300 {
            let request = TestRequest::new(READ).lane(Lane::Read).id(id);
            reads.push(tokio::spawn(service.clone().oneshot(request)));
        }
        tokio::task::yield_now().await;
        // Five allocations per second for ten seconds, each with 1 s.
        let mut allocated = 0;
        for id in 0..50 {
            tokio::time::sleep_until(start + Duration::from_millis(200 * id)).await;
            let request = TestRequest::new(ALLOCATE)
                .id(1000 + id as u32)
                .deadline_in(Duration::from_secs(1));
            if service.clone().oneshot(request).await.is_ok() {
                allocated += 1;
            }
        }
        assert_eq!(allocated, 50, "every allocation got a slot");
        let reads_sent = inner.seen().iter().filter(|(id, _)| *id < 1000).count();
        // 5 at once (the read burst), then 5/s.
        let elapsed = start.elapsed().as_secs_f64();
        assert!(
            reads_sent as f64 <= 5.0 + 5.0 * elapsed + 1.0,
            "{reads_sent} reads in {elapsed} s"
        );
        assert!(reads_sent >= 45, "reads use their share: {reads_sent}");
        for task in reads {
            task.abort();
        }
    }

    /// A read that waited for the read share's slot still needs an account
    /// slot: it does not take one the allocations already booked, and with
    /// its deadline too close it is refused then, unsent.
    #[tokio::test(start_paused = true)]
    async fn a_read_books_the_account_after_its_share() {
        let inner = Scripted::always(ok());
        let admission = admission(10, 2, 0.5, Duration::ZERO);
        let service = RateLimitLayer::new(Arc::clone(&admission)).layer(inner.clone());
        // The read share (5/s, burst 1) is used; the next read slot is 200 ms
        // away.
        let read = || TestRequest::new(READ).lane(Lane::Read);
        assert!(service.clone().oneshot(read()).await.is_ok());
        // Allocations book the account's next slots (2 burst, then 100 ms
        // each) up to 500 ms.
        let mut allocations = Vec::new();
        for _ in 0..5 {
            allocations.push(tokio::spawn(
                service.clone().oneshot(TestRequest::new(ALLOCATE)),
            ));
        }
        tokio::task::yield_now().await;
        let start = Instant::now();
        let late = service
            .clone()
            .oneshot(read().deadline_in(Duration::from_millis(300)))
            .await;
        assert!(
            matches!(late, Err(ProviderError::RateLimited { .. })),
            "{late:?}"
        );
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(200),
            "refused at its turn"
        );
        for task in allocations {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(inner.calls(), 6, "the late read was not sent");
    }
}
