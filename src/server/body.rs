//! Bodies that pass another body's frames through a [`Hook`]: the access
//! log's line at the end of a response, a stream ended when the gateway
//! stops, an open-stream count held until the body is dropped, a request
//! body replayed after it was read. One `http_body::Body` for all of them.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;

/// What polling a body for its next frame yields.
pub type Polled = Poll<Option<Result<Frame<Bytes>, tonic::Status>>>;

/// What a [`Hooked`] body does around its inner body; by default, nothing.
pub trait Hook: Send + Unpin + 'static {
    /// The next frame.
    fn poll_frame(&mut self, inner: Pin<&mut Body>, cx: &mut Context<'_>) -> Polled {
        inner.poll_frame(cx)
    }

    fn is_end_stream(&self, inner: &Body) -> bool {
        inner.is_end_stream()
    }

    fn size_hint(&self, inner: &Body) -> SizeHint {
        inner.size_hint()
    }
}

/// A body and its hook. The hook is dropped before the body.
pub struct Hooked<H> {
    hook: H,
    inner: Body,
}

impl<H: Hook> Hooked<H> {
    pub fn new(inner: Body, hook: H) -> Self {
        Hooked { hook, inner }
    }
}

impl<H: Hook> HttpBody for Hooked<H> {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        this.hook.poll_frame(Pin::new(&mut this.inner), cx)
    }

    fn is_end_stream(&self) -> bool {
        self.hook.is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> SizeHint {
        self.hook.size_hint(&self.inner)
    }
}
