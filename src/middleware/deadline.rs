//! The caller's deadline in the stack, and the shape of every layer that
//! applies it.
//!
//! Every layer refuses an attempt whose deadline has already passed with
//! `DeadlineExceeded { sent: false }` before it does anything else, so such
//! an attempt spends no retry budget, rate-limit slot or permit, and is
//! never sent. [`Guarded`] applies that rule and then what the layer itself
//! does (its [`Guard`]); [`DeadlineLayer`], the outermost layer, applies the
//! rule alone, so an expired request fails without reaching any other layer.
//! The layers that send an attempt only once its turn has come (a permit, a
//! slot) answer with an [`Attempt`], which waits for their [`Turn`] holding
//! the ready service and the request, then sends it holding the turn's
//! token until the answer is in.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::AttemptRequest;
use crate::provider::Operation;
use crate::provider::error::ProviderError;

/// The rule: an attempt of `op` whose `deadline` has passed at `now` fails,
/// unsent.
pub(super) fn check(
    op: Operation,
    deadline: Option<Instant>,
    now: Instant,
) -> Result<(), ProviderError> {
    match deadline {
        Some(deadline) if deadline <= now => {
            Err(ProviderError::DeadlineExceeded { op, sent: false })
        }
        _ => Ok(()),
    }
}

/// What one layer does with an attempt whose deadline had not passed at
/// `now`.
pub trait Guard<S: Service<R>, R>: Clone {
    type Future: Future<Output = Result<S::Response, ProviderError>>;

    fn call(&self, inner: &mut S, request: R, now: Instant) -> Self::Future;
}

/// The tower layer of a [`Guard`].
#[derive(Debug, Clone, Copy)]
pub struct GuardLayer<G>(pub(super) G);

impl<G: Clone, S> Layer<S> for GuardLayer<G> {
    type Service = Guarded<G, S>;

    fn layer(&self, inner: S) -> Guarded<G, S> {
        Guarded {
            guard: self.0.clone(),
            inner,
        }
    }
}

/// `inner` behind the deadline rule and a [`Guard`].
#[derive(Debug, Clone)]
pub struct Guarded<G, S> {
    guard: G,
    inner: S,
}

impl<G, S, R> Service<R> for Guarded<G, S>
where
    S: Service<R, Error = ProviderError>,
    G: Guard<S, R>,
    R: AttemptRequest,
{
    type Response = S::Response;
    type Error = ProviderError;
    type Future = ResponseFuture<G::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let now = Instant::now();
        match check(request.operation(), request.deadline(), now) {
            Ok(()) => ResponseFuture::Called {
                future: self.guard.call(&mut self.inner, request, now),
            },
            Err(error) => ResponseFuture::Expired { error: Some(error) },
        }
    }
}

pin_project! {
    /// The guard's future, or the expired-deadline error.
    #[project = ResponseProj]
    pub enum ResponseFuture<F> {
        Expired { error: Option<ProviderError> },
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
            ResponseProj::Expired { error } => {
                Poll::Ready(Err(error.take().unwrap_or_else(|| {
                    ProviderError::Internal("deadline future polled after completion".into())
                })))
            }
            ResponseProj::Called { future } => future.poll(cx),
        }
    }
}

/// The deadline rule alone: rejects requests whose deadline has passed and
/// passes the rest through.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Guarded<PassThrough, S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardLayer(PassThrough).layer(inner)
    }
}

/// The guard that calls the inner service at once.
#[derive(Debug, Clone, Copy)]
pub struct PassThrough;

impl<S: Service<R, Error = ProviderError>, R> Guard<S, R> for PassThrough {
    type Future = S::Future;

    fn call(&self, inner: &mut S, request: R, _now: Instant) -> S::Future {
        inner.call(request)
    }
}

/// The ready service and its request, held while the attempt waits for its
/// turn. The service was polled ready, so it is the one that may be called;
/// a clone of it stays in the layer.
struct Held<S, R> {
    service: Option<S>,
    request: Option<R>,
}

impl<S: Service<R> + Clone, R> Held<S, R> {
    fn new(inner: &mut S, request: R) -> Self {
        let clone = inner.clone();
        Held {
            service: Some(std::mem::replace(inner, clone)),
            request: Some(request),
        }
    }

    /// Calls the held service with the held request; `None` when it was
    /// called before.
    fn call(&mut self) -> Option<S::Future> {
        let (Some(mut service), Some(request)) = (self.service.take(), self.request.take()) else {
            return None;
        };
        Some(service.call(request))
    }
}

/// What an attempt waits for before it is sent (a permit, a slot); what it
/// gets is held until the answer is in.
pub trait Turn {
    type Token: Finish;

    fn poll_turn(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Token, ProviderError>>;
}

/// What a [`Turn`]'s token does once the attempt's answer is in.
pub trait Finish {
    fn finish<T>(self, result: &Result<T, ProviderError>);
}

pin_project! {
    /// An attempt that is refused, waits for its [`Turn`], or runs holding
    /// the turn's token.
    #[project = AttemptProj]
    pub enum Attempt<W: Turn, S, R, F> {
        Failed { error: Option<ProviderError> },
        Waiting {
            #[pin]
            turn: W,
            held: Held<S, R>,
        },
        Called {
            #[pin]
            future: F,
            token: Option<W::Token>,
        },
    }
}

impl<W: Turn, S: Service<R> + Clone, R> Attempt<W, S, R, S::Future> {
    /// Refused before anything was sent.
    pub(super) fn failed(error: ProviderError) -> Self {
        Attempt::Failed { error: Some(error) }
    }

    /// Sent now, holding `token`.
    pub(super) fn called(inner: &mut S, request: R, token: W::Token) -> Self {
        Attempt::Called {
            future: inner.call(request),
            token: Some(token),
        }
    }

    /// Sent once its `turn` comes.
    pub(super) fn waiting(inner: &mut S, request: R, turn: W) -> Self {
        Attempt::Waiting {
            turn,
            held: Held::new(inner, request),
        }
    }
}

impl<W, S, R, F, T> Future for Attempt<W, S, R, F>
where
    W: Turn,
    S: Service<R, Future = F, Error = ProviderError> + Clone,
    F: Future<Output = Result<T, ProviderError>>,
{
    type Output = Result<T, ProviderError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                AttemptProj::Failed { error } => {
                    return Poll::Ready(Err(error.take().unwrap_or_else(polled_after_completion)));
                }
                AttemptProj::Waiting { turn, held } => {
                    let token = match ready!(turn.poll_turn(cx)) {
                        Ok(token) => token,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    let Some(future) = held.call() else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    self.set(Attempt::Called {
                        future,
                        token: Some(token),
                    });
                }
                AttemptProj::Called { future, token } => {
                    let result = ready!(future.poll(cx));
                    if let Some(token) = token.take() {
                        token.finish(&result);
                    }
                    return Poll::Ready(result);
                }
            }
        }
    }
}

fn polled_after_completion() -> ProviderError {
    ProviderError::Internal("attempt future polled after completion".into())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::Semaphore;
    use tower::ServiceExt;

    use super::*;
    use crate::middleware::concurrency::ConcurrencyLayer;
    use crate::middleware::rate_limit::{Admission, RateLimitLayer};
    use crate::middleware::testing::{ALLOCATE, Scripted, TestRequest, ok};
    use crate::middleware::timeout::AttemptTimeoutLayer;

    /// What a passed deadline does to an attempt through `layer`: its error,
    /// and how often the inner service was called.
    async fn with_passed_deadline<L>(layer: L) -> (Option<ProviderError>, usize)
    where
        L: Layer<Scripted>,
        L::Service: Service<TestRequest, Error = ProviderError>,
    {
        let inner = Scripted::new([ok()]);
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::ZERO);
        let error = layer.layer(inner.clone()).oneshot(request).await.err();
        (error, inner.calls())
    }

    /// Every layer refuses an attempt whose deadline passed at once: it is
    /// not sent, waits for nothing, and takes no permit or slot.
    #[tokio::test(start_paused = true)]
    async fn every_layer_refuses_a_passed_deadline_unsent() {
        let unsent = ProviderError::DeadlineExceeded {
            op: ALLOCATE,
            sent: false,
        };
        let refused = (Some(unsent), 0);
        assert_eq!(with_passed_deadline(DeadlineLayer).await, refused);
        let permits = Arc::new(Semaphore::new(1));
        let concurrency = ConcurrencyLayer::new(Arc::clone(&permits));
        assert_eq!(with_passed_deadline(concurrency).await, refused);
        assert_eq!(permits.available_permits(), 1);
        let timeout = AttemptTimeoutLayer::new(Duration::from_secs(30));
        assert_eq!(with_passed_deadline(timeout).await, refused);
        let admission = Arc::new(Admission::new(
            NonZeroU32::MIN,
            NonZeroU32::MIN,
            1.0,
            Duration::ZERO,
            Duration::from_secs(30),
        ));
        let rate_limit = RateLimitLayer::new(Arc::clone(&admission));
        assert_eq!(with_passed_deadline(rate_limit).await, refused);
        assert!(
            admission.account().available_now(),
            "the slot is still free"
        );
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
