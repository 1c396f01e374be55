//! The inventory every emulator starts with, and its documentation: each
//! instance id (or request parameter) and the `AllocatePublicIpAddress`
//! answer it produces. Every error row of the API page is reachable.
//!
//! Zones (for region `R`): `R-h` is the default zone, with a default pool
//! of 4064 addresses (47.96.0.1 to 47.96.15.254); `R-k` has an empty pool.
//! VLAN `100` holds 47.100.0.10 to 47.100.0.14 (47.100.0.10 held by
//! `i-emuclassic02`); VLAN `300` exists and is empty. Addresses are handed
//! out lowest first.
//!
//! [`SEEDED`] is the table README publishes ([`inventory_markdown`]); a
//! test sends every row, in order, to a fresh emulator and checks the
//! answer. Rows that allocate come after the rows that need the same
//! instance without an address.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::state::{
    Eip, ForcedError, Instance, InstanceStatus, Inventory, LockReason, NetworkType,
};

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

/// What a row's request produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200 with an `IpAddress`: exactly `ip` when it does not end with
    /// `.`, else an address starting with it.
    Allocated { ip: &'static str },
    /// An error answer.
    Error { http: u16, code: &'static str },
}

/// One row of the seeded inventory table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRow {
    /// The `InstanceId` to send (empty: none sent).
    pub instance_id: &'static str,
    /// How the table names the instance.
    pub label: &'static str,
    /// Further `AllocatePublicIpAddress` parameters.
    pub params: &'static [(&'static str, &'static str)],
    /// The instance's state, in words.
    pub state: &'static str,
    pub outcome: Outcome,
    /// Which variant of the error, or what else to know.
    pub note: &'static str,
}

const fn err(http: u16, code: &'static str) -> Outcome {
    Outcome::Error { http, code }
}

const fn row(
    instance_id: &'static str,
    params: &'static [(&'static str, &'static str)],
    state: &'static str,
    outcome: Outcome,
    note: &'static str,
) -> SeedRow {
    SeedRow {
        instance_id,
        label: instance_id,
        params,
        state,
        outcome,
        note,
    }
}

const READY: &str = "Running, VPC, 5 Mbit/s, no public IP";
const CLASSIC: &str = "Running, classic network, 5 Mbit/s, no public IP";

/// Every seeded outcome, in an order that works on one fresh emulator.
#[rustfmt::skip]
pub const SEEDED: &[SeedRow] = &[
    SeedRow { label: "(no `InstanceId`)", ..row("", &[], "-", err(400, "MissingParameter"), "The input parameter \"InstanceId\" that is mandatory ...") },
    SeedRow { label: "any unknown id, e.g. `i-emudoesnotexist`", ..row("i-emudoesnotexist", &[], "-", err(404, "InvalidInstanceId.NotFound"), "") },
    SeedRow { label: "any id", ..row("i-emuready002", &[("IpAddress", "300.1.2.3")], "-", err(400, "InvalidIpAddress.Malformed"), "IpAddress is not an IPv4 address") },
    SeedRow { label: "any id", ..row("i-emuready002", &[("IpAddress", "10.1.2.3")], "-", err(400, "InvalidIpAddress.Malformed"), "IpAddress can never be public (private, loopback, multicast, ...); reachable through the gateway, which accepts any IPv4") },
    row("i-emustarting01", &[], "Starting", err(403, "IncorrectInstanceStatus"), ""),
    row("i-emustopping01", &[], "Stopping", err(403, "IncorrectInstanceStatus"), ""),
    row("i-emupending01", &[], "Pending", err(403, "IncorrectInstanceStatus"), ""),
    row("i-emulocksec01", &[], "Running, OperationLocks `security`", err(403, "InstanceLockedForSecurity"), ""),
    row("i-emulockfin01", &[], "Running, OperationLocks `financial`", err(403, "InstanceExpiredOrInArrears"), ""),
    row("i-emuvpceip01", &[], "Running, VPC, EIP 121.40.10.1 bound", err(400, "OperationDenied"), "Specified operation is denied as your instance is in VPC."),
    row("i-emuready002", &[("VlanId", "100")], READY, err(400, "OperationDenied"), "Specified operation is denied as your instance is in VPC. (VlanId on a VPC instance)"),
    row("i-emuhasip001", &[], "Running, VPC, public IP 47.96.0.10", err(403, "AllocatedAlready"), "with `--aliyun-repeat returns-existing`: 200, `IpAddress` 47.96.0.10"),
    row("i-emuready002", &[("IpAddress", "47.96.0.10")], READY, err(403, "IpInUse"), "47.96.0.10 is held by i-emuhasip001"),
    row("i-emuready002", &[("IpAddress", "47.97.0.1")], READY, err(404, "InvalidIpAddress.NotFound"), "the address is not in the zone's pool"),
    row("i-emubwzero01", &[], "Running, VPC, InternetMaxBandwidthOut 0", err(400, "AllocateIpInvalidInstanceBandwidth"), ""),
    row("i-emuemptyzone1", &[], "Running, VPC, zone `<region>-k` whose pool is empty", err(400, "InsufficientPublicIp"), ""),
    row("i-emuinternal01", &[], "Running, VPC (designated)", err(500, "InternalError"), ""),
    row("i-emunatbind01", &[], "Running, VPC (designated)", err(403, "NAT_PUBLIC_IP_BINDING_FAILED"), ""),
    row("i-emunatalloc01", &[], "Running, VPC (designated)", err(403, "NAT_PUBLIC_IP_ALLOCATE_FAILED"), ""),
    row("i-emuclassic01", &[("VlanId", "999")], CLASSIC, err(404, "InvalidVlanId.NotFound"), "any VlanId other than 100 and 300"),
    row("i-emuclassic01", &[("VlanId", "300")], CLASSIC, err(400, "OperationDenied"), "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address. (VLAN 300 is empty)"),
    row("i-emuclassic01", &[("VlanId", "100"), ("IpAddress", "47.100.9.9")], CLASSIC, err(404, "InvalidIpAddress.NotFound"), "the address is not in VLAN 100"),
    row("i-emuclassic01", &[("VlanId", "100"), ("IpAddress", "47.100.0.10")], CLASSIC, err(403, "IpInUse"), "47.100.0.10 is held by i-emuclassic02"),
    row("i-emuclassic02", &[], "Running, classic network, public IP 47.100.0.10 (VLAN 100)", err(403, "AllocatedAlready"), "with `--aliyun-repeat returns-existing`: 200, `IpAddress` 47.100.0.10"),
    row("i-emuclassic01", &[("VlanId", "100")], CLASSIC, Outcome::Allocated { ip: "47.100.0.11" }, "the lowest free address of VLAN 100"),
    row("i-emuready001", &[], READY, Outcome::Allocated { ip: "47.96." }, "the lowest free address of the default pool"),
    row("i-emuready002", &[], READY, Outcome::Allocated { ip: "47.96." }, ""),
    row("i-emuready003", &[("IpAddress", "47.96.1.1")], READY, Outcome::Allocated { ip: "47.96.1.1" }, "the address asked for"),
    row("i-emuready004", &[], READY, Outcome::Allocated { ip: "47.96." }, ""),
    row("i-emuready005", &[], READY, Outcome::Allocated { ip: "47.96." }, ""),
    row("i-emustopped01", &[], "Stopped, VPC, 5 Mbit/s, no public IP", Outcome::Allocated { ip: "47.96." }, ""),
    SeedRow { label: "`i-emupool0000` ... `i-emupool1999`", ..row("i-emupool0000", &[], "Running, VPC, 10 Mbit/s, no public IP (2000 instances, for load tests)", Outcome::Allocated { ip: "47.96." }, "") },
];

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
    ];
    all.extend((0..POOL_INSTANCES).map(|n| Instance {
        internet_max_bandwidth_out: 10,
        ..Instance::new(&pool_instance_id(n))
    }));
    all
}

/// The Markdown table of [`SEEDED`], for README.
pub fn inventory_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "| Instance id | Parameters | Instance state | AllocatePublicIpAddress answer |\n",
    );
    out.push_str("|---|---|---|---|\n");
    for row in SEEDED {
        let label = if row.label == row.instance_id {
            format!("`{}`", row.instance_id)
        } else {
            row.label.to_owned()
        };
        let params = if row.params.is_empty() {
            "-".to_owned()
        } else {
            row.params
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let answer = match row.outcome {
            Outcome::Allocated { ip } if ip.ends_with('.') => {
                let missing = 4usize.saturating_sub(ip.matches('.').count());
                format!("200, `IpAddress` {ip}{}", vec!["x"; missing].join("."))
            }
            Outcome::Allocated { ip } => format!("200, `IpAddress` {ip}"),
            Outcome::Error { http, code } => format!("{http} `{code}`"),
        };
        let answer = if row.note.is_empty() {
            answer
        } else {
            format!("{answer}: {}", row.note)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            escape_cell(&label),
            escape_cell(&params),
            escape_cell(row.state),
            escape_cell(&answer)
        );
    }
    out
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let documented: BTreeSet<&str> = SEEDED.iter().map(|r| r.instance_id).collect();
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
        assert_eq!(inventory.len(), 20 + POOL_INSTANCES);
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

    #[test]
    fn markdown_has_one_line_per_row() {
        let table = inventory_markdown();
        assert_eq!(table.lines().count(), SEEDED.len() + 2);
        assert!(
            table.contains("| `i-emustarting01` | - | Starting | 403 `IncorrectInstanceStatus` |")
        );
        assert!(table.contains("`VlanId=100` `IpAddress=47.100.0.10`"));
        assert!(table.contains("200, `IpAddress` 47.96.x.x"));
        assert_eq!(table.lines().nth(1), Some("|---|---|---|---|"));
        for line in table.lines().filter(|l| !l.starts_with("|---")) {
            assert_eq!(line.matches(" | ").count(), 3, "{line}");
        }
    }
}
