//! Validation of Zenlayer parameters: `AllocateIp`'s `zenlayer` params
//! (zone, charge type and period, amount, netmask, resource group,
//! discount code, tags) and the id of a lookup (an eipId; Zenlayer has no
//! region). Field paths and messages are part of the API (`BadRequest`
//! field violations).

use std::collections::HashSet;

use super::IDEMPOTENCY_TAG_KEY;
use crate::api::error::echo;
use crate::pb;
use crate::provider::validate::{Violations, is_token, optional, size_ok};
use crate::provider::{ChargeType, Tag, ZenlayerAllocate};

/// Most tags one request may carry.
pub const MAX_TAGS: usize = 50;
/// Longest tag key or value, in characters.
pub const MAX_TAG_CHARS: usize = 128;
/// Longest subscription the gateway accepts, in months.
pub const MAX_PREPAID_MONTHS: u32 = 120;
/// Longest zone id.
pub const MAX_ZONE_ID: usize = 64;
/// Longest Zenlayer EIP id, resource group id or discount code, in
/// characters.
pub const MAX_ZENLAYER_TEXT: usize = 128;

/// The validated `zenlayer` params of an AllocateIp request; `None` when any
/// field is bad (each one added to `v`).
pub fn allocate(p: &pb::ZenlayerAllocateParams, v: &mut Violations) -> Option<ZenlayerAllocate> {
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
                echo(&p.zone_id)
            ),
        );
    }
    let charge = charge(p, v);

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
                echo(group)
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

/// Checks a lookup's `id` (trimmed; empty when absent or oversized, already
/// reported); a `region_id` is refused.
pub fn lookup(id: &str, region_id: Option<&str>, v: &mut Violations) {
    if !id.is_empty() && !is_token(id, MAX_ZENLAYER_TEXT) {
        v.add(
            "id",
            format!(
                "{} is not an EIP id: 1 to {MAX_ZENLAYER_TEXT} characters of A-Z a-z 0-9 - _ .",
                echo(id)
            ),
        );
    }
    if region_id.is_some() {
        v.add("region_id", "Aliyun only; Zenlayer EIPs are found by id");
    }
}

/// The charge type and, for a subscription, its period.
fn charge(p: &pb::ZenlayerAllocateParams, v: &mut Violations) -> Option<ChargeType> {
    match pb::ChargeType::try_from(p.charge_type) {
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
    }
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
                format!("duplicate tag key {}; keys must be unique", echo(&tag.key)),
            );
        }
    }
}

/// A tag key or value: 1 to [`MAX_TAG_CHARS`] characters, no control
/// characters. True when it is fine.
pub(crate) fn check_tag_text(text: &str, field: &str, v: &mut Violations) -> bool {
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
