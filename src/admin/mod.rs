//! The admin listener (`[admin] listen`, default `127.0.0.1:9464`): plain
//! HTTP/1.1 for the operator's tools, apart from the gRPC API.
//!
//! - `GET /metrics`: every metric ([`metrics`]), Prometheus text format;
//! - `GET /live`: 200 while the process serves (the liveness probe);
//! - `GET /ready`: 200 when the gateway should get traffic, else 503 with
//!   the reason ([`ready`]).
//!
//! Bounded like the main server: only these paths (404 otherwise), only
//! GET (405), no request body read, request headers within 16 KiB and
//! [`HEADER_TIMEOUT`], at most [`MAX_CONNECTIONS`] connections (more are
//! closed at once), each closed after [`CONNECTION_LIFETIME`]. It keeps
//! serving through the drain period, so probes see `/ready` turn 503, and
//! stops when the gateway has stopped ([`AdminServer::stop`]).
//!
//! `metrics.rs` holds the registry and the server-wide families,
//! `account.rs` the per-account ones, `ready.rs` readiness.

mod account;
pub mod metrics;
pub mod ready;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use account::{AccountMetrics, Reconciled, attempt_outcome};
pub use metrics::Metrics;
pub use ready::{NotReady, Readiness};

/// Connections served at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest life of one connection (a scraper reconnects).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long a closing connection may take to finish its answer.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// hyper's read buffer, which bounds a request's headers (its minimum is
/// 8 KiB).
const MAX_BUFFER_BYTES: usize = 16 * 1024;

/// Why the admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen on {address} ([admin] listen): {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the handlers answer from.
struct State {
    metrics: &'static Metrics,
    readiness: Readiness,
}

/// The running admin listener; [`AdminServer::stop`] ends it (dropping it
/// does too, without waiting).
pub struct AdminServer {
    address: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    /// Binds `address` and serves [`Metrics::global`] and `readiness`.
    pub async fn bind(
        address: SocketAddr,
        readiness: Readiness,
    ) -> Result<AdminServer, AdminError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| AdminError::Bind { address, source })?;
        AdminServer::serve(listener, Metrics::global(), readiness)
            .map_err(|source| AdminError::Bind { address, source })
    }

    /// [`AdminServer::bind`] when `[admin] listen` is set; `None` when it
    /// is turned off.
    pub async fn start(
        listen: Option<SocketAddr>,
        readiness: Readiness,
    ) -> Result<Option<AdminServer>, AdminError> {
        let Some(address) = listen else {
            return Ok(None);
        };
        let server = AdminServer::bind(address, readiness).await?;
        tracing::info!(address = %server.address(), "admin listening: /metrics, /live, /ready");
        Ok(Some(server))
    }

    /// Serves `metrics` and `readiness` on `listener`.
    pub fn serve(
        listener: TcpListener,
        metrics: &'static Metrics,
        readiness: Readiness,
    ) -> std::io::Result<AdminServer> {
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let state = Arc::new(State { metrics, readiness });
        let task = tokio::spawn(accept(listener, state, stop.clone()));
        Ok(AdminServer {
            address,
            stop,
            task,
        })
    }

    /// Where it listens (the port chosen, for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, lets the answers being written finish (briefly),
    /// and returns once every connection is closed.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Err(e) = (&mut self.task).await {
            tracing::warn!(error = %e, "the admin listener failed");
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Accepts connections until `stop`, then waits for the open ones.
async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: the gRPC side logs and
                // backs off the same way; a probe retries.
                tracing::debug!(error = %e, "admin listener: accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    () = stop.cancelled() => break,
                }
            }
        };
        // Over the cap: dropped, so closed at once.
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let (state, stop) = (Arc::clone(&state), stop.clone());
        connections.spawn(async move {
            connection(stream, state, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One connection: HTTP/1.1 with keep-alive, within its lifetime.
async fn connection(stream: TcpStream, state: Arc<State>, stop: CancellationToken) {
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(answer(&request, &state)) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUFFER_BYTES);
    let served = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => return,
        () = tokio::time::sleep(CONNECTION_LIFETIME) => {}
        () = stop.cancelled() => {}
    }
    served.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, served).await;
}

/// The answer to one request.
fn answer(request: &Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/live" | "/ready") {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /live or /ready\n",
        );
    }
    if request.method() != Method::GET {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        return response;
    }
    match path {
        "/metrics" => match state.metrics.encode() {
            Ok(body) => {
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(metrics::CONTENT_TYPE),
                );
                response
            }
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            ),
        },
        "/live" => text(StatusCode::OK, "live\n"),
        _ => match state.readiness.check() {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        },
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
