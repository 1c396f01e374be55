//! The accept loop: takes connections off a listening socket (TCP or Unix)
//! until told to stop, then closes it (new clients are refused at once
//! rather than left in the backlog).
//!
//! When the process is out of file descriptors (EMFILE, ENFILE) or memory
//! (ENOBUFS, ENOMEM), `accept` fails immediately and keeps failing while the
//! pending connection sits in the backlog: retrying at once spins a core at
//! 100 %. The loop backs off instead (10 ms doubling to 1 s, reset by the
//! next success), logs the condition at most once per [`LOG_EVERY`] with the
//! count of failures, and connections already accepted keep being served.

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::transport::Accepted;
use super::unix_socket::UnixSocket;

/// First wait after a resource-exhaustion failure.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest wait between attempts while resources are exhausted.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one log line per this interval while accepting fails.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// True for accept errors that mean "the process is out of a resource",
/// as opposed to a failure of one pending connection.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            error.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// Rate-limited reporting of accept failures.
struct FailureLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    fn record(&mut self, error: &io::Error, backoff: Duration) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + LOG_EVERY) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            error = %error,
            failures_since_last_report = self.suppressed,
            retry_in_ms = backoff.as_millis() as u64,
            "cannot accept connections: out of file descriptors or memory; backing off (open connections are still served; raise the open-files limit or lower the connection count)"
        );
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// A listening socket the loop takes connections from.
pub trait Listener: Send + 'static {
    /// The next connection.
    fn next_connection(&self) -> impl Future<Output = io::Result<Accepted>> + Send;
}

impl Listener for TcpListener {
    async fn next_connection(&self) -> io::Result<Accepted> {
        let (stream, peer) = self.accept().await?;
        // Without TCP_NODELAY small responses can wait ~40 ms for a
        // delayed ACK (Nagle), which the load benchmark showed at p99.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, %peer, "cannot set TCP_NODELAY");
        }
        Ok(Accepted::Tcp(stream, peer))
    }
}

impl Listener for UnixSocket {
    async fn next_connection(&self) -> io::Result<Accepted> {
        let (stream, peer) = self.accept().await?;
        Ok(Accepted::Unix(stream, peer))
    }
}

/// Accepts connections until `stop` is cancelled, handing each one (TCP
/// with TCP_NODELAY set) to `handle`. Returns after closing the listener.
pub async fn run<L: Listener>(
    listener: L,
    stop: CancellationToken,
    mut handle: impl FnMut(Accepted),
) {
    let mut backoff = BACKOFF_MIN;
    let mut failures = FailureLog {
        last: None,
        suppressed: 0,
    };
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.next_connection() => accepted,
        };
        match accepted {
            Ok(accepted) => {
                backoff = BACKOFF_MIN;
                handle(accepted);
            }
            Err(e) if is_resource_exhaustion(&e) => {
                failures.record(&e, backoff);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            // One pending connection failed (reset before accept, ...):
            // nothing to wait for.
            Err(e) => tracing::debug!(error = %e, "accepting a connection failed"),
        }
    }
    drop(listener);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    #[test]
    fn resource_exhaustion_is_told_apart_from_connection_errors() {
        for code in [12, 23, 24] {
            assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(code)));
        }
        assert!(!is_resource_exhaustion(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!is_resource_exhaustion(&io::Error::from_raw_os_error(104)));
    }

    #[tokio::test]
    async fn stops_and_closes_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(listener, stop.clone(), move |accepted| {
            let _ = tx.send(accepted);
        }));
        let _client = TcpStream::connect(addr).await.unwrap();
        assert!(rx.recv().await.is_some());
        stop.cancel();
        task.await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }
}
