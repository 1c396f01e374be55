//! The emulators' HTTP/1.1 server loop. Unlike a stock server it can drop a
//! connection in the middle of a request without answering (the ambiguous
//! "request performed, answer lost" case): each request carries a
//! [`ConnectionDropper`] for its connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tower::ServiceExt;

/// Closes the connection a request arrived on, without an answer.
#[derive(Clone, Debug)]
pub struct ConnectionDropper(Arc<Notify>);

impl ConnectionDropper {
    /// Drops the connection; the handler calling this should then wait
    /// forever (its future is dropped with the connection).
    pub fn drop_connection(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                // Like a real API front end: no Nagle delay on small answers.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "emulator could not set TCP_NODELAY");
                }
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, "emulator accept failed");
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let notify = Arc::new(Notify::new());
            let dropper = ConnectionDropper(Arc::clone(&notify));
            let service = hyper::service::service_fn(
                move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(dropper.clone());
                    let router = router.clone();
                    async move { router.oneshot(request.map(axum::body::Body::new)).await }
                },
            );
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "emulator connection ended with an error");
                    }
                }
                () = notify.notified() => tracing::debug!("emulator dropped a connection on purpose"),
            }
        });
    }
}

/// An emulator serving in the background until dropped or stopped.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningEmulator {
    /// Serves `router` on `listener` in a background task.
    pub fn spawn(listener: TcpListener, router: Router) -> std::io::Result<RunningEmulator> {
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, async {
            let _ = rx.await;
        }));
        Ok(RunningEmulator {
            addr,
            shutdown: Some(tx),
        })
    }

    /// `http://ADDR`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
