//! A panic in a handler becomes a gRPC status, not a reset stream: INTERNAL
//! `GATEWAY_INTERNAL` with its ErrorInfo, logged once. Without this layer a
//! panicking handler resets the caller's stream with no status at all.
//!
//! It covers what runs inside the call's future. The allocation flow and
//! `WatchAllocation` also run work in tasks of their own; those catch their
//! own panics (`allocate`, `follow`), because an allocation's record and
//! answer must survive one.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

use super::error;
use crate::server::layer::{Around, BoxFuture, HttpService};

/// Answers INTERNAL when the inner service panics; the layer is
/// `AroundLayer(CatchPanic)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanic;

impl<S: HttpService<B, Response = http::Response<R>>, B, R: Default + Send + 'static>
    Around<S, http::Request<B>> for CatchPanic
{
    type Response = http::Response<R>;
    type Future = BoxFuture<Result<http::Response<R>, S::Error>>;

    fn call(&self, inner: &mut S, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        // A panic while the inner service builds its future counts too.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(request))) {
            Ok(future) => future,
            Err(panic) => return Box::pin(async move { Ok(answer(&path, &*panic)) }),
        };
        Box::pin(async move {
            match AssertUnwindSafe(future).catch_unwind().await {
                Ok(response) => response,
                Err(panic) => Ok(answer(&path, &*panic)),
            }
        })
    }
}

fn answer<R: Default>(path: &str, panic: &(dyn std::any::Any + Send)) -> http::Response<R> {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    tracing::error!(method = %path, panic = %message, "a handler panicked");
    error::internal(None, "the gateway failed while handling this call").into_http::<R>()
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::server::layer::AroundLayer;

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_with_error_info() {
        let panicking = tower::service_fn(|_: http::Request<()>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
        });
        let response = AroundLayer(CatchPanic)
            .layer(panicking)
            .oneshot(http::Request::new(()))
            .await
            .unwrap();
        let status = tonic::Status::from_header_map(response.headers()).expect("a gRPC status");
        assert_eq!(status.code(), tonic::Code::Internal);
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "GATEWAY_INTERNAL");
        assert!(
            !status.message().contains("handler bug"),
            "no internals to the caller"
        );
    }

    #[tokio::test]
    async fn a_healthy_handler_is_untouched() {
        let fine = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
        });
        let response = AroundLayer(CatchPanic)
            .layer(fine)
            .oneshot(http::Request::new(()))
            .await
            .unwrap();
        assert!(tonic::Status::from_header_map(response.headers()).is_none());
    }
}
