//! Request validation. Every field is checked before any provider is called,
//! and every bad field is reported (one `BadRequest` field violation each, up
//! to [`error::MAX_LISTED_VIOLATIONS`]; the rest are counted), not only the
//! first.
//!
//! Work and answers are bounded whatever the request: the size of every
//! string and repeated field is checked first, and a field over its size is
//! reported by its length alone, without being parsed, walked (tags) or
//! looked up (provider names). Values quoted back are short and escaped
//! ([`error::echo`]).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use super::error;
use crate::provider::aliyun::region;
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
/// Longest provider name (as configuration allows).
pub const MAX_PROVIDER_NAME: usize = 63;
/// Longest Alibaba instance id (`i-` and 62 characters).
pub const MAX_INSTANCE_ID: usize = 64;
/// Longest region or zone id.
pub const MAX_REGION_ID: usize = 64;
/// Longest zone id.
pub const MAX_ZONE_ID: usize = 64;
/// Longest Zenlayer EIP id, resource group id or discount code, in
/// characters.
pub const MAX_ZENLAYER_TEXT: usize = 128;
/// Longest `wait_timeout` (a watch without a deadline also ends after it).
pub const MAX_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Bad fields found so far.
pub type Violations = error::FieldViolations;

/// `Ok(value)` when nothing was found, else INVALID_ARGUMENT.
fn finish<T>(v: Violations, what: &str, value: Option<T>) -> Result<T, Status> {
    match value {
        Some(value) if v.is_empty() => Ok(value),
        _ => Err(error::invalid_argument(what, v)),
    }
}

/// True when `text` is at most `max_bytes` long; otherwise reports `field`
/// by its length alone (the value is neither parsed nor quoted).
fn size_ok(text: &str, max_bytes: usize, field: &str, v: &mut Violations) -> bool {
    if text.len() <= max_bytes {
        return true;
    }
    v.add(
        field,
        format!("{} bytes; at most {max_bytes} allowed", text.len()),
    );
    false
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
            Ok(d) if !d.is_zero() && d <= MAX_WAIT_TIMEOUT => Some(d),
            _ => {
                v.add(
                    "wait_timeout",
                    format!(
                        "must be a positive duration of at most {}s",
                        MAX_WAIT_TIMEOUT.as_secs()
                    ),
                );
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
    finish(
        v,
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
    // Sizes first: nothing oversized is trimmed, parsed or looked up.
    let id_fits = size_ok(id, MAX_ZENLAYER_TEXT.max(MAX_INSTANCE_ID), "id", &mut v);
    let region_fits = size_ok(region_id, MAX_REGION_ID, "region_id", &mut v);
    let provider = resolve(registry, provider, None, &mut v);
    let region_id = if region_fits {
        optional(region_id)
    } else {
        None
    };
    let id = if id_fits { id.trim() } else { "" };
    if id_fits && id.is_empty() {
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
                if !id.is_empty() && !is_token(id, MAX_ZENLAYER_TEXT) {
                    v.add(
                        "id",
                        format!(
                            "{} is not an EIP id: 1 to {MAX_ZENLAYER_TEXT} characters of A-Z a-z 0-9 - _ .",
                            error::echo(id)
                        ),
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
    finish(v, "GetAllocationRequest", lookup)
}

fn resolve(
    registry: &Registry,
    name: &str,
    kind: Option<ProviderKind>,
    v: &mut Violations,
) -> Option<Arc<dyn Provider>> {
    // A name longer than any configured one is not looked up.
    if !size_ok(name, MAX_PROVIDER_NAME, "provider", v) {
        return None;
    }
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
    if key.is_empty() || !size_ok(key, MAX_IDEMPOTENCY_KEY, "idempotency_key", v) {
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
            format!("{} is not an IPv4 address", error::echo(&p.ip_address)),
        );
    }
    let vlan = &p.vlan_id;
    if !vlan.is_empty() && size_ok(vlan, 4, "aliyun.vlan_id", v) {
        let in_range = vlan.bytes().all(|b| b.is_ascii_digit())
            && vlan.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n));
        if !in_range {
            v.add(
                "aliyun.vlan_id",
                format!("{} is not a VLAN id from 1 to 4094", error::echo(vlan)),
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

fn zenlayer(p: &pb::ZenlayerAllocateParams, v: &mut Violations) -> Option<ZenlayerAllocate> {
    let before = v.total();
    if p.zone_id.is_empty() {
        v.add("zenlayer.zone_id", "required, e.g. \"SEL-A\"");
    } else if size_ok(&p.zone_id, MAX_ZONE_ID, "zenlayer.zone_id", v)
        && !is_token(&p.zone_id, MAX_ZONE_ID)
    {
        v.add(
            "zenlayer.zone_id",
            format!(
                "{} is not a zone id: 1 to {MAX_ZONE_ID} characters of A-Z a-z 0-9 - _ .",
                error::echo(&p.zone_id)
            ),
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
    let group = &p.resource_group_id;
    if !group.is_empty()
        && size_ok(group, MAX_ZENLAYER_TEXT, "zenlayer.resource_group_id", v)
        && !is_token(group, MAX_ZENLAYER_TEXT)
    {
        v.add(
            "zenlayer.resource_group_id",
            format!(
                "{}: 1 to {MAX_ZENLAYER_TEXT} characters of A-Z a-z 0-9 - _ .",
                error::echo(group)
            ),
        );
    }
    let code = &p.discount_code;
    if !code.is_empty()
        && size_ok(code, 4 * MAX_ZENLAYER_TEXT, "zenlayer.discount_code", v)
        && (code.chars().count() > MAX_ZENLAYER_TEXT || code.chars().any(char::is_control))
    {
        v.add(
            "zenlayer.discount_code",
            format!("at most {MAX_ZENLAYER_TEXT} characters, no control characters"),
        );
    }

    // Too many tags: reported by their count, none is looked at.
    if p.tags.len() > MAX_TAGS {
        v.add(
            "zenlayer.tags",
            format!("{} tags; at most {MAX_TAGS}", p.tags.len()),
        );
    } else {
        check_tags(&p.tags, v);
    }

    let charge = charge?;
    (v.total() == before).then(|| ZenlayerAllocate {
        zone_id: p.zone_id.clone(),
        charge,
        resource_group_id: optional(&p.resource_group_id),
        amount,
        netmask,
        amount_set: p.amount.is_some(),
        netmask_set: p.netmask.is_some(),
        discount_code: optional(&p.discount_code),
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

/// At most [`MAX_TAGS`] tags: each key and value, reserved and duplicate
/// keys.
fn check_tags(tags: &[pb::Tag], v: &mut Violations) {
    let mut seen = HashSet::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let key_field = || format!("zenlayer.tags[{i}].key");
        let key_ok = check_tag_text(&tag.key, &key_field(), v);
        check_tag_text(&tag.value, &format!("zenlayer.tags[{i}].value"), v);
        if tag.key == IDEMPOTENCY_TAG_KEY {
            v.add(
                key_field(),
                format!(
                    "{IDEMPOTENCY_TAG_KEY:?} is reserved: the gateway records idempotency keys under it"
                ),
            );
        }
        if key_ok && !seen.insert(tag.key.as_str()) {
            v.add(
                key_field(),
                format!(
                    "duplicate tag key {}; keys must be unique",
                    error::echo(&tag.key)
                ),
            );
        }
    }
}

/// A tag key or value: 1 to [`MAX_TAG_CHARS`] characters, no control
/// characters. True when it is fine.
fn check_tag_text(text: &str, field: &str, v: &mut Violations) -> bool {
    // A character is at most 4 bytes: longer text is not counted.
    if !size_ok(text, 4 * MAX_TAG_CHARS, field, v) {
        return false;
    }
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TAG_CHARS {
        v.add(
            field,
            format!("{chars} characters; must be 1 to {MAX_TAG_CHARS}"),
        );
        false
    } else if text.chars().any(char::is_control) {
        v.add(field, "control characters are not allowed");
        false
    } else {
        true
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
                error::echo(id)
            ),
        );
    }
}

fn check_region(region: &str, field: &str, v: &mut Violations) {
    if !region::is_valid(region) {
        v.add(
            field,
            format!(
                "{} is not a region id like \"cn-hangzhou\"",
                error::echo(region)
            ),
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
