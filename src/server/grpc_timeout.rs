//! The caller's `grpc-timeout` as a backstop around each call's response
//! (what tonic's own server did before the gateway ran its own accept
//! loop): a call that has not produced its response headers by then is
//! answered CANCELLED "Timeout expired". The handlers answer earlier with
//! the meaningful status (`api::deadline` gives them a deadline a little
//! before the caller's); this only bounds a call that would not.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::{Layer, Service};

use crate::api::deadline::{GRPC_TIMEOUT, parse_grpc_timeout};

#[derive(Clone, Debug, Default)]
pub struct GrpcTimeoutLayer;

impl<S> Layer<S> for GrpcTimeoutLayer {
    type Service = GrpcTimeout<S>;

    fn layer(&self, inner: S) -> GrpcTimeout<S> {
        GrpcTimeout { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcTimeout<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for GrpcTimeout<S>
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
        let timeout = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        let future = self.inner.call(request);
        match timeout {
            None => Box::pin(future),
            Some(timeout) => Box::pin(async move {
                match tokio::time::timeout(timeout, future).await {
                    Ok(response) => response,
                    Err(_) => Ok(crate::api::error::timeout_expired(timeout).into_http()),
                }
            }),
        }
    }
}
