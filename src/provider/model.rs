//! Provider-neutral domain types: what the gRPC layer hands to a provider
//! adapter (already validated) and what the adapter hands back.

use std::time::Duration;

/// The cloud behind a configured provider account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Aliyun,
    Zenlayer,
}

impl ProviderKind {
    /// The lowercase name used in configuration files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Aliyun => "aliyun",
            ProviderKind::Zenlayer => "zenlayer",
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider API call, named as the cloud names it. Errors carry it so the
/// mapping can tell a read (safe to retry) from a write (outcome matters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The provider's action name, e.g. `AllocatePublicIpAddress`.
    pub name: &'static str,
    /// True when the call changes provider state (and may cost money).
    pub mutating: bool,
}

/// Validated parameters of Alibaba Cloud ECS `AllocatePublicIpAddress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliyunAllocate {
    pub instance_id: String,
    pub ip_address: Option<String>,
    pub vlan_id: Option<String>,
    /// Overrides the provider's configured region.
    pub region_id: Option<String>,
}

/// How Zenlayer bills an EIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeType {
    Prepaid { period_months: u32 },
    Postpaid,
}

/// Validated parameters of Zenlayer BMC `AllocateEipAddresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZenlayerAllocate {
    pub zone_id: String,
    pub charge: ChargeType,
    pub resource_group_id: Option<String>,
    /// 1..=100 (defaults applied by validation).
    pub amount: u32,
    /// 1..=32 (defaults applied by validation).
    pub netmask: u32,
    /// The caller gave `amount` / `netmask`. Only then are they sent: an
    /// official SDK leaves every field its caller did not set out of the
    /// request, and the provider applies the same documented defaults (1
    /// and 32).
    pub amount_set: bool,
    pub netmask_set: bool,
    pub discount_code: Option<String>,
    pub use_poc_voucher: bool,
    /// Unique keys, in request order.
    pub tags: Vec<Tag>,
}

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// What to allocate: one variant per provider kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocateSpec {
    Aliyun(AliyunAllocate),
    Zenlayer(ZenlayerAllocate),
}

impl AllocateSpec {
    pub fn kind(&self) -> ProviderKind {
        match self {
            AllocateSpec::Aliyun(_) => ProviderKind::Aliyun,
            AllocateSpec::Zenlayer(_) => ProviderKind::Zenlayer,
        }
    }

    /// How many addresses it allocates (what spend limits count): one on
    /// Alibaba, `amount` on Zenlayer.
    pub fn addresses(&self) -> u32 {
        match self {
            AllocateSpec::Aliyun(_) => 1,
            AllocateSpec::Zenlayer(z) => z.amount,
        }
    }
}

/// Which allocation to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationLookup {
    /// Zenlayer eipId or Aliyun instance id.
    pub id: String,
    /// Aliyun only: overrides the provider's configured region.
    pub region_id: Option<String>,
}

/// Common lifecycle state of an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocationState {
    Pending,
    Ready,
    Failed,
    Released,
}

/// One allocated address as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub id: String,
    pub ip_address: Option<String>,
    pub state: AllocationState,
    /// The provider's own status word (CREATING, AVAILABLE, Running, ...).
    pub provider_status: String,
    pub zone_id: Option<String>,
    pub region_id: Option<String>,
    pub requires_instance_restart: bool,
    pub instance_id: Option<String>,
    pub failure_reason: Option<String>,
    pub netmask: Option<u32>,
}

/// The result of one successful allocation call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocateResult {
    pub provider_request_id: String,
    pub order_number: Option<String>,
    pub allocations: Vec<Allocation>,
}

/// What ListProviders reports about a provider account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDescription {
    pub name: String,
    pub kind: ProviderKind,
    pub region: Option<String>,
    pub endpoint: String,
    pub capabilities: Capabilities,
}

impl ProviderDescription {
    /// The URL path the provider's API calls go to (for messages): Zenlayer
    /// posts to `<endpoint path>/api/v2/bmc`, Alibaba's RPC API is at `/`.
    pub fn request_path(&self) -> String {
        let base = reqwest::Url::parse(&self.endpoint)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        match self.kind {
            ProviderKind::Zenlayer => format!("{base}/api/v2/bmc"),
            ProviderKind::Aliyun => "/".to_owned(),
        }
    }
}

/// What a provider supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub max_allocations_per_request: u32,
    pub asynchronous: bool,
    pub requires_instance: bool,
    pub requires_instance_restart: bool,
    pub charge_types: Vec<ChargeTypeName>,
    pub api_version: String,
    pub signature: String,
}

/// A charge type without its parameters, for capability lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeTypeName {
    Prepaid,
    Postpaid,
}

/// Timeouts of the HTTP client a provider uses. One whole request, from
/// sending to the last body byte, is bounded by the resilience stack's
/// `ResilienceSettings::attempt_timeout` (`request_timeout_ms`), not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// TCP (and TLS) connection establishment.
    pub connect_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        // Alibaba's legacy SDK uses 5 s to connect for this action.
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// How the gateway follows a provider's allocations after creating them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSettings {
    /// Delay before the first poll of a pending allocation; it doubles after
    /// each poll.
    pub poll_initial: Duration,
    /// Longest delay between polls.
    pub poll_max: Duration,
    /// Terminate allocations that end FAILED (Zenlayer refunds a terminated
    /// CREATE_FAILED EIP in full).
    pub terminate_failed: bool,
    /// How old an attempt with an unknown outcome must be before a retry
    /// with the same idempotency key, finding nothing at the provider,
    /// allocates again.
    pub reconcile_grace: Duration,
}

impl Default for FollowSettings {
    /// Terraform waits 10 s, then polls every 5 to 10 s; a gateway answering
    /// interactive callers starts at 1 s and backs off to the same 10 s.
    fn default() -> Self {
        FollowSettings {
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            terminate_failed: false,
            reconcile_grace: Duration::from_secs(60),
        }
    }
}

/// What to release: one allocation by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    /// Zenlayer eipId or Aliyun instance id.
    pub id: String,
    /// Aliyun only: overrides the provider's configured region.
    pub region_id: Option<String>,
    /// Zenlayer only: also delete the EIP from the recycle bin.
    pub purge: bool,
}

/// The result of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseResult {
    /// The request id of the releasing call; empty when nothing was sent.
    pub provider_request_id: String,
    /// The allocation as the provider shows it now (state `Released`).
    pub allocation: Allocation,
    /// It was released before this call (nothing had to be sent, or the
    /// provider answered that it already was).
    pub already_released: bool,
    /// Zenlayer: deleted from the recycle bin as well.
    pub purged: bool,
}

/// What to check availability for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvailabilitySpec {
    /// Whether the instance can take a static public IP now.
    Aliyun {
        instance_id: String,
        region_id: Option<String>,
    },
    /// Whether EIPs are sold in `zone_id` (every zone when `None`), of
    /// `netmask` (every netmask when `None`).
    Zenlayer {
        zone_id: Option<String>,
        netmask: Option<u32>,
        charge: ChargeTypeName,
    },
}

impl AvailabilitySpec {
    pub fn kind(&self) -> ProviderKind {
        match self {
            AvailabilitySpec::Aliyun { .. } => ProviderKind::Aliyun,
            AvailabilitySpec::Zenlayer { .. } => ProviderKind::Zenlayer,
        }
    }

    /// What checking before `spec` means: the same zone and netmask, or
    /// the same instance.
    pub fn for_allocation(spec: &AllocateSpec) -> AvailabilitySpec {
        match spec {
            AllocateSpec::Aliyun(a) => AvailabilitySpec::Aliyun {
                instance_id: a.instance_id.clone(),
                region_id: a.region_id.clone(),
            },
            AllocateSpec::Zenlayer(z) => AvailabilitySpec::Zenlayer {
                zone_id: Some(z.zone_id.clone()),
                netmask: Some(z.netmask),
                charge: match z.charge {
                    ChargeType::Prepaid { .. } => ChargeTypeName::Prepaid,
                    ChargeType::Postpaid => ChargeTypeName::Postpaid,
                },
            },
        }
    }
}

/// Whether a provider sells something now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleStatus {
    Sell,
    Shortage,
    SoldOut,
    /// A status word this gateway does not know.
    Unknown,
}

/// Zenlayer: the sale status of one netmask in one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAvailability {
    pub zone_id: String,
    pub netmask: u32,
    pub status: SaleStatus,
    /// The provider's word (SELL, SELL_SHORTAGE, SOLD_OUT).
    pub provider_status: String,
}

/// Aliyun: one condition AllocatePublicIpAddress needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Short name, e.g. `instance_status`.
    pub name: &'static str,
    pub satisfied: bool,
    /// What the condition requires, in words.
    pub description: &'static str,
    /// What the instance shows, e.g. `Status=Starting`.
    pub observed: String,
    /// When not satisfied: the code AllocatePublicIpAddress would return
    /// (looked up in the provider's error table for the gateway's answer).
    pub error_code: Option<&'static str>,
    /// The message the provider documents with that code (it picks the row
    /// of a code whose rows differ by message, such as `OperationDenied`);
    /// empty when the code alone decides.
    pub error_message: &'static str,
}

/// The answer of an availability check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    pub provider_request_id: String,
    /// An allocation with these parameters could be made now.
    pub available: bool,
    /// Zenlayer: one entry per zone and netmask.
    pub zones: Vec<ZoneAvailability>,
    /// Aliyun: every condition checked.
    pub conditions: Vec<Condition>,
}

/// Zenlayer: one page of the account's EIPs (`DescribeEipAddresses`
/// without filters), for listing the ones this gateway did not create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPage {
    pub allocations: Vec<(Allocation, Vec<Tag>)>,
    /// The provider's total count of EIPs in the account.
    pub total: u64,
}
