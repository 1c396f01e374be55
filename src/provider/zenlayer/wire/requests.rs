//! Request bodies of the Zenlayer BMC API 2.0 calls the gateway makes
//! (`AllocateEipAddresses`, `DescribeEipAddresses`, `TerminateEipAddress`,
//! `ReleaseEipAddresses`, `DescribeEipAvailableResources`) and the pieces they share with the responses (tags, charge types).
//!
//! Bodies are camelCase JSON with absent fields omitted, in the field order
//! of the official SDK models (the order does not matter to the server, but
//! serde_json's compact output of these structs is what gets hashed, so it
//! is fixed and tested).

use serde::{Deserialize, Serialize};

use crate::provider::model::{ChargeType, ZenlayerAllocate};
use crate::provider::wire_common::null_default;

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTag {
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
}

/// The wrapped tag list `{"tags": [...]}` (`TagAssociation` in requests,
/// `Tags` in responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TagSet {
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<WireTag>,
}

/// `eipChargeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EipChargeType {
    Prepaid,
    Postpaid,
}

/// `ChargePrepaid`: the subscription length in months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargePrepaid {
    pub period: u32,
}

/// `MarketingInfo`, sent as `marketingOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketingOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_poc_voucher: Option<bool>,
}

/// `AllocateEipAddresses` request body (2026-02-01 field order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateEipAddressesRequest {
    pub zone_id: String,
    pub eip_charge_type: EipChargeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_charge_prepaid: Option<ChargePrepaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_options: Option<MarketingOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagSet>,
}

impl From<&ZenlayerAllocate> for AllocateEipAddressesRequest {
    /// Sends what the caller set, as the official SDK does: `amount` and
    /// `netmask` only when given (the API's defaults are validation's),
    /// `eipChargePrepaid` only for PREPAID, `marketingOptions` only when a
    /// discount code is given or the POC voucher is requested, `tags` only
    /// when there are some.
    fn from(spec: &ZenlayerAllocate) -> Self {
        let (eip_charge_type, eip_charge_prepaid) = match spec.charge {
            ChargeType::Prepaid { period_months } => (
                EipChargeType::Prepaid,
                Some(ChargePrepaid {
                    period: period_months,
                }),
            ),
            ChargeType::Postpaid => (EipChargeType::Postpaid, None),
        };
        let marketing_options =
            (spec.discount_code.is_some() || spec.use_poc_voucher).then(|| MarketingOptions {
                discount_code: spec.discount_code.clone(),
                use_poc_voucher: spec.use_poc_voucher.then_some(true),
            });
        let tags = (!spec.tags.is_empty()).then(|| TagSet {
            tags: spec
                .tags
                .iter()
                .map(|t| WireTag {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect(),
        });
        AllocateEipAddressesRequest {
            zone_id: spec.zone_id.clone(),
            eip_charge_type,
            eip_charge_prepaid,
            resource_group_id: spec.resource_group_id.clone(),
            amount: spec.amount_set.then_some(spec.amount),
            netmask: spec.netmask_set.then_some(spec.netmask),
            marketing_options,
            tags,
        }
    }
}

/// `DescribeEipAddresses` request body: every filter of the SDK model, in
/// its field order (`tags` here is a flat array, unlike
/// AllocateEipAddresses). A filter the caller did not set is left out, as
/// the official SDK leaves out every unset field: `"eipIds": []` would be a
/// filter on zero ids, which a strict reading answers with no EIP at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEipAddressesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_charge_type: Option<EipChargeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_num: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<WireTag>>,
}

/// `TerminateEipAddress` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminateEipAddressRequest {
    pub eip_id: String,
}

/// `ReleaseEipAddresses` request: 1 to 100 EIPs in the recycle bin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseEipAddressesRequest {
    pub eip_ids: Vec<String>,
}

/// `DescribeEipAvailableResources` request, in the SDK model's field
/// order; without `zoneId` it asks for every zone (the SDK leaves an unset
/// zone out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeEipAvailableResourcesRequest {
    pub eip_charge_type: EipChargeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
}
