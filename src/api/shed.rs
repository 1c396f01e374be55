//! Inbound load shedding: a server-wide cap on concurrent API calls. A call
//! over the cap is refused at once with UNAVAILABLE (nothing was done, retry
//! after a short delay) instead of queueing behind the others. Health checks
//! and reflection are never shed, so probes keep working under load.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use super::error::GATEWAY_DOMAIN;

/// Caps concurrent calls across every connection.
#[derive(Clone, Debug)]
pub struct LoadShedLayer {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl LoadShedLayer {
    pub fn new(max_concurrent: usize) -> Self {
        LoadShedLayer {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            limit: max_concurrent,
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> LoadShed<S> {
        LoadShed {
            inner,
            permits: Arc::clone(&self.permits),
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LoadShed<S> {
    inner: S,
    permits: Arc<Semaphore>,
    limit: usize,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<http::Request<B>> for LoadShed<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_exempt(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let future = self.inner.call(request);
                Box::pin(async move {
                    let response = future.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => {
                tracing::warn!(
                    limit = self.limit,
                    "shedding a call: concurrency cap reached"
                );
                let status = overloaded(self.limit);
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

/// UNAVAILABLE with ErrorInfo `GATEWAY_OVERLOADED` and a short RetryInfo.
pub fn overloaded(limit: usize) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "GATEWAY_OVERLOADED",
        GATEWAY_DOMAIN,
        HashMap::from([("maxConcurrentCalls".to_owned(), limit.to_string())]),
    );
    details.set_retry_info(Some(Duration::from_millis(100)));
    Status::with_error_details(
        Code::Unavailable,
        format!(
            "the gateway is at its limit of {limit} concurrent calls; nothing was done, retry shortly"
        ),
        details,
    )
}
