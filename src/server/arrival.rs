//! A call starts only once its request message has arrived.
//!
//! HTTP/2 lets a client open a stream with its headers and never send the
//! body. Before this layer, such a stream entered the service (and took one
//! of the `server.max_concurrent_calls` slots) at its headers: 1,100 of them
//! on one connection shed every real call for as long as the connection
//! stayed open.
//!
//! This layer sits *outside* the load shedder: it reads the request body
//! first (every request of `ipalloc.v1.IpAllocation` and `grpc.health.v1` is
//! a single message) and calls the services below only when the body is
//! complete, so a slot is taken only by a call whose message arrived (one
//! that came with its headers, the usual case, is taken as it is: no timer,
//! no copy). A body that is not complete within
//! `server.request_body_timeout_ms` of the headers gets DEADLINE_EXCEEDED
//! with reason `REQUEST_BODY_TIMEOUT` (the stream then ends; nothing was
//! done). Reading stops at
//! `server.max_request_bytes` plus the 5-byte gRPC frame header: what comes
//! after is passed on unread, so tonic refuses an oversized message as it
//! always has. Reflection (a bidirectional stream) passes through untouched.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

use super::body::{Hook, Hooked, Polled};
use super::layer::HttpService;
use crate::api::error;

/// The gRPC length-prefixed message header: 1 flag byte, 4 length bytes.
const GRPC_FRAME_HEADER: usize = 5;

/// Buffers each request body (bounded in size and time) before the call.
#[derive(Clone, Debug)]
pub struct ArrivalLayer {
    timeout: Duration,
    max_bytes: usize,
}

impl ArrivalLayer {
    pub fn new(timeout: Duration, max_request_bytes: usize) -> Self {
        ArrivalLayer {
            timeout,
            max_bytes: max_request_bytes.saturating_add(GRPC_FRAME_HEADER),
        }
    }
}

impl<S> Layer<S> for ArrivalLayer {
    type Service = Arrival<S>;

    fn layer(&self, inner: S) -> Arrival<S> {
        Arrival {
            inner,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Arrival<S> {
    inner: S,
    timeout: Duration,
    max_bytes: usize,
}

/// Streaming requests are passed on as they come.
fn is_streaming_request(path: &str) -> bool {
    path.starts_with("/grpc.reflection.")
}

impl<S, R> Service<http::Request<Body>> for Arrival<S>
where
    S: HttpService<Body, Response = http::Response<R>, Error = Infallible> + Clone + Send + 'static,
    R: HttpBody<Data = Bytes> + Send + 'static,
    R::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is made ready (and called) once the body is in.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        if is_streaming_request(request.uri().path()) {
            return Box::pin(async move {
                let response = inner.oneshot(request).await?;
                Ok(response.map(Body::new))
            });
        }
        let (timeout, max_bytes) = (self.timeout, self.max_bytes);
        Box::pin(async move {
            let (parts, mut body) = request.into_parts();
            let arrived = {
                let reading = read(&mut body, max_bytes);
                tokio::pin!(reading);
                // Most messages come with their headers: no timer for those.
                let first = std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await;
                match first {
                    Poll::Ready(result) => Ok(result),
                    Poll::Pending => tokio::time::timeout(timeout, reading).await,
                }
            };
            let arrived = match arrived {
                Ok(Ok(arrived)) => arrived,
                Ok(Err(e)) => {
                    // The client reset the stream or the connection broke:
                    // nobody is left to read an answer.
                    tracing::debug!(error = %e, "request body failed before the call");
                    return Ok(e.into_http());
                }
                Err(_) => {
                    tracing::debug!(
                        method = parts.uri.path(),
                        timeout_ms = timeout.as_millis() as u64,
                        "request body did not arrive in time"
                    );
                    return Ok(error::request_body_timeout(timeout).into_http());
                }
            };
            let replay = Replay {
                data: Some(arrived.data).filter(|d| !d.is_empty()),
                trailers: arrived.trailers,
                rest: !arrived.complete,
            };
            // Without a rest, the inner body is never polled.
            let rest = if replay.rest { body } else { Body::empty() };
            let body = Body::new(Hooked::new(rest, replay));
            let response = inner
                .oneshot(http::Request::from_parts(parts, body))
                .await?;
            Ok(response.map(Body::new))
        })
    }
}

/// The chunks of a body read so far: a message that comes as one chunk
/// (the usual case) is kept as it is, copied only once a second comes.
#[derive(Default)]
struct Gathered {
    first: Option<Bytes>,
    rest: BytesMut,
}

impl Gathered {
    /// Adds `chunk`; answers how many bytes are held.
    fn push(&mut self, chunk: Bytes) -> usize {
        if self.first.is_none() && self.rest.is_empty() {
            let len = chunk.len();
            self.first = Some(chunk);
            return len;
        }
        if let Some(earlier) = self.first.take() {
            self.rest.extend_from_slice(&earlier);
        }
        self.rest.extend_from_slice(&chunk);
        self.rest.len()
    }

    fn freeze(self) -> Bytes {
        self.first.unwrap_or_else(|| self.rest.freeze())
    }
}

/// What was read of a request body.
struct Arrived {
    data: Bytes,
    trailers: Option<HeaderMap>,
    /// False when reading stopped at the size bound.
    complete: bool,
}

async fn read(body: &mut Body, max_bytes: usize) -> Result<Arrived, tonic::Status> {
    let mut data = Gathered::default();
    loop {
        match body.frame().await {
            None => {
                return Ok(Arrived {
                    data: data.freeze(),
                    trailers: None,
                    complete: true,
                });
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => {
                    if data.push(chunk) > max_bytes {
                        return Ok(Arrived {
                            data: data.freeze(),
                            trailers: None,
                            complete: false,
                        });
                    }
                }
                Err(frame) => {
                    return Ok(Arrived {
                        data: data.freeze(),
                        trailers: frame.into_trailers().ok(),
                        complete: true,
                    });
                }
            },
        }
    }
}

/// The body read so far, then (when reading stopped early) the rest: the
/// hook of the rest of the body (an empty one when it was read to the end).
struct Replay {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
    /// Whether the inner body still has a rest to pass on.
    rest: bool,
}

impl Hook for Replay {
    fn poll_frame(&mut self, inner: Pin<&mut Body>, cx: &mut Context<'_>) -> Polled {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if self.rest {
            return inner.poll_frame(cx);
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self, inner: &Body) -> bool {
        self.data.is_none() && self.trailers.is_none() && (!self.rest || inner.is_end_stream())
    }

    fn size_hint(&self, _inner: &Body) -> SizeHint {
        match (&self.data, self.rest) {
            (Some(data), false) => SizeHint::with_exact(data.len() as u64),
            (None, false) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_in_one_chunk_is_kept_as_it_came() {
        let chunk = Bytes::from(vec![7u8; 100]);
        let mut gathered = Gathered::default();
        assert_eq!(gathered.push(chunk.clone()), 100);
        let data = gathered.freeze();
        assert_eq!(data, chunk);
        assert_eq!(data.as_ptr(), chunk.as_ptr(), "not copied");
    }

    #[test]
    fn chunks_are_joined_in_order_and_counted() {
        let mut gathered = Gathered::default();
        assert_eq!(gathered.push(Bytes::from_static(b"ab")), 2);
        assert_eq!(gathered.push(Bytes::from_static(b"")), 2);
        assert_eq!(gathered.push(Bytes::from_static(b"cde")), 5);
        assert_eq!(gathered.freeze(), Bytes::from_static(b"abcde"));
        assert_eq!(Gathered::default().freeze(), Bytes::new());
    }

    /// A body whose message came with its headers, one in two chunks, and
    /// one over the bound: read whole, joined, and cut at the bound.
    #[tokio::test]
    async fn bodies_are_read_whole_or_up_to_the_bound() {
        let stream = |chunks: Vec<&'static [u8]>| {
            let frames = chunks
                .into_iter()
                .map(|c| Ok::<_, tonic::Status>(Frame::data(Bytes::from_static(c))));
            Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
                frames,
            )))
        };
        let mut one = stream(vec![b"hello"]);
        let arrived = read(&mut one, 64).await.unwrap();
        assert_eq!(
            (arrived.data.as_ref(), arrived.complete),
            (&b"hello"[..], true)
        );
        let mut two = stream(vec![b"hel", b"lo"]);
        let arrived = read(&mut two, 64).await.unwrap();
        assert_eq!(
            (arrived.data.as_ref(), arrived.complete),
            (&b"hello"[..], true)
        );
        let mut over = stream(vec![b"hel", b"lo", b"never read"]);
        let arrived = read(&mut over, 4).await.unwrap();
        assert_eq!(
            (arrived.data.as_ref(), arrived.complete),
            (&b"hello"[..], false)
        );
    }
}
