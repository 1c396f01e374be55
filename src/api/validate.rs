//! Request validation. Every field is checked before any provider is called,
//! and every bad field is reported (one `BadRequest` field violation each),
//! not only the first.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use super::error;
use crate::config::valid_region;
use crate::pb;
use crate::provider::registry::ResolveError;
use crate::provider::zenlayer::IDEMPOTENCY_TAG_KEY;
use crate::provider::{
    AliyunAllocate, AllocateSpec, AllocationLookup, ChargeType, Provider, ProviderKind, Registry,
    Tag, ZenlayerAllocate,
};

/// Most tags one request may carry.
pub const MAX_TAGS: usize = 50;
/// Longest tag key or value, in characters.
pub const MAX_TAG_CHARS: usize = 128;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;
/// Longest subscription the gateway accepts, in months.
pub const MAX_PREPAID_MONTHS: u32 = 120;

/// Bad fields found so far: (field path, what is wrong).
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }

    /// `Ok(value)` when nothing was found, else INVALID_ARGUMENT.
    fn finish<T>(self, what: &str, value: Option<T>) -> Result<T, Status> {
        match value {
            Some(value) if self.is_empty() => Ok(value),
            _ => Err(error::invalid_argument(what, self.into_vec())),
        }
    }
}

/// A validated AllocateIp request.
pub struct ValidAllocate {
    pub provider: Arc<dyn Provider>,
    pub spec: AllocateSpec,
    pub idempotency_key: Option<String>,
}

/// Validates an AllocateIp request and picks its provider; also returns the
/// wait timeout, if one was given.
pub fn allocate(
    request: &pb::AllocateIpRequest,
    registry: &Registry,
) -> Result<(ValidAllocate, Option<Duration>), Status> {
    use pb::allocate_ip_request::Params;
    let mut v = Violations::default();
    let wait_timeout = match &request.wait_timeout {
        None => None,
        Some(d) => match Duration::try_from(*d) {
            Ok(d) if d > super::allocate::MAX_WAIT_TIMEOUT => {
                v.add("wait_timeout", "must be at most 3600s");
                None
            }
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                v.add("wait_timeout", "must be a positive duration");
                None
            }
        },
    };

    let idempotency_key = idempotency_key(&request.idempotency_key, &mut v);
    let kind = match &request.params {
        Some(Params::Aliyun(_)) => Some(ProviderKind::Aliyun),
        Some(Params::Zenlayer(_)) => Some(ProviderKind::Zenlayer),
        None => {
            v.add("params", "exactly one of aliyun or zenlayer is required");
            None
        }
    };
    let provider = resolve(registry, &request.provider, kind, &mut v);
    let spec = match &request.params {
        Some(Params::Aliyun(p)) => aliyun(p, &mut v).map(AllocateSpec::Aliyun),
        Some(Params::Zenlayer(p)) => zenlayer(p, &mut v).map(AllocateSpec::Zenlayer),
        None => None,
    };
    let valid = match (provider, spec) {
        (Some(provider), Some(spec)) => Some(ValidAllocate {
            provider,
            spec,
            idempotency_key,
        }),
        _ => None,
    };
    v.finish(
        "AllocateIpRequest",
        valid.map(|valid| (valid, wait_timeout)),
    )
}

/// Validates a GetAllocation or WatchAllocation request and picks its
/// provider.
pub fn get_allocation(
    provider: &str,
    id: &str,
    region_id: &str,
    registry: &Registry,
) -> Result<(Arc<dyn Provider>, AllocationLookup), Status> {
    let mut v = Violations::default();
    let provider = resolve(registry, provider, None, &mut v);
    let region_id = optional(region_id);
    let id = id.trim();
    if id.is_empty() {
        v.add("id", "required: a Zenlayer eipId or an Aliyun instance id");
    }
    if let Some(provider) = &provider {
        match provider.description().kind {
            ProviderKind::Aliyun => {
                if !id.is_empty() {
                    check_instance_id(id, "id", &mut v);
                }
                if let Some(region) = &region_id {
                    check_region(region, "region_id", &mut v);
                }
            }
            ProviderKind::Zenlayer => {
                if !id.is_empty() && !is_token(id, 128) {
                    v.add(
                        "id",
                        "not an EIP id: 1 to 128 characters of A-Z a-z 0-9 - _ .",
                    );
                }
                if region_id.is_some() {
                    v.add("region_id", "Aliyun only; Zenlayer EIPs are found by id");
                }
            }
        }
    }
    let lookup = provider.map(|p| {
        (
            p,
            AllocationLookup {
                id: id.to_owned(),
                region_id,
            },
        )
    });
    v.finish("GetAllocationRequest", lookup)
}

fn resolve(
    registry: &Registry,
    name: &str,
    kind: Option<ProviderKind>,
    v: &mut Violations,
) -> Option<Arc<dyn Provider>> {
    match registry.resolve(name, kind) {
        Ok(provider) => Some(Arc::clone(provider)),
        Err(e) => {
            let hint = match &e {
                ResolveError::Unknown { .. } | ResolveError::KindMismatch { .. } => "",
                _ => " (see ListProviders)",
            };
            v.add("provider", format!("{e}{hint}"));
            None
        }
    }
}

fn idempotency_key(key: &str, v: &mut Violations) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let ok_chars = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if key.len() > MAX_IDEMPOTENCY_KEY || !ok_chars {
        v.add(
            "idempotency_key",
            format!("1 to {MAX_IDEMPOTENCY_KEY} characters of A-Z a-z 0-9 . _ : -"),
        );
        return None;
    }
    Some(key.to_owned())
}

fn aliyun(p: &pb::AliyunAllocateParams, v: &mut Violations) -> Option<AliyunAllocate> {
    let before = v.0.len();
    if p.instance_id.is_empty() {
        v.add(
            "aliyun.instance_id",
            "required, e.g. \"i-bp1abcdefghijk123456\"",
        );
    } else {
        check_instance_id(&p.instance_id, "aliyun.instance_id", v);
    }
    let ip_address = optional(&p.ip_address);
    if let Some(ip) = &ip_address
        && ip.parse::<Ipv4Addr>().is_err()
    {
        v.add(
            "aliyun.ip_address",
            format!("{ip:?} is not an IPv4 address"),
        );
    }
    let vlan_id = optional(&p.vlan_id);
    if let Some(vlan) = &vlan_id {
        let in_range = vlan.len() <= 4
            && vlan.bytes().all(|b| b.is_ascii_digit())
            && vlan.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n));
        if !in_range {
            v.add(
                "aliyun.vlan_id",
                format!("{vlan:?} is not a VLAN id from 1 to 4094"),
            );
        }
    }
    let region_id = optional(&p.region_id);
    if let Some(region) = &region_id {
        check_region(region, "aliyun.region_id", v);
    }
    (v.0.len() == before).then(|| AliyunAllocate {
        instance_id: p.instance_id.clone(),
        ip_address,
        vlan_id,
        region_id,
    })
}

fn zenlayer(p: &pb::ZenlayerAllocateParams, v: &mut Violations) -> Option<ZenlayerAllocate> {
    let before = v.0.len();
    if p.zone_id.is_empty() {
        v.add("zenlayer.zone_id", "required, e.g. \"SEL-A\"");
    } else if !is_token(&p.zone_id, 64) {
        v.add(
            "zenlayer.zone_id",
            "not a zone id: 1 to 64 characters of A-Z a-z 0-9 - _ .",
        );
    }

    let charge = match pb::ChargeType::try_from(p.charge_type) {
        Ok(pb::ChargeType::Prepaid) => match p.prepaid_period_months {
            None => {
                v.add(
                    "zenlayer.prepaid_period_months",
                    "required for CHARGE_TYPE_PREPAID",
                );
                None
            }
            Some(months) if !(1..=MAX_PREPAID_MONTHS).contains(&months) => {
                v.add(
                    "zenlayer.prepaid_period_months",
                    format!("{months} is outside 1..={MAX_PREPAID_MONTHS}"),
                );
                None
            }
            Some(months) => Some(ChargeType::Prepaid {
                period_months: months,
            }),
        },
        Ok(pb::ChargeType::Postpaid) => {
            if p.prepaid_period_months.is_some() {
                v.add(
                    "zenlayer.prepaid_period_months",
                    "only for CHARGE_TYPE_PREPAID; leave unset for CHARGE_TYPE_POSTPAID",
                );
            }
            Some(ChargeType::Postpaid)
        }
        Ok(pb::ChargeType::Unspecified) => {
            v.add(
                "zenlayer.charge_type",
                "required: CHARGE_TYPE_PREPAID or CHARGE_TYPE_POSTPAID",
            );
            None
        }
        Err(_) => {
            v.add(
                "zenlayer.charge_type",
                format!("{} is not a ChargeType", p.charge_type),
            );
            None
        }
    };

    let amount = p.amount.unwrap_or(1);
    if !(1..=100).contains(&amount) {
        v.add("zenlayer.amount", format!("{amount} is outside 1..=100"));
    }
    let netmask = p.netmask.unwrap_or(32);
    if !(1..=32).contains(&netmask) {
        v.add("zenlayer.netmask", format!("{netmask} is outside 1..=32"));
    }
    let resource_group_id = optional(&p.resource_group_id);
    if let Some(group) = &resource_group_id
        && !is_token(group, 128)
    {
        v.add(
            "zenlayer.resource_group_id",
            "1 to 128 characters of A-Z a-z 0-9 - _ .",
        );
    }
    let discount_code = optional(&p.discount_code);
    if let Some(code) = &discount_code
        && (code.chars().count() > 128 || code.chars().any(char::is_control))
    {
        v.add(
            "zenlayer.discount_code",
            "at most 128 characters, no control characters",
        );
    }

    if p.tags.len() > MAX_TAGS {
        v.add(
            "zenlayer.tags",
            format!("{} tags; at most {MAX_TAGS}", p.tags.len()),
        );
    }
    let mut seen = HashSet::with_capacity(p.tags.len());
    for (i, tag) in p.tags.iter().enumerate() {
        check_tag_text(&tag.key, &format!("zenlayer.tags[{i}].key"), v);
        check_tag_text(&tag.value, &format!("zenlayer.tags[{i}].value"), v);
        if tag.key == IDEMPOTENCY_TAG_KEY {
            v.add(
                format!("zenlayer.tags[{i}].key"),
                format!("{IDEMPOTENCY_TAG_KEY:?} is reserved: the gateway records idempotency keys under it"),
            );
        }
        if !seen.insert(tag.key.as_str()) {
            v.add(
                format!("zenlayer.tags[{i}].key"),
                format!("duplicate tag key {:?}; keys must be unique", tag.key),
            );
        }
    }

    let charge = charge?;
    (v.0.len() == before).then(|| ZenlayerAllocate {
        zone_id: p.zone_id.clone(),
        charge,
        resource_group_id,
        amount,
        netmask,
        discount_code,
        use_poc_voucher: p.use_poc_voucher,
        tags: p
            .tags
            .iter()
            .map(|t| Tag {
                key: t.key.clone(),
                value: t.value.clone(),
            })
            .collect(),
    })
}

fn check_tag_text(text: &str, field: &str, v: &mut Violations) {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TAG_CHARS {
        v.add(
            field,
            format!("{chars} characters; must be 1 to {MAX_TAG_CHARS}"),
        );
    } else if text.chars().any(char::is_control) {
        v.add(field, "control characters are not allowed");
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
            format!("{id:?} is not an ECS instance id like \"i-bp1abcdefghijk123456\""),
        );
    }
}

fn check_region(region: &str, field: &str, v: &mut Violations) {
    if !valid_region(region) {
        v.add(
            field,
            format!("{region:?} is not a region id like \"cn-hangzhou\""),
        );
    }
}

/// 1..=max characters of `A-Z a-z 0-9 - _ .`.
fn is_token(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}
