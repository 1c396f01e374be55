//! Following asynchronous allocations (Zenlayer EIPs start CREATING): poll
//! with exponential backoff until every allocation is terminal (READY,
//! FAILED or RELEASED) or time runs out, for `AllocateIp { wait }` and for
//! the `WatchAllocation` stream. Never outlives the given instant.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use super::{convert, error};
use crate::pb;
use crate::provider::{
    Allocation, AllocationLookup, AllocationState, CallContext, FollowSettings, Provider,
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
        let ctx = CallContext {
            deadline: Some(ctx.deadline.map_or(until, |d| d.min(until))),
            idempotency_key: None,
        };
        match provider.get_allocations(&pending, &ctx).await {
            Ok(fresh) => {
                for update in fresh {
                    if let Some(slot) = allocations.iter_mut().find(|a| a.id == update.id) {
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

/// Streams the state of one allocation: first the current state, then every
/// change, until it is terminal; ends with DEADLINE_EXCEEDED when `deadline`
/// passes first. Stops as soon as the client goes away.
pub async fn watch(
    provider: std::sync::Arc<dyn Provider>,
    lookup: AllocationLookup,
    deadline: Option<Instant>,
    poll: FollowSettings,
    items: mpsc::Sender<Result<pb::Allocation, Status>>,
) {
    {
        let description = provider.description().clone();
        let ctx = CallContext {
            deadline,
            idempotency_key: None,
        };
        let mut last: Option<Allocation> = None;
        let mut delay = poll.poll_initial;
        loop {
            let polled = tokio::select! {
                polled = provider.get_allocation(&lookup, &ctx) => polled,
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
                        let message = convert::allocation(&description, allocation.clone());
                        if items.send(Ok(message)).await.is_err() {
                            return;
                        }
                        last = Some(allocation);
                    }
                    if terminal {
                        return;
                    }
                }
                Err(e) => {
                    let status = match e {
                        ProviderError::DeadlineExceeded { .. } => deadline_passed(&lookup),
                        other => error::provider_status(&description, &other),
                    };
                    let _ = items.send(Err(status)).await;
                    return;
                }
            }
            let wake = match deadline {
                None => Instant::now() + delay,
                Some(deadline) => match next_poll(delay, deadline, &poll) {
                    Some(wake) => wake,
                    None => {
                        let _ = items.send(Err(deadline_passed(&lookup))).await;
                        return;
                    }
                },
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = items.closed() => return,
            }
            delay = (delay * 2).min(poll.poll_max);
        }
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

fn deadline_passed(lookup: &AllocationLookup) -> Status {
    error::deadline_exceeded(&format!(
        "allocation {} is not terminal yet and the call's deadline passed; watch again to continue",
        lookup.id
    ))
}
