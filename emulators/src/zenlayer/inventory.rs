//! The emulator's inventory as Markdown for the README: its zones and what
//! each does, its resource groups, and for every error it answers the
//! request that reproduces it by hand. Built from the same constants the
//! emulator uses, so it cannot drift.

use std::fmt::Write;

use super::actions::allocate_eip_addresses::{MAX_AMOUNT, MAX_PERIOD_MONTHS, TAG_MAX_CHARS};
use super::actions::describe_eip_addresses::{MAX_EIP_IDS, MAX_PAGE_SIZE, MAX_TAG_FILTERS};
use super::actions::describe_eip_available_resources::{EipAvailable, availability};
use super::actions::release_eip_addresses::MAX_EIP_IDS as MAX_RELEASE_IDS;
use super::api::MAX_BODY_BYTES;
use super::errors::*;
use super::seed::{self, ZoneBehaviour};
use super::verify::MAX_CLOCK_SKEW_SECS;
use super::{SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_PASSWORD};
use super::{ZenlayerEmulator, ZenlayerEmulatorConfig};

/// Every error the emulator answers: code, HTTP status, action, how to
/// trigger it (emulator-specific codes say so in their row).
const ERRORS: &[(&str, u16, &str, &str)] = &[
    (
        AUTHFAILURE_INVALID_AUTHORIZATION,
        401,
        "any",
        "omit `Authorization`, use another algorithm (`Bearer ...`), or `SignedHeaders=host`",
    ),
    (
        AUTHFAILURE_SIGNATURE_FAILURE,
        401,
        "any",
        "sign with a wrong password, an unknown access key id, or change one body byte after signing",
    ),
    (
        AUTHFAILURE_SIGNATURE_EXPIRED,
        401,
        "any",
        "`X-ZC-Timestamp` more than 300 s from now (e.g. `1700000000`), missing, or not an integer",
    ),
    (
        AUTHFAILURE_UNAUTHORIZED_OPERATION,
        401,
        "any",
        "a correctly signed request with `X-ZC-Action: NoSuchAction`",
    ),
    (
        REQUEST_LIMIT_EXCEEDED,
        429,
        "any",
        "`PUT /_admin/faults {\"throttle_probability\": 1}` (or `throttle_above_qps`)",
    ),
    (
        SERVICE_TEMPORARY_UNAVAILABLE,
        503,
        "any",
        "`PUT /_admin/faults {\"error_5xx_probability\": 1}`",
    ),
    (
        INVALID_PARAMETER_TYPE,
        400,
        "any",
        "body `{\"zoneId\": \"SEL-A\", \"eipChargeType\": \"POSTPAID\", \"amount\": \"2\"}`, or a body that is not a JSON object",
    ),
    (
        MISSING_PARAMETER,
        400,
        "Allocate / Terminate / Release / Available",
        "body `{\"eipChargeType\": \"POSTPAID\"}` (no zoneId), PREPAID without `eipChargePrepaid.period`; Terminate `{}`; Release `{}`; DescribeEipAvailableResources `{}`",
    ),
    (
        INVALID_PARAMETER_VALUE,
        400,
        "Allocate / Release / Available",
        "`\"eipChargeType\": \"MONTHLY\"` (also DescribeEipAvailableResources), or two tags with the same key; Release with one id twice",
    ),
    (
        INVALID_PARAMETER_EXCEED_MAXIMUM,
        400,
        "Allocate",
        "`\"amount\": 101` (max 100), `\"netmask\": 33`; Describe `\"pageSize\": 1001`",
    ),
    (
        INVALID_PARAMETER_LESS_MINIMUM,
        400,
        "Allocate",
        "`\"amount\": 0`, `\"netmask\": 0`, `\"eipChargePrepaid\": {\"period\": 0}`; Describe `\"pageNum\": 0`",
    ),
    (
        INVALID_PARAMETER_EXCEED_LENGTH,
        400,
        "Allocate / Describe / Release",
        "a tag key of 129 characters; Describe with 101 `eipIds` or 21 `tagKeys`; Release with 101 `eipIds`; a body over 1 MiB",
    ),
    (
        INVALID_PARAMETER_LESS_LENGTH,
        400,
        "Allocate / Release",
        "a tag with an empty key or value: `{\"tags\": {\"tags\": [{\"key\": \"\", \"value\": \"v\"}]}}`; Release `{\"eipIds\": []}`",
    ),
    (
        INVALID_ZONE_NOT_FOUND,
        404,
        "Allocate / Available",
        "`\"zoneId\": \"XXX-A\"` (any zone not listed above)",
    ),
    (
        INVALID_EIP_TYPE_ZONE_NO_SELL,
        400,
        "Allocate",
        "`\"zoneId\": \"TYO-A\"`, or `\"netmask\": 27` in a selling zone",
    ),
    (
        OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND,
        404,
        "Allocate",
        "`\"resourceGroupId\": \"rg-unknown\"`",
    ),
    (
        OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE,
        403,
        "Allocate",
        "`\"marketingOptions\": {\"usePocVoucher\": true}` (*emulator-specific code*: the sandbox account has no POC voucher)",
    ),
    (
        INVALID_EIP_NOT_FOUND,
        404,
        "Terminate / Release",
        "`{\"eipId\": \"eip-unknown\"}`, or an EIP already released; Release `{\"eipIds\": [\"eip-unknown\"]}`",
    ),
    (
        OPERATION_DENIED_EIP_SUBSCRIPTION,
        403,
        "Terminate",
        "terminate an EIP allocated with `\"eipChargeType\": \"PREPAID\"`",
    ),
    (
        OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT,
        403,
        "Terminate",
        "terminate a POSTPAID EIP while it is still CREATING (the API page names no code for it; this is the other EIP pages' code for a status that does not allow the operation)",
    ),
    (
        OPERATION_DENIED_EIP_RECYCLED,
        403,
        "Terminate",
        "terminate the same EIP twice (also while it is RECYCLING)",
    ),
    (
        OPERATION_DENIED_EIP_NOT_RECYCLED,
        403,
        "Release",
        "release an EIP that was not terminated first, or one still RECYCLING (nothing of the request is released)",
    ),
];

/// Markdown for the README: zones, resource groups, credentials, limits, and
/// how to reproduce every error.
pub fn inventory_markdown() -> String {
    let mut out = String::new();
    out.push_str("#### Zenlayer BMC emulator: zones\n\n");
    out.push_str("| zoneId | City | Sells EIPs | What AllocateEipAddresses does | EIP pool | DescribeEipAvailableResources (fresh emulator) |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    let fresh = ZenlayerEmulator::new(ZenlayerEmulatorConfig::default());
    for zone in seed::ZONES {
        let (sells, what) = match zone.behaviour {
            ZoneBehaviour::Sells => (
                "yes",
                "EIPs are CREATING for the creation delay, then AVAILABLE with an address (CREATE_FAILED if the pool is exhausted)",
            ),
            ZoneBehaviour::NoSell => ("no", "400 `INVALID_EIP_TYPE_ZONE_NO_SELL`"),
            ZoneBehaviour::FailsCreation => (
                "yes",
                "EIPs are accepted (ids returned), CREATING for the creation delay, then always CREATE_FAILED",
            ),
        };
        let pool = match zone.pool {
            Some((base, prefix)) => format!("`{base}/{prefix}`"),
            None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {sells} | {what} | {pool} | {} |",
            zone.id,
            zone.city,
            statuses(&availability(&fresh, &[zone]))
        );
    }
    let _ = writeln!(
        out,
        "| any other | - | - | 404 `INVALID_ZONE_NOT_FOUND` | - | 404 `INVALID_ZONE_NOT_FOUND` |\n\n\
         Netmasks sold: {}..={} (netmask 29 is an aligned block of 8 addresses; `ipAddress` is its first). \
         Addresses are handed out lowest free first and return to the pool on TerminateEipAddress; an order \
         the pool cannot fill is accepted and ends CREATE_FAILED. DescribeEipAvailableResources counts the free \
         blocks of each netmask: more than 10 `SELL`, 1 to 10 `SELL_SHORTAGE`, none `SOLD_OUT`; it changes as \
         EIPs are allocated and terminated. A terminated EIP is RECYCLING for the recycling delay (none unless \
         configured), then stays in the recycle bin (RECYCLE) for 24 hours or \
         until ReleaseEipAddresses, then is gone (`INVALID_EIP_NOT_FOUND`).\n",
        seed::SOLD_NETMASKS.start(),
        seed::SOLD_NETMASKS.end()
    );

    out.push_str("#### Zenlayer BMC emulator: account\n\n");
    let _ = writeln!(
        out,
        "- Sandbox credentials: access key id `{SANDBOX_ACCESS_KEY_ID}`, password `{SANDBOX_ACCESS_KEY_PASSWORD}`."
    );
    out.push_str("- Resource groups: ");
    let groups: Vec<String> = seed::RESOURCE_GROUPS
        .iter()
        .map(|g| format!("`{}` ({})", g.id, g.name))
        .collect();
    out.push_str(&groups.join(", "));
    let _ = writeln!(
        out,
        "; omitted `resourceGroupId` means `{}`.",
        seed::DEFAULT_RESOURCE_GROUP.id
    );
    let _ = writeln!(
        out,
        "- Actions: `AllocateEipAddresses`, `DescribeEipAddresses`, `TerminateEipAddress`, `ReleaseEipAddresses`, `DescribeEipAvailableResources` (`POST /api/v2/bmc`, action in `X-ZC-Action`).\n\
         - Limits: amount 1..={MAX_AMOUNT}; PREPAID period 1..={MAX_PERIOD_MONTHS} months; tag key/value 1..={TAG_MAX_CHARS} characters; \
         Describe: eipIds <= {MAX_EIP_IDS}, tagKeys/tags <= {MAX_TAG_FILTERS}, pageSize 1..={MAX_PAGE_SIZE} (default 20); \
         Release: eipIds 1..={MAX_RELEASE_IDS}; clock skew <= {MAX_CLOCK_SKEW_SECS} s; body <= {MAX_BODY_BYTES} bytes.\n\
         - Admin (unsigned): `GET /_admin/eips`, `GET|PUT /_admin/creation-delay {{\"ms\": N}}`, `GET|PUT /_admin/faults`, `GET /_admin/counters`, `POST /_admin/counters/reset`.\n"
    );

    out.push_str("#### Zenlayer BMC emulator: errors and how to reproduce them\n\n");
    out.push_str("| Code | HTTP | Action | Request that produces it |\n");
    out.push_str("|---|---|---|---|\n");
    for (code, status, action, how) in ERRORS {
        let _ = writeln!(out, "| `{code}` | {status} | {action} | {how} |");
    }
    out
}

/// `/32 SELL, /31 SELL, ...` for README, or `-` for a zone with no rows.
fn statuses(rows: &[EipAvailable]) -> String {
    if rows.is_empty() {
        return "- (no rows)".to_owned();
    }
    rows.iter()
        .map(|row| format!("/{} `{}`", row.netmask, row.status.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_zone_and_error() {
        let md = inventory_markdown();
        for zone in seed::ZONES {
            assert!(md.contains(&format!("`{}`", zone.id)), "{}", zone.id);
        }
        for (code, ..) in ERRORS {
            assert_eq!(md.matches(&format!("| `{code}` |")).count(), 1, "{code}");
        }
        assert!(md.contains(SANDBOX_ACCESS_KEY_ID));
        // Every table row has the same number of cells as its header.
        for line in md
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        {
            let cells = line.matches(" | ").count();
            assert!((3..=5).contains(&cells), "{line}");
        }
    }
}
