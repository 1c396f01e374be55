//! `DescribeInstances` (`RegionId`; optional `InstanceIds` and
//! `PublicIpAddresses` as JSON arrays of at most 100, `ZoneId`, `Status`,
//! `InstanceNetworkType`, `PageNumber` >= 1, `PageSize` 1..=100, default
//! 10): `{"TotalCount","PageNumber","PageSize","NextToken","Instances":
//! {"Instance":[..]}}`. A `RegionId` other than the emulator's matches no
//! instance.

use serde_json::{Map, Value, json};

use super::Performed;
use super::describe_instance_attribute::instance_fields;
use crate::aliyun::AliyunEmulator;
use crate::aliyun::errors::EcsError;
use crate::aliyun::instance::Instance;
use crate::aliyun::params::ApiRequest;

/// The most ids an `InstanceIds` (or `PublicIpAddresses`) array may hold.
pub const MAX_FILTER_IDS: usize = 100;
/// The largest `PageSize`.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 10;

pub fn perform(emulator: &AliyunEmulator, request: &ApiRequest) -> Result<Performed, EcsError> {
    let region = request.required("RegionId")?;
    let page_number = number(request, "PageNumber", 1, 1, u32::MAX)?;
    let page_size = number(request, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
    let ids = json_list(request, "InstanceIds")?;
    let public_ips = json_list(request, "PublicIpAddresses")?;
    let zone = request.non_empty("ZoneId");
    let status = request.non_empty("Status");
    let network = request.non_empty("InstanceNetworkType");

    let matches = |instance: &Instance| {
        ids.as_ref()
            .is_none_or(|ids| ids.contains(&instance.instance_id))
            && public_ips.as_ref().is_none_or(|ips| {
                instance
                    .public_ip
                    .is_some_and(|ip| ips.iter().any(|wanted| *wanted == ip.to_string()))
            })
            && zone.is_none_or(|zone| zone == instance.zone_id)
            && status.is_none_or(|status| status == instance.status.as_str())
            && network.is_none_or(|network| network == instance.network.as_str())
    };
    let skip = (u64::from(page_number) - 1) * u64::from(page_size);
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let (total, page) = if region == emulator.region() {
        emulator.with_inventory(|inventory| {
            let mut total = 0usize;
            let mut page = Vec::new();
            for instance in inventory.instances().filter(|i| matches(i)) {
                if total >= skip && page.len() < page_size as usize {
                    page.push(instance.clone());
                }
                total += 1;
            }
            (total, page)
        })
    } else {
        (0, Vec::new())
    };
    let instances: Vec<Value> = page
        .into_iter()
        .map(|instance| {
            let instance = emulator.as_described(instance);
            Value::Object(instance_fields(&instance, emulator.region(), true))
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("TotalCount".to_owned(), json!(total));
    fields.insert("PageNumber".to_owned(), json!(page_number));
    fields.insert("PageSize".to_owned(), json!(page_size));
    fields.insert("NextToken".to_owned(), json!(""));
    fields.insert("Instances".to_owned(), json!({ "Instance": instances }));
    Ok(Performed::read(fields))
}
/// An optional integer parameter within `min..=max`.
fn number(
    request: &ApiRequest,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, EcsError> {
    match request.non_empty(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| EcsError::invalid_parameter(name)),
    }
}
/// An optional JSON array of strings (`["i-a","i-b"]`), at most
/// [`MAX_FILTER_IDS`] long.
fn json_list(request: &ApiRequest, name: &str) -> Result<Option<Vec<String>>, EcsError> {
    let Some(text) = request.non_empty(name) else {
        return Ok(None);
    };
    match serde_json::from_str::<Vec<String>>(text) {
        Ok(list) if list.len() <= MAX_FILTER_IDS => Ok(Some(list)),
        _ => Err(EcsError::invalid_parameter(name)),
    }
}
