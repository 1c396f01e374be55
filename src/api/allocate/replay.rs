//! Replays of a completed idempotency key: the stored answer, never less
//! than it answered before. Allocations that are not terminal are refreshed
//! with one lookup (on the read share), and the record with them; a
//! terminal allocation is never replaced, so a replay never goes backwards.

use std::sync::Arc;

use prost::Message;
use tonic::Status;

use super::{Allocator, with_deadline};
use crate::api::follow::is_terminal;
use crate::api::{convert, error};
use crate::idempotency::{Claim, Fingerprint, Record};
use crate::pb;
use crate::provider::{CallContext, Lane, Provider, ProviderDescription};

impl Allocator {
    /// A stored answer, never less than it was: when some allocation is not
    /// terminal, one lookup (on the read share, within the deadline)
    /// refreshes it and the record, unless `just_written` says it was
    /// written a moment ago. A failed lookup answers the stored state.
    pub(super) async fn replay(
        &self,
        provider: &Arc<dyn Provider>,
        key: &str,
        fingerprint: &Fingerprint,
        bytes: &[u8],
        ctx: &CallContext,
        just_written: bool,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let description = provider.description();
        let stored = pb::AllocateIpResponse::decode(bytes)
            .map_err(|e| error::record_corrupt(Some(description), key, &e.to_string()))?;
        let pending: Vec<String> = stored
            .allocations
            .iter()
            .filter(|a| !is_terminal(convert::allocation_from_pb(a).state))
            .map(|a| a.id.clone())
            .collect();
        if just_written || pending.is_empty() {
            return Ok(stored);
        }
        let read = CallContext {
            deadline: ctx.deadline,
            idempotency_key: None,
            lane: Lane::Read,
        };
        match with_deadline(&read, provider.get_allocations(&pending, &read)).await {
            Ok(fresh) => {
                let fresh: Vec<pb::Allocation> = fresh
                    .into_iter()
                    .map(|a| convert::allocation(description, a))
                    .collect();
                match advanced(&stored, &fresh) {
                    Some(newer) => {
                        self.refresh(description, key, fingerprint, &newer).await;
                        Ok(newer)
                    }
                    None => Ok(stored),
                }
            }
            Err(e) => {
                tracing::info!(
                    provider = %description.name,
                    key = %key,
                    error = %e,
                    "could not refresh a replayed allocation; answering its stored state"
                );
                Ok(stored)
            }
        }
    }

    /// Stores `newer` as the answer of completed `key` (best effort).
    async fn refresh(
        &self,
        description: &ProviderDescription,
        key: &str,
        fingerprint: &Fingerprint,
        newer: &pb::AllocateIpResponse,
    ) {
        let bytes = newer.encode_to_vec();
        let refreshed = self
            .store
            .refresh_completed(&description.name, key, fingerprint, &bytes)
            .await;
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, key = %key, "could not record an allocation's newer state");
        }
    }

    /// After a `wait`: records `settled` where it advances the stored answer,
    /// holding the key's claim so concurrent calls cannot interleave (when
    /// another call holds it, that call records its own state).
    pub(super) async fn record_progress(
        &self,
        description: &ProviderDescription,
        key: &str,
        fingerprint: &Fingerprint,
        settled: &pb::AllocateIpResponse,
    ) {
        let Claim::Owner(_guard) = self.inflight.claim(key) else {
            return;
        };
        let stored = match self.store.get(&description.name, key).await {
            Ok(Some(Record::Completed { response, .. })) => response,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(provider = %description.name, error = %e, "could not read a record to update");
                return;
            }
        };
        let Ok(stored) = pb::AllocateIpResponse::decode(stored.as_slice()) else {
            return;
        };
        if let Some(newer) = advanced(&stored, &settled.allocations) {
            self.refresh(description, key, fingerprint, &newer).await;
        }
    }
}

/// `stored` with the allocations of `newer` (matched by id) that are in a
/// later state; `None` when nothing advances. A terminal stored allocation
/// is never replaced: a replay never goes backwards.
fn advanced(
    stored: &pb::AllocateIpResponse,
    newer: &[pb::Allocation],
) -> Option<pb::AllocateIpResponse> {
    let mut out = stored.clone();
    let mut changed = false;
    for allocation in &mut out.allocations {
        if is_terminal(convert::allocation_from_pb(allocation).state) {
            continue;
        }
        if let Some(update) = newer.iter().find(|n| n.id == allocation.id)
            && update != allocation
        {
            *allocation = update.clone();
            changed = true;
        }
    }
    changed.then_some(out)
}
