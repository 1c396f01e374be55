//! Streams end when the gateway stops.
//!
//! A server stream (`WatchAllocation`, `grpc.health.v1.Health/Watch`,
//! reflection) can stay open for an hour or forever, which would hold the
//! process long after SIGTERM (one watch with no deadline held it for the
//! life of the EIP: 600 s with a slow one). When [`Drain::stopping`] fires,
//! a response body of these methods that is waiting for its next message
//! ends instead with the trailers of UNAVAILABLE, ErrorInfo
//! `GATEWAY_SHUTTING_DOWN` and RetryInfo: the client re-opens it elsewhere
//! (or here, after the restart). A body with a frame ready is never cut, so
//! a message already produced is delivered first.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::body::Body;
use tower::{Layer, Service};

use super::drain::Drain;
use crate::api::error;

/// Methods whose responses are streams that may outlive a shutdown.
fn is_long_stream(path: &str) -> bool {
    path == "/ipalloc.v1.IpAllocation/WatchAllocation"
        || path == "/grpc.health.v1.Health/Watch"
        || path.starts_with("/grpc.reflection.")
}

#[derive(Clone, Debug)]
pub struct EndStreamsLayer {
    drain: Drain,
}

impl EndStreamsLayer {
    pub fn new(drain: Drain) -> Self {
        EndStreamsLayer { drain }
    }
}

impl<S> Layer<S> for EndStreamsLayer {
    type Service = EndStreams<S>;

    fn layer(&self, inner: S) -> EndStreams<S> {
        EndStreams {
            inner,
            drain: self.drain.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct EndStreams<S> {
    inner: S,
    drain: Drain,
}

impl<S> Service<http::Request<Body>> for EndStreams<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let long = is_long_stream(request.uri().path());
        let future = self.inner.call(request);
        if !long {
            return Box::pin(future);
        }
        let stopping = self.drain.stopping_owned();
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|inner| {
                Body::new(EndOnStop {
                    inner,
                    stopping: Box::pin(stopping),
                    ended: false,
                })
            }))
        })
    }
}

/// A response body that ends with UNAVAILABLE once the gateway stops.
struct EndOnStop {
    inner: Body,
    stopping: Pin<Box<WaitForCancellationFutureOwned>>,
    ended: bool,
}

impl HttpBody for EndOnStop {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if frame
                    .as_ref()
                    .is_none_or(|f| f.as_ref().is_ok_and(Frame::is_trailers))
                {
                    self.ended = true;
                }
                Poll::Ready(frame)
            }
            Poll::Pending => match self.stopping.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.ended = true;
                    Poll::Ready(Some(Ok(Frame::trailers(shutdown_trailers()))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn shutdown_trailers() -> HeaderMap {
    let status = error::shutting_down("this stream ended; open it again", None);
    let mut trailers = HeaderMap::new();
    if status.add_header(&mut trailers).is_err() {
        // Only a status whose details cannot be encoded fails here; fall
        // back to the bare code.
        trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
    }
    trailers
}
