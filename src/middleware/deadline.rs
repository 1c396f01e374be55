//! Fail fast on an expired deadline: a request whose deadline has already
//! passed gets `DeadlineExceeded { sent: false }` without reaching any
//! other layer, so it spends no retry budget, rate-limit token or permit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::AttemptRequest;
use crate::provider::Operation;
use crate::provider::error::ProviderError;

/// Wraps a service in [`Deadline`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner }
    }
}

/// Rejects requests whose deadline has passed; passes the rest through.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

impl<S, R> Service<R> for Deadline<S>
where
    S: Service<R, Error = ProviderError>,
    R: AttemptRequest,
{
    type Response = S::Response;
    type Error = ProviderError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        if request
            .deadline()
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            return ResponseFuture::Expired {
                op: request.operation(),
            };
        }
        ResponseFuture::Called {
            future: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The inner service's future, or the expired-deadline error.
    #[project = ResponseProj]
    pub enum ResponseFuture<F> {
        Expired { op: Operation },
        Called { #[pin] future: F },
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, ProviderError>>,
{
    type Output = Result<T, ProviderError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseProj::Expired { op } => Poll::Ready(Err(ProviderError::DeadlineExceeded {
                op: *op,
                sent: false,
            })),
            ResponseProj::Called { future } => future.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tower::ServiceExt;

    use super::*;
    use crate::middleware::testing::{ALLOCATE, Scripted, TestRequest, ok};

    #[tokio::test(start_paused = true)]
    async fn expired_deadline_fails_without_calling_inner() {
        let inner = Scripted::new([ok()]);
        let service = DeadlineLayer.layer(inner.clone());
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::ZERO);
        let error = service.oneshot(request).await.err();
        assert_eq!(
            error,
            Some(ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: false
            })
        );
        assert_eq!(inner.calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn live_or_absent_deadline_passes_through() {
        let inner = Scripted::new([ok(), ok()]);
        let mut service = DeadlineLayer.layer(inner.clone());
        for request in [
            TestRequest::new(ALLOCATE),
            TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(1)),
        ] {
            let response = service.ready().await.unwrap().call(request).await;
            assert!(response.is_ok());
        }
        assert_eq!(inner.calls(), 2);
    }
}
