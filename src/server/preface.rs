//! The connection handshake deadline: a client must send the 24-byte HTTP/2
//! connection preface within the handshake timeout, or the connection is
//! closed. hyper would otherwise wait forever for it (2,000 silent or
//! half-sent connections were held indefinitely), and its HTTP/2 keepalive
//! starts only after the handshake.
//!
//! The bytes read are handed back to hyper through [`Replayed`], an I/O
//! wrapper that yields them before reading from the socket again.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
#[cfg(test)]
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why a connection was closed before HTTP/2 began.
#[derive(Debug, thiserror::Error)]
pub enum PrefaceError {
    #[error("no HTTP/2 preface within {0:?}")]
    TimedOut(Duration),
    #[error("the client closed the connection before the HTTP/2 preface")]
    Closed,
    #[error("reading the HTTP/2 preface: {0}")]
    Io(#[from] io::Error),
}

/// Reads the preface (24 bytes, whatever they are: hyper answers a wrong
/// one with a protocol error) within `timeout`.
pub async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Result<[u8; 24], PrefaceError> {
    let mut preface = [0u8; 24];
    match tokio::time::timeout(timeout, stream.read_exact(&mut preface)).await {
        Err(_) => Err(PrefaceError::TimedOut(timeout)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(PrefaceError::Closed),
        Ok(Err(e)) => Err(PrefaceError::Io(e)),
        Ok(Ok(_)) => Ok(preface),
    }
}

/// An I/O stream that first yields `prefix`, then reads from `inner`.
#[derive(Debug)]
pub struct Replayed<S> {
    prefix: [u8; 24],
    consumed: usize,
    inner: S,
}

impl<S> Replayed<S> {
    pub fn new(prefix: [u8; 24], inner: S) -> Self {
        Replayed {
            prefix,
            consumed: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replayed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.consumed < this.prefix.len() {
            let rest = &this.prefix[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replayed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_preface_is_replayed_before_the_rest() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(PREFACE).await.unwrap();
        client.write_all(b"after").await.unwrap();
        drop(client);
        let preface = read(&mut server, Duration::from_secs(5)).await.unwrap();
        assert_eq!(&preface, PREFACE);
        let mut replayed = Replayed::new(preface, server);
        let mut all = Vec::new();
        replayed.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, [PREFACE.as_slice(), b"after"].concat());
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_sent_preface_times_out() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        let err = read(&mut server, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, PrefaceError::TimedOut(_)), "{err}");
        drop(client);
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        let err = read(&mut server, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, PrefaceError::Closed), "{err}");
    }
}
