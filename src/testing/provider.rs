//! A provider as the flow and the status mapping see it: a Zenlayer
//! account's description and the parameters of a one-EIP allocation.

use crate::provider::{
    Capabilities, ChargeType, ProviderDescription, ProviderKind, ZenlayerAllocate,
};

/// Zenlayer account `zl` on an endpoint nothing listens on, asynchronous,
/// up to 100 EIPs a request.
pub fn zenlayer_description() -> ProviderDescription {
    ProviderDescription {
        name: "zl".to_owned(),
        kind: ProviderKind::Zenlayer,
        region: None,
        endpoint: "http://127.0.0.1:1".to_owned(),
        capabilities: Capabilities {
            max_allocations_per_request: 100,
            asynchronous: true,
            requires_instance: false,
            requires_instance_restart: false,
            charge_types: Vec::new(),
            api_version: String::new(),
            signature: String::new(),
        },
    }
}

/// One POSTPAID /32 EIP in SEL-A, amount and netmask left to their
/// defaults, no tags.
pub fn zenlayer_allocate() -> ZenlayerAllocate {
    ZenlayerAllocate {
        zone_id: "SEL-A".to_owned(),
        charge: ChargeType::Postpaid,
        resource_group_id: None,
        amount: 1,
        netmask: 32,
        amount_set: false,
        netmask_set: false,
        discount_code: None,
        use_poc_voucher: false,
        tags: Vec::new(),
    }
}
