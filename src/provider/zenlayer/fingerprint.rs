//! Zenlayer's part of an allocation's idempotency fingerprint: the canonical
//! `AllocateEipAddresses` parameters, as `(name, value)` pairs with `""` for
//! "not given" and tags sorted (their order does not make another request).
//! Stored fingerprints are compared byte for byte, so the names and values
//! here never change (a new parameter is a new pair).

use crate::provider::{ChargeType, ZenlayerAllocate};

/// What must match for an idempotency key to be reused.
pub fn canonical_params(z: &ZenlayerAllocate) -> Vec<(&'static str, String)> {
    let (charge, months) = match z.charge {
        ChargeType::Prepaid { period_months } => ("PREPAID", period_months.to_string()),
        ChargeType::Postpaid => ("POSTPAID", String::new()),
    };
    let mut tags: Vec<String> = z
        .tags
        .iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect();
    tags.sort();
    vec![
        ("zenlayer.zone_id", z.zone_id.clone()),
        ("zenlayer.charge_type", charge.to_owned()),
        ("zenlayer.prepaid_period_months", months),
        (
            "zenlayer.resource_group_id",
            z.resource_group_id.clone().unwrap_or_default(),
        ),
        ("zenlayer.amount", z.amount.to_string()),
        ("zenlayer.netmask", z.netmask.to_string()),
        (
            "zenlayer.discount_code",
            z.discount_code.clone().unwrap_or_default(),
        ),
        ("zenlayer.use_poc_voucher", z.use_poc_voucher.to_string()),
        ("zenlayer.tags", tags.join(",")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Fingerprint;
    use crate::provider::Tag;

    /// The hash stored by earlier gateways (tests/fixtures/idempotency-v1-records.tsv).
    #[test]
    fn stored_fingerprints_still_match() {
        let spec = ZenlayerAllocate {
            zone_id: "SEL-A".into(),
            charge: ChargeType::Postpaid,
            resource_group_id: None,
            amount: 1,
            netmask: 32,
            amount_set: false,
            netmask_set: false,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![Tag {
                key: "team".into(),
                value: "edge".into(),
            }],
        };
        let fingerprint = Fingerprint::new("zenlayer", &canonical_params(&spec));
        assert_eq!(
            fingerprint.hash_hex(),
            "d7012c7f426a8e3a520492395688966d6605aca3346e7e686ae710c72dd3ba85"
        );
    }

    #[test]
    fn tag_order_is_not_a_difference() {
        let tag = |key: &str, value: &str| Tag {
            key: key.into(),
            value: value.into(),
        };
        let mut spec = ZenlayerAllocate {
            zone_id: "SEL-A".into(),
            charge: ChargeType::Prepaid { period_months: 3 },
            resource_group_id: None,
            amount: 2,
            netmask: 32,
            amount_set: true,
            netmask_set: false,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![tag("b", "2"), tag("a", "1")],
        };
        let first = Fingerprint::new("zl", &canonical_params(&spec));
        spec.tags.reverse();
        assert_eq!(first, Fingerprint::new("zl", &canonical_params(&spec)));
        assert!(
            first.summary().contains(r#"zenlayer.tags="a=1,b=2""#),
            "{first}"
        );
    }
}
