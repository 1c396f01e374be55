//! The ListAllocations flow: a page of the inventory (the allocations this
//! gateway made), each state refreshed from its provider in batches (up to
//! 100 ids per Describe, on the account's read share of the rate limit),
//! then, with `include_unmanaged`, the Zenlayer EIPs of the account that
//! the gateway did not make.
//!
//! Released and failed allocations are terminal and are not asked about
//! again. An allocation its provider no longer reports (a purged EIP, a
//! deleted instance) is released. When a provider cannot be asked
//! (throttled, unreachable, the deadline), its entries are listed with the
//! state last seen and `refreshed` false: a listing never fails because
//! one account is slow. The state filter applies to the refreshed state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;
use tonic::Status;

use super::allocate::{Allocator, with_deadline};
use super::page_token::{self, Position};
use super::release::released;
use super::validate_lifecycle::ValidList;
use super::{convert, error};
use crate::inventory::{Entry, Filter, millis};
use crate::pb;
use crate::provider::{
    Allocation, AllocationState, CallContext, Lane, Provider, ProviderKind, Tag,
};

/// Most ids one Describe call carries.
pub const REFRESH_BATCH: usize = 100;

/// How many inventory entries one page may look at, per entry asked for:
/// a filter that matches little returns a short page (with a token)
/// rather than reading the whole inventory.
const SCAN_PER_ENTRY: usize = 10;

/// Largest encoded page of the gateway's own allocations: far below the
/// 4 MiB a gRPC client accepts by default, whatever the entries' tags.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// Most tags shown per unmanaged EIP (the provider's own limit), each key
/// and value cut to 128 characters: a provider page cannot make an answer
/// grow past what a client accepts.
const MAX_UNMANAGED_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 128;

/// Largest page asked of a provider when listing unmanaged EIPs.
const UNMANAGED_PAGE: u32 = 100;

impl Allocator {
    pub async fn list(
        &self,
        valid: ValidList,
        deadline: Option<Instant>,
    ) -> Result<pb::ListAllocationsResponse, Status> {
        let ctx = CallContext {
            deadline,
            idempotency_key: None,
            lane: Lane::Read,
        };
        match valid.position.clone() {
            None => self.managed_page(&valid, None, &ctx).await,
            Some(Position::Managed(cursor)) => self.managed_page(&valid, Some(cursor), &ctx).await,
            Some(Position::Unmanaged { account, page }) => {
                self.unmanaged_page(&valid, account, page, &ctx).await
            }
        }
    }

    async fn managed_page(
        &self,
        valid: &ValidList,
        after: Option<crate::inventory::Cursor>,
        ctx: &CallContext,
    ) -> Result<pb::ListAllocationsResponse, Status> {
        let filter = Filter {
            accounts: Some(
                valid
                    .providers
                    .iter()
                    .map(|p| p.description().name.clone())
                    .collect(),
            ),
            key_prefix: valid.key_prefix.clone(),
            tags: valid.tags.clone(),
        };
        let scan = valid.page_size.saturating_mul(SCAN_PER_ENTRY);
        let page = self
            .inventory
            .page(&filter, after.as_ref(), valid.page_size, scan)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not read the allocation inventory");
                error::store_unavailable(None)
            })?;
        let refreshed = self
            .refresh_listed(&valid.providers, page.entries, ctx)
            .await;
        // A page stops at MAX_PAGE_BYTES (tags make entries large): the
        // next one starts after the last entry it holds.
        let mut allocations = Vec::with_capacity(refreshed.len());
        let mut bytes = 0;
        let mut cut = None;
        let mut last = None;
        for (entry, fresh) in refreshed {
            if !valid.state.is_none_or(|s| entry.allocation.state == s) {
                last = Some(entry.cursor());
                continue;
            }
            let cursor = entry.cursor();
            let item = listed(&valid.providers, entry, fresh);
            let size = prost::Message::encoded_len(&item);
            if bytes + size > MAX_PAGE_BYTES && !allocations.is_empty() {
                cut = last;
                break;
            }
            bytes += size;
            allocations.push(item);
            last = Some(cursor);
        }
        let next = match cut.or(page.next) {
            Some(cursor) => Some(Position::Managed(cursor)),
            None if wants_unmanaged(valid) => Some(Position::Unmanaged {
                account: 0,
                page: 1,
            }),
            None => None,
        };
        Ok(pb::ListAllocationsResponse {
            allocations,
            next_page_token: next
                .map(|p| page_token::encode(valid.binding, &p))
                .unwrap_or_default(),
        })
    }

    /// `entries` with their states refreshed (true) where the provider
    /// answered; the new states are stored.
    async fn refresh_listed(
        &self,
        providers: &[Arc<dyn Provider>],
        entries: Vec<Entry>,
        ctx: &CallContext,
    ) -> Vec<(Entry, bool)> {
        // Live entries by (account, region), in batches.
        let mut batches: BTreeMap<(String, Option<String>), Vec<usize>> = BTreeMap::new();
        for (i, entry) in entries.iter().enumerate() {
            if !is_terminal(entry.allocation.state) {
                let region = entry.allocation.region_id.clone();
                batches
                    .entry((entry.account.clone(), region))
                    .or_default()
                    .push(i);
            }
        }
        let mut out: Vec<(Entry, bool)> = entries
            .into_iter()
            .map(|e| {
                let terminal = is_terminal(e.allocation.state);
                (e, terminal)
            })
            .collect();
        for ((account, region), indexes) in batches {
            let Some(provider) = providers.iter().find(|p| p.description().name == account) else {
                continue;
            };
            for chunk in indexes.chunks(REFRESH_BATCH) {
                let ids: Vec<String> = chunk.iter().map(|&i| out[i].0.id.clone()).collect();
                let read =
                    with_deadline(ctx, provider.describe_batch(region.as_deref(), &ids, ctx)).await;
                let found = match read {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::info!(
                            provider = %account,
                            error = %e,
                            ids = ids.len(),
                            "could not refresh listed allocations; answering their last known state"
                        );
                        continue;
                    }
                };
                let seen = SystemTime::now();
                let mut states = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    let (entry, fresh) = &mut out[i];
                    let allocation = match found.iter().find(|a| a.id == entry.id) {
                        Some(a) => a.clone(),
                        // The provider no longer knows it.
                        None => released(Some(entry.allocation.clone()), &entry.id),
                    };
                    crate::inventory::apply(entry, &allocation, seen);
                    *fresh = true;
                    states.push(allocation);
                }
                if let Err(e) = self.inventory.update(&account, &states, seen).await {
                    tracing::warn!(provider = %account, error = %e, "could not update the inventory");
                }
            }
        }
        out
    }

    async fn unmanaged_page(
        &self,
        valid: &ValidList,
        account: u32,
        page: u32,
        ctx: &CallContext,
    ) -> Result<pb::ListAllocationsResponse, Status> {
        let zenlayer: Vec<&Arc<dyn Provider>> = valid
            .providers
            .iter()
            .filter(|p| p.description().kind == ProviderKind::Zenlayer)
            .collect();
        let Some(provider) = usize::try_from(account)
            .ok()
            .and_then(|i| zenlayer.get(i).copied())
        else {
            return Ok(pb::ListAllocationsResponse::default());
        };
        let description = provider.description();
        let size = u32::try_from(valid.page_size)
            .unwrap_or(UNMANAGED_PAGE)
            .clamp(1, UNMANAGED_PAGE);
        let page = page.max(1);
        let answer = with_deadline(ctx, provider.account_page(page, size, ctx))
            .await
            .map_err(|e| error::provider_status(description, &e))?;
        let mut allocations = Vec::with_capacity(answer.allocations.len());
        let seen = SystemTime::now();
        for (allocation, tags) in answer.allocations {
            if self.is_managed(&description.name, &allocation.id).await
                || valid.state.is_some_and(|s| allocation.state != s)
                || !valid.tags.iter().all(|t| tags.contains(t))
            {
                continue;
            }
            allocations.push(unmanaged(provider.as_ref(), allocation, tags, seen));
        }
        let shown = u64::from(page).saturating_mul(u64::from(size));
        let next = if shown < answer.total {
            page.checked_add(1)
                .map(|page| Position::Unmanaged { account, page })
        } else {
            account
                .checked_add(1)
                .filter(|&next| usize::try_from(next).is_ok_and(|n| n < zenlayer.len()))
                .map(|account| Position::Unmanaged { account, page: 1 })
        };
        Ok(pb::ListAllocationsResponse {
            allocations,
            next_page_token: next
                .map(|p| page_token::encode(valid.binding, &p))
                .unwrap_or_default(),
        })
    }

    /// Whether this gateway's inventory has `id` (an unreadable inventory
    /// counts as yes: better to leave an EIP out than to list it twice).
    async fn is_managed(&self, account: &str, id: &str) -> bool {
        self.inventory
            .get(account, id)
            .await
            .map_or(true, |e| e.is_some())
    }
}

/// Whether the unmanaged phase follows the gateway's own allocations.
fn wants_unmanaged(valid: &ValidList) -> bool {
    valid.include_unmanaged
        && valid.key_prefix.is_empty()
        && valid
            .providers
            .iter()
            .any(|p| p.description().kind == ProviderKind::Zenlayer)
}

fn is_terminal(state: AllocationState) -> bool {
    matches!(state, AllocationState::Released | AllocationState::Failed)
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    let ms = millis(t);
    prost_types::Timestamp {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

fn tags_pb(tags: &[Tag]) -> Vec<pb::Tag> {
    tags.iter()
        .map(|t| pb::Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect()
}

fn listed(providers: &[Arc<dyn Provider>], entry: Entry, refreshed: bool) -> pb::ListedAllocation {
    let description = providers
        .iter()
        .find(|p| p.description().name == entry.account)
        .map(|p| p.description());
    let allocation = match description {
        Some(d) => convert::allocation(d, entry.allocation),
        None => pb::Allocation::default(),
    };
    pb::ListedAllocation {
        allocation: Some(allocation),
        managed: true,
        idempotency_key: entry.idempotency_key,
        caller: entry.caller.unwrap_or_default(),
        create_time: Some(timestamp(entry.created)),
        release_time: entry.released.map(timestamp),
        tags: tags_pb(&entry.tags),
        refreshed,
        state_time: Some(timestamp(entry.state_time)),
    }
}

fn unmanaged(
    provider: &dyn Provider,
    allocation: Allocation,
    mut tags: Vec<Tag>,
    seen: SystemTime,
) -> pb::ListedAllocation {
    tags.truncate(MAX_UNMANAGED_TAGS);
    for tag in &mut tags {
        for text in [&mut tag.key, &mut tag.value] {
            if let Some((at, _)) = text.char_indices().nth(MAX_TAG_CHARS) {
                text.truncate(at);
            }
        }
    }
    // Not ours: no key of this gateway (a key another gateway tagged it
    // with stays visible among the tags).
    pb::ListedAllocation {
        allocation: Some(convert::allocation(provider.description(), allocation)),
        managed: false,
        idempotency_key: String::new(),
        caller: String::new(),
        create_time: None,
        release_time: None,
        tags: tags_pb(&tags),
        refreshed: true,
        state_time: Some(timestamp(seen)),
    }
}
