//! The health-only port (`server.health_listen`): its connections mark
//! their requests [`HealthPort`], and the routes at the bottom of the
//! inbound stack ([`ByListener`]) serve those `grpc.health.v1` alone, with
//! the same reporter as the API's listeners; any other method there is
//! UNIMPLEMENTED (tonic's answer for a service it does not serve). Every
//! other layer is the same on every listener.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::service::Routes;
use tower::Service;

/// The mark on the requests of the health-only port.
#[derive(Debug, Clone, Copy)]
pub struct HealthPort;

/// Every service, or health alone for requests marked [`HealthPort`].
#[derive(Clone)]
pub struct ByListener {
    pub all: Routes,
    pub health: Routes,
}

impl Service<http::Request<Body>> for ByListener {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = <Routes as Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both are ready together: tonic's routes are always ready.
        match Service::<http::Request<Body>>::poll_ready(&mut self.all, cx) {
            Poll::Ready(Ok(())) => Service::<http::Request<Body>>::poll_ready(&mut self.health, cx),
            other => other,
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.extensions().get::<HealthPort>().is_some() {
            self.health.call(request)
        } else {
            self.all.call(request)
        }
    }
}
