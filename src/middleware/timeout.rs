//! Per-attempt timeout: each attempt ends after `attempt_timeout` or at the
//! caller's deadline, whichever comes first.
//!
//! A timed-out attempt is reported as sent (we cannot know whether bytes
//! left): `DeadlineExceeded { sent: true }` when the deadline is what ran
//! out, otherwise a `Transport` error with `SendPhase::Sent` and
//! `timed_out`. An attempt whose deadline passed before it started (while
//! it waited for a token or a permit) is not sent at all.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Timeout};
use tower::Service;

use super::AttemptRequest;
use super::deadline::{Guard, GuardLayer};
use crate::provider::Operation;
use crate::provider::error::{ProviderError, SendPhase, TransportError};

/// Wraps a service in [`AttemptTimeout`].
pub type AttemptTimeoutLayer = GuardLayer<AttemptTimeout>;

impl AttemptTimeoutLayer {
    pub fn new(attempt_timeout: Duration) -> Self {
        GuardLayer(AttemptTimeout { attempt_timeout })
    }
}

/// Bounds every call of the inner service by time.
#[derive(Debug, Clone, Copy)]
pub struct AttemptTimeout {
    attempt_timeout: Duration,
}

/// Which limit bounds an attempt.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Attempt(Duration),
    Deadline,
}

impl<S: Service<R, Error = ProviderError>, R: AttemptRequest> Guard<S, R> for AttemptTimeout {
    type Future = ResponseFuture<S::Future>;

    fn call(&self, inner: &mut S, request: R, now: Instant) -> Self::Future {
        let op = request.operation();
        // The deadline (still ahead at `now`), when it comes before the
        // attempt timeout.
        let binding_deadline = request
            .deadline()
            .filter(|deadline| deadline.saturating_duration_since(now) <= self.attempt_timeout);
        let (bound, timeout) = match binding_deadline {
            Some(deadline) => (
                Bound::Deadline,
                tokio::time::timeout_at(deadline, inner.call(request)),
            ),
            None => (
                Bound::Attempt(self.attempt_timeout),
                // `timeout` (not `timeout_at`): it copes with huge durations.
                tokio::time::timeout(self.attempt_timeout, inner.call(request)),
            ),
        };
        ResponseFuture { op, bound, timeout }
    }
}

pin_project! {
    /// The attempt, bounded by time.
    pub struct ResponseFuture<F> {
        op: Operation,
        bound: Bound,
        #[pin]
        timeout: Timeout<F>,
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, ProviderError>>,
{
    type Output = Result<T, ProviderError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.timeout.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_elapsed)) => Poll::Ready(Err(timed_out(*this.op, *this.bound))),
        }
    }
}

fn timed_out(op: Operation, bound: Bound) -> ProviderError {
    match bound {
        Bound::Deadline => ProviderError::DeadlineExceeded { op, sent: true },
        Bound::Attempt(limit) => ProviderError::Transport(TransportError {
            op,
            // Conservative: we cannot know whether bytes left.
            phase: SendPhase::Sent,
            timed_out: true,
            detail: format!("attempt timed out after {limit:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::middleware::deadline::Guarded;
    use crate::middleware::testing::{ALLOCATE, READ, Scripted, Step, TestRequest, ok};

    const ATTEMPT: Duration = Duration::from_secs(30);

    fn service(inner: &Scripted) -> Guarded<AttemptTimeout, Scripted> {
        AttemptTimeoutLayer::new(ATTEMPT).layer(inner.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn attempt_timeout_is_a_sent_transport_timeout() {
        let inner = Scripted::new([Step::Hang]);
        let start = Instant::now();
        let error = service(&inner)
            .oneshot(TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(60)))
            .await
            .err();
        assert_eq!(start.elapsed(), ATTEMPT);
        assert_eq!(
            error,
            Some(ProviderError::Transport(TransportError {
                op: ALLOCATE,
                phase: SendPhase::Sent,
                timed_out: true,
                detail: "attempt timed out after 30s".into(),
            }))
        );
        assert_eq!(inner.calls(), 1);
        assert_eq!(inner.in_flight(), 0, "the timed-out attempt was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_means_the_attempt_timeout() {
        let inner = Scripted::new([Step::Hang]);
        let start = Instant::now();
        let error = service(&inner).oneshot(TestRequest::new(READ)).await.err();
        assert_eq!(start.elapsed(), ATTEMPT);
        assert!(matches!(
            error,
            Some(ProviderError::Transport(TransportError {
                phase: SendPhase::Sent,
                timed_out: true,
                ..
            }))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn nearer_deadline_is_deadline_exceeded_after_sending() {
        let inner = Scripted::new([Step::Hang]);
        let start = Instant::now();
        let error = service(&inner)
            .oneshot(TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(2)))
            .await
            .err();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(
            error,
            Some(ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: true
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_in_time_pass_through() {
        let slow_error = crate::middleware::testing::not_sent(READ);
        let inner = Scripted::new([
            Step::After(Duration::from_secs(29), ok()),
            Step::After(Duration::from_secs(1), Err(slow_error.clone())),
        ]);
        let mut service = service(&inner);
        let first = service
            .ready()
            .await
            .unwrap()
            .call(TestRequest::new(READ))
            .await;
        assert!(first.is_ok());
        let second = service
            .ready()
            .await
            .unwrap()
            .call(TestRequest::new(READ).deadline_in(Duration::from_secs(2)))
            .await;
        assert_eq!(second.err(), Some(slow_error));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_attempt_timeout_does_not_overflow() {
        let inner = Scripted::new([ok()]);
        let response = AttemptTimeoutLayer::new(Duration::MAX)
            .layer(inner)
            .oneshot(TestRequest::new(READ))
            .await;
        assert!(response.is_ok());
    }
}
