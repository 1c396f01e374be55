//! The requests tests send: AllocateIp on either kind of account, from
//! parameters that a test changes with struct update syntax, and
//! GetAllocation.

use ipalloc_gateway::pb;
use pb::allocate_ip_request::Params;

/// AllocateIp on Alibaba account `provider`, no idempotency key.
pub fn aliyun(provider: &str, params: pb::AliyunAllocateParams) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: provider.into(),
        params: Some(Params::Aliyun(params)),
        ..Default::default()
    }
}

/// AllocateIp on Zenlayer account `provider`, no idempotency key.
pub fn zenlayer(provider: &str, params: pb::ZenlayerAllocateParams) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: provider.into(),
        params: Some(Params::Zenlayer(params)),
        ..Default::default()
    }
}

/// `request` under idempotency key `key`.
pub fn keyed(key: &str, request: pb::AllocateIpRequest) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        idempotency_key: key.into(),
        ..request
    }
}

/// A public IP for Alibaba instance `id`, nothing else asked for.
pub fn instance(id: &str) -> pb::AliyunAllocateParams {
    pb::AliyunAllocateParams {
        instance_id: id.into(),
        ..Default::default()
    }
}

/// POSTPAID Zenlayer EIPs in `zone`, every other parameter left unset.
pub fn postpaid(zone: &str) -> pb::ZenlayerAllocateParams {
    pb::ZenlayerAllocateParams {
        zone_id: zone.into(),
        charge_type: pb::ChargeType::Postpaid as i32,
        ..Default::default()
    }
}

/// GetAllocation of `id` on account `provider`.
pub fn lookup(provider: &str, id: &str) -> pb::GetAllocationRequest {
    pb::GetAllocationRequest {
        provider: provider.into(),
        id: id.into(),
        region_id: String::new(),
    }
}
