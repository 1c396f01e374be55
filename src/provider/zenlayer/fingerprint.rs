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
    use crate::pb;
    use crate::provider::validate::Violations;
    use crate::provider::zenlayer::validate;

    /// The canonical parameters of a postpaid request in SEL-A with `tags`
    /// and `more` of the params.
    fn params(
        tags: &[(&str, &str)],
        more: pb::ZenlayerAllocateParams,
    ) -> Vec<(&'static str, String)> {
        let request = pb::ZenlayerAllocateParams {
            zone_id: "SEL-A".into(),
            charge_type: pb::ChargeType::Postpaid as i32,
            tags: tags
                .iter()
                .map(|(key, value)| pb::Tag {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
            ..more
        };
        let mut v = Violations::default();
        let spec = validate::allocate(&request, &mut v);
        assert!(v.is_empty(), "{:?}", v.listed());
        canonical_params(&spec.unwrap())
    }

    /// The hash stored by earlier gateways (tests/fixtures/idempotency-v1-records.tsv).
    #[test]
    fn stored_fingerprints_still_match() {
        let canonical = params(&[("team", "edge")], Default::default());
        assert_eq!(
            Fingerprint::new("zenlayer", &canonical).hash_hex(),
            "d7012c7f426a8e3a520492395688966d6605aca3346e7e686ae710c72dd3ba85"
        );
    }

    #[test]
    fn tag_order_is_not_a_difference() {
        let more = || pb::ZenlayerAllocateParams {
            amount: Some(2),
            ..Default::default()
        };
        let first = Fingerprint::new("zl", &params(&[("b", "2"), ("a", "1")], more()));
        let second = Fingerprint::new("zl", &params(&[("a", "1"), ("b", "2")], more()));
        assert_eq!(first, second);
        assert!(
            first.summary().contains(r#"zenlayer.tags="a=1,b=2""#),
            "{first}"
        );
        assert!(first.summary().contains("zenlayer.amount=2"), "{first}");
    }
}
