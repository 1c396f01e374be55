//! Following asynchronous allocations (Zenlayer EIPs start CREATING): poll
//! with exponential backoff until every allocation is terminal (READY,
//! FAILED or RELEASED) or time runs out, for `AllocateIp { wait }` and for
//! the `WatchAllocation` stream. Never outlives the given instant. Every
//! poll draws on the account's read share (`Lane::Read`), so polling never
//! starves allocations. Metrics: an open watch counts in
//! `ipalloc_watches_open`; an allocation a `wait` sees turn READY records
//! its time to READY, from the allocation's answer to the poll that saw it.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use super::{convert, error};
use crate::admin::Metrics;
use crate::pb;
use crate::provider::{
    Allocation, AllocationLookup, AllocationState, CallContext, FollowSettings, Lane, Provider,
    ProviderError,
};

/// True once an allocation will not change by itself any more.
pub fn is_terminal(state: AllocationState) -> bool {
    !matches!(state, AllocationState::Pending)
}

/// Polls until every allocation in `allocations` is terminal or `until`
/// passes, and returns them in their latest known state (in order). A poll
/// that fails ends the wait early with what is known: the allocation itself
/// has already succeeded.
pub async fn settle(
    provider: &dyn Provider,
    mut allocations: Vec<Allocation>,
    until: Instant,
    poll: &FollowSettings,
    ctx: &CallContext,
) -> Vec<Allocation> {
    let mut delay = poll.poll_initial;
    // The allocation answered just before the wait began.
    let answered = Instant::now();
    loop {
        let pending: Vec<String> = allocations
            .iter()
            .filter(|a| !is_terminal(a.state))
            .map(|a| a.id.clone())
            .collect();
        if pending.is_empty() {
            return allocations;
        }
        // The last poll happens a little before `until`, not a whole
        // interval early: it needs time to answer.
        let Some(wake) = next_poll(delay, until, poll) else {
            return allocations;
        };
        tokio::time::sleep_until(wake).await;
        // Admitted against the caller's deadline (the rate limit reserves
        // the poll's time before it); `until` only bounds how long the
        // answer is awaited.
        let ctx = CallContext {
            deadline: ctx.deadline,
            idempotency_key: None,
            lane: Lane::Read,
        };
        let polled = tokio::time::timeout_at(until, provider.get_allocations(&pending, &ctx))
            .await
            .unwrap_or(Err(ProviderError::DeadlineExceeded {
                op: crate::provider::Operation {
                    name: "poll",
                    mutating: false,
                },
                sent: true,
            }));
        match polled {
            Ok(fresh) => {
                for update in fresh {
                    if let Some(slot) = allocations.iter_mut().find(|a| a.id == update.id) {
                        if slot.state == AllocationState::Pending
                            && update.state == AllocationState::Ready
                        {
                            Metrics::global()
                                .account(&provider.description().name)
                                .ready_after(answered.elapsed());
                        }
                        *slot = update;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(
                    provider = %provider.description().name,
                    error = %e,
                    "polling allocations failed; answering with the last known states"
                );
                return allocations;
            }
        }
        delay = (delay * 2).min(poll.poll_max);
    }
}

/// When a watch must end, and why.
#[derive(Debug, Clone, Copy)]
pub struct WatchLimits {
    /// The caller's deadline, if any.
    pub deadline: Option<Instant>,
    /// When the watch reaches its maximum lifetime.
    pub lifetime_end: Instant,
    /// That maximum lifetime (for the status).
    pub lifetime: Duration,
}

impl WatchLimits {
    /// Whichever comes first.
    fn end(&self) -> Instant {
        self.deadline
            .map_or(self.lifetime_end, |d| d.min(self.lifetime_end))
    }

    /// The status when time runs out: DEADLINE_EXCEEDED when the caller's
    /// deadline came first, WATCH_LIFETIME_ENDED otherwise.
    fn ended(&self, provider: &crate::provider::ProviderDescription, id: &str) -> Status {
        match self.deadline {
            Some(deadline) if deadline <= self.lifetime_end => error::deadline_exceeded(
                Some(provider),
                None,
                &format!(
                    "allocation {id} is not terminal yet and the call's deadline passed; watch \
                     again to continue"
                ),
            ),
            _ => error::watch_lifetime_ended(provider, id, self.lifetime),
        }
    }
}

/// Streams the state of one allocation: first the current state, then every
/// change, until it is terminal; ends with DEADLINE_EXCEEDED when the
/// caller's deadline passes first, or with WATCH_LIFETIME_ENDED at the
/// watch's maximum lifetime. Stops as soon as the client goes away. A panic
/// ends the stream with INTERNAL, never with a silent OK.
pub async fn watch(
    provider: std::sync::Arc<dyn Provider>,
    lookup: AllocationLookup,
    limits: WatchLimits,
    items: mpsc::Sender<Result<pb::Allocation, Status>>,
) {
    let _open = Metrics::global().watch_opened();
    let streamed = watch_until_done(provider.as_ref(), &lookup, &limits, &items);
    if let Err(panic) = AssertUnwindSafe(streamed).catch_unwind().await {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let description = provider.description();
        let id = &lookup.id;
        tracing::error!(provider = %description.name, id = %id, panic = %message, "a watch panicked");
        let _ = items
            .send(Err(error::internal(
                Some(description),
                &format!("watching {id} failed inside the gateway"),
            )))
            .await;
    }
}

async fn watch_until_done(
    provider: &dyn Provider,
    lookup: &AllocationLookup,
    limits: &WatchLimits,
    items: &mpsc::Sender<Result<pb::Allocation, Status>>,
) {
    let description = provider.description();
    let poll = provider.follow();
    let end = limits.end();
    let ctx = CallContext {
        deadline: Some(end),
        idempotency_key: None,
        lane: Lane::Read,
    };
    let mut last: Option<Allocation> = None;
    let mut delay = poll.poll_initial;
    loop {
        let polled = tokio::select! {
            polled = provider.get_allocation(lookup, &ctx) => polled,
            () = items.closed() => return,
        };
        match polled {
            Ok(allocation) => {
                let changed = last.as_ref().is_none_or(|l| {
                    l.state != allocation.state
                        || l.provider_status != allocation.provider_status
                        || l.ip_address != allocation.ip_address
                });
                let terminal = is_terminal(allocation.state);
                if changed {
                    let message = convert::allocation(description, allocation.clone());
                    if items.send(Ok(message)).await.is_err() {
                        return;
                    }
                    last = Some(allocation);
                }
                if terminal {
                    return;
                }
            }
            // No read capacity left before the watch ends: it goes on
            // (nothing new can be known) until it does.
            Err(ProviderError::RateLimited { .. }) => {
                tokio::select! {
                    () = tokio::time::sleep_until(end) => {}
                    () = items.closed() => return,
                }
                let _ = items.send(Err(limits.ended(description, &lookup.id))).await;
                return;
            }
            Err(e) => {
                let status = match e {
                    ProviderError::DeadlineExceeded { .. } => limits.ended(description, &lookup.id),
                    other => error::provider_status(description, &other),
                };
                let _ = items.send(Err(status)).await;
                return;
            }
        }
        let Some(wake) = next_poll(delay, end, poll) else {
            let _ = items.send(Err(limits.ended(description, &lookup.id))).await;
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = items.closed() => return,
        }
        delay = (delay * 2).min(poll.poll_max);
    }
}

/// When to poll next: after `delay`, but no later than shortly before
/// `until` (a poll needs time to answer); `None` once that moment passed.
fn next_poll(delay: Duration, until: Instant, poll: &FollowSettings) -> Option<Instant> {
    let reserve = poll.poll_initial.min(Duration::from_secs(1));
    let last = until.checked_sub(reserve).unwrap_or(until);
    let now = Instant::now();
    (now < last).then(|| (now + delay).min(last))
}
