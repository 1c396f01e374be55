//! `AllocateEipAddresses`: validates the request as the API does, then
//! creates the EIPs (CREATING at first; see `state`). PREPAID answers carry
//! a fresh `orderNumber`, POSTPAID ones `""`.
//!
//! Parameters: `zoneId` (required), `eipChargeType` (required, PREPAID or
//! POSTPAID), `eipChargePrepaid.period` (required for PREPAID, months,
//! 1..=120), `resourceGroupId`, `amount` (1..=100, default 1), `netmask`
//! (1..=32, default 32), `marketingOptions {discountCode, usePocVoucher}`,
//! `tags {"tags": [{key, value}]}` (unique keys; key and value 1..=128
//! characters). Checks run in that order, then zone, netmask sold, resource
//! group, and POC voucher.
//!
//! Strict reading (besides [`super::params`]): `eipChargePrepaid` on a
//! POSTPAID request, `tags` without `tags.tags` or with an empty list, and
//! `resourceGroupId: ""` (no such group) are refused. Lenient: all three
//! read as absent.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::ZenlayerEmulator;
use super::error::{
    ApiError, INVALID_EIP_TYPE_ZONE_NO_SELL, INVALID_ZONE_NOT_FOUND,
    OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE, OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND,
    printable,
};
use super::params::{Params, check_length};
use super::seed::{self, ZoneBehaviour};
use super::state::{ChargeType, NewEip};
use crate::emulator::ApiReading;

/// The most EIPs one call creates.
pub const MAX_AMOUNT: i64 = 100;
/// The longest subscription accepted, in months (emulator-specific bound;
/// the docs give no maximum).
pub const MAX_PERIOD_MONTHS: i64 = 120;
/// Tag keys and values: 1..=128 characters.
pub const TAG_MAX_CHARS: usize = 128;

/// The `response` object of a successful call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocated {
    pub eip_id_set: Vec<String>,
    pub order_number: String,
}

/// Validates and performs one call; returns the answer and the number of
/// EIPs created.
pub fn allocate(
    emulator: &ZenlayerEmulator,
    body: &Map<String, Value>,
) -> Result<(Allocated, u32), ApiError> {
    let (spec, amount) = validate(body, emulator.reading)?;
    let wall_clock = OffsetDateTime::now_utc();
    let creation_delay = emulator.creation_delay();
    let eip_id_set = emulator.store().allocate(
        &spec,
        amount,
        creation_delay,
        std::time::Instant::now(),
        wall_clock,
    );
    let order_number = match spec.charge {
        ChargeType::Prepaid => order_number(wall_clock),
        ChargeType::Postpaid => String::new(),
    };
    tracing::info!(
        zone = spec.zone_id,
        charge = spec.charge.as_str(),
        amount,
        "emulated zenlayer EIPs allocated"
    );
    Ok((
        Allocated {
            eip_id_set,
            order_number,
        },
        amount,
    ))
}

/// Every field of the request.
const FIELDS: [&str; 8] = [
    "zoneId",
    "eipChargeType",
    "eipChargePrepaid",
    "resourceGroupId",
    "amount",
    "netmask",
    "marketingOptions",
    "tags",
];

/// The request's parameters, checked in the documented order.
fn validate(body: &Map<String, Value>, reading: ApiReading) -> Result<(NewEip, u32), ApiError> {
    let p = Params::root(body, reading);
    p.only(&FIELDS)?;
    let zone_id = p.req_str("zoneId")?;
    let charge_text = p.req_str("eipChargeType")?;
    let charge = ChargeType::parse(charge_text).ok_or_else(|| {
        ApiError::invalid_value(
            "eipChargeType",
            format_args!("`{}` is not PREPAID or POSTPAID", printable(charge_text)),
        )
    })?;
    let prepaid = p.opt_object("eipChargePrepaid")?;
    let period = match &prepaid {
        Some(prepaid) => {
            prepaid.only(&["period"])?;
            prepaid.opt_int("period", 1, MAX_PERIOD_MONTHS)?
        }
        None => None,
    };
    let period = match charge {
        ChargeType::Postpaid if prepaid.is_some() && p.is_strict() => {
            return Err(ApiError::invalid_value(
                "eipChargePrepaid",
                "only for eipChargeType PREPAID",
            ));
        }
        ChargeType::Postpaid => None,
        ChargeType::Prepaid => match (&prepaid, period) {
            (None, _) => return Err(ApiError::missing("eipChargePrepaid")),
            (Some(_), None) => return Err(ApiError::missing("eipChargePrepaid.period")),
            (Some(_), Some(months)) => Some(u32::try_from(months).unwrap_or(1)),
        },
    };
    let resource_group_id = p.opt_filter("resourceGroupId")?;
    let amount = p.opt_int("amount", 1, MAX_AMOUNT)?.unwrap_or(1);
    let netmask = p.opt_int("netmask", 1, 32)?.unwrap_or(32);
    let mut use_poc_voucher = false;
    if let Some(marketing) = p.opt_object("marketingOptions")? {
        marketing.only(&["discountCode", "usePocVoucher"])?;
        marketing.opt_str("discountCode")?;
        use_poc_voucher = marketing.opt_bool("usePocVoucher")?.unwrap_or(false);
    }
    let tags = tags(&p)?;

    let zone = seed::zone(zone_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            INVALID_ZONE_NOT_FOUND,
            format!("The specified zoneId `{}` is not found", printable(zone_id)),
        )
    })?;
    let netmask = u32::try_from(netmask).unwrap_or(32);
    if zone.behaviour == ZoneBehaviour::NoSell {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_EIP_TYPE_ZONE_NO_SELL,
            format!("EIPs are not sold in the specified zone `{}`", zone.id),
        ));
    }
    if !seed::SOLD_NETMASKS.contains(&netmask) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_EIP_TYPE_ZONE_NO_SELL,
            format!(
                "EIPs with netmask {netmask} are not sold in the specified zone `{}`",
                zone.id
            ),
        ));
    }
    let resource_group = match resource_group_id {
        None => seed::DEFAULT_RESOURCE_GROUP,
        Some(id) => *seed::resource_group(id).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND,
                format!(
                    "The specified resourceGroupId `{}` is not found",
                    printable(id)
                ),
            )
        })?,
    };
    if use_poc_voucher {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE,
            "No POC voucher is available for this account.",
        ));
    }
    let amount = u32::try_from(amount).unwrap_or(1);
    Ok((
        NewEip {
            zone_id: zone.id,
            charge,
            period,
            netmask,
            resource_group,
            tags,
        },
        amount,
    ))
}

/// `tags: {"tags": [{"key", "value"}]}`.
fn tags(p: &Params<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(association) = p.opt_object("tags")? else {
        return Ok(Vec::new());
    };
    association.only(&["tags"])?;
    let Some(items) = association.opt_array("tags", usize::MAX)? else {
        if p.is_strict() {
            return Err(ApiError::missing("tags.tags"));
        }
        return Ok(Vec::new());
    };
    if items.is_empty() && p.is_strict() {
        return Err(ApiError::less_length("tags.tags", 1));
    }
    let mut seen = HashSet::new();
    let mut tags = Vec::with_capacity(items.len());
    for item in association.objects_of("tags", items)? {
        item.only(&["key", "value"])?;
        let text = |field: &str| -> Result<String, ApiError> {
            let path = item.path(field);
            let value = item
                .opt_str(field)?
                .ok_or_else(|| ApiError::missing(&path))?;
            check_length(&path, value, 1, TAG_MAX_CHARS)?;
            Ok(value.to_owned())
        };
        let key = text("key")?;
        let value = text("value")?;
        if !seen.insert(key.clone()) {
            return Err(ApiError::invalid_value(
                "tags.tags",
                format_args!("the tag key `{}` is repeated", printable(&key)),
            ));
        }
        tags.push((key, value));
    }
    Ok(tags)
}

/// A fresh order number: the UTC time and six random digits.
fn order_number(now: OffsetDateTime) -> String {
    use rand::Rng;
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:06}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        rand::rng().random_range(0..1_000_000u32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::zenlayer::error::*;
    use serde_json::json;

    fn check(body: Value) -> Result<(NewEip, u32), ApiError> {
        validate(body.as_object().unwrap(), ApiReading::Strict)
    }

    fn lenient(body: Value) -> Result<(NewEip, u32), ApiError> {
        validate(body.as_object().unwrap(), ApiReading::Lenient)
    }

    fn code(body: Value) -> &'static str {
        check(body).unwrap_err().code
    }

    #[test]
    fn defaults() {
        let (spec, amount) =
            check(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"})).unwrap();
        assert_eq!(amount, 1);
        assert_eq!(spec.netmask, 32);
        assert_eq!(spec.period, None);
        assert_eq!(spec.resource_group, seed::DEFAULT_RESOURCE_GROUP);
        assert!(spec.tags.is_empty());
    }

    #[test]
    fn prepaid_needs_a_period() {
        let (spec, _) = check(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 3}})).unwrap();
        assert_eq!(spec.period, Some(3));
        assert_eq!(
            code(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID"})),
            MISSING_PARAMETER
        );
        assert_eq!(
            code(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {}})),
            MISSING_PARAMETER
        );
        assert_eq!(
            code(
                json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 0}})
            ),
            INVALID_PARAMETER_LESS_MINIMUM
        );
        // A lenient POSTPAID request ignores a well-typed period; a strict
        // one refuses it.
        let postpaid_with_period = json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "eipChargePrepaid": {"period": 3}});
        let (spec, _) = lenient(postpaid_with_period.clone()).unwrap();
        assert_eq!(spec.period, None);
        assert_eq!(code(postpaid_with_period), INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn order_numbers_are_digits() {
        let n = order_number(OffsetDateTime::now_utc());
        assert_eq!(n.len(), 20);
        assert!(n.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn tags_are_checked() {
        let base =
            |tags: Value| json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "tags": tags});
        let (spec, _) = check(base(
            json!({"tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}),
        ))
        .unwrap();
        assert_eq!(spec.tags.len(), 2);
        assert_eq!(
            code(base(
                json!({"tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]})
            )),
            INVALID_PARAMETER_VALUE
        );
        assert_eq!(
            code(base(json!({"tags": [{"key": "", "value": "1"}]}))),
            INVALID_PARAMETER_LESS_LENGTH
        );
        assert_eq!(
            code(base(
                json!({"tags": [{"key": "k".repeat(129), "value": "1"}]})
            )),
            INVALID_PARAMETER_EXCEED_LENGTH
        );
        assert_eq!(
            code(base(json!({"tags": [{"key": "k"}]}))),
            MISSING_PARAMETER
        );
        assert_eq!(
            code(base(json!([{"key": "k", "value": "v"}]))),
            INVALID_PARAMETER_TYPE
        );
        assert_eq!(code(base(json!({"tags": ["k"]}))), INVALID_PARAMETER_TYPE);
        // Strict only: an empty or missing inner list, extra fields.
        assert_eq!(
            code(base(json!({"tags": []}))),
            INVALID_PARAMETER_LESS_LENGTH
        );
        assert_eq!(code(base(json!({}))), MISSING_PARAMETER);
        assert_eq!(
            code(base(
                json!({"tags": [{"key": "k", "value": "v", "colour": "red"}]})
            )),
            INVALID_PARAMETER_VALUE
        );
        assert_eq!(
            code(base(
                json!({"tags": [{"key": "k", "value": "v"}], "extra": 1})
            )),
            INVALID_PARAMETER_VALUE
        );
        for body in [json!({"tags": []}), json!({})] {
            assert!(lenient(base(body)).unwrap().0.tags.is_empty());
        }
    }

    #[test]
    fn strict_reading_refuses_what_lenient_ignores() {
        let base = json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"});
        let with = |field: &str, value: Value| {
            let mut body = base.clone();
            body[field] = value;
            body
        };
        let cases = [
            (with("amount", json!(2.0)), INVALID_PARAMETER_TYPE),
            (with("amount", Value::Null), INVALID_PARAMETER_TYPE),
            (with("netmask", Value::Null), INVALID_PARAMETER_TYPE),
            (with("resourceGroupId", Value::Null), INVALID_PARAMETER_TYPE),
            (
                with("resourceGroupId", json!("")),
                OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND,
            ),
            (
                with("marketingOptions", Value::Null),
                INVALID_PARAMETER_TYPE,
            ),
            (
                with(
                    "marketingOptions",
                    json!({"usePocVoucher": false, "coupon": "x"}),
                ),
                INVALID_PARAMETER_VALUE,
            ),
            (with("zoneID", json!("SEL-A")), INVALID_PARAMETER_VALUE),
            (
                with("eipChargePrepaid", json!({"period": 1, "unit": "month"})),
                INVALID_PARAMETER_VALUE,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(code(body.clone()), want, "{body}");
            let (spec, amount) = lenient(body.clone()).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(
                (spec.netmask, amount),
                (32, if body["amount"] == 2.0 { 2 } else { 1 })
            );
        }
        // Both readings: zoneId null is missing (strict: a type error).
        assert_eq!(code(with("zoneId", Value::Null)), INVALID_PARAMETER_TYPE);
        assert_eq!(
            lenient(with("zoneId", Value::Null)).unwrap_err().code,
            MISSING_PARAMETER
        );
    }
}
