//! Provider adapters: the one async trait every cloud implements, the shared
//! domain model, errors and HTTP plumbing, and one folder per cloud (client,
//! signer, wire formats, error table, parameter validation, its part of the
//! idempotency fingerprint). What the gRPC layer asks of a cloud without
//! calling it (its error table, lookup checks, fingerprint parameters,
//! whether an error means "already allocated") is answered here by kind.

pub mod aliyun;
pub mod attempt;
pub mod classification;
pub mod error;
pub mod error_table;
pub mod http;
pub mod model;
pub mod redact;
pub mod registry;
pub mod signing;
pub mod validate;
mod wire_common;
pub mod zenlayer;

use async_trait::async_trait;

pub use error::ProviderError;
pub use model::*;
pub use registry::Registry;

use error_table::ErrorTable;

/// What travels with every provider call besides its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The caller's deadline: no attempt, backoff or wait outlives it.
    pub deadline: Option<tokio::time::Instant>,
    /// The caller's idempotency key; providers that can tag what they create
    /// (Zenlayer) record it so an ambiguous allocation can be found again.
    pub idempotency_key: Option<String>,
    /// Which share of the account's rate limit the call draws on.
    pub lane: Lane,
}

/// Which share of a provider account's rate limit a call draws on, so that
/// polling can never starve allocations (see `middleware::rate_limit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Allocations, their reconciliation and the termination of failed
    /// allocations: the account's whole rate.
    #[default]
    Allocation,
    /// Polling and lookups (`wait`, `WatchAllocation`, `GetAllocation`, the
    /// refresh of a replayed answer): at most the account's read share.
    Read,
}

/// A configured provider account. The gRPC layer only dispatches to it; every
/// provider-specific detail lives behind this trait.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Name, kind, endpoint and capabilities, as ListProviders reports them.
    fn description(&self) -> &ProviderDescription;

    /// How the gateway follows this account's allocations (polling, the
    /// termination of failed ones, the reconciliation grace), as configured.
    fn follow(&self) -> &FollowSettings;

    /// Performs one allocation call. `spec` is validated and its kind
    /// matches this provider's.
    async fn allocate(
        &self,
        spec: &AllocateSpec,
        ctx: &CallContext,
    ) -> Result<AllocateResult, ProviderError>;

    /// Reads the current state of one allocation.
    async fn get_allocation(
        &self,
        lookup: &AllocationLookup,
        ctx: &CallContext,
    ) -> Result<Allocation, ProviderError>;

    /// Reads the current state of several allocations, batching where the
    /// provider allows. Ids the provider no longer knows are left out.
    async fn get_allocations(
        &self,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError>;

    /// After an allocation whose outcome is unknown: what the provider now
    /// shows for it. `Some` when the allocation exists (Zenlayer: EIPs tagged
    /// with `key`; Aliyun: the instance has a public IP), `None` when it was
    /// not performed (yet).
    async fn reconcile(
        &self,
        spec: &AllocateSpec,
        key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, ProviderError>;

    /// Returns a FAILED allocation to the provider (Zenlayer refunds a
    /// terminated CREATE_FAILED EIP in full). Providers without failed
    /// allocations answer `Ok(false)`.
    async fn release_failed(&self, id: &str, ctx: &CallContext) -> Result<bool, ProviderError>;

    /// Gives one allocation back (ReleaseAllocation). Idempotent: an
    /// allocation already released answers `Ok` with `already_released`;
    /// after an ambiguous answer the provider's state is read back before
    /// anything is sent again. `spec.purge` is only set for providers that
    /// have a recycle bin (Zenlayer).
    async fn release(
        &self,
        spec: &ReleaseSpec,
        ctx: &CallContext,
    ) -> Result<ReleaseResult, ProviderError> {
        let _ = (spec, ctx);
        Err(ProviderError::Internal(format!(
            "{}: release is not supported",
            self.description().kind
        )))
    }

    /// Reads the state of up to 100 allocations of one region (Aliyun; the
    /// others ignore `region_id`) with one Describe call. Ids the provider
    /// no longer knows are left out; an Aliyun instance without a public
    /// IP is reported with state `Released`.
    async fn describe_batch(
        &self,
        region_id: Option<&str>,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        let _ = region_id;
        self.get_allocations(ids, ctx).await
    }

    /// Whether an allocation could be made now (CheckAvailability). `spec`
    /// is validated and its kind matches this provider's.
    async fn check_availability(
        &self,
        spec: &AvailabilitySpec,
        ctx: &CallContext,
    ) -> Result<Availability, ProviderError> {
        let _ = (spec, ctx);
        Err(ProviderError::Internal(format!(
            "{}: availability checks are not supported",
            self.description().kind
        )))
    }

    /// Zenlayer: page `page` (1-based) of `page_size` of every EIP in the
    /// account, with its tags. Others: not supported.
    async fn account_page(
        &self,
        page: u32,
        page_size: u32,
        ctx: &CallContext,
    ) -> Result<AccountPage, ProviderError> {
        let _ = (page, page_size, ctx);
        Err(ProviderError::Internal(format!(
            "{}: listing the account is not supported",
            self.description().kind
        )))
    }
}

impl ProviderKind {
    /// The error table that maps this cloud's error codes.
    pub fn error_table(self) -> &'static ErrorTable {
        match self {
            ProviderKind::Aliyun => &aliyun::errors::TABLE,
            ProviderKind::Zenlayer => &zenlayer::errors::TABLE,
        }
    }

    /// True when `e`, the answer to re-sending an allocation whose earlier
    /// attempt had an unknown outcome, says that attempt landed: the
    /// allocation exists and is read back (reconciled), not failed. Only
    /// Alibaba has such an answer (`AllocatedAlready`); no Zenlayer error
    /// says it.
    pub fn already_allocated(self, e: &ProviderError) -> bool {
        match self {
            ProviderKind::Aliyun => aliyun::existing::is_allocated_already(e),
            ProviderKind::Zenlayer => false,
        }
    }

    /// This cloud's checks of a lookup's `id` (trimmed; empty when absent or
    /// oversized, already reported) and `region_id`, adding what is wrong
    /// to `v`.
    pub fn check_lookup(self, id: &str, region_id: Option<&str>, v: &mut validate::Violations) {
        match self {
            ProviderKind::Aliyun => aliyun::validate::lookup(id, region_id, v),
            ProviderKind::Zenlayer => zenlayer::validate::lookup(id, region_id, v),
        }
    }
}

impl AllocateSpec {
    /// The parameters an idempotency fingerprint covers, as each cloud
    /// names them (`provider::*::fingerprint`).
    pub fn canonical_params(&self) -> Vec<(&'static str, String)> {
        match self {
            AllocateSpec::Aliyun(a) => aliyun::fingerprint::canonical_params(a),
            AllocateSpec::Zenlayer(z) => zenlayer::fingerprint::canonical_params(z),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AIP-193: ErrorInfo reasons are UPPER_SNAKE_CASE, at most 63 characters.
    #[test]
    fn every_table_reason_is_upper_snake_and_short() {
        for kind in [ProviderKind::Aliyun, ProviderKind::Zenlayer] {
            for rule in kind.error_table().rules {
                let reason = rule.reason;
                assert!(error_table::is_aip_193_reason(reason), "{reason}");
            }
        }
    }
}
