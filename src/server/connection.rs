//! One accepted connection, from the first byte to the close.
//!
//! - **Handshake timeout**: the HTTP/2 preface must arrive within
//!   `server.handshake_timeout_ms` ([`super::preface`]).
//! - **HTTP/2 settings** (stream limit, keepalive pings): [`super::http2`].
//! - **Idle timeout**: a connection with no open stream for
//!   `server.idle_timeout_ms` gets a GOAWAY and is closed. Streams are
//!   counted from the request's arrival to the end of its response body.
//! - **Shutdown**: when `close` fires the connection gets a GOAWAY (no new
//!   streams; open ones finish); when `force` fires it is dropped.
//! - A connection that is closing but does not finish once its last stream
//!   ended (a peer that never acknowledges the GOAWAY) is dropped after
//!   [`CLOSE_GRACE`].
//!
//! Before all of it, the TLS handshake on a TLS listener ([`super::transport`]).
//!
//! Every request gets the connection's [`Peer`] in its extensions (its
//! address, the SANs of a verified client certificate, a Unix socket
//! client's credentials), on TCP tonic's `TcpConnectInfo`, so
//! `Request::remote_addr()` works in handlers and the access log names the
//! peer, and on the health-only port the [`HealthPort`] mark.

use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;

use crate::logging::access::PeerAddress;
use tower::Service;

use super::body::{Hook, Hooked};
use super::health_only::HealthPort;
use super::layer::GrpcService;
use super::peer::Peer;
use super::preface;
use super::tls::ServerTls;
use super::transport::{self, Accepted, Established};

/// How long a closing connection may take to finish once its last stream
/// ended, before it is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Per-connection settings, built once per listener.
pub struct ConnectionSettings {
    pub http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// TLS on this listener (TCP only).
    pub tls: Option<Arc<ServerTls>>,
    /// This listener serves health alone (its requests are marked
    /// [`HealthPort`]).
    pub health_only: bool,
}

/// The shutdown signals a connection obeys.
#[derive(Clone)]
pub struct Closing {
    /// Send GOAWAY, let open streams finish.
    pub close: CancellationToken,
    /// Drop the connection now.
    pub force: CancellationToken,
}

/// Serves HTTP/2 on `accepted` until the peer leaves, the connection is
/// idle too long, or `closing` says so.
pub async fn serve<S>(
    accepted: Accepted,
    service: S,
    settings: Arc<ConnectionSettings>,
    closing: Closing,
) where
    S: GrpcService + Clone + Send + 'static,
{
    let remote = match &accepted {
        Accepted::Tcp(_, remote) => Some(*remote),
        Accepted::Unix(..) => None,
    };
    let established =
        transport::establish(accepted, settings.tls.as_ref(), settings.handshake_timeout);
    let Established {
        io: mut stream,
        peer: client,
        tcp,
    } = tokio::select! {
        established = established => match established {
            Ok(established) => established,
            Err(e) => {
                tracing::debug!(peer = ?remote, error = %e, "closing a connection before HTTP/2 began");
                return;
            }
        },
        () = closing.close.cancelled() => return,
    };
    let peer = Shown(&client);
    let preface = tokio::select! {
        read = preface::read(&mut stream, settings.handshake_timeout) => match read {
            Ok(preface) => preface,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "closing a connection before HTTP/2 began");
                return;
            }
        },
        () = closing.close.cancelled() => return,
    };
    let (streams_tx, mut streams) = watch::channel(0usize);
    let service = Tracked {
        inner: service,
        open_streams: Arc::new(streams_tx),
        peer: client.clone(),
        // Formatted once per connection, not once per call.
        shown: PeerAddress::of(tcp.as_ref().and_then(TcpConnectInfo::remote_addr)),
        tcp,
        health_only: settings.health_only,
    };
    let io = TokioIo::new(preface::Replayed::new(preface, stream));
    let mut conn = pin!(
        settings
            .http2
            .serve_connection(io, TowerToHyperService::new(service))
    );
    // Some(instant) while no stream is open: since when.
    let mut idle_since = Some(Instant::now());
    let mut closing_started = false;
    let mut counting = true;
    loop {
        let wait = if closing_started {
            CLOSE_GRACE
        } else {
            settings.idle_timeout
        };
        let wake = idle_since.map(|since| since + wait);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = streams.changed(), if counting => {
                if changed.is_err() {
                    counting = false;
                    continue;
                }
                let open = *streams.borrow_and_update();
                idle_since = match (open, idle_since) {
                    (0, None) => Some(Instant::now()),
                    (0, since) => since,
                    _ => None,
                };
            }
            () = sleep_until(wake) => {
                if closing_started {
                    tracing::debug!(%peer, "dropping a connection that did not finish closing");
                    return;
                }
                tracing::debug!(%peer, idle_ms = settings.idle_timeout.as_millis() as u64, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                closing_started = true;
                idle_since = Some(Instant::now());
            }
            () = closing.close.cancelled(), if !closing_started => {
                conn.as_mut().graceful_shutdown();
                closing_started = true;
                if idle_since.is_some() {
                    idle_since = Some(Instant::now());
                }
            }
            () = closing.force.cancelled() => return,
        }
    }
}

/// A peer in log lines: its address, or `unix` and the client's uid.
struct Shown<'a>(&'a Peer);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.0.remote, &self.0.unix) {
            (Some(remote), _) => write!(f, "{remote}"),
            (None, Some(unix)) => write!(f, "unix:uid={}", unix.uid),
            (None, None) => f.write_str("unix"),
        }
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(wake).await,
        None => std::future::pending().await,
    }
}

/// Counts open streams and adds the connection's peer to requests.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    open_streams: Arc<watch::Sender<usize>>,
    peer: Peer,
    shown: PeerAddress,
    tcp: Option<TcpConnectInfo>,
    health_only: bool,
}

/// Decrements the open-stream count when dropped; the hook of a response
/// body, so a stream is counted until its body is dropped.
struct StreamGuard(Arc<watch::Sender<usize>>);

impl Hook for StreamGuard {}

impl StreamGuard {
    /// The connection's loop only cares whether any stream is open: it is
    /// woken when the count leaves or reaches zero, not on every stream
    /// (which cost two wake-ups of the loop per call).
    fn new(counter: &Arc<watch::Sender<usize>>) -> Self {
        counter.send_if_modified(|open| {
            *open += 1;
            *open == 1
        });
        StreamGuard(Arc::clone(counter))
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_if_modified(|open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
    }
}

impl<S> Service<http::Request<hyper::body::Incoming>> for Tracked<S>
where
    S: GrpcService + Clone + Send + 'static,
{
    type Response = http::Response<Hooked<StreamGuard>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let guard = StreamGuard::new(&self.open_streams);
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.peer.clone());
        request.extensions_mut().insert(self.shown.clone());
        if let Some(tcp) = &self.tcp {
            request.extensions_mut().insert(tcp.clone());
        }
        if self.health_only {
            request.extensions_mut().insert(HealthPort);
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| Hooked::new(body, guard)))
        })
    }
}
