//! A cap on the attempts in flight to one provider account: a semaphore
//! shared by every stack of the account, one permit held per attempt until
//! its answer arrives (or it is dropped). Waiting for a permit is bounded by
//! the request's deadline: when it passes first, the attempt fails with
//! `DeadlineExceeded { sent: false }`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::{Instant, Sleep};
use tower::Service;

use super::AttemptRequest;
use super::deadline::{Attempt, Finish, Guard, GuardLayer, Turn};
use crate::provider::Operation;
use crate::provider::error::ProviderError;

/// Wraps a service in [`Concurrency`].
pub type ConcurrencyLayer = GuardLayer<Concurrency>;

impl ConcurrencyLayer {
    pub fn new(semaphore: Arc<Semaphore>) -> Self {
        GuardLayer(Concurrency { semaphore })
    }
}

/// Calls the inner service only while holding a permit.
#[derive(Debug, Clone)]
pub struct Concurrency {
    semaphore: Arc<Semaphore>,
}

/// The wait for a permit; boxed because tokio's future has no name, and
/// only built when no permit is free.
type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

impl<S: Service<R, Error = ProviderError> + Clone, R: AttemptRequest> Guard<S, R> for Concurrency {
    type Future = Attempt<PermitWait, S, R, S::Future>;

    fn call(&self, inner: &mut S, request: R, _now: Instant) -> Self::Future {
        match Arc::clone(&self.semaphore).try_acquire_owned() {
            Ok(permit) => Attempt::called(inner, request, permit),
            Err(TryAcquireError::NoPermits) => {
                let wait = PermitWait {
                    op: request.operation(),
                    acquire: Box::pin(Arc::clone(&self.semaphore).acquire_owned()),
                    expiry: request.deadline().map(tokio::time::sleep_until),
                };
                Attempt::waiting(inner, request, wait)
            }
            Err(TryAcquireError::Closed) => Attempt::failed(closed()),
        }
    }
}

pin_project! {
    /// The wait for a permit, until the deadline.
    pub struct PermitWait {
        op: Operation,
        acquire: Acquire,
        #[pin]
        expiry: Option<Sleep>,
    }
}

impl Turn for PermitWait {
    type Token = OwnedSemaphorePermit;

    fn poll_turn(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Token, ProviderError>> {
        let this = self.project();
        match this.acquire.as_mut().poll(cx) {
            Poll::Ready(Ok(permit)) => Poll::Ready(Ok(permit)),
            Poll::Ready(Err(_closed)) => Poll::Ready(Err(closed())),
            Poll::Pending => {
                if let Some(expiry) = this.expiry.as_pin_mut() {
                    ready!(expiry.poll(cx));
                    let op = *this.op;
                    return Poll::Ready(Err(ProviderError::DeadlineExceeded { op, sent: false }));
                }
                Poll::Pending
            }
        }
    }
}

impl Finish for OwnedSemaphorePermit {
    /// Dropping the permit frees the slot as soon as the answer is in.
    fn finish<T>(self, _result: &Result<T, ProviderError>) {}
}

fn closed() -> ProviderError {
    ProviderError::Internal("the provider's in-flight limiter is closed".into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::middleware::deadline::Guarded;
    use crate::middleware::testing::{ALLOCATE, READ, Scripted, Step, TestRequest, ok};

    fn service(inner: &Scripted, permits: usize) -> Guarded<Concurrency, Scripted> {
        ConcurrencyLayer::new(Arc::new(Semaphore::new(permits))).layer(inner.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn cap_holds_and_every_call_completes() {
        let steps = (0..20).map(|_| Step::After(Duration::from_millis(100), ok()));
        let inner = Scripted::new(steps);
        let service = service(&inner, 3);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let service = service.clone();
            tasks.push(tokio::spawn(service.oneshot(TestRequest::new(READ))));
        }
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(inner.calls(), 20);
        assert_eq!(inner.max_in_flight(), 3);
        // 20 calls of 100 ms, 3 at a time: 7 rounds.
        assert_eq!(start.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn permit_wait_ends_at_the_deadline() {
        let inner = Scripted::new([Step::Hang, Step::Now(ok())]);
        let service = service(&inner, 1);
        let hanging = tokio::spawn(service.clone().oneshot(TestRequest::new(ALLOCATE)));
        tokio::task::yield_now().await;
        assert_eq!(inner.calls(), 1);

        let start = Instant::now();
        let error = service
            .oneshot(TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(200)))
            .await
            .err();
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        assert_eq!(
            error,
            Some(ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: false
            })
        );
        assert_eq!(inner.calls(), 1, "the waiting call never reached inner");
        hanging.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_an_attempt_frees_its_permit() {
        let inner = Scripted::new([Step::Hang, Step::Now(ok())]);
        let service = service(&inner, 1);
        let hung = tokio::time::timeout(
            Duration::from_secs(1),
            service.clone().oneshot(TestRequest::new(READ)),
        )
        .await;
        assert!(hung.is_err(), "the first attempt hangs until dropped");
        let start = Instant::now();
        let response = service
            .oneshot(TestRequest::new(READ).deadline_in(Duration::from_secs(1)))
            .await;
        assert!(response.is_ok());
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn waiter_without_deadline_gets_the_next_free_permit() {
        let inner = Scripted::new([Step::After(Duration::from_secs(3), ok()), Step::Now(ok())]);
        let service = service(&inner, 1);
        let first = tokio::spawn(service.clone().oneshot(TestRequest::new(READ)));
        tokio::task::yield_now().await;
        let start = Instant::now();
        assert!(service.oneshot(TestRequest::new(READ)).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert!(first.await.unwrap().is_ok());
    }
}
