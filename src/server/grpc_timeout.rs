//! The caller's `grpc-timeout` as a backstop around each call's response
//! (what tonic's own server did before the gateway ran its own accept
//! loop): a call that has not produced its response headers by then is
//! answered CANCELLED "Timeout expired". The handlers answer earlier with
//! the meaningful status (`api::deadline` gives them a deadline a little
//! before the caller's); this only bounds a call that would not.

use tonic::body::Body;

use super::layer::{Around, GrpcService, ResponseFuture};
use crate::api::deadline::{GRPC_TIMEOUT, parse_grpc_timeout};

/// Answers a call whose response headers are not there by its
/// `grpc-timeout`; the layer is `AroundLayer(GrpcTimeout)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcTimeout;

impl<S: GrpcService> Around<S, http::Request<Body>> for GrpcTimeout {
    type Response = http::Response<Body>;
    type Future = ResponseFuture;

    fn call(&self, inner: &mut S, request: http::Request<Body>) -> ResponseFuture {
        let timeout = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        let future = inner.call(request);
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
