//! Outbound resilience for provider calls: the tower stack every provider
//! adapter pushes each HTTP attempt through.
//!
//! An adapter builds its stack once with [`stack`] around its innermost
//! service (which signs afresh and sends exactly one attempt) and the
//! account's shared [`ProviderLimits`]. From the outside in:
//!
//! 1. `deadline`: a request whose deadline already passed fails at once.
//! 2. `retry`: retries only what certainly did not execute (and, for reads,
//!    what may have), with full-jitter backoff, a shared retry budget, and
//!    never past the deadline. It sits above signing so that every attempt
//!    is re-signed with a fresh nonce and timestamp.
//! 3. `rate_limit`: the account's GCRA rate limit; every attempt books a
//!    slot, kept only if the slot plus a reserve for the attempt (the p99
//!    latency the provider has shown, `latency`) fits before the deadline;
//!    reads draw on their own share of the rate so they cannot starve
//!    allocations. In fleet mode ([`ProviderLimits::shared`]) the account's
//!    slots are booked on a limiter every gateway shares ([`SharedRate`]).
//! 4. `concurrency`: a cap on in-flight attempts per account.
//! 5. `timeout`: each attempt ends at `attempt_timeout` or the deadline,
//!    whichever comes first.
//!
//! The invariant that keeps allocations from happening twice: a mutating
//! call is retried only after an attempt that certainly did not execute, so
//! whatever error the stack finally returns describes the whole call.

mod budget;
mod concurrency;
mod deadline;
mod latency;
mod rate_limit;
mod retry;
mod settings;
mod timeout;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use tokio::time::Instant;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::provider::error::ProviderError;
use crate::provider::http::HttpResponse;
use crate::provider::{Lane, Operation};

pub use rate_limit::{
    FleetRate, SharedAccount, SharedBooking, SharedRate, SharedRateError, SharedSlot,
};
pub use retry::is_retryable;
pub use settings::{BudgetSettings, InvalidSettings, ProviderLimits, ResilienceSettings};

/// What the layers need to know about one provider request.
pub trait AttemptRequest: Clone + Send + Sync + 'static {
    /// The provider call this request makes.
    fn operation(&self) -> Operation;
    /// The caller's deadline, if any.
    fn deadline(&self) -> Option<Instant>;
    /// Which share of the account's rate the request draws on.
    fn lane(&self) -> Lane;
}

/// The resilience stack around one provider adapter's innermost service.
///
/// `inner` must sign afresh and send exactly one attempt per call, and
/// return `Ok` only for a successful provider answer. `limits` is shared by
/// every stack of the same provider account.
pub fn stack<S, R>(
    inner: S,
    settings: &ResilienceSettings,
    limits: &ProviderLimits,
) -> BoxCloneSyncService<R, HttpResponse, ProviderError>
where
    S: tower::Service<R, Response = HttpResponse, Error = ProviderError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    R: AttemptRequest,
{
    let service = ServiceBuilder::new()
        // An expired deadline costs nothing: no budget deposit, token or permit.
        .layer(deadline::DeadlineLayer)
        // Above signing, so every retry is re-signed with a fresh nonce and timestamp.
        .layer(tower::retry::RetryLayer::new(retry::RetryPolicy::new(
            settings,
            limits.retry_budget(),
        )))
        // Every attempt, retries included, is a real provider request and takes a
        // slot; above the concurrency cap, so the time it measures for the
        // reserve includes waiting for a permit.
        .layer(rate_limit::RateLimitLayer::counted(
            limits.admission(),
            limits.metrics(),
        ))
        // Bounds the provider's load from this account, and the gateway's sockets.
        .layer(concurrency::ConcurrencyLayer::new(limits.in_flight()))
        // Innermost, so the permit covers the attempt and waits do not eat its time.
        .layer(timeout::AttemptTimeoutLayer::new(settings.attempt_timeout))
        .service(inner);
    BoxCloneSyncService::new(service)
}
