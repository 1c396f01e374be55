//! Alibaba's part of an allocation's idempotency fingerprint: the canonical
//! `AllocatePublicIpAddress` parameters, as `(name, value)` pairs with `""`
//! for "not given". Stored fingerprints are compared byte for byte, so the
//! names and values here never change (a new parameter is a new pair).

use crate::provider::AliyunAllocate;

/// What must match for an idempotency key to be reused.
pub fn canonical_params(a: &AliyunAllocate) -> Vec<(&'static str, String)> {
    vec![
        ("aliyun.instance_id", a.instance_id.clone()),
        (
            "aliyun.ip_address",
            a.ip_address.clone().unwrap_or_default(),
        ),
        ("aliyun.vlan_id", a.vlan_id.clone().unwrap_or_default()),
        ("aliyun.region_id", a.region_id.clone().unwrap_or_default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Fingerprint;
    use crate::pb;
    use crate::provider::aliyun::validate;
    use crate::provider::validate::Violations;

    /// The hash stored by earlier gateways (tests/fixtures/idempotency-v1-records.tsv).
    #[test]
    fn stored_fingerprints_still_match() {
        let request = pb::AliyunAllocateParams {
            instance_id: "i-bp1a2b3c4d5e6f7g8h9i".into(),
            ..Default::default()
        };
        let mut v = Violations::default();
        let spec = validate::allocate(&request, &mut v);
        assert!(v.is_empty(), "{:?}", v.listed());
        let fingerprint = Fingerprint::new("aliyun", &canonical_params(&spec.unwrap()));
        assert_eq!(
            fingerprint.hash_hex(),
            "97749bca907b00f244c63febbdfcd74bf80b636951bc52613750130fe7f947a5"
        );
    }
}
