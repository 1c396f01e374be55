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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderMap;
use http_body::{Body as HttpBody, Frame};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::body::Body;

use super::body::{Hook, Hooked, Polled};
use super::drain::Drain;
use super::layer::{Around, GrpcService, ResponseFuture};
use crate::api::error;

/// Methods whose responses are streams that may outlive a shutdown.
fn is_long_stream(path: &str) -> bool {
    path == "/ipalloc.v1.IpAllocation/WatchAllocation"
        || path == "/grpc.health.v1.Health/Watch"
        || path.starts_with("/grpc.reflection.")
}

/// Ends the long streams when the gateway stops; the layer is
/// `AroundLayer(EndStreams::new(drain))`.
#[derive(Clone, Debug)]
pub struct EndStreams {
    drain: Drain,
}

impl EndStreams {
    pub fn new(drain: Drain) -> Self {
        EndStreams { drain }
    }
}

impl<S: GrpcService> Around<S, http::Request<Body>> for EndStreams {
    type Response = http::Response<Body>;
    type Future = ResponseFuture;

    fn call(&self, inner: &mut S, request: http::Request<Body>) -> ResponseFuture {
        let long = is_long_stream(request.uri().path());
        let future = inner.call(request);
        if !long {
            return Box::pin(future);
        }
        let stopping = self.drain.stopping_owned();
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|inner| {
                let hook = EndOnStop {
                    stopping: Box::pin(stopping),
                    ended: false,
                };
                Body::new(Hooked::new(inner, hook))
            }))
        })
    }
}

/// Ends a response body with UNAVAILABLE once the gateway stops.
struct EndOnStop {
    stopping: Pin<Box<WaitForCancellationFutureOwned>>,
    ended: bool,
}

impl Hook for EndOnStop {
    fn poll_frame(&mut self, inner: Pin<&mut Body>, cx: &mut Context<'_>) -> Polled {
        if self.ended {
            return Poll::Ready(None);
        }
        match inner.poll_frame(cx) {
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

    fn is_end_stream(&self, inner: &Body) -> bool {
        self.ended || inner.is_end_stream()
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
