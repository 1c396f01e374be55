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

/// Timeouts of the HTTP client a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// TCP (and TLS) connection establishment.
    pub connect_timeout: Duration,
    /// One whole provider request, from sending to the last body byte.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        // Alibaba's legacy SDK uses 5 s connect and 36 s read for this action;
        // a longer read timeout means fewer ambiguous allocations.
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
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
