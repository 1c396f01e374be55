//! SIGINT and SIGTERM, with their handlers installed up front.
//!
//! `tokio::signal::ctrl_c()` installs its handler only when first polled, so
//! a SIGTERM that arrives between binding the port and the first poll kills
//! the process with the default action (exit 143, nothing drained).
//! [`Signals::install`] registers both handlers at once; a signal that comes
//! before anyone waits is kept and seen by the next [`Signals::recv`].

use std::io;

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// Installed SIGINT and SIGTERM handlers (needs a Tokio runtime context).
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs both handlers now. From here on the signals no longer kill
    /// the process; they are delivered to [`Signals::recv`].
    #[cfg(unix)]
    pub fn install() -> io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {})
    }

    /// Waits for the next SIGINT or SIGTERM and logs it.
    pub async fn recv(&mut self) -> StopSignal {
        #[cfg(unix)]
        let signal = tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        };
        #[cfg(not(unix))]
        let signal = match tokio::signal::ctrl_c().await {
            Ok(()) => StopSignal::Interrupt,
            Err(_) => std::future::pending().await,
        };
        tracing::info!("received {}", signal.name());
        signal
    }

    /// A future for `server::serve`: completes on the first signal.
    pub async fn into_shutdown(mut self) {
        self.recv().await;
    }
}

/// Completes on SIGINT or SIGTERM (handlers installed on the first call, so
/// prefer [`Signals::install`] before binding anything).
pub async fn shutdown_signal() {
    match Signals::install() {
        Ok(mut signals) => {
            signals.recv().await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGINT and SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}
