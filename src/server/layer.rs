//! The shape every layer of the inbound stack shares (the access log, the
//! shutdown of long streams, the `grpc-timeout` backstop, the load shedder,
//! the panic guard): a value saying what happens around each call
//! ([`Around`]), made a tower layer by [`AroundLayer`] and a service by
//! [`AroundService`], which passes readiness through to the service inside.
//! The bodies these layers put around responses are in `body`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::{Layer, Service};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The future of a call through a [`GrpcService`].
pub type ResponseFuture = BoxFuture<Result<http::Response<Body>, Infallible>>;

/// What the layers of the gRPC server wrap: an HTTP service of tonic bodies
/// that never fails (an error is a status in the response).
pub trait GrpcService:
    Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    >
{
}

impl<S> GrpcService for S where
    S: Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        >
{
}

/// An HTTP service of any bodies whose future and error can be boxed
/// (`HttpService<B, Response = http::Response<R>>`).
pub trait HttpService<B>:
    Service<http::Request<B>, Future: Send + 'static, Error: Send + 'static>
{
}

impl<S, B> HttpService<B> for S where
    S: Service<http::Request<B>, Future: Send + 'static, Error: Send + 'static>
{
}

/// What one layer does with a call: looks at the request, calls `inner`
/// (which is ready) or answers itself, and may wrap the future or the
/// response.
pub trait Around<S: Service<Req>, Req>: Clone {
    type Response;
    type Future: Future<Output = Result<Self::Response, S::Error>>;

    fn call(&self, inner: &mut S, request: Req) -> Self::Future;
}

/// The tower layer of an [`Around`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AroundLayer<A>(pub A);

impl<A: Clone, S> Layer<S> for AroundLayer<A> {
    type Service = AroundService<A, S>;

    fn layer(&self, inner: S) -> AroundService<A, S> {
        AroundService {
            around: self.0.clone(),
            inner,
        }
    }
}

/// `inner` with an [`Around`] on every call.
#[derive(Clone, Debug)]
pub struct AroundService<A, S> {
    around: A,
    inner: S,
}

impl<A, S, Req> Service<Req> for AroundService<A, S>
where
    S: Service<Req>,
    A: Around<S, Req>,
{
    type Response = A::Response;
    type Error = S::Error;
    type Future = A::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> A::Future {
        self.around.call(&mut self.inner, request)
    }
}
