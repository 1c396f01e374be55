//! What a connection is before HTTP/2 begins: a TCP stream (plain or, on a
//! listener with `[tls]`, after the TLS handshake) or a Unix socket stream,
//! and the [`Peer`] each kind tells of its client.
//!
//! The TLS handshake has `server.handshake_timeout_ms` to complete, as the
//! HTTP/2 preface after it does: a client that opens a connection and says
//! nothing holds it no longer either way.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::TcpConnectInfo;

use super::peer::{Peer, UnixPeer};
use super::tls::ServerTls;

/// A connection as the accept loop hands it over.
pub enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream, Option<UnixPeer>),
}

/// Why a connection ended before HTTP/2 began.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no TLS handshake within {0:?}")]
    HandshakeTimedOut(Duration),
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] io::Error),
}

/// A connection ready for HTTP/2: its byte stream, its peer, and the
/// addresses tonic's `Request::remote_addr()` reads (TCP only).
pub struct Established {
    pub io: Io,
    pub peer: Peer,
    pub tcp: Option<TcpConnectInfo>,
}

/// Takes `accepted` up to HTTP/2: the TLS handshake when `tls` is given
/// (TCP only; a Unix socket is plain).
pub async fn establish(
    accepted: Accepted,
    tls: Option<&Arc<ServerTls>>,
    timeout: Duration,
) -> Result<Established, TransportError> {
    let (stream, remote) = match accepted {
        Accepted::Unix(stream, unix) => {
            return Ok(Established {
                io: Io::Unix(stream),
                peer: Peer::unix(unix),
                tcp: None,
            });
        }
        Accepted::Tcp(stream, remote) => (stream, remote),
    };
    let tcp = Some(TcpConnectInfo {
        local_addr: stream.local_addr().ok(),
        remote_addr: Some(remote),
    });
    let Some(tls) = tls else {
        return Ok(Established {
            io: Io::Tcp(stream),
            peer: Peer::tcp(remote, Vec::new()),
            tcp,
        });
    };
    let (stream, sans) = tokio::time::timeout(timeout, tls.accept(stream))
        .await
        .map_err(|_| TransportError::HandshakeTimedOut(timeout))?
        .map_err(TransportError::Handshake)?;
    Ok(Established {
        io: Io::Tls(Box::new(stream)),
        peer: Peer::tcp(remote, sans),
        tcp,
    })
}

/// One connection's byte stream, whichever transport it came by.
pub enum Io {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

/// Calls `$method` on whichever stream `$self` holds.
macro_rules! each {
    ($self:ident, $stream:ident => $call:expr) => {
        match $self.get_mut() {
            Io::Tcp($stream) => $call,
            Io::Tls($stream) => $call,
            Io::Unix($stream) => $call,
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Tcp(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
            Io::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}
