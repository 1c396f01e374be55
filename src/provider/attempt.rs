//! The adapter skeleton every cloud shares: one attempt of one provider
//! call as the resilience stack sees it ([`Attempt`]), and the stack an
//! adapter builds once around its sender ([`stack`]), the innermost service
//! that signs each attempt afresh and sends it exactly once. That service
//! is where every attempt really sent is counted
//! (`ipalloc_provider_attempts_total`).

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

use crate::admin::Metrics;
use crate::middleware::{self, AttemptRequest, FleetRate, ProviderLimits, ResilienceSettings};
use crate::provider::error::ProviderError;
use crate::provider::http::HttpResponse;
use crate::provider::model::Operation;
use crate::provider::{CallContext, Lane};

/// One attempt of one call: the operation, what the adapter signs and sends
/// for it (`payload`: query parameters, body bytes), and the caller's
/// deadline and lane. Retries clone it, and each clone is signed afresh.
#[derive(Clone)]
pub struct Attempt<P> {
    pub op: Operation,
    pub payload: P,
    deadline: Option<Instant>,
    lane: Lane,
}

impl<P> Attempt<P> {
    /// An attempt of `op`, with `ctx`'s deadline and lane.
    pub fn new(op: Operation, payload: P, ctx: &CallContext) -> Attempt<P> {
        Attempt {
            op,
            payload,
            deadline: ctx.deadline,
            lane: ctx.lane,
        }
    }
}

impl<P: Clone + Send + Sync + 'static> AttemptRequest for Attempt<P> {
    fn operation(&self) -> Operation {
        self.op
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn lane(&self) -> Lane {
        self.lane
    }
}

/// An adapter's innermost service: signs one attempt afresh and sends it
/// once; `Ok` only for a successful provider answer.
pub trait Sender: Send + Sync + 'static {
    /// What an attempt carries for this provider.
    type Payload: Clone + Send + Sync + 'static;

    fn send(
        &self,
        attempt: Attempt<Self::Payload>,
    ) -> impl Future<Output = Result<HttpResponse, ProviderError>> + Send;
}

/// The resilience stack of one provider account.
pub type Stack<P> = BoxCloneSyncService<Attempt<P>, HttpResponse, ProviderError>;

/// Builds the resilience stack of the account named `account` (`settings`,
/// and limits of its own; in fleet mode, with `fleet`, its rate limit is the
/// one every gateway using the account shares) around `sender`.
pub fn stack<S: Sender>(
    sender: Arc<S>,
    settings: &ResilienceSettings,
    account: &str,
    fleet: Option<&FleetRate>,
) -> Stack<S::Payload> {
    let limits = ProviderLimits::for_account(settings, account, fleet);
    let metrics = Metrics::global().account(account);
    let send_one = tower::service_fn(move |attempt: Attempt<S::Payload>| {
        let sender = Arc::clone(&sender);
        // Dropped unfinished when the attempt timeout cuts the send short.
        let recorder = metrics.attempt(attempt.op);
        async move {
            let result = sender.send(attempt).await;
            recorder.finish(&result);
            result
        }
    });
    middleware::stack(send_one, settings, &limits)
}
