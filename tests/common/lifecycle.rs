//! Helpers of the lifecycle end-to-end tests (`tests/lifecycle.rs`, issue
//! 12): the gateway in front of both emulators with short polling, the
//! lifecycle RPCs (ReleaseAllocation, ListAllocations, CheckAvailability)
//! called with a bound, their requests, and reads of the emulators' state.
//! Written from the proto's documentation, not from the implementation.

use std::time::Duration;

use ipalloc_gateway::emulator::aliyun::{AliyunEmulator, Instance};
use ipalloc_gateway::emulator::zenlayer::{EipView, ZenlayerEmulator};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use pb::check_availability_request::Params as CheckParams;

use super::emulators::{self, EmulatedGateway};
use super::requests;

/// Short polling, so `wait` ends soon after the EIPs do.
pub const FAST_POLL: &str = "poll_initial_ms = 50\npoll_max_ms = 200\n";

/// Upper bound of any one call in these tests.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Both emulators (EIPs CREATING for `creation_delay`) behind a gateway
/// with short polling; `zenlayer_extra` adds provider lines.
pub async fn start(creation_delay: Duration, zenlayer_extra: &str) -> EmulatedGateway {
    let options = EmulatorOptions {
        creation_delay,
        ..EmulatorOptions::default()
    };
    emulators::start(options, "", "", &format!("{FAST_POLL}{zenlayer_extra}")).await
}

pub fn zenlayer_emulator(eg: &EmulatedGateway) -> &ZenlayerEmulator {
    &eg.emulators.zenlayer.as_ref().expect("zenlayer emulator").1
}

pub fn aliyun_emulator(eg: &EmulatedGateway) -> &AliyunEmulator {
    &eg.emulators.aliyun.as_ref().expect("aliyun emulator").1
}

/// EIP `id` as the emulator's DescribeEipAddresses would show it now.
pub fn eip(eg: &EmulatedGateway, id: &str) -> Option<EipView> {
    zenlayer_emulator(eg).eip(id)
}

/// Alibaba instance `id` at the emulator.
pub fn instance(eg: &EmulatedGateway, id: &str) -> Instance {
    aliyun_emulator(eg).instance(id).expect("a seeded instance")
}

fn bounded<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

pub async fn allocate(
    eg: &EmulatedGateway,
    request: pb::AllocateIpRequest,
) -> Result<pb::AllocateIpResponse, tonic::Status> {
    eg.gateway
        .client
        .clone()
        .allocate_ip(bounded(request))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn release(
    eg: &EmulatedGateway,
    request: pb::ReleaseAllocationRequest,
) -> Result<pb::ReleaseAllocationResponse, tonic::Status> {
    eg.gateway
        .client
        .clone()
        .release_allocation(bounded(request))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn list(
    eg: &EmulatedGateway,
    request: pb::ListAllocationsRequest,
) -> Result<pb::ListAllocationsResponse, tonic::Status> {
    eg.gateway
        .client
        .clone()
        .list_allocations(bounded(request))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn check(
    eg: &EmulatedGateway,
    request: pb::CheckAvailabilityRequest,
) -> Result<pb::CheckAvailabilityResponse, tonic::Status> {
    eg.gateway
        .client
        .clone()
        .check_availability(bounded(request))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn get(
    eg: &EmulatedGateway,
    provider: &str,
    id: &str,
) -> Result<pb::Allocation, tonic::Status> {
    eg.gateway
        .client
        .clone()
        .get_allocation(bounded(requests::lookup(provider, id)))
        .await
        .map(tonic::Response::into_inner)
}

/// Every page of a listing (`request.page_token` is ignored), following
/// `next_page_token` for at most `max_pages` pages: the pages in order.
pub async fn pages(
    eg: &EmulatedGateway,
    request: pb::ListAllocationsRequest,
    max_pages: usize,
) -> Vec<pb::ListAllocationsResponse> {
    let mut pages = Vec::new();
    let mut token = String::new();
    for _ in 0..max_pages {
        let page = list(
            eg,
            pb::ListAllocationsRequest {
                page_token: token.clone(),
                ..request.clone()
            },
        )
        .await
        .unwrap_or_else(|status| panic!("page {} of {request:?}: {status:?}", pages.len()));
        token = page.next_page_token.clone();
        pages.push(page);
        if token.is_empty() {
            return pages;
        }
    }
    panic!("more than {max_pages} pages for {request:?}");
}

/// Every allocation of a listing, through all its pages.
pub async fn list_all(
    eg: &EmulatedGateway,
    request: pb::ListAllocationsRequest,
) -> Vec<pb::ListedAllocation> {
    pages(eg, request, 100)
        .await
        .into_iter()
        .flat_map(|page| page.allocations)
        .collect()
}

/// The ids of listed allocations, in order.
pub fn ids(listed: &[pb::ListedAllocation]) -> Vec<String> {
    listed.iter().map(|l| allocation(l).id.clone()).collect()
}

/// The allocation of a listed entry (always set).
pub fn allocation(listed: &pb::ListedAllocation) -> &pb::Allocation {
    listed
        .allocation
        .as_ref()
        .unwrap_or_else(|| panic!("listed without an allocation: {listed:?}"))
}

/// ReleaseAllocation of `id` on account `provider`, nothing else set.
pub fn release_of(provider: &str, id: &str) -> pb::ReleaseAllocationRequest {
    pb::ReleaseAllocationRequest {
        provider: provider.into(),
        id: id.into(),
        ..Default::default()
    }
}

/// `request` under idempotency key `key`.
pub fn release_keyed(
    key: &str,
    request: pb::ReleaseAllocationRequest,
) -> pb::ReleaseAllocationRequest {
    pb::ReleaseAllocationRequest {
        idempotency_key: key.into(),
        ..request
    }
}

pub fn tag(key: &str, value: &str) -> pb::Tag {
    pb::Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// `amount` POSTPAID EIPs in `zone` with `tags`, waited for, under `key`.
pub fn zenlayer_waited(
    key: &str,
    zone: &str,
    amount: u32,
    tags: &[pb::Tag],
) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        wait: true,
        ..requests::keyed(
            key,
            requests::zenlayer(
                "zenlayer",
                pb::ZenlayerAllocateParams {
                    amount: Some(amount),
                    tags: tags.to_vec(),
                    ..requests::postpaid(zone)
                },
            ),
        )
    }
}

/// CheckAvailability of Zenlayer `zone` (empty: every zone), POSTPAID.
pub fn zenlayer_check(zone: &str, netmask: Option<u32>) -> pb::CheckAvailabilityRequest {
    pb::CheckAvailabilityRequest {
        provider: "zenlayer".into(),
        params: Some(CheckParams::Zenlayer(pb::ZenlayerAvailabilityParams {
            zone_id: zone.into(),
            netmask,
            charge_type: pb::ChargeType::Postpaid as i32,
        })),
    }
}

/// CheckAvailability of Alibaba instance `id`.
pub fn aliyun_check(id: &str) -> pb::CheckAvailabilityRequest {
    pb::CheckAvailabilityRequest {
        provider: "aliyun".into(),
        params: Some(CheckParams::Aliyun(pb::AliyunAvailabilityParams {
            instance_id: id.into(),
            region_id: String::new(),
        })),
    }
}
