//! The allocation flow's entries in the allocation inventory
//! (`crate::inventory`): each allocation is recorded when its success is
//! recorded (a first answer or a reconciliation that found it, never a
//! replay), and the states a `wait` settles on are stored with it. A failed
//! inventory write is logged, never answered: the allocation was made, and
//! its idempotency record is what keeps a retry from making it again.

use std::time::SystemTime;

use tonic::Status;

use super::owned::Owned;
use super::{Allocator, Call, convert};
use crate::inventory::Entry;
use crate::pb;
use crate::provider::{AllocateResult, AllocateSpec, ProviderDescription, Tag};

impl Allocator {
    /// Records the success of the claimed call (see `Owned::complete`) and
    /// its allocations in the inventory.
    pub(super) async fn complete(
        &self,
        call: &Call<'_>,
        owned: &mut Owned<'_>,
        result: AllocateResult,
    ) -> Result<pb::AllocateIpResponse, Status> {
        let response = owned.complete(result).await?;
        let entries = entries(call, owned.key, &response, SystemTime::now());
        if let Err(e) = self.inventory.record(entries).await {
            tracing::warn!(
                provider = %call.provider.description().name,
                key = %owned.key,
                error = %e,
                "could not record an allocation in the inventory; ListAllocations will miss it"
            );
        }
        Ok(response)
    }

    /// Stores the states a wait settled on.
    pub(super) async fn note_settled(
        &self,
        description: &ProviderDescription,
        settled: &pb::AllocateIpResponse,
    ) {
        let states: Vec<_> = settled
            .allocations
            .iter()
            .map(convert::allocation_from_pb)
            .collect();
        if let Err(e) = self
            .inventory
            .update(&description.name, &states, SystemTime::now())
            .await
        {
            tracing::warn!(provider = %description.name, error = %e, "could not update the inventory");
        }
    }
}

/// The inventory entries of a just-recorded response.
fn entries(
    call: &Call<'_>,
    key: &str,
    response: &pb::AllocateIpResponse,
    now: SystemTime,
) -> Vec<Entry> {
    let description = call.provider.description();
    let tags: Vec<Tag> = match call.spec {
        AllocateSpec::Zenlayer(z) => z.tags.clone(),
        AllocateSpec::Aliyun(_) => Vec::new(),
    };
    response
        .allocations
        .iter()
        .map(|a| Entry {
            account: description.name.clone(),
            id: a.id.clone(),
            kind: description.kind,
            idempotency_key: key.to_owned(),
            caller: call.caller.map(str::to_owned),
            tags: tags.clone(),
            created: now,
            allocation: convert::allocation_from_pb(a),
            state_time: now,
            released: None,
        })
        .collect()
}
