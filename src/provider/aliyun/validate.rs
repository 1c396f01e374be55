//! Validation of Alibaba Cloud parameters: `AllocateIp`'s `aliyun` params
//! (instance id, IPv4 address, VLAN id, region) and the id and region of a
//! lookup (an ECS instance id). Field paths and messages are part of the
//! API (`BadRequest` field violations).

use std::net::Ipv4Addr;

use super::region::{self, MAX_REGION_ID};
use crate::api::error::echo;
use crate::pb;
use crate::provider::AliyunAllocate;
use crate::provider::validate::{Violations, optional, size_ok};

/// Longest Alibaba instance id (`i-` and 62 characters).
pub const MAX_INSTANCE_ID: usize = 64;

/// The validated `aliyun` params of an AllocateIp request; `None` when any
/// field is bad (each one added to `v`).
pub fn allocate(p: &pb::AliyunAllocateParams, v: &mut Violations) -> Option<AliyunAllocate> {
    let before = v.total();
    if p.instance_id.is_empty() {
        v.add(
            "aliyun.instance_id",
            "required, e.g. \"i-bp1abcdefghijk123456\"",
        );
    } else if size_ok(&p.instance_id, MAX_INSTANCE_ID, "aliyun.instance_id", v) {
        check_instance_id(&p.instance_id, "aliyun.instance_id", v);
    }
    // "255.255.255.255" is the longest IPv4 address.
    if !p.ip_address.is_empty()
        && size_ok(&p.ip_address, 15, "aliyun.ip_address", v)
        && p.ip_address.parse::<Ipv4Addr>().is_err()
    {
        v.add(
            "aliyun.ip_address",
            format!("{} is not an IPv4 address", echo(&p.ip_address)),
        );
    }
    let vlan = &p.vlan_id;
    if !vlan.is_empty() && size_ok(vlan, 4, "aliyun.vlan_id", v) {
        let in_range = vlan.bytes().all(|b| b.is_ascii_digit())
            && vlan.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n));
        if !in_range {
            v.add(
                "aliyun.vlan_id",
                format!("{} is not a VLAN id from 1 to 4094", echo(vlan)),
            );
        }
    }
    if !p.region_id.is_empty() && size_ok(&p.region_id, MAX_REGION_ID, "aliyun.region_id", v) {
        check_region(&p.region_id, "aliyun.region_id", v);
    }
    (v.total() == before).then(|| AliyunAllocate {
        instance_id: p.instance_id.clone(),
        ip_address: optional(&p.ip_address),
        vlan_id: optional(&p.vlan_id),
        region_id: optional(&p.region_id),
    })
}

/// Checks a lookup's `id` (trimmed; empty when absent or oversized, already
/// reported) and `region_id` (within its size).
pub fn lookup(id: &str, region_id: Option<&str>, v: &mut Violations) {
    if !id.is_empty() {
        check_instance_id(id, "id", v);
    }
    if let Some(region) = region_id {
        check_region(region, "region_id", v);
    }
}

/// Alibaba instance ids: `i-` followed by lowercase letters and digits.
fn check_instance_id(id: &str, field: &str, v: &mut Violations) {
    let ok = id.strip_prefix("i-").is_some_and(|rest| {
        (1..=62).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !ok {
        v.add(
            field,
            format!(
                "{} is not an ECS instance id like \"i-bp1abcdefghijk123456\"",
                echo(id)
            ),
        );
    }
}

fn check_region(id: &str, field: &str, v: &mut Violations) {
    if !region::is_valid(id) {
        v.add(
            field,
            format!("{} is not a region id like \"cn-hangzhou\"", echo(id)),
        );
    }
}
