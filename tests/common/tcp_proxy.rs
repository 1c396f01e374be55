//! A loopback TCP proxy in front of a server (PostgreSQL on 127.0.0.1:5432)
//! for tests that cut the connection: [`TcpProxy::cut`] resets every open
//! connection and refuses new ones (accepted, then reset at once) until
//! [`TcpProxy::restore`]. At most [`MAX_CONNECTIONS`] are open at once; more
//! are refused the same way. Everything stops when the proxy is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connections open through the proxy at once, at most.
pub const MAX_CONNECTIONS: usize = 256;

/// Longest wait for the upstream server to accept a connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A proxy on 127.0.0.1:<ephemeral>, forwarding to one upstream address.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    /// While set, new connections are refused.
    cut: AtomicBool,
    /// Cancelled by `cut`: every connection opened before it ends.
    generation: Mutex<CancellationToken>,
    /// Cancelled when the proxy is dropped; parent of every generation.
    stop: CancellationToken,
    slots: Arc<Semaphore>,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    open: AtomicUsize,
}

impl TcpProxy {
    /// Starts a proxy to `upstream` on the current runtime.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a loopback port");
        let addr = listener.local_addr().expect("the proxy's address");
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            generation: Mutex::new(stop.child_token()),
            stop,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
        });
        tokio::spawn(accept_loop(listener, shared.clone()));
        TcpProxy { addr, shared }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resets every open connection and refuses new ones until
    /// [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        let mut generation = self.shared.generation.lock().unwrap();
        generation.cancel();
        *generation = self.shared.stop.child_token();
    }

    /// Accepts and forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Connections forwarded so far (open or not).
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections refused so far (while cut, or over the bound).
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else {
            // Out of descriptors, say: try again shortly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // The generation before the flag: a cut in between either is seen
        // here or cancels this generation.
        let cancel = shared.generation.lock().unwrap().clone();
        let slot = shared.slots.clone().try_acquire_owned();
        let slot = match slot {
            Ok(slot) if !shared.cut.load(Ordering::SeqCst) => slot,
            _ => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                reset(client);
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.open.fetch_add(1, Ordering::SeqCst);
            forward(client, shared.upstream, cancel).await;
            shared.open.fetch_sub(1, Ordering::SeqCst);
            drop(slot);
        });
    }
}

/// Copies both ways until either side closes or `cancel` (a cut) fires,
/// which resets both sides.
async fn forward(mut client: TcpStream, upstream: SocketAddr, cancel: CancellationToken) {
    let connect = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(upstream));
    let mut server = tokio::select! {
        _ = cancel.cancelled() => return reset(client),
        connected = connect => match connected {
            Ok(Ok(server)) => server,
            _ => return reset(client),
        },
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = cancel.cancelled() => {
            reset(client);
            reset(server);
        }
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}

/// Closes `stream` with a reset (as a cut network or a killed server would
/// look to the peer), not an orderly shutdown.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
