//! Test doubles for the middleware in isolation: a request type, a
//! scripted inner service that answers from a list and counts its calls
//! and the attempts in flight, and an in-process shared rate limiter that
//! can be cut off.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{AttemptRequest, SharedBooking, SharedRate, SharedRateError, SharedSlot};
use crate::provider::error::{ApiError, ProviderError, SendPhase, TransportError};
use crate::provider::http::HttpResponse;
use crate::provider::{Lane, Operation, ProviderKind};

pub const READ: Operation = Operation {
    name: "DescribeEipAddresses",
    mutating: false,
};

pub const ALLOCATE: Operation = Operation {
    name: "AllocateEipAddresses",
    mutating: true,
};

#[derive(Debug, Clone)]
pub struct TestRequest {
    pub op: Operation,
    pub deadline: Option<Instant>,
    pub lane: Lane,
    pub id: u32,
}

impl TestRequest {
    pub fn new(op: Operation) -> Self {
        TestRequest {
            op,
            deadline: None,
            lane: Lane::Allocation,
            id: 0,
        }
    }

    pub fn deadline_in(mut self, after: Duration) -> Self {
        self.deadline = Some(Instant::now() + after);
        self
    }

    pub fn lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    pub fn id(mut self, id: u32) -> Self {
        self.id = id;
        self
    }
}

impl AttemptRequest for TestRequest {
    fn operation(&self) -> Operation {
        self.op
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn lane(&self) -> Lane {
        self.lane
    }
}

pub type Answer = Result<HttpResponse, ProviderError>;

/// One scripted behaviour of the inner service.
pub enum Step {
    Now(Answer),
    After(Duration, Answer),
    Hang,
}

impl From<Answer> for Step {
    fn from(answer: Answer) -> Self {
        Step::Now(answer)
    }
}

/// An inner service answering from a script; once the script is empty it
/// repeats `then` (or fails with `Internal` when there is none).
#[derive(Clone)]
pub struct Scripted {
    state: Arc<State>,
}

struct State {
    script: Mutex<VecDeque<Step>>,
    then: Option<Answer>,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// (request id, time) of every call.
    seen: Mutex<Vec<(u32, Instant)>>,
}

impl Scripted {
    pub fn new<I, T>(steps: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Step>,
    {
        Self::build(steps.into_iter().map(Into::into).collect(), None)
    }

    /// Answers `answer` to every call.
    pub fn always(answer: Answer) -> Self {
        Self::build(VecDeque::new(), Some(answer))
    }

    /// Plays `steps`, then answers `answer` to every further call.
    pub fn then_always<I: IntoIterator<Item = Step>>(steps: I, answer: Answer) -> Self {
        Self::build(steps.into_iter().collect(), Some(answer))
    }

    fn build(script: VecDeque<Step>, then: Option<Answer>) -> Self {
        Scripted {
            state: Arc::new(State {
                script: Mutex::new(script),
                then,
                calls: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                seen: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<(u32, Instant)> {
        self.state.seen.lock().unwrap().clone()
    }
}

/// In every window of the paused clock between two calls `inner` saw, at
/// most `rate * seconds + burst` calls.
pub fn assert_within_rate(inner: &Scripted, rate: u32, burst: u32) {
    assert_within_rate_late(inner, rate, burst, Duration::ZERO);
}

/// [`assert_within_rate`] for calls that may each go up to `late` after
/// their slot: at most `rate * (seconds + late) + burst` in every window.
pub fn assert_within_rate_late(inner: &Scripted, rate: u32, burst: u32, late: Duration) {
    let mut times: Vec<Instant> = inner.seen().into_iter().map(|(_, at)| at).collect();
    times.sort();
    for (i, from) in times.iter().enumerate() {
        for (j, to) in times.iter().enumerate().skip(i) {
            let calls = (j - i + 1) as f64;
            let window = (*to - *from + late).as_secs_f64();
            assert!(
                calls <= f64::from(rate) * window + f64::from(burst),
                "{calls} calls in {window} s"
            );
        }
    }
}

/// Counts an attempt as in flight until its future finishes or is dropped.
struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl tower::Service<TestRequest> for Scripted {
    type Response = HttpResponse;
    type Error = ProviderError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: TestRequest) -> Self::Future {
        let state = &self.state;
        state.calls.fetch_add(1, Ordering::SeqCst);
        state
            .seen
            .lock()
            .unwrap()
            .push((request.id, Instant::now()));
        let now_in_flight = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state
            .max_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        let guard = InFlight(Arc::clone(state));
        let step = state.script.lock().unwrap().pop_front();
        let step = step.unwrap_or_else(|| match &state.then {
            Some(answer) => Step::Now(answer.clone()),
            None => Step::Now(Err(ProviderError::Internal("script exhausted".into()))),
        });
        Box::pin(async move {
            let _guard = guard;
            match step {
                Step::Now(answer) => answer,
                Step::After(delay, answer) => {
                    tokio::time::sleep(delay).await;
                    answer
                }
                Step::Hang => std::future::pending().await,
            }
        })
    }
}

pub fn ok() -> Answer {
    Ok(HttpResponse {
        status: 200,
        headers: Default::default(),
        body: Bytes::from_static(b"{}"),
    })
}

pub fn not_sent(op: Operation) -> ProviderError {
    ProviderError::Transport(TransportError {
        op,
        phase: SendPhase::NotSent,
        timed_out: false,
        detail: "connection refused".into(),
    })
}

pub fn sent(op: Operation, timed_out: bool) -> ProviderError {
    ProviderError::Transport(TransportError {
        op,
        phase: SendPhase::Sent,
        timed_out,
        detail: "no answer".into(),
    })
}

/// An error answer of a `kind` provider, classified by its table.
pub fn api(kind: ProviderKind, op: Operation, code: &str, http_status: u16) -> ProviderError {
    let error = ApiError::new(
        kind.error_table(),
        op,
        http_status,
        code.into(),
        "scripted".into(),
    );
    ProviderError::from(error.with_request_id(Some("req-1".into())))
}

pub fn throttled(op: Operation, retry_after: Option<Duration>) -> ProviderError {
    let error = ApiError::new(
        ProviderKind::Aliyun.error_table(),
        op,
        400,
        "Throttling.User".into(),
        "Request was denied due to user flow control.".into(),
    );
    ProviderError::from(
        error
            .with_request_id(Some("req-1".into()))
            .with_retry_after(retry_after),
    )
}

pub fn malformed(op: Operation, http_status: u16) -> ProviderError {
    ProviderError::MalformedResponse {
        op,
        http_status,
        detail: "an HTML page".into(),
        request_id: None,
    }
}

/// A [`SharedRate`] in this process, on tokio's clock: one GCRA per account
/// behind a mutex, as the database keeps them, booking after a way there
/// and answering after a way back (`round_trip` halved, or as set with
/// [`InProcessRate::with_ways`]). It answers as a database would, with the
/// slot known only between the booking's sending and its answer's
/// arrival. It can be made unreachable, and can claim to be usable when it
/// is not.
#[derive(Debug, Clone, Default)]
pub struct InProcessRate {
    state: Arc<Mutex<RateState>>,
    /// The way there of successive bookings, in turn (empty: none).
    there: Arc<Vec<Duration>>,
    back: Duration,
}

#[derive(Debug, Default)]
struct RateState {
    /// The theoretical arrival time of each account's next request.
    tats: HashMap<String, Instant>,
    unreachable: bool,
    /// `usable()` says true while unreachable.
    claims_usable: bool,
    asked: usize,
    booked: usize,
}

impl InProcessRate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Books `round_trip / 2` after being asked, answers `round_trip` after.
    pub fn with_round_trip(round_trip: Duration) -> Self {
        let half = round_trip / 2;
        Self::with_ways(&[half], round_trip - half)
    }

    /// The n-th booking reaches the state `there[n % len]` after being
    /// asked (a wait for a pooled connection, a slow network), and its
    /// answer comes `back` after that.
    pub fn with_ways(there: &[Duration], back: Duration) -> Self {
        InProcessRate {
            there: Arc::new(there.to_vec()),
            back,
            ..Self::default()
        }
    }

    /// Cuts the shared state off (bookings fail, `usable()` is false), or
    /// brings it back.
    pub fn set_unreachable(&self, unreachable: bool) {
        let mut state = self.state.lock().unwrap();
        state.unreachable = unreachable;
        state.claims_usable = false;
    }

    /// While unreachable, `usable()` still says true (it answered recently).
    pub fn claim_usable(&self) {
        self.state.lock().unwrap().claims_usable = true;
    }

    /// Bookings asked for, answered or not.
    pub fn asked(&self) -> usize {
        self.state.lock().unwrap().asked
    }

    /// Slots booked.
    pub fn booked(&self) -> usize {
        self.state.lock().unwrap().booked
    }

    /// Books at the moment the booking arrives: the delay is counted from
    /// then, as PostgreSQL counts it from the statement's start.
    fn book_now(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> Result<Result<Duration, Duration>, SharedRateError> {
        let mut state = self.state.lock().unwrap();
        if state.unreachable {
            return Err(SharedRateError("connection refused".into()));
        }
        let now = Instant::now();
        let tat = *state.tats.get(account).unwrap_or(&now);
        let base = tat.max(now);
        let slot = base
            .checked_sub(tolerance)
            .map_or(now, |earliest| earliest.max(now));
        let delay = slot.saturating_duration_since(now);
        if max_delay.is_some_and(|max| delay > max) {
            return Ok(Err(delay));
        }
        state.tats.insert(account.to_owned(), base + interval);
        state.booked += 1;
        Ok(Ok(delay))
    }
}

/// The slot of one booking alone, as a database's answer places it: sent
/// at `sent`, answered at `arrived`, the slot `delay` after a moment
/// between them.
fn placed(sent: Instant, arrived: Instant, delay: Duration) -> Option<SharedSlot> {
    Some(SharedSlot {
        earliest: sent.checked_add(delay)?,
        latest: arrived.max(sent).checked_add(delay)?,
    })
}

impl SharedRate for InProcessRate {
    fn book(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> BoxFuture<'static, Result<SharedBooking, SharedRateError>> {
        let n = {
            let mut state = self.state.lock().unwrap();
            state.asked += 1;
            state.asked - 1
        };
        let there = match self.there.len() {
            0 => Duration::ZERO,
            len => self.there[n % len],
        };
        let this = self.clone();
        let account = account.to_owned();
        let sent = Instant::now();
        Box::pin(async move {
            if !there.is_zero() {
                tokio::time::sleep(there).await;
            }
            let answer = this.book_now(&account, interval, tolerance, max_delay);
            if !this.back.is_zero() {
                tokio::time::sleep(this.back).await;
            }
            let arrived = Instant::now();
            Ok(match answer? {
                Ok(delay) => placed(sent, arrived, delay).ok_or(delay),
                Err(wait) => Err(wait),
            })
        })
    }

    fn usable(&self) -> bool {
        let state = self.state.lock().unwrap();
        !state.unreachable || state.claims_usable
    }
}
