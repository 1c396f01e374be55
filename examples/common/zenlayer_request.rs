//! The Zenlayer AllocateIp request the benchmarks send (one postpaid EIP in
//! `SEL-A`, one tag), shared by `examples/bench/` and `examples/memory.rs`
//! through `#[path]` so both measure the same call.

use ipalloc_gateway::pb;
use ipalloc_gateway::pb::allocate_ip_request::Params;

/// AllocateIp on provider `zenlayer` with idempotency key `key`.
pub fn zenlayer_request(key: String) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "zenlayer".into(),
        idempotency_key: key,
        params: Some(Params::Zenlayer(pb::ZenlayerAllocateParams {
            zone_id: "SEL-A".into(),
            charge_type: pb::ChargeType::Postpaid as i32,
            amount: Some(1),
            tags: vec![pb::Tag {
                key: "team".into(),
                value: "edge".into(),
            }],
            ..Default::default()
        })),
        ..Default::default()
    }
}
