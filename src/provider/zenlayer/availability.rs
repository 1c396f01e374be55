//! CheckAvailability on Zenlayer: `DescribeEipAvailableResources
//! {eipChargeType, zoneId?}` as the official SDK sends it (no zone: every
//! zone), the netmask filter applied here (the API has none), and the
//! answer: one entry per zone and netmask, available when one of them is
//! SELL or SELL_SHORTAGE. A zone that sells nothing has no rows (not
//! available); an unknown zone is the provider's `INVALID_ZONE_NOT_FOUND`.

use super::client::{DESCRIBE_EIP_AVAILABLE_RESOURCES, ZenlayerProvider};
use super::wire::{
    DescribeEipAvailableResourcesRequest, DescribeEipAvailableResourcesResponse, EipAvailable,
    EipChargeType, Success,
};
use crate::provider::error::ProviderError;
use crate::provider::model::{
    Availability, AvailabilitySpec, ChargeTypeName, SaleStatus, ZoneAvailability,
};
use crate::provider::{CallContext, Provider};

/// The netmask AllocateEipAddresses uses when none is given: what a row
/// without `netmask` (the API page's own example has none) is reported as
/// when the check names no netmask.
const DEFAULT_NETMASK: u32 = 32;

/// Asks the provider whether `spec`'s EIPs are for sale now.
pub(super) async fn check(
    provider: &ZenlayerProvider,
    spec: &AvailabilitySpec,
    ctx: &CallContext,
) -> Result<Availability, ProviderError> {
    let AvailabilitySpec::Zenlayer {
        zone_id,
        netmask,
        charge,
    } = spec
    else {
        return Err(ProviderError::Internal(format!(
            "zenlayer provider {:?} was given {} availability parameters",
            provider.description().name,
            spec.kind()
        )));
    };
    let request = DescribeEipAvailableResourcesRequest {
        eip_charge_type: match charge {
            ChargeTypeName::Prepaid => EipChargeType::Prepaid,
            ChargeTypeName::Postpaid => EipChargeType::Postpaid,
        },
        zone_id: zone_id.clone(),
    };
    let Success {
        request_id,
        response,
    } = provider
        .call::<_, DescribeEipAvailableResourcesResponse>(
            DESCRIBE_EIP_AVAILABLE_RESOURCES,
            &request,
            ctx,
        )
        .await?;
    let zones = zones(response.eip_resources, zone_id.as_deref(), *netmask);
    Ok(Availability {
        provider_request_id: request_id.unwrap_or_default(),
        available: zones
            .iter()
            .any(|z| matches!(z.status, SaleStatus::Sell | SaleStatus::Shortage)),
        zones,
        conditions: Vec::new(),
    })
}

/// The rows that answer the check: those of `netmask` when one is asked
/// for (a row without a netmask answers for any), each row's missing zone
/// being the zone asked for (a row naming no zone in an every-zone answer
/// is left out: it says nothing).
fn zones(
    rows: Vec<EipAvailable>,
    zone_id: Option<&str>,
    netmask: Option<u32>,
) -> Vec<ZoneAvailability> {
    rows.into_iter()
        .filter(|row| netmask.is_none_or(|wanted| row.netmask.is_none_or(|n| n == wanted)))
        .filter_map(|row| {
            let zone = row
                .zone_id
                .filter(|z| !z.is_empty())
                .or_else(|| zone_id.map(str::to_owned))?;
            let provider_status = row.status.unwrap_or_default();
            Some(ZoneAvailability {
                zone_id: zone,
                netmask: row.netmask.or(netmask).unwrap_or(DEFAULT_NETMASK),
                status: sale_status(&provider_status),
                provider_status,
            })
        })
        .collect()
}

/// The provider's sale status word as a [`SaleStatus`].
fn sale_status(status: &str) -> SaleStatus {
    match status {
        "SELL" => SaleStatus::Sell,
        "SELL_SHORTAGE" => SaleStatus::Shortage,
        "SOLD_OUT" => SaleStatus::SoldOut,
        _ => SaleStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(zone: Option<&str>, status: &str, netmask: Option<u32>) -> EipAvailable {
        EipAvailable {
            zone_id: zone.map(str::to_owned),
            status: Some(status.to_owned()),
            netmask,
        }
    }

    #[test]
    fn sale_statuses() {
        for (word, status) in [
            ("SELL", SaleStatus::Sell),
            ("SELL_SHORTAGE", SaleStatus::Shortage),
            ("SOLD_OUT", SaleStatus::SoldOut),
            ("sell", SaleStatus::Unknown),
            ("", SaleStatus::Unknown),
        ] {
            assert_eq!(sale_status(word), status, "{word:?}");
        }
    }

    #[test]
    fn netmask_filter_and_missing_fields() {
        let rows = vec![
            row(Some("LAX-A"), "SELL_SHORTAGE", Some(32)),
            row(Some("LAX-A"), "SOLD_OUT", Some(29)),
            row(None, "SELL", None),
        ];
        let only_29 = zones(rows.clone(), Some("LAX-A"), Some(29));
        let seen: Vec<(&str, u32, SaleStatus)> = only_29
            .iter()
            .map(|z| (z.zone_id.as_str(), z.netmask, z.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("LAX-A", 29, SaleStatus::SoldOut),
                ("LAX-A", 29, SaleStatus::Sell)
            ]
        );
        let every = zones(rows.clone(), Some("LAX-A"), None);
        assert_eq!(every.len(), 3);
        assert_eq!(
            (every[2].netmask, every[2].provider_status.as_str()),
            (32, "SELL")
        );
        // Every zone asked for: a row naming no zone is left out.
        assert_eq!(zones(rows, None, None).len(), 2);
    }
}
