//! The seeded inventory as README publishes it: each instance id (or
//! request parameter) and the answer it produces, one table per action
//! that changes a public IP: `AllocatePublicIpAddress` ([`SEEDED`]), and
//! the two ways of giving it back, `ReleasePublicIpAddress` ([`RELEASE`])
//! and `ModifyInstanceNetworkSpec` ([`NETWORK_SPEC`]). Every error row of
//! the AllocatePublicIpAddress and ReleasePublicIpAddress pages, and every
//! row of the ModifyInstanceNetworkSpec page the emulator reproduces, is
//! reachable.
//!
//! [`TABLES`] is what README publishes ([`inventory_markdown`]); a test
//! sends every row of every table, in order, to one fresh emulator and
//! checks the answer. Within a table, rows that change an instance come
//! after the rows that need it unchanged.

use std::fmt::Write as _;

/// What a row's request produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200 with an `IpAddress`: exactly `ip` when it does not end with
    /// `.`, else an address starting with it.
    Allocated { ip: &'static str },
    /// An error answer.
    Error { http: u16, code: &'static str },
    /// HTTP 200: the change was made (ReleasePublicIpAddress,
    /// ModifyInstanceNetworkSpec).
    Done,
}

/// One row of the seeded inventory table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRow {
    /// The `InstanceId` to send (empty: none sent).
    pub instance_id: &'static str,
    /// How the table names the instance.
    pub label: &'static str,
    /// Further parameters of the table's action.
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
    row("i-emulockrec01", &[], "Running, OperationLocks `recycling`", err(403, "IncorrectInstanceStatus"), "a preemptible instance about to be released"),
];

const CLREL: &str = "Running, classic network, public IP 47.101.0.1";

/// ReleasePublicIpAddress (deprecated; classic network only), in an order
/// that works on one emulator after [`SEEDED`].
#[rustfmt::skip]
pub const RELEASE: &[SeedRow] = &[
    SeedRow { label: "(no `PublicIpAddress`)", ..row("i-emuclrel01", &[], CLREL, err(400, "MissingParameter"), "") },
    SeedRow { label: "any id", ..row("i-emuclrel01", &[("PublicIpAddress", "47.101.9.9")], "-", err(400, "InvalidIpAddress.NotFound"), "no instance holds the address") },
    SeedRow { label: "(no `InstanceId`)", ..row("", &[("PublicIpAddress", "47.101.0.1")], "-", err(403, "InvalidIpAddress.NeedInstanceId"), "the address is held; the instance must be named") },
    row("i-emuclrel01", &[("PublicIpAddress", "47.101.0.2")], CLREL, err(400, "InvalidIpAddress.NotFound"), "47.101.0.2 is held by i-emuclstop01"),
    row("i-emuhasip001", &[("PublicIpAddress", "47.96.0.10")], "Running, VPC, public IP 47.96.0.10", err(400, "OperationDenied"), "Specified operation is denied as your instance is in VPC."),
    row("i-emuclstop01", &[("PublicIpAddress", "47.101.0.2")], "Stopping, classic network, public IP 47.101.0.2", err(403, "IncorrectInstanceStatus"), ""),
    row("i-emucllock01", &[("PublicIpAddress", "47.101.0.3")], "Running, classic, OperationLocks `security`, public IP 47.101.0.3", err(403, "InstanceLockedForSecurity"), ""),
    row("i-emurellimit1", &[("PublicIpAddress", "47.101.0.4")], "Running, classic, public IP 47.101.0.4, released 3 times already", err(403, "OperationTimesOverLimit"), "the emulator allows 3 releases per instance (Alibaba does not publish its limit)"),
    row("i-emuclrel01", &[("PublicIpAddress", "47.101.0.1"), ("DryRun", "true")], CLREL, err(400, "DryRunOperation"), "every check passed; nothing done"),
    row("i-emuclrel01", &[("PublicIpAddress", "47.101.0.1")], CLREL, Outcome::Done, "the address leaves the instance"),
    row("i-emuclrel01", &[("PublicIpAddress", "47.101.0.1")], "Running, classic network, no public IP", err(400, "InvalidIpAddress.NotFound"), "released already"),
];

/// ModifyInstanceNetworkSpec, in an order that works on one emulator after
/// [`SEEDED`] and [`RELEASE`].
#[rustfmt::skip]
pub const NETWORK_SPEC: &[SeedRow] = &[
    SeedRow { label: "(no `InstanceId`)", ..row("", &[("InternetMaxBandwidthOut", "0")], "-", err(400, "MissingParameter"), "") },
    SeedRow { label: "any unknown id, e.g. `i-emudoesnotexist`", ..row("i-emudoesnotexist", &[("InternetMaxBandwidthOut", "0")], "-", err(404, "InvalidInstanceId.NotFound"), "") },
    SeedRow { label: "any id", ..row("i-emuready004", &[("InternetMaxBandwidthOut", "101")], "-", err(400, "InvalidInternetMaxBandwidthOut.ValueNotSupported"), "0..=100") },
    SeedRow { label: "any id", ..row("i-emuready004", &[("InternetMaxBandwidthIn", "0")], "-", err(400, "InvalidInternetMaxBandwidthIn.ValueNotSupported"), "1..=200") },
    SeedRow { label: "any id", ..row("i-emuready004", &[("NetworkChargeType", "PayByHour")], "-", err(400, "InvalidInternetChargeType.ValueNotSupported"), "PayByTraffic or PayByBandwidth") },
    SeedRow { label: "any id", ..row("i-emuready004", &[("AllocatePublicIp", "yes")], "-", err(400, "InvalidParam.AllocatePublicIp"), "true or false, any case (the Python SDKs send `True`)") },
    row("i-emubwzero01", &[("AllocatePublicIp", "true")], "Running, VPC, InternetMaxBandwidthOut 0", err(400, "InvalidParam.AllocatePublicIp"), "a public IP needs a bandwidth above 0"),
    row("i-emustarting01", &[("InternetMaxBandwidthOut", "0")], "Starting", err(403, "IncorrectInstanceStatus"), "The current status of the instance does not support this operation."),
    row("i-emulocksec01", &[("InternetMaxBandwidthOut", "0")], "Running, OperationLocks `security`", err(403, "InstanceLockedForSecurity"), "ECS common error"),
    row("i-emulockfin01", &[("InternetMaxBandwidthOut", "0")], "Running, OperationLocks `financial`", err(403, "InstanceExpiredOrInArrears"), ""),
    row("i-emuunpaid01", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, an order waiting for payment", err(403, "InvalidInstance.UnPaidOrder"), ""),
    row("i-emuvpceip01", &[("InternetMaxBandwidthOut", "10")], "Running, VPC, EIP 121.40.10.1 bound", err(403, "InvalidInstance.InstanceNotSupported"), "a VPC instance with an EIP takes no bandwidth"),
    row("i-emuclbwzero1", &[("InternetMaxBandwidthOut", "5")], "Running, classic network, InternetMaxBandwidthOut 0", err(403, "IncorrectInstanceStatus"), "raising a classic instance from 0 needs it Stopped"),
    row("i-emuemptyzone1", &[("AllocatePublicIp", "true")], "Running, VPC, zone `<region>-k` whose pool is empty", err(400, "IpAllocationError"), ""),
    SeedRow { label: "any id", ..row("i-emuready004", &[("InternetMaxBandwidthOut", "0"), ("ClientToken", "a token with spaces")], "-", err(400, "InvalidClientToken.ValueNotSupported"), "1 to 64 printable ASCII characters") },
    row("i-emunsref01", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.1, an internal failure of the change", err(500, "InternalError"), "designated: the emulator does not model this state"),
    row("i-emunsref02", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.2, a billing method that does not allow the change", err(403, "ChargeTypeViolation"), "designated: the emulator does not model this state"),
    row("i-emunsref03", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.3, subscription (PrePaid), a change only pay-as-you-go allows", err(403, "OperationDenied"), "designated: the emulator does not model this state"),
    row("i-emunsref04", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.4, VPC, a change only classic instances allow", err(400, "OperationDenied"), "designated: the emulator does not model this state"),
    row("i-emunsref05", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.5, a bandwidth its billing does not allow (the page's message is `%s`)", err(400, "InvalidParameter.Bandwidth"), "designated: the emulator does not model this state"),
    row("i-emunsref06", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.6, parameters in conflict with its configuration (`%s`)", err(400, "InvalidParameter.Conflict"), "designated: the emulator does not model this state"),
    row("i-emunsref07", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.7, a temporary upgrade ending before it starts (`%s`)", err(400, "InvalidStartTime.ValueNotSupported"), "designated: the emulator does not model this state"),
    row("i-emunsref08", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.8, an account with overdue payments", err(400, "Account.Arrearage"), "designated: the emulator does not model this state"),
    row("i-emunsref09", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.9, a bandwidth that may not be lowered (`%s`)", err(400, "DecreasedBandwidthNotAllowed"), "designated: the emulator does not model this state"),
    row("i-emunsref10", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.10, an EIP bound during a temporary upgrade", err(400, "BandwidthUpgradeDenied.EipBoundInstance"), "designated: the emulator does not model this state"),
    row("i-emunsref11", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.11, an account without enough balance", err(403, "InvalidAccountStatus.NotEnoughBalance"), "designated: the emulator does not model this state"),
    row("i-emunsref12", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.12, changed too often (the page's throttling wording)", err(400, "Throttling"), "designated: the emulator does not model this state"),
    row("i-emunsref13", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.13, an action its configuration does not allow", err(400, "InvalidAction"), "designated: the emulator does not model this state"),
    row("i-emunsref14", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.14, subscription, downgraded three times already", err(400, "InstanceDowngrade.QuotaExceed"), "designated: the emulator does not model this state"),
    row("i-emunsref15", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.15, a temporary upgrade below the current bandwidth", err(400, "InvalidBandwidth.ValueNotSupported"), "designated: the emulator does not model this state"),
    row("i-emunsref16", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.16, a status that does not allow the change (400 variant)", err(400, "InvalidInstanceStatus"), "designated: the emulator does not model this state"),
    row("i-emunsref17", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.17, a status that does not allow the change (403 variant)", err(403, "InvalidInstanceStatus"), "designated: the emulator does not model this state"),
    row("i-emunsref18", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.18, an unpaid order in the account", err(400, "InvalidInstance.UnPaidOrder"), "designated: the emulator does not model this state"),
    row("i-emunsref19", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.19, downgraded in the current billing cycle", err(400, "OperationDenied"), "designated: the emulator does not model this state"),
    row("i-emunsref20", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.20, a network billing method it cannot have (`%s`)", err(400, "InvalidInternetChargeType.ValueNotSupported"), "designated: the emulator does not model this state"),
    row("i-emunsref21", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.21, an earlier order still processing", err(400, "LastOrderProcessing"), "designated: the emulator does not model this state"),
    row("i-emunsref22", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.22, an account that may not make the change", err(400, "OperationDenied"), "designated: the emulator does not model this state"),
    row("i-emunsref23", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.23, a NAT public IP binding failure", err(403, "NAT_PUBLIC_IP_BINDING_FAILED"), "designated: the emulator does not model this state"),
    row("i-emunsref24", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.24, an EIP association the change does not support", err(403, "InvalidInstance.EipNotSupport"), "designated: the emulator does not model this state"),
    row("i-emunsref25", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.25, a network type the change does not support", err(403, "InvalidNetworkType.ValueNotSupported"), "designated: the emulator does not model this state"),
    row("i-emunsref26", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.26, an internal failure (the page's second wording)", err(500, "InternalError"), "designated: the emulator does not model this state"),
    row("i-emunsref27", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, public IP 47.101.1.27, a status that does not allow the change (the resource wording)", err(403, "IncorrectInstanceStatus"), "designated: the emulator does not model this state"),
    row("i-emuready004", &[("InternetMaxBandwidthOut", "6"), ("ClientToken", "inventory-token-1")], "Running, VPC, 5 Mbit/s", Outcome::Done, "the first use of the token"),
    row("i-emuready004", &[("InternetMaxBandwidthOut", "7"), ("ClientToken", "inventory-token-1")], "Running, VPC, 6 Mbit/s", err(400, "IdempotentParameterMismatch"), "the same token with other parameters (ECS common error); with the same ones: the first answer again"),
    row("i-emurelvpc01", &[("InternetMaxBandwidthOut", "0")], "Running, VPC, 5 Mbit/s, public IP 47.101.0.5", Outcome::Done, "the static public IP is reclaimed: the documented way to give it back"),
    row("i-emurelvpc01", &[("InternetMaxBandwidthOut", "5"), ("AllocatePublicIp", "true")], "Running, VPC, InternetMaxBandwidthOut 0, no public IP", Outcome::Done, "a static public IP is assigned from the default pool"),
];

/// Every table: (action, rows).
pub const TABLES: &[(&str, &[SeedRow])] = &[
    ("AllocatePublicIpAddress", SEEDED),
    ("ReleasePublicIpAddress", RELEASE),
    ("ModifyInstanceNetworkSpec", NETWORK_SPEC),
];

/// The Markdown tables of [`TABLES`], for README: the allocation table,
/// then one section per way of giving an IP back.
pub fn inventory_markdown() -> String {
    let mut out = table("AllocatePublicIpAddress", SEEDED);
    out.push_str(
        "\n#### Alibaba Cloud ECS emulator: giving a static public IP back\n\n\
         `ModifyInstanceNetworkSpec` with `InternetMaxBandwidthOut=0` is the documented way (\"the system \
         reclaims a static public IP address when you change the bandwidth to 0 Mbps\"); \
         `ReleasePublicIpAddress` is deprecated and refuses VPC instances. Both tables run after the one above \
         on the same emulator.\n\n",
    );
    out.push_str(&table("ReleasePublicIpAddress", RELEASE));
    out.push('\n');
    out.push_str(&table("ModifyInstanceNetworkSpec", NETWORK_SPEC));
    out
}

fn table(action: &str, rows: &[SeedRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Instance id | Parameters | Instance state | {action} answer |"
    );
    out.push_str("|---|---|---|---|\n");
    for row in rows {
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
            Outcome::Done => "200".to_owned(),
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

    #[test]
    fn markdown_has_one_line_per_row() {
        let table = inventory_markdown();
        assert_eq!(
            table.lines().count(),
            SEEDED.len() + RELEASE.len() + NETWORK_SPEC.len() + 2 * 3 + 6
        );
        assert!(
            table.contains("| `i-emustarting01` | - | Starting | 403 `IncorrectInstanceStatus` |")
        );
        assert!(table.contains("`VlanId=100` `IpAddress=47.100.0.10`"));
        assert!(table.contains("200, `IpAddress` 47.96.x.x"));
        assert_eq!(table.lines().nth(1), Some("|---|---|---|---|"));
        for line in table
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        {
            assert_eq!(line.matches(" | ").count(), 3, "{line}");
        }
    }
}
