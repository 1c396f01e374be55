//! The sockets the gateway serves on, bound as the configuration says
//! (`config::listeners` has the rules):
//!
//! - `api`: the API on TCP (`listen`), with TLS when `[tls]` is set;
//! - `unix`: the API on a Unix domain socket (`server.unix_socket`), plain
//!   (its file mode says who may connect; its peers' credentials identify
//!   them);
//! - `health`: `grpc.health.v1` alone on TCP (`server.health_listen`),
//!   plain, for probes (the kubelet's gRPC probe speaks no TLS).
//!
//! All of them go through the same connection handling (HTTP/2 limits,
//! timeouts) and the same shutdown: they close together, and their
//! connections are drained together.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::tls::{ServerTls, TlsError};
use super::unix_socket::{UnixSocket, UnixSocketError};
use crate::config::{Config, Exposure};

/// Why a listener cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {address} ({key}): {source}")]
    Tcp {
        key: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Unix(#[from] UnixSocketError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Bound listeners, ready for `server::serve_on`.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The API on TCP.
    pub api: Option<TcpListener>,
    /// TLS on `api`.
    pub tls: Option<Arc<ServerTls>>,
    /// The API on a Unix socket.
    pub unix: Option<UnixSocket>,
    /// Health only, on TCP.
    pub health: Option<TcpListener>,
    /// A non-loopback `api` served without TLS or caller authentication
    /// because `server.allow_insecure` says so: warned about every hour.
    pub insecure: Option<SocketAddr>,
}

impl Listeners {
    /// The API on `listener` alone, plain TCP (tests, the sandbox).
    pub fn tcp(listener: TcpListener) -> Listeners {
        Listeners {
            api: Some(listener),
            ..Listeners::default()
        }
    }

    /// Loads the TLS files and binds every listener `config` asks for.
    pub async fn bind(config: &Config) -> Result<Listeners, ListenError> {
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(ServerTls::load(files)?)),
            None => None,
        };
        let api = match config.listen_tcp {
            true => Some(bind_tcp("listen", config.listen).await?),
            false => None,
        };
        let health = match config.server.health_listen {
            Some(address) => Some(bind_tcp("server.health_listen", address).await?),
            None => None,
        };
        let unix = match &config.unix_socket {
            Some(socket) => Some(UnixSocket::bind(socket)?),
            None => None,
        };
        let insecure = match config.exposure() {
            Exposure::Allowed(address) => Some(address),
            Exposure::Protected | Exposure::Refused => None,
        };
        Ok(Listeners {
            api,
            tls,
            unix,
            health,
            insecure,
        })
    }

    /// The API's TCP address, once bound.
    pub fn api_address(&self) -> Option<SocketAddr> {
        self.api.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The health listener's address, once bound.
    pub fn health_address(&self) -> Option<SocketAddr> {
        self.health.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Logs what is served where (one line per listener).
    pub fn log(&self) {
        if let Some(address) = self.api_address() {
            let tls = match &self.tls {
                None => "off",
                Some(tls) if tls.mutual() => "mtls",
                Some(_) => "on",
            };
            // The runtime's own count (`--worker-threads`): what serves calls.
            let worker_threads =
                tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers());
            tracing::info!(%address, tls, worker_threads, "ipalloc-gateway listening");
        }
        if let Some(unix) = &self.unix {
            tracing::info!(path = %unix.path().display(), "serving the API on a Unix socket");
        }
        if let Some(address) = self.health_address() {
            tracing::info!(health = %address, "serving grpc.health.v1 alone for probes");
        }
    }
}

async fn bind_tcp(key: &'static str, address: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ListenError::Tcp {
            key,
            address,
            source,
        })
}

/// How often the `allow_insecure` warning is repeated.
pub const INSECURE_WARNING_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Warns now and every [`INSECURE_WARNING_EVERY`] that `address` serves the
/// API to anyone who can reach it (runs until aborted).
pub async fn warn_insecure(address: SocketAddr) {
    let mut tick = tokio::time::interval(INSECURE_WARNING_EVERY);
    loop {
        tick.tick().await;
        tracing::warn!(
            %address,
            "the API listens on a non-loopback address without TLS or caller authentication \
             (server.allow_insecure = true): anyone who can reach it can allocate addresses"
        );
    }
}
