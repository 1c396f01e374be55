//! The fixed world every emulator starts with: the zones (which sell EIPs,
//! which do not, which always fail), each selling zone's public IPv4 pool
//! (large ones, one short of stock and one sold out, so that
//! DescribeEipAvailableResources answers SELL, SELL_SHORTAGE and SOLD_OUT),
//! the netmasks sold, and the account's resource groups.

use std::net::Ipv4Addr;

/// What happens to an EIP ordered in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneBehaviour {
    /// EIPs are created: CREATING, then AVAILABLE with an address.
    Sells,
    /// The zone exists but sells no EIPs: `INVALID_EIP_TYPE_ZONE_NO_SELL`.
    NoSell,
    /// EIPs are accepted, then every creation ends CREATE_FAILED.
    FailsCreation,
}

/// One availability zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub id: &'static str,
    pub city: &'static str,
    pub behaviour: ZoneBehaviour,
    /// The first address and prefix length of the zone's EIP pool.
    pub pool: Option<(Ipv4Addr, u8)>,
}

/// Every zone the emulated account sees.
pub const ZONES: &[Zone] = &[
    Zone {
        id: "SEL-A",
        city: "Seoul",
        behaviour: ZoneBehaviour::Sells,
        pool: Some((Ipv4Addr::new(128, 1, 32, 0), 20)),
    },
    Zone {
        id: "HKG-A",
        city: "Hong Kong",
        behaviour: ZoneBehaviour::Sells,
        pool: Some((Ipv4Addr::new(98, 98, 16, 0), 20)),
    },
    Zone {
        id: "FRA-A",
        city: "Frankfurt",
        behaviour: ZoneBehaviour::Sells,
        pool: Some((Ipv4Addr::new(128, 14, 64, 0), 20)),
    },
    Zone {
        id: "LAX-A",
        city: "Los Angeles",
        behaviour: ZoneBehaviour::Sells,
        // 6 usable addresses: short of stock for /32 and /31, sold out for
        // larger blocks.
        pool: Some((Ipv4Addr::new(107, 155, 8, 0), 29)),
    },
    Zone {
        id: "DXB-A",
        city: "Dubai",
        behaviour: ZoneBehaviour::Sells,
        // A /31 has no address to hand out: sold out.
        pool: Some((Ipv4Addr::new(156, 59, 0, 0), 31)),
    },
    Zone {
        id: "TYO-A",
        city: "Tokyo",
        behaviour: ZoneBehaviour::NoSell,
        pool: None,
    },
    Zone {
        id: "SIN-A",
        city: "Singapore",
        behaviour: ZoneBehaviour::FailsCreation,
        pool: None,
    },
];

/// The netmasks sold in zones that sell EIPs (an EIP with netmask 29 is an
/// aligned block of 8 addresses; `ipAddress` is its first address).
/// `netmask` values within the API's range 1..=32 but outside these are
/// answered with `INVALID_EIP_TYPE_ZONE_NO_SELL`.
pub const SOLD_NETMASKS: std::ops::RangeInclusive<u32> = 28..=32;

/// A resource group of the emulated account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceGroup {
    pub id: &'static str,
    pub name: &'static str,
}

/// Where EIPs go when `resourceGroupId` is omitted.
pub const DEFAULT_RESOURCE_GROUP: ResourceGroup = ResourceGroup {
    id: "rg-sandbox-default",
    name: "Default Resource Group",
};

/// Every resource group of the emulated account.
pub const RESOURCE_GROUPS: &[ResourceGroup] = &[
    DEFAULT_RESOURCE_GROUP,
    ResourceGroup {
        id: "rg-sandbox-team-a",
        name: "team-a",
    },
];

pub fn zone(id: &str) -> Option<&'static Zone> {
    ZONES.iter().find(|z| z.id == id)
}

pub fn resource_group(id: &str) -> Option<&'static ResourceGroup> {
    RESOURCE_GROUPS.iter().find(|g| g.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_aligned_large_and_disjoint() {
        let pools: Vec<(u32, u32)> = ZONES
            .iter()
            .filter_map(|z| z.pool)
            .map(|(base, prefix)| (u32::from(base), 1u32 << (32 - prefix)))
            .collect();
        // Three large pools, then LAX-A's short one and DXB-A's empty one.
        assert_eq!(pools.len(), 5);
        for (i, (base, size)) in pools.iter().enumerate() {
            assert_eq!(base % size, 0, "pool {i} is not aligned");
            assert!(*size >= 1024 || i >= 3, "pool {i} is too small");
            for (other_base, other_size) in &pools[i + 1..] {
                assert!(base + size <= *other_base || other_base + other_size <= *base);
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(zone("SEL-A").unwrap().behaviour, ZoneBehaviour::Sells);
        assert_eq!(zone("TYO-A").unwrap().behaviour, ZoneBehaviour::NoSell);
        assert!(zone("sel-a").is_none());
        assert!(resource_group(DEFAULT_RESOURCE_GROUP.id).is_some());
        assert!(resource_group("rg-nope").is_none());
        for z in ZONES {
            assert_eq!(
                z.pool.is_some(),
                z.behaviour == ZoneBehaviour::Sells,
                "{}",
                z.id
            );
        }
    }
}
