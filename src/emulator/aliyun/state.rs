//! The emulated region: instances, public IP pools (one default pool per
//! zone, one per VLAN) and who holds which address, plus the rules of
//! `AllocatePublicIpAddress` as a state transition.
//!
//! Allocation checks, in order (the first failure answers):
//!
//! 1. `IpAddress` given and not an IPv4 address, or one that can never be a
//!    public address (private, loopback, link-local, multicast, broadcast,
//!    unspecified, shared or documentation ranges): `InvalidIpAddress.Malformed`.
//! 2. unknown instance: `InvalidInstanceId.NotFound`.
//! 3. the instance's designated failure ([`ForcedError`]), if any.
//! 4. status not `Running`/`Stopped`: `IncorrectInstanceStatus`.
//! 5. lock `security`: `InstanceLockedForSecurity`; `financial`:
//!    `InstanceExpiredOrInArrears`; `recycling`: `IncorrectInstanceStatus`.
//! 6. VPC instance with an EIP bound, or `VlanId` given for a VPC instance:
//!    `OperationDenied` ("... your instance is in VPC.").
//! 7. a public IP already: `AllocatedAlready` ([`RepeatAllocation::AllocatedAlready`],
//!    the default, as the API page says), or that IP returned as if just
//!    allocated ([`RepeatAllocation::ReturnExisting`], the 2026
//!    documentation's rule) unless `IpAddress` names another address
//!    (then `AllocatedAlready`: the instance holds another IP).
//! 8. `InternetMaxBandwidthOut` 0: `AllocateIpInvalidInstanceBandwidth`.
//! 9. `VlanId` unknown: `InvalidVlanId.NotFound`.
//! 10. `IpAddress` not in the pool (the VLAN's, else the zone's):
//!     `InvalidIpAddress.NotFound`; held by an instance: `IpInUse`.
//! 11. no free address: `OperationDenied` ("... vlan has not enough IP
//!     address.") with a `VlanId`, `InsufficientPublicIp` without.
//!
//! Otherwise the lowest free address of the pool (or the one asked for)
//! leaves the pool and the instance holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::errors::EcsError;

/// An ECS instance status (`Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    Pending,
    Running,
    Starting,
    Stopping,
    Stopped,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Pending => "Pending",
            InstanceStatus::Running => "Running",
            InstanceStatus::Starting => "Starting",
            InstanceStatus::Stopping => "Stopping",
            InstanceStatus::Stopped => "Stopped",
        }
    }
}

/// `InstanceNetworkType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkType {
    Vpc,
    Classic,
}

impl NetworkType {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Vpc => "vpc",
            NetworkType::Classic => "classic",
        }
    }
}

/// An `OperationLocks` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockReason {
    Security,
    Financial,
    Recycling,
}

impl LockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::Security => "security",
            LockReason::Financial => "financial",
            LockReason::Recycling => "recycling",
        }
    }
}

/// A failure an instance always answers `AllocatePublicIpAddress` with
/// (errors that no state explains), named by its Alibaba code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForcedError {
    /// 500 `InternalError`.
    InternalError,
    /// 403 `NAT_PUBLIC_IP_BINDING_FAILED`.
    #[serde(rename = "NAT_PUBLIC_IP_BINDING_FAILED")]
    NatPublicIpBindingFailed,
    /// 403 `NAT_PUBLIC_IP_ALLOCATE_FAILED`.
    #[serde(rename = "NAT_PUBLIC_IP_ALLOCATE_FAILED")]
    NatPublicIpAllocateFailed,
}

impl ForcedError {
    pub fn error(self) -> EcsError {
        match self {
            ForcedError::InternalError => EcsError::internal_error(),
            ForcedError::NatPublicIpBindingFailed => EcsError::nat_binding_failed(),
            ForcedError::NatPublicIpAllocateFailed => EcsError::nat_allocate_failed(),
        }
    }
}

/// An EIP bound to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eip {
    pub ip_address: String,
    #[serde(default)]
    pub allocation_id: String,
}

fn default_status() -> InstanceStatus {
    InstanceStatus::Running
}

fn default_network() -> NetworkType {
    NetworkType::Vpc
}

fn default_bandwidth() -> u32 {
    5
}

/// One instance. As JSON (admin endpoint) every field but `instance_id` is
/// optional: Running, VPC, 5 Mbit/s, the default zone, no IP, no lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// `i-` then letters, digits, `-` or `_` (at most 64 characters).
    pub instance_id: String,
    /// Defaults to the instance id.
    #[serde(default)]
    pub instance_name: String,
    /// Defaults to the region's default zone.
    #[serde(default)]
    pub zone_id: String,
    #[serde(default = "default_status")]
    pub status: InstanceStatus,
    #[serde(default = "default_network")]
    pub network: NetworkType,
    #[serde(default = "default_bandwidth")]
    pub internet_max_bandwidth_out: u32,
    /// The static public IP (`PublicIpAddress.IpAddress[0]`).
    #[serde(default)]
    pub public_ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub eip: Option<Eip>,
    #[serde(default)]
    pub locks: Vec<LockReason>,
    #[serde(default)]
    pub forced_error: Option<ForcedError>,
    /// Defaults to a generated 172.16.x.y address.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
}

impl Instance {
    /// A Running VPC instance with 5 Mbit/s and nothing else set.
    pub fn new(instance_id: &str) -> Instance {
        Instance {
            instance_id: instance_id.to_owned(),
            instance_name: String::new(),
            zone_id: String::new(),
            status: default_status(),
            network: default_network(),
            internet_max_bandwidth_out: default_bandwidth(),
            public_ip: None,
            eip: None,
            locks: Vec::new(),
            forced_error: None,
            private_ip: None,
        }
    }
}

/// Why an instance cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("instance id {0:?} must be i- followed by 1 to 62 letters, digits, - or _")]
    InvalidInstanceId(String),
    #[error("public IP {ip} is held by instance {holder}")]
    IpHeld { ip: Ipv4Addr, holder: String },
}

/// A public IP pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// Every address of the pool, held or free.
    pub members: BTreeSet<Ipv4Addr>,
    /// The addresses not held by any instance.
    pub free: BTreeSet<Ipv4Addr>,
}

/// What a repeated `AllocatePublicIpAddress` answers for an instance that
/// already has a static public IP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RepeatAllocation {
    /// 403 `AllocatedAlready` (the API page's error table; the default).
    #[default]
    AllocatedAlready,
    /// 200 with the instance's existing IP in `IpAddress` (the English API
    /// page since 2024/2026: "If the instance already has a static public IP
    /// address, the static public IP address is returned").
    ReturnExisting,
}

impl RepeatAllocation {
    /// `allocated-already` or `returns-existing` (the `emulate` flag's
    /// values).
    pub fn as_str(self) -> &'static str {
        match self {
            RepeatAllocation::AllocatedAlready => "allocated-already",
            RepeatAllocation::ReturnExisting => "returns-existing",
        }
    }
}

impl std::fmt::Display for RepeatAllocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RepeatAllocation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "allocated-already" => Ok(RepeatAllocation::AllocatedAlready),
            "returns-existing" | "return-existing" => Ok(RepeatAllocation::ReturnExisting),
            other => Err(format!(
                "{other:?} is not allocated-already or returns-existing"
            )),
        }
    }
}

/// What `AllocatePublicIpAddress` was asked.
#[derive(Debug, Clone, Copy)]
pub struct AllocateRequest<'a> {
    pub instance_id: &'a str,
    pub ip_address: Option<&'a str>,
    pub vlan_id: Option<&'a str>,
    /// The rule for an instance that already has a public IP.
    pub repeat: RepeatAllocation,
}

/// A successful `AllocatePublicIpAddress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocated {
    pub ip: Ipv4Addr,
    /// False when the instance's existing IP was returned
    /// ([`RepeatAllocation::ReturnExisting`]): nothing was allocated.
    pub new: bool,
}

/// The region's instances and addresses.
#[derive(Debug, Clone)]
pub struct Inventory {
    default_zone: String,
    instances: BTreeMap<String, Instance>,
    zone_pools: BTreeMap<String, Pool>,
    vlan_pools: BTreeMap<String, Pool>,
    /// Public IP -> the instance holding it.
    holders: HashMap<Ipv4Addr, String>,
    next_private: u32,
}

impl Inventory {
    pub fn new(default_zone: &str) -> Inventory {
        Inventory {
            default_zone: default_zone.to_owned(),
            instances: BTreeMap::new(),
            zone_pools: BTreeMap::new(),
            vlan_pools: BTreeMap::new(),
            holders: HashMap::new(),
            next_private: 0,
        }
    }

    pub fn default_zone(&self) -> &str {
        &self.default_zone
    }

    /// Adds addresses to a zone's default pool (created if absent, so an
    /// empty list makes an empty pool).
    pub fn add_zone_pool(&mut self, zone: &str, ips: impl IntoIterator<Item = Ipv4Addr>) {
        let pool = self.zone_pools.entry(zone.to_owned()).or_default();
        add_to_pool(pool, &self.holders, ips);
    }

    /// Adds addresses to a VLAN's pool (created if absent).
    pub fn add_vlan_pool(&mut self, vlan: &str, ips: impl IntoIterator<Item = Ipv4Addr>) {
        let pool = self.vlan_pools.entry(vlan.to_owned()).or_default();
        add_to_pool(pool, &self.holders, ips);
    }

    pub fn zone_pools(&self) -> &BTreeMap<String, Pool> {
        &self.zone_pools
    }

    pub fn vlan_pools(&self) -> &BTreeMap<String, Pool> {
        &self.vlan_pools
    }

    pub fn get(&self, instance_id: &str) -> Option<&Instance> {
        self.instances.get(instance_id)
    }

    /// Every instance, by id.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// Adds or replaces an instance (defaults filled in). A replaced
    /// instance's public IP returns to its pool; the new one's leaves it.
    /// Returns the stored instance and the one it replaced.
    pub fn upsert(
        &mut self,
        mut instance: Instance,
    ) -> Result<(Instance, Option<Instance>), InventoryError> {
        if !is_valid_instance_id(&instance.instance_id) {
            return Err(InventoryError::InvalidInstanceId(instance.instance_id));
        }
        if let Some(ip) = instance.public_ip
            && let Some(holder) = self.holders.get(&ip)
            && *holder != instance.instance_id
        {
            return Err(InventoryError::IpHeld {
                ip,
                holder: holder.clone(),
            });
        }
        if instance.instance_name.is_empty() {
            instance.instance_name.clone_from(&instance.instance_id);
        }
        if instance.zone_id.is_empty() {
            instance.zone_id.clone_from(&self.default_zone);
        }
        if instance.private_ip.is_none() {
            instance.private_ip = Some(self.next_private_ip());
        }
        let replaced = self.remove(&instance.instance_id);
        if let Some(ip) = instance.public_ip {
            self.hold(ip, &instance.instance_id);
        }
        self.instances
            .insert(instance.instance_id.clone(), instance.clone());
        Ok((instance, replaced))
    }

    /// Removes an instance; its public IP returns to its pool.
    pub fn remove(&mut self, instance_id: &str) -> Option<Instance> {
        let removed = self.instances.remove(instance_id)?;
        if let Some(ip) = removed.public_ip {
            self.release(ip);
        }
        Some(removed)
    }

    /// Performs `AllocatePublicIpAddress` (see the module documentation for
    /// the order of checks); returns the address allocated.
    pub fn allocate(&mut self, request: AllocateRequest<'_>) -> Result<Allocated, EcsError> {
        let wanted = match request.ip_address {
            Some(text) => Some(
                text.parse::<Ipv4Addr>()
                    .ok()
                    .filter(could_be_public)
                    .ok_or_else(EcsError::ip_address_malformed)?,
            ),
            None => None,
        };
        let instance = self
            .instances
            .get(request.instance_id)
            .ok_or_else(EcsError::instance_not_found)?;
        if let Some(forced) = instance.forced_error {
            return Err(forced.error());
        }
        if !matches!(
            instance.status,
            InstanceStatus::Running | InstanceStatus::Stopped
        ) {
            return Err(EcsError::incorrect_instance_status());
        }
        if instance.locks.contains(&LockReason::Security) {
            return Err(EcsError::locked_for_security());
        }
        if instance.locks.contains(&LockReason::Financial) {
            return Err(EcsError::expired_or_in_arrears());
        }
        if instance.locks.contains(&LockReason::Recycling) {
            return Err(EcsError::incorrect_instance_status());
        }
        if instance.network == NetworkType::Vpc
            && (instance.eip.is_some() || request.vlan_id.is_some())
        {
            return Err(EcsError::instance_in_vpc());
        }
        if let Some(existing) = instance.public_ip {
            return match request.repeat {
                RepeatAllocation::ReturnExisting if wanted.is_none_or(|ip| ip == existing) => {
                    Ok(Allocated {
                        ip: existing,
                        new: false,
                    })
                }
                _ => Err(EcsError::allocated_already()),
            };
        }
        if instance.internet_max_bandwidth_out == 0 {
            return Err(EcsError::invalid_instance_bandwidth());
        }
        let zone = instance.zone_id.clone();
        let pool = match request.vlan_id {
            Some(vlan) => Some(
                self.vlan_pools
                    .get_mut(vlan)
                    .ok_or_else(EcsError::vlan_not_found)?,
            ),
            None => self.zone_pools.get_mut(&zone),
        };
        let chosen = match (wanted, pool) {
            (Some(ip), Some(pool)) if pool.members.contains(&ip) => {
                if !pool.free.remove(&ip) {
                    return Err(EcsError::ip_in_use());
                }
                ip
            }
            (Some(_), _) => return Err(EcsError::ip_not_in_vlan()),
            (None, pool) => match pool.and_then(|pool| pool.free.pop_first()) {
                Some(ip) => ip,
                None if request.vlan_id.is_some() => return Err(EcsError::vlan_exhausted()),
                None => return Err(EcsError::insufficient_public_ip()),
            },
        };
        self.holders.insert(chosen, request.instance_id.to_owned());
        if let Some(instance) = self.instances.get_mut(request.instance_id) {
            instance.public_ip = Some(chosen);
        }
        Ok(Allocated {
            ip: chosen,
            new: true,
        })
    }

    /// Marks `ip` held by `instance_id`: it leaves every pool's free set.
    fn hold(&mut self, ip: Ipv4Addr, instance_id: &str) {
        for pool in self
            .zone_pools
            .values_mut()
            .chain(self.vlan_pools.values_mut())
        {
            pool.free.remove(&ip);
        }
        self.holders.insert(ip, instance_id.to_owned());
    }

    /// `ip` is no longer held: it returns to the pools it belongs to.
    fn release(&mut self, ip: Ipv4Addr) {
        self.holders.remove(&ip);
        for pool in self
            .zone_pools
            .values_mut()
            .chain(self.vlan_pools.values_mut())
        {
            if pool.members.contains(&ip) {
                pool.free.insert(ip);
            }
        }
    }

    /// 172.16.0.1, 172.16.0.2, ... (skipping .0 and .255 of each /24).
    fn next_private_ip(&mut self) -> Ipv4Addr {
        let n = self.next_private;
        self.next_private = self.next_private.wrapping_add(1);
        let host = n % 254 + 1;
        let subnet = (n / 254) % (16 * 256);
        let [_, _, a, b] = subnet.to_be_bytes();
        Ipv4Addr::new(172, 16 + a % 16, b, host as u8)
    }
}

fn add_to_pool(
    pool: &mut Pool,
    holders: &HashMap<Ipv4Addr, String>,
    ips: impl IntoIterator<Item = Ipv4Addr>,
) {
    for ip in ips {
        pool.members.insert(ip);
        if !holders.contains_key(&ip) {
            pool.free.insert(ip);
        }
    }
}

/// `i-` then 1 to 62 ASCII letters, digits, `-` or `_`.
pub fn is_valid_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 62
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// False for addresses no cloud hands out as a public IP.
fn could_be_public(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || shared
        || a == 0
        || a >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::new("z-a");
        inv.add_zone_pool("z-a", [ip("1.0.0.1"), ip("1.0.0.2")]);
        inv.add_zone_pool("z-empty", []);
        inv.add_vlan_pool("100", [ip("2.0.0.1"), ip("2.0.0.2")]);
        inv.add_vlan_pool("300", []);
        inv
    }

    fn alloc<'a>(id: &'a str, ip: Option<&'a str>, vlan: Option<&'a str>) -> AllocateRequest<'a> {
        AllocateRequest {
            instance_id: id,
            ip_address: ip,
            vlan_id: vlan,
            repeat: RepeatAllocation::AllocatedAlready,
        }
    }

    fn new_ip(text: &str) -> Result<Allocated, EcsError> {
        Ok(Allocated {
            ip: ip(text),
            new: true,
        })
    }

    #[test]
    fn repeat_rule_returns_the_existing_ip_or_allocated_already() {
        let mut inv = inventory();
        inv.upsert(Instance::new("i-a")).unwrap();
        assert_eq!(inv.allocate(alloc("i-a", None, None)), new_ip("1.0.0.1"));
        let returning = |ip| AllocateRequest {
            repeat: RepeatAllocation::ReturnExisting,
            ..alloc("i-a", ip, None)
        };
        let existing = Ok(Allocated {
            ip: ip("1.0.0.1"),
            new: false,
        });
        assert_eq!(inv.allocate(returning(None)), existing);
        assert_eq!(inv.allocate(returning(Some("1.0.0.1"))), existing);
        assert_eq!(
            inv.allocate(returning(Some("1.0.0.2"))).unwrap_err().code,
            "AllocatedAlready",
            "the instance holds another IP"
        );
        assert_eq!(
            inv.allocate(alloc("i-a", None, None)).unwrap_err().code,
            "AllocatedAlready"
        );
        assert_eq!(inv.get("i-a").unwrap().public_ip, Some(ip("1.0.0.1")));
        for rule in [
            RepeatAllocation::AllocatedAlready,
            RepeatAllocation::ReturnExisting,
        ] {
            assert_eq!(rule.as_str().parse::<RepeatAllocation>(), Ok(rule));
        }
        assert!("sometimes".parse::<RepeatAllocation>().is_err());
        assert_eq!(
            RepeatAllocation::default(),
            RepeatAllocation::AllocatedAlready
        );
    }

    #[test]
    fn allocates_lowest_free_and_holds_it() {
        let mut inv = inventory();
        inv.upsert(Instance::new("i-a")).unwrap();
        inv.upsert(Instance::new("i-b")).unwrap();
        assert_eq!(inv.allocate(alloc("i-a", None, None)), new_ip("1.0.0.1"));
        assert_eq!(inv.get("i-a").unwrap().public_ip, Some(ip("1.0.0.1")));
        assert_eq!(
            inv.allocate(alloc("i-a", None, None)).unwrap_err().code,
            "AllocatedAlready"
        );
        assert_eq!(inv.allocate(alloc("i-b", None, None)), new_ip("1.0.0.2"));
        inv.upsert(Instance::new("i-c")).unwrap();
        assert_eq!(
            inv.allocate(alloc("i-c", None, None)).unwrap_err().code,
            "InsufficientPublicIp"
        );
        // Removing a holder returns its address.
        inv.remove("i-a");
        assert_eq!(inv.allocate(alloc("i-c", None, None)), new_ip("1.0.0.1"));
    }

    #[test]
    fn vlan_rules() {
        let mut inv = inventory();
        let classic = |id: &str| Instance {
            network: NetworkType::Classic,
            ..Instance::new(id)
        };
        inv.upsert(classic("i-a")).unwrap();
        inv.upsert(Instance {
            public_ip: Some(ip("2.0.0.1")),
            ..classic("i-holder")
        })
        .unwrap();
        let code =
            |inv: &mut Inventory, ip, vlan| inv.allocate(alloc("i-a", ip, vlan)).unwrap_err().code;
        assert_eq!(code(&mut inv, None, Some("999")), "InvalidVlanId.NotFound");
        assert_eq!(code(&mut inv, None, Some("300")), "OperationDenied");
        assert_eq!(
            code(&mut inv, Some("9.9.9.9"), Some("100")),
            "InvalidIpAddress.NotFound"
        );
        assert_eq!(code(&mut inv, Some("2.0.0.1"), Some("100")), "IpInUse");
        assert_eq!(
            code(&mut inv, Some("1.0.0.1"), Some("100")),
            "InvalidIpAddress.NotFound"
        );
        assert_eq!(
            code(&mut inv, Some("2.0.0.300"), Some("100")),
            "InvalidIpAddress.Malformed"
        );
        for never_public in [
            "10.1.2.3",
            "192.168.0.1",
            "127.0.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert_eq!(
                code(&mut inv, Some(never_public), Some("100")),
                "InvalidIpAddress.Malformed",
                "{never_public}"
            );
        }
        assert_eq!(
            inv.allocate(alloc("i-a", None, Some("100"))),
            new_ip("2.0.0.2")
        );
        assert!(inv.vlan_pools()["100"].free.is_empty());
    }

    #[test]
    fn vpc_and_instance_state_rules() {
        let mut inv = inventory();
        let cases = [
            (
                Instance {
                    status: InstanceStatus::Starting,
                    ..Instance::new("i-1")
                },
                "IncorrectInstanceStatus",
            ),
            (
                Instance {
                    status: InstanceStatus::Pending,
                    ..Instance::new("i-2")
                },
                "IncorrectInstanceStatus",
            ),
            (
                Instance {
                    locks: vec![LockReason::Financial, LockReason::Security],
                    ..Instance::new("i-3")
                },
                "InstanceLockedForSecurity",
            ),
            (
                Instance {
                    locks: vec![LockReason::Financial],
                    ..Instance::new("i-4")
                },
                "InstanceExpiredOrInArrears",
            ),
            (
                Instance {
                    locks: vec![LockReason::Recycling],
                    ..Instance::new("i-5")
                },
                "IncorrectInstanceStatus",
            ),
            (
                Instance {
                    eip: Some(Eip {
                        ip_address: "8.8.8.8".into(),
                        allocation_id: "eip-1".into(),
                    }),
                    ..Instance::new("i-6")
                },
                "OperationDenied",
            ),
            (
                Instance {
                    internet_max_bandwidth_out: 0,
                    ..Instance::new("i-7")
                },
                "AllocateIpInvalidInstanceBandwidth",
            ),
            (
                Instance {
                    zone_id: "z-empty".into(),
                    ..Instance::new("i-8")
                },
                "InsufficientPublicIp",
            ),
            (
                Instance {
                    zone_id: "z-nopool".into(),
                    ..Instance::new("i-9")
                },
                "InsufficientPublicIp",
            ),
            (
                Instance {
                    forced_error: Some(ForcedError::InternalError),
                    ..Instance::new("i-10")
                },
                "InternalError",
            ),
        ];
        for (instance, expected) in cases {
            let id = instance.instance_id.clone();
            inv.upsert(instance).unwrap();
            assert_eq!(
                inv.allocate(alloc(&id, None, None)).unwrap_err().code,
                expected,
                "{id}"
            );
        }
        inv.upsert(Instance::new("i-vpc")).unwrap();
        let denied = inv.allocate(alloc("i-vpc", None, Some("100"))).unwrap_err();
        assert_eq!(
            denied.message,
            "Specified operation is denied as your instance is in VPC."
        );
        assert_eq!(
            inv.allocate(alloc("i-missing", None, None))
                .unwrap_err()
                .code,
            "InvalidInstanceId.NotFound"
        );
        assert_eq!(
            inv.allocate(alloc("i-vpc", Some("1.0.0.2"), None)),
            new_ip("1.0.0.2")
        );
    }

    #[test]
    fn upsert_validates_and_moves_addresses() {
        let mut inv = inventory();
        for bad in [
            "",
            "i-",
            "x-1",
            "i-a b",
            "i-<script>",
            &format!("i-{}", "a".repeat(63)),
        ] {
            assert!(
                matches!(
                    inv.upsert(Instance::new(bad)),
                    Err(InventoryError::InvalidInstanceId(_))
                ),
                "{bad:?}"
            );
        }
        let (stored, replaced) = inv
            .upsert(Instance {
                public_ip: Some(ip("1.0.0.1")),
                ..Instance::new("i-a")
            })
            .unwrap();
        assert!(replaced.is_none());
        assert_eq!(stored.instance_name, "i-a");
        assert_eq!(stored.zone_id, "z-a");
        assert_eq!(stored.private_ip, Some(ip("172.16.0.1")));
        assert!(!inv.zone_pools()["z-a"].free.contains(&ip("1.0.0.1")));
        let held = inv.upsert(Instance {
            public_ip: Some(ip("1.0.0.1")),
            ..Instance::new("i-b")
        });
        assert_eq!(
            held.unwrap_err(),
            InventoryError::IpHeld {
                ip: ip("1.0.0.1"),
                holder: "i-a".into()
            }
        );
        // Replacing i-a without an IP frees its address.
        let (_, replaced) = inv.upsert(Instance::new("i-a")).unwrap();
        assert_eq!(replaced.unwrap().public_ip, Some(ip("1.0.0.1")));
        assert!(inv.zone_pools()["z-a"].free.contains(&ip("1.0.0.1")));
        // An address outside every pool can be held too.
        inv.upsert(Instance {
            public_ip: Some(ip("5.5.5.5")),
            ..Instance::new("i-c")
        })
        .unwrap();
        assert_eq!(inv.len(), 2);
    }

    #[test]
    fn private_addresses_are_distinct() {
        let mut inv = Inventory::new("z");
        let mut seen = BTreeSet::new();
        for _ in 0..3000 {
            assert!(seen.insert(inv.next_private_ip()));
        }
        assert!(seen.contains(&ip("172.16.1.1")));
    }

    #[test]
    fn instance_json_defaults() {
        let instance: Instance = serde_json::from_str(r#"{"instance_id":"i-x"}"#).unwrap();
        assert_eq!(instance, Instance::new("i-x"));
        let full: Instance = serde_json::from_str(
            r#"{"instance_id":"i-y","status":"Stopped","network":"classic","internet_max_bandwidth_out":0,
                "public_ip":"47.1.2.3","eip":{"ip_address":"8.8.8.8"},"locks":["security"],
                "forced_error":"NAT_PUBLIC_IP_BINDING_FAILED","zone_id":"z"}"#,
        )
        .unwrap();
        assert_eq!(full.status, InstanceStatus::Stopped);
        assert_eq!(
            full.forced_error,
            Some(ForcedError::NatPublicIpBindingFailed)
        );
        assert!(serde_json::from_str::<Instance>(r#"{"instance_id":"i-x","bogus":1}"#).is_err());
        assert!(
            serde_json::from_str::<Instance>(r#"{"instance_id":"i-x","status":"Exploded"}"#)
                .is_err()
        );
    }
}
