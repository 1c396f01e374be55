//! `DescribeEipAddresses`: lists the account's EIPs, newest first, filtered
//! and paged, as `{totalCount, dataSet}` (totalCount counts every match,
//! before paging).
//!
//! Filters (all optional; every given one must match): `eipIds` (at most
//! 100), `zoneId`, `eipStatus`, `ipAddress`, `eipChargeType`,
//! `resourceGroupId`, `instanceId`, `instanceName`, `tagKeys` (at most 20;
//! the EIP has every key), `tags` (at most 20, a flat `[{key, value}]`; the
//! EIP has every pair). Paging: `pageSize` 1..=1000 (default 20), `pageNum`
//! >= 1 (default 1).
//!
//! Strict reading: `[]` matches no EIP, `""` matches only `""` (so no EIP),
//! a tag filter needs both `key` and `value`, any other field is refused.
//! Lenient reading: `""` and `[]` mean "no filter", a tag filter without a
//! value matches the key with any value, unknown fields are ignored.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

use super::ZenlayerEmulator;
use super::error::{ApiError, printable};
use super::params::{ListFilter, Params};
use super::state::{ChargeType, EipStatus, EipView};

pub const MAX_EIP_IDS: usize = 100;
pub const MAX_TAG_FILTERS: usize = 20;
pub const MAX_PAGE_SIZE: i64 = 1000;
pub const DEFAULT_PAGE_SIZE: i64 = 20;

/// The `response` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Described {
    pub total_count: usize,
    pub data_set: Vec<EipView>,
}

/// Every field of the request.
const FIELDS: [&str; 12] = [
    "eipIds",
    "eipChargeType",
    "ipAddress",
    "zoneId",
    "resourceGroupId",
    "eipStatus",
    "instanceId",
    "instanceName",
    "pageSize",
    "pageNum",
    "tagKeys",
    "tags",
];

#[derive(Debug, Default)]
struct Filters<'a> {
    eip_ids: ListFilter<'a>,
    zone_id: Option<&'a str>,
    eip_status: Option<EipStatus>,
    ip_address: Option<&'a str>,
    charge: Option<ChargeType>,
    resource_group_id: Option<&'a str>,
    instance_id: Option<&'a str>,
    instance_name: Option<&'a str>,
    tag_keys: ListFilter<'a>,
    /// A pair without a value matches the key with any value (lenient
    /// only). `Some(empty)`: matches nothing (strict `[]`).
    tags: Option<Vec<(&'a str, Option<&'a str>)>>,
}

impl Filters<'_> {
    fn matches(&self, eip: &EipView) -> bool {
        let has_tag = |key: &str, value: Option<&str>| {
            eip.tags
                .tags
                .iter()
                .any(|t| t.key == key && value.is_none_or(|v| t.value == v))
        };
        self.eip_ids.admits(&eip.eip_id)
            && self.zone_id.is_none_or(|z| eip.zone_id == z)
            && self.eip_status.is_none_or(|s| eip.eip_status == s)
            && self
                .ip_address
                .is_none_or(|ip| eip.ip_address.as_deref() == Some(ip))
            && self.charge.is_none_or(|c| eip.eip_charge_type == c)
            && self
                .resource_group_id
                .is_none_or(|g| eip.resource_group_id == g)
            && self
                .instance_id
                .is_none_or(|i| eip.instance_id.as_deref() == Some(i))
            && self
                .instance_name
                .is_none_or(|n| eip.instance_name.as_deref() == Some(n))
            && self.tag_keys.all(|k| has_tag(k, None))
            && self
                .tags
                .as_ref()
                .is_none_or(|tags| !tags.is_empty() && tags.iter().all(|(k, v)| has_tag(k, *v)))
    }
}

/// Validates and answers one call.
pub fn describe(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<Described, ApiError> {
    let p = Params::root(body, emulator.reading);
    p.only(&FIELDS)?;
    let filters = filters(&p)?;
    let page_size = p
        .opt_int("pageSize", 1, MAX_PAGE_SIZE)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let page_num = p.opt_int("pageNum", 1, i64::MAX)?.unwrap_or(1);

    let lag = std::time::Duration::from_millis(emulator.faults.config().describe_lag_ms);
    let all = emulator.store().described(Instant::now(), lag);
    let matching: Vec<EipView> = all.into_iter().filter(|e| filters.matches(e)).collect();
    let total_count = matching.len();
    let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let skip = usize::try_from(page_num.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(page_size);
    let data_set = matching.into_iter().skip(skip).take(page_size).collect();
    Ok(Described {
        total_count,
        data_set,
    })
}

fn filters<'a>(p: &Params<'a>) -> Result<Filters<'a>, ApiError> {
    let eip_status = match p.opt_filter("eipStatus")? {
        None => None,
        Some(text) => Some(EipStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_value(
                "eipStatus",
                format_args!("`{}` is not an EIP status", printable(text)),
            )
        })?),
    };
    let charge = match p.opt_filter("eipChargeType")? {
        None => None,
        Some(text) => Some(ChargeType::parse(text).ok_or_else(|| {
            ApiError::invalid_value(
                "eipChargeType",
                format_args!("`{}` is not PREPAID or POSTPAID", printable(text)),
            )
        })?),
    };
    let tags = match p.opt_array("tags", MAX_TAG_FILTERS)? {
        None => None,
        Some([]) if !p.is_strict() => None,
        Some(items) => {
            let mut tags = Vec::with_capacity(items.len());
            for item in p.objects_of("tags", items)? {
                item.only(&["key", "value"])?;
                let key = item
                    .opt_str("key")?
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| ApiError::missing(&item.path("key")))?;
                let value = item.opt_str("value")?;
                if value.is_none() && item.is_strict() {
                    return Err(ApiError::missing(&item.path("value")));
                }
                tags.push((key, value));
            }
            Some(tags)
        }
    };
    Ok(Filters {
        eip_ids: p.list_filter("eipIds", MAX_EIP_IDS)?,
        zone_id: p.opt_filter("zoneId")?,
        eip_status,
        ip_address: p.opt_filter("ipAddress")?,
        charge,
        resource_group_id: p.opt_filter("resourceGroupId")?,
        instance_id: p.opt_filter("instanceId")?,
        instance_name: p.opt_filter("instanceName")?,
        tag_keys: p.list_filter("tagKeys", MAX_TAG_FILTERS)?,
        tags,
    })
}
