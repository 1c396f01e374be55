//! `DescribeEipAvailableResources {eipChargeType, zoneId?}`: for every zone
//! that sells EIPs (or the one asked for) and every netmask sold, whether
//! EIPs can be bought now, as `{eipResources: [{zoneId, status, netmask}]}`
//! (zones in seed order, netmasks from 32 down).
//!
//! `status` follows the docs: `SELL` more than 10 in stock, `SELL_SHORTAGE`
//! fewer (the docs say "< 10"; exactly 10 is read as short), `SOLD_OUT`
//! none. Stock is the number of free aligned blocks of that netmask in the
//! zone's pool, so it falls as EIPs are allocated and rises as they are
//! terminated. A zone whose creations always fail (SIN-A) reports `SELL`:
//! it accepts orders. A zone that sells no EIPs (TYO-A) has no rows.
//!
//! `eipChargeType` is required (`MISSING_PARAMETER`; not PREPAID or
//! POSTPAID: `INVALID_PARAMETER_VALUE`); both sell from the same stock. An
//! unknown `zoneId` is 404 `INVALID_ZONE_NOT_FOUND`; strictly `""` too (no
//! zone has the empty id), leniently `""` means every zone.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Performed, object};
use crate::zenlayer::ZenlayerEmulator;
use crate::zenlayer::eip::ChargeType;
use crate::zenlayer::errors::{ApiError, printable};
use crate::zenlayer::params::Params;
use crate::zenlayer::seed::{self, Zone, ZoneBehaviour};

/// More than this many free blocks is `SELL`.
pub const SHORTAGE_AT_MOST: usize = 10;

/// Whether EIPs of one netmask can be bought in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Availability {
    Sell,
    SellShortage,
    SoldOut,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Sell => "SELL",
            Availability::SellShortage => "SELL_SHORTAGE",
            Availability::SoldOut => "SOLD_OUT",
        }
    }
}

/// One `eipResources` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EipAvailable {
    pub zone_id: &'static str,
    pub status: Availability,
    pub netmask: u32,
}

/// The `response` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Available {
    pub eip_resources: Vec<EipAvailable>,
}

/// Validates and answers one call.
pub fn perform(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<Performed, ApiError> {
    let p = Params::root(body, emulator.reading);
    p.only(&["eipChargeType", "zoneId"])?;
    let charge = p.req_str("eipChargeType")?;
    if ChargeType::parse(charge).is_none() {
        return Err(ApiError::invalid_value(
            "eipChargeType",
            format_args!("`{}` is not PREPAID or POSTPAID", printable(charge)),
        ));
    }
    let zones: Vec<&'static Zone> = match p.opt_filter("zoneId")? {
        None => seed::ZONES.iter().collect(),
        Some(id) => vec![seed::zone(id).ok_or_else(|| ApiError::zone_not_found(id))?],
    };
    Ok(Performed::read(object(&Available {
        eip_resources: availability(emulator, &zones),
    })?))
}

/// The rows for `zones` as the emulator's stock stands now.
pub fn availability(emulator: &ZenlayerEmulator, zones: &[&'static Zone]) -> Vec<EipAvailable> {
    let store = emulator.store();
    let mut rows = Vec::new();
    for zone in zones {
        if zone.behaviour == ZoneBehaviour::NoSell {
            continue;
        }
        for netmask in seed::SOLD_NETMASKS.rev() {
            let status = match zone.behaviour {
                ZoneBehaviour::Sells => {
                    match store.available_blocks(zone.id, netmask, SHORTAGE_AT_MOST + 1) {
                        0 => Availability::SoldOut,
                        n if n <= SHORTAGE_AT_MOST => Availability::SellShortage,
                        _ => Availability::Sell,
                    }
                }
                _ => Availability::Sell,
            };
            rows.push(EipAvailable {
                zone_id: zone.id,
                status,
                netmask,
            });
        }
    }
    rows
}
