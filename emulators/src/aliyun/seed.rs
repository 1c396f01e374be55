//! The region every emulator starts with: its zones and address pools,
//! its VLANs, and the seeded instances, each in the state that produces
//! one answer of an API page (documented in [`super::inventory`]).
//!
//! Zones (for region `R`): `R-h` is the default zone, with a default pool
//! of 4064 addresses (47.96.0.1 to 47.96.15.254); `R-k` has an empty pool.
//! VLAN `100` holds 47.100.0.10 to 47.100.0.14 (47.100.0.10 held by
//! `i-emuclassic02`); VLAN `300` exists and is empty. Addresses are handed
//! out lowest first. The instances that give an IP back hold addresses of
//! 47.101.0.0/24, those designated to refuse ModifyInstanceNetworkSpec
//! ([`super::refusals`]) of 47.101.1.0/24, outside every pool (released,
//! they go nowhere).

use std::net::Ipv4Addr;

use super::instance::{
    Eip, ForcedError, Instance, InstanceStatus, LockReason, MAX_PUBLIC_IP_RELEASES, NetworkType,
};
use super::refusals::{NETWORK_SPEC_REFUSALS, refusal_ip};
use super::state::Inventory;

/// How many plain instances are seeded for load tests.
pub const POOL_INSTANCES: usize = 2000;
/// The id of pool instance `n` (`i-emupool0000` ... `i-emupool1999`).
pub fn pool_instance_id(n: usize) -> String {
    format!("i-emupool{n:04}")
}

/// The VLAN with free addresses.
pub const VLAN_WITH_IPS: &str = "100";
/// The VLAN that exists with no address.
pub const EMPTY_VLAN: &str = "300";

/// The default zone of `region`.
pub fn default_zone(region: &str) -> String {
    format!("{region}-h")
}

/// The zone of `region` whose pool is empty.
pub fn empty_zone(region: &str) -> String {
    format!("{region}-k")
}

fn v4(text: &str) -> Ipv4Addr {
    text.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// The seeded inventory of `region`.
pub fn inventory(region: &str) -> Inventory {
    let zone = default_zone(region);
    let mut inventory = Inventory::new(&zone);
    inventory.add_zone_pool(
        &zone,
        (0u8..16).flat_map(|c| (1u8..=254).map(move |d| Ipv4Addr::new(47, 96, c, d))),
    );
    inventory.add_zone_pool(&empty_zone(region), []);
    inventory.add_vlan_pool(
        VLAN_WITH_IPS,
        (10u8..=14).map(|d| Ipv4Addr::new(47, 100, 0, d)),
    );
    inventory.add_vlan_pool(EMPTY_VLAN, []);
    for instance in instances(region) {
        // Seed ids are valid and no two hold one address.
        if let Err(error) = inventory.upsert(instance) {
            tracing::error!(%error, "aliyun emulator seed rejected");
        }
    }
    inventory
}

/// The seeded instances (pool instances included).
pub fn instances(region: &str) -> Vec<Instance> {
    let ready = |id: &str| Instance::new(id);
    let status = |id: &str, status| Instance {
        status,
        ..Instance::new(id)
    };
    let classic = |id: &str| Instance {
        network: NetworkType::Classic,
        ..Instance::new(id)
    };
    let forced = |id: &str, error| Instance {
        forced_error: Some(error),
        ..Instance::new(id)
    };
    let mut all = vec![
        ready("i-emuready001"),
        ready("i-emuready002"),
        ready("i-emuready003"),
        ready("i-emuready004"),
        ready("i-emuready005"),
        status("i-emustopped01", InstanceStatus::Stopped),
        status("i-emustarting01", InstanceStatus::Starting),
        status("i-emustopping01", InstanceStatus::Stopping),
        status("i-emupending01", InstanceStatus::Pending),
        Instance {
            locks: vec![LockReason::Security],
            ..Instance::new("i-emulocksec01")
        },
        Instance {
            locks: vec![LockReason::Financial],
            ..Instance::new("i-emulockfin01")
        },
        Instance {
            eip: Some(Eip {
                ip_address: "121.40.10.1".to_owned(),
                allocation_id: "eip-emu00000001".to_owned(),
            }),
            ..Instance::new("i-emuvpceip01")
        },
        Instance {
            public_ip: Some(v4("47.96.0.10")),
            ..Instance::new("i-emuhasip001")
        },
        Instance {
            internet_max_bandwidth_out: 0,
            ..Instance::new("i-emubwzero01")
        },
        Instance {
            zone_id: empty_zone(region),
            ..Instance::new("i-emuemptyzone1")
        },
        forced("i-emuinternal01", ForcedError::InternalError),
        forced("i-emunatbind01", ForcedError::NatPublicIpBindingFailed),
        forced("i-emunatalloc01", ForcedError::NatPublicIpAllocateFailed),
        classic("i-emuclassic01"),
        Instance {
            public_ip: Some(v4("47.100.0.10")),
            ..classic("i-emuclassic02")
        },
        Instance {
            locks: vec![LockReason::Recycling],
            ..Instance::new("i-emulockrec01")
        },
        // Giving an IP back (ReleasePublicIpAddress, ModifyInstanceNetworkSpec).
        Instance {
            public_ip: Some(v4("47.101.0.1")),
            ..classic("i-emuclrel01")
        },
        Instance {
            status: InstanceStatus::Stopping,
            public_ip: Some(v4("47.101.0.2")),
            ..classic("i-emuclstop01")
        },
        Instance {
            locks: vec![LockReason::Security],
            public_ip: Some(v4("47.101.0.3")),
            ..classic("i-emucllock01")
        },
        Instance {
            public_ip: Some(v4("47.101.0.4")),
            public_ip_releases: MAX_PUBLIC_IP_RELEASES,
            ..classic("i-emurellimit1")
        },
        Instance {
            public_ip: Some(v4("47.101.0.5")),
            ..Instance::new("i-emurelvpc01")
        },
        Instance {
            internet_max_bandwidth_out: 0,
            ..classic("i-emuclbwzero1")
        },
        Instance {
            unpaid_order: true,
            ..Instance::new("i-emuunpaid01")
        },
    ];
    // Designated to refuse ModifyInstanceNetworkSpec with one page row each.
    all.extend(
        NETWORK_SPEC_REFUSALS
            .iter()
            .enumerate()
            .map(|(n, (id, ..))| Instance {
                public_ip: Some(refusal_ip(n)),
                ..Instance::new(id)
            }),
    );
    all.extend((0..POOL_INSTANCES).map(|n| Instance {
        internet_max_bandwidth_out: 10,
        ..Instance::new(&pool_instance_id(n))
    }));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::inventory::{SEEDED, TABLES};
    use std::collections::BTreeSet;

    #[test]
    fn seed_ids_are_i_dash_lowercase_letters_and_digits() {
        for instance in instances("cn-hangzhou") {
            let rest = instance.instance_id.strip_prefix("i-").unwrap();
            assert!(
                rest.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{}",
                instance.instance_id
            );
        }
        for row in SEEDED {
            if !row.instance_id.is_empty() {
                let rest = row.instance_id.strip_prefix("i-").unwrap();
                assert!(
                    rest.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                );
            }
        }
    }

    #[test]
    fn every_seeded_instance_is_documented() {
        let documented: BTreeSet<&str> = TABLES
            .iter()
            .flat_map(|(_, rows)| rows.iter())
            .map(|r| r.instance_id)
            .collect();
        for instance in instances("cn-hangzhou") {
            let id = instance.instance_id.as_str();
            assert!(
                documented.contains(id) || id.starts_with("i-emupool"),
                "{id} has no row"
            );
        }
    }

    #[test]
    fn inventory_counts() {
        let inventory = inventory("cn-beijing");
        assert_eq!(
            inventory.len(),
            28 + NETWORK_SPEC_REFUSALS.len() + POOL_INSTANCES
        );
        assert_eq!(inventory.default_zone(), "cn-beijing-h");
        let pool = &inventory.zone_pools()["cn-beijing-h"];
        assert_eq!(pool.members.len(), 16 * 254);
        assert_eq!(pool.free.len(), 16 * 254 - 1, "47.96.0.10 is held");
        assert!(pool.free.len() > POOL_INSTANCES + 10);
        assert!(inventory.zone_pools()["cn-beijing-k"].members.is_empty());
        assert_eq!(inventory.vlan_pools()["100"].free.len(), 4);
        assert!(inventory.vlan_pools()["300"].members.is_empty());
        assert_eq!(
            inventory.get("i-emuemptyzone1").unwrap().zone_id,
            "cn-beijing-k"
        );
        assert_eq!(
            inventory
                .get("i-emupool1999")
                .unwrap()
                .internet_max_bandwidth_out,
            10
        );
    }
}
