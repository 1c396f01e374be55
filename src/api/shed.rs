//! Inbound load shedding: a server-wide cap on concurrent API calls. A call
//! over the cap is refused at once with UNAVAILABLE (nothing was done, retry
//! after a short delay) instead of queueing behind the others. Health checks
//! and reflection are never shed, so probes keep working under load.
//!
//! A call holds its slot until its response body has ended, not just until
//! the response headers go out: a `WatchAllocation` stream counts against
//! the cap for as long as it streams (and a client that resets it frees the
//! slot, since the body is dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error;
use crate::server::layer::{Around, BoxFuture, HttpService};

/// Caps concurrent calls across every connection; the layer is
/// `AroundLayer(LoadShed::new(max_concurrent))`.
#[derive(Clone, Debug)]
pub struct LoadShed {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl LoadShed {
    pub fn new(max_concurrent: usize) -> Self {
        LoadShed {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            limit: max_concurrent,
        }
    }
}

impl<S: HttpService<B, Response = http::Response<R>>, B, R: Default + Send + 'static>
    Around<S, http::Request<B>> for LoadShed
{
    type Response = http::Response<PermitBody<R>>;
    type Future = BoxFuture<Result<http::Response<PermitBody<R>>, S::Error>>;

    fn call(&self, inner: &mut S, request: http::Request<B>) -> Self::Future {
        if is_exempt(request.uri().path()) {
            let future = inner.call(request);
            return Box::pin(async move {
                let response = future.await?;
                Ok(response.map(|body| PermitBody::new(body, None)))
            });
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let future = inner.call(request);
                Box::pin(async move {
                    // An error drops the permit with the future.
                    let response = future.await?;
                    Ok(response.map(|body| PermitBody::new(body, Some(permit))))
                })
            }
            Err(_) => {
                tracing::warn!(
                    limit = self.limit,
                    "shedding a call: concurrency cap reached"
                );
                let status = error::overloaded(self.limit);
                Box::pin(async move {
                    Ok(status
                        .into_http::<R>()
                        .map(|body| PermitBody::new(body, None)))
                })
            }
        }
    }
}

fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

pin_project! {
    /// A response body that holds the call's slot until it ends.
    pub struct PermitBody<B> {
        #[pin]
        inner: B,
        permit: Option<OwnedSemaphorePermit>,
    }
}

/// An empty body holding no slot (for answers made outside the cap, such
/// as the front door's refusals).
impl<B: Default> Default for PermitBody<B> {
    fn default() -> Self {
        PermitBody::new(B::default(), None)
    }
}

impl<B> PermitBody<B> {
    fn new(inner: B, permit: Option<OwnedSemaphorePermit>) -> Self {
        PermitBody { inner, permit }
    }
}

impl<B: Body> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = polled {
            // The body (trailers included) is complete: free the slot now,
            // not whenever the connection drops the body.
            this.permit.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
