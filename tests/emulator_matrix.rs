//! The end-to-end error matrix: tonic client -> gateway -> in-process
//! provider emulators, with no scripted responses. Every error of both
//! providers' allocation API pages is produced by the emulators' seeded
//! inventory (see `emulators/src/aliyun/inventory.rs` and
//! `emulators/src/zenlayer/inventory.rs`), plus the common errors the
//! emulators can produce (credentials, signatures, parameters the gateway
//! lets through, throttling). For each: the gRPC code, ErrorInfo reason,
//! domain and metadata, RequestInfo and RetryInfo, written out literally per
//! row. Every group runs on fresh emulators and ends with a successful call,
//! to show the errors left the state intact.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::emulators::{self, EmulatedGateway, counters, set_faults};
use common::*;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::{aliyun, zenlayer};
use ipalloc_gateway::pb;
use ipalloc_gateway::sandbox::EmulatorOptions;
use pb::allocate_ip_request::Params;
use tonic::Code;

const ALIYUN_DOMAIN: &str = "ecs.aliyuncs.com";
const ZENLAYER_DOMAIN: &str = "bmc.console.zenlayer.com";

/// No rate limit worth mentioning: the matrix sends a few dozen calls in a
/// row and the default 10/s would only slow it down.
const FAST: &str = "rate_per_second = 1000\nburst = 1000\n";

/// What one error must look like on the client side.
struct Expected {
    grpc: Code,
    reason: &'static str,
    domain: &'static str,
    provider: &'static str,
    provider_kind: &'static str,
    provider_action: &'static str,
    provider_code: &'static str,
    /// The documented message, contained in `providerMessage`.
    message: &'static str,
    http_status: &'static str,
    retry_delay: Option<Duration>,
}

/// Checks code, ErrorInfo (reason, domain, metadata), RequestInfo and
/// RetryInfo; returns the ErrorInfo metadata for further checks.
fn assert_error(
    status: &tonic::Status,
    expected: &Expected,
    what: &str,
) -> std::collections::HashMap<String, String> {
    assert_eq!(status.code(), expected.grpc, "{what}: {status:?}");
    let (reason, domain, metadata) = error_info(status);
    assert_eq!(reason, expected.reason, "{what}: reason ({status:?})");
    assert_eq!(domain, expected.domain, "{what}: domain");
    let field = |name: &str| {
        metadata
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no metadata {name:?} in {metadata:?}"))
            .as_str()
    };
    assert_eq!(field("provider"), expected.provider, "{what}: provider");
    assert_eq!(
        field("providerKind"),
        expected.provider_kind,
        "{what}: providerKind"
    );
    assert_eq!(
        field("providerAction"),
        expected.provider_action,
        "{what}: providerAction"
    );
    assert_eq!(
        field("providerCode"),
        expected.provider_code,
        "{what}: providerCode"
    );
    assert!(
        field("providerMessage").contains(expected.message),
        "{what}: providerMessage {:?} lacks {:?}",
        field("providerMessage"),
        expected.message
    );
    assert_eq!(
        field("httpStatus"),
        expected.http_status,
        "{what}: httpStatus"
    );
    let provider_request_id = field("providerRequestId");
    assert!(
        !provider_request_id.is_empty(),
        "{what}: empty providerRequestId"
    );
    assert_eq!(
        request_id(status).as_deref(),
        Some(provider_request_id),
        "{what}: RequestInfo"
    );
    assert!(
        status.message().contains(provider_request_id),
        "{what}: the status message names the request id: {}",
        status.message()
    );
    assert_eq!(
        retry_delay(status),
        expected.retry_delay,
        "{what}: RetryInfo"
    );
    metadata
}

fn aliyun_request(instance_id: &str, ip_address: &str, vlan_id: &str) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "aliyun".into(),
        params: Some(Params::Aliyun(pb::AliyunAllocateParams {
            instance_id: instance_id.into(),
            ip_address: ip_address.into(),
            vlan_id: vlan_id.into(),
            region_id: String::new(),
        })),
        ..Default::default()
    }
}

fn zenlayer_params(zone_id: &str) -> pb::ZenlayerAllocateParams {
    pb::ZenlayerAllocateParams {
        zone_id: zone_id.into(),
        charge_type: pb::ChargeType::Postpaid as i32,
        ..Default::default()
    }
}

fn zenlayer_request(params: pb::ZenlayerAllocateParams) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        provider: "zenlayer".into(),
        params: Some(Params::Zenlayer(params)),
        ..Default::default()
    }
}

async fn allocate(
    gateway: &TestGateway,
    request: pb::AllocateIpRequest,
) -> Result<pb::AllocateIpResponse, tonic::Status> {
    let mut request = tonic::Request::new(request);
    request.set_timeout(Duration::from_secs(30));
    gateway
        .client
        .clone()
        .allocate_ip(request)
        .await
        .map(tonic::Response::into_inner)
}

fn aliyun_emulator(eg: &EmulatedGateway) -> &aliyun::AliyunEmulator {
    &eg.emulators.aliyun.as_ref().expect("aliyun emulator").1
}

fn zenlayer_emulator(eg: &EmulatedGateway) -> &zenlayer::ZenlayerEmulator {
    &eg.emulators.zenlayer.as_ref().expect("zenlayer emulator").1
}

/// A successful Aliyun allocation of `instance_id`, checked in full.
async fn assert_aliyun_allocates(
    gateway: &TestGateway,
    instance_id: &str,
    vlan_id: &str,
) -> String {
    let response = allocate(gateway, aliyun_request(instance_id, "", vlan_id))
        .await
        .unwrap_or_else(|status| panic!("{instance_id}: {status:?}"));
    assert_eq!(response.provider, "aliyun");
    assert!(!response.provider_request_id.is_empty());
    assert_eq!(response.allocations.len(), 1);
    let allocation = &response.allocations[0];
    assert_eq!(allocation.id, instance_id);
    assert_eq!(allocation.state(), pb::AllocationState::Ready);
    assert_eq!(allocation.provider_kind(), pb::ProviderKind::Aliyun);
    assert_eq!(allocation.region_id, "cn-hangzhou");
    assert_eq!(allocation.instance_id, instance_id);
    assert!(allocation.requires_instance_restart);
    allocation.ip_address.clone()
}

/// One row of the Aliyun matrix: the request and its expected answer.
struct AliyunCase {
    instance_id: &'static str,
    ip_address: &'static str,
    vlan_id: &'static str,
    http_status: &'static str,
    provider_code: &'static str,
    message: &'static str,
    grpc: Code,
    reason: &'static str,
}

/// `case((instance_id, ip_address, vlan_id), (http, code, message), grpc,
/// reason)`.
const fn case(
    (instance_id, ip_address, vlan_id): (&'static str, &'static str, &'static str),
    (http_status, provider_code, message): (&'static str, &'static str, &'static str),
    grpc: Code,
    reason: &'static str,
) -> AliyunCase {
    AliyunCase {
        instance_id,
        ip_address,
        vlan_id,
        http_status,
        provider_code,
        message,
        grpc,
        reason,
    }
}

/// Every row of the AllocatePublicIpAddress API page, some through several
/// seeded instances, in an order that works on one fresh emulator: nothing here
/// allocates, and the rows that need an instance without an address
/// (`i-emuready002`, `i-emuclassic01`) run before the successes at the end.
#[rustfmt::skip]
const ALIYUN_PAGE: &[AliyunCase] = &[
    // A well-formed IPv4 address (so the gateway passes it on) that can never be public.
    case(("i-emuready002", "10.1.2.3", ""), ("400", "InvalidIpAddress.Malformed", "The specified parameter \"IpAddress\" is not valid."), Code::InvalidArgument, "IP_ADDRESS_MALFORMED"),
    case(("i-emudoesnotexist", "", ""), ("404", "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."), Code::NotFound, "INSTANCE_NOT_FOUND"),
    case(("i-emuclassic01", "", "999"), ("404", "InvalidVlanId.NotFound", "The VlanId provided does not exist in our records."), Code::NotFound, "VLAN_NOT_FOUND"),
    case(("i-emustarting01", "", ""), ("403", "IncorrectInstanceStatus", "The current status of the resource does not support this operation."), Code::FailedPrecondition, "INSTANCE_STATUS_INCORRECT"),
    case(("i-emustopping01", "", ""), ("403", "IncorrectInstanceStatus", "The current status of the resource does not support this operation."), Code::FailedPrecondition, "INSTANCE_STATUS_INCORRECT"),
    case(("i-emupending01", "", ""), ("403", "IncorrectInstanceStatus", "The current status of the resource does not support this operation."), Code::FailedPrecondition, "INSTANCE_STATUS_INCORRECT"),
    case(("i-emulocksec01", "", ""), ("403", "InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons."), Code::FailedPrecondition, "INSTANCE_LOCKED_FOR_SECURITY"),
    case(("i-emulockfin01", "", ""), ("403", "InstanceExpiredOrInArrears", "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode)."), Code::FailedPrecondition, "INSTANCE_EXPIRED_OR_IN_ARREARS"),
    case(("i-emuclassic01", "47.100.9.9", "100"), ("404", "InvalidIpAddress.NotFound", "The specified IP is not in the specified vlan."), Code::NotFound, "IP_ADDRESS_NOT_IN_VLAN"),
    case(("i-emuready002", "47.97.0.1", ""), ("404", "InvalidIpAddress.NotFound", "The specified IP is not in the specified vlan."), Code::NotFound, "IP_ADDRESS_NOT_IN_VLAN"),
    case(("i-emuclassic01", "47.100.0.10", "100"), ("403", "IpInUse", "The specified IP is already in use."), Code::AlreadyExists, "IP_ADDRESS_IN_USE"),
    case(("i-emuready002", "47.96.0.10", ""), ("403", "IpInUse", "The specified IP is already in use."), Code::AlreadyExists, "IP_ADDRESS_IN_USE"),
    case(("i-emuhasip001", "", ""), ("403", "AllocatedAlready", "There is an IpAddress allocated already for the specified instance."), Code::AlreadyExists, "PUBLIC_IP_ALREADY_ALLOCATED"),
    case(("i-emuclassic02", "", ""), ("403", "AllocatedAlready", "There is an IpAddress allocated already for the specified instance."), Code::AlreadyExists, "PUBLIC_IP_ALREADY_ALLOCATED"),
    case(("i-emuvpceip01", "", ""), ("400", "OperationDenied", "Specified operation is denied as your instance is in VPC."), Code::FailedPrecondition, "INSTANCE_IN_VPC"),
    case(("i-emuready002", "", "100"), ("400", "OperationDenied", "Specified operation is denied as your instance is in VPC."), Code::FailedPrecondition, "INSTANCE_IN_VPC"),
    case(("i-emuemptyzone1", "", ""), ("400", "InsufficientPublicIp", "Ip address not found"), Code::ResourceExhausted, "PUBLIC_IP_INSUFFICIENT"),
    // A write whose row is "reads only": the outcome is unknown.
    case(("i-emuinternal01", "", ""), ("500", "InternalError", "The request processing has failed due to some unknown error."), Code::DeadlineExceeded, "PROVIDER_OUTCOME_UNKNOWN"),
    case(("i-emubwzero01", "", ""), ("400", "AllocateIpInvalidInstanceBandwidth", "OperationDenied The InternetMaxBandwidthOut of the specified instance cannot be less than 0."), Code::FailedPrecondition, "INSTANCE_BANDWIDTH_ZERO"),
    case(("i-emuclassic01", "", "300"), ("400", "OperationDenied", "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address."), Code::ResourceExhausted, "VLAN_INVALID_OR_EXHAUSTED"),
    case(("i-emunatbind01", "", ""), ("403", "NAT_PUBLIC_IP_BINDING_FAILED", "Binding nat public ip failed"), Code::Aborted, "NAT_PUBLIC_IP_BINDING_FAILED"),
    case(("i-emunatalloc01", "", ""), ("403", "NAT_PUBLIC_IP_ALLOCATE_FAILED", "Nat public ip binding failed."), Code::Aborted, "NAT_PUBLIC_IP_ALLOCATE_FAILED"),
];

#[tokio::test]
async fn aliyun_api_page_errors_then_allocations() {
    let eg = emulators::start(EmulatorOptions::default(), "", FAST, "").await;
    let gateway = &eg.gateway;

    // Every distinct code of the page: all 16 rows (the two OperationDenied
    // messages are distinct rows).
    let mut rows: Vec<(&str, &str)> = ALIYUN_PAGE
        .iter()
        .map(|c| (c.provider_code, c.message))
        .collect();
    rows.sort_unstable();
    rows.dedup();
    assert_eq!(rows.len(), 16);

    for case in ALIYUN_PAGE {
        let what = format!(
            "{} ip={:?} vlan={:?}",
            case.instance_id, case.ip_address, case.vlan_id
        );
        let status = allocate(
            gateway,
            aliyun_request(case.instance_id, case.ip_address, case.vlan_id),
        )
        .await
        .expect_err(&what);
        let metadata = assert_error(
            &status,
            &Expected {
                grpc: case.grpc,
                reason: case.reason,
                domain: ALIYUN_DOMAIN,
                provider: "aliyun",
                provider_kind: "aliyun",
                provider_action: "AllocatePublicIpAddress",
                provider_code: case.provider_code,
                message: case.message,
                http_status: case.http_status,
                // None of these rows is worth waiting for: "no" rows, and the
                // unknown outcome of a write must be checked, not retried.
                retry_delay: None,
            },
            &what,
        );
        if case.provider_code == "InternalError" {
            // The answer names the key to retry with and says to check first.
            let key = &metadata["idempotencyKey"];
            assert!(key.starts_with("gw-"), "{key}");
            assert!(status.message().contains(key.as_str()), "{status:?}");
            assert!(
                status.message().contains("check with GetAllocation"),
                "{status:?}"
            );
        } else {
            assert!(!metadata.contains_key("idempotencyKey"), "{what}");
        }
    }

    // Nothing was retried and nothing allocated: one AllocatePublicIpAddress
    // per row, plus the one DescribeInstanceAttribute that reconciled the
    // unknown outcome of InternalError (the instance still has no IP).
    let seen = counters(&eg.aliyun_url).await;
    assert_eq!(seen.requests, ALIYUN_PAGE.len() as u64 + 1, "{seen:?}");
    assert_eq!(seen.allocate_calls, 0, "{seen:?}");
    assert_eq!(seen.auth_failures, 0, "{seen:?}");
    let emulator = aliyun_emulator(&eg);
    for id in ["i-emuready002", "i-emuclassic01", "i-emuinternal01"] {
        assert_eq!(emulator.instance(id).unwrap().public_ip, None, "{id}");
    }

    // The errors left the inventory intact: the lowest free address of
    // VLAN 100 (47.100.0.10 is held) and of the default pool (47.96.0.10 is
    // held, 47.96.0.1 is not).
    assert_eq!(
        assert_aliyun_allocates(gateway, "i-emuclassic01", "100").await,
        "47.100.0.11"
    );
    assert_eq!(
        assert_aliyun_allocates(gateway, "i-emuready002", "").await,
        "47.96.0.1"
    );
    assert_eq!(
        assert_aliyun_allocates(gateway, "i-emuready001", "").await,
        "47.96.0.2"
    );
    // ... and now holds them.
    let status = allocate(gateway, aliyun_request("i-emuready002", "", ""))
        .await
        .unwrap_err();
    assert_error(
        &status,
        &Expected {
            grpc: Code::AlreadyExists,
            reason: "PUBLIC_IP_ALREADY_ALLOCATED",
            domain: ALIYUN_DOMAIN,
            provider: "aliyun",
            provider_kind: "aliyun",
            provider_action: "AllocatePublicIpAddress",
            provider_code: "AllocatedAlready",
            message: "There is an IpAddress allocated already for the specified instance.",
            http_status: "403",
            retry_delay: None,
        },
        "i-emuready002 again",
    );
    let status = allocate(gateway, aliyun_request("i-emuready003", "47.96.0.2", ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(error_info(&status).0, "IP_ADDRESS_IN_USE");
    assert_eq!(
        emulator.instance("i-emuready002").unwrap().public_ip,
        Some("47.96.0.1".parse().unwrap())
    );
    assert_eq!(counters(&eg.aliyun_url).await.allocate_calls, 3);
}

/// A syntactically malformed `ip_address` never reaches the emulator: the
/// gateway validates it with the same IPv4 parser the emulator uses, and
/// refuses before calling the provider. (The page's `InvalidIpAddress.Malformed`
/// row is reproduced end to end above with an address that can never be
/// public.)
#[tokio::test]
async fn aliyun_malformed_ip_address_is_refused_before_the_provider() {
    let eg = emulators::start(EmulatorOptions::default(), "", FAST, "").await;
    for ip in ["300.1.2.3", "47.96.0", "47.96.0.1.1", " 47.96.0.1", "::1"] {
        let status = allocate(&eg.gateway, aliyun_request("i-emuready002", ip, ""))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{ip:?}: {status:?}");
        let (reason, domain, _) = error_info(&status);
        assert_eq!(
            (reason.as_str(), domain.as_str()),
            ("INVALID_REQUEST", "ipalloc-gateway")
        );
        assert_eq!(violated_fields(&status), ["aliyun.ip_address"]);
    }
    assert_eq!(counters(&eg.aliyun_url).await.requests, 0);
    // The same instance then allocates normally.
    assert_eq!(
        assert_aliyun_allocates(&eg.gateway, "i-emuready002", "").await,
        "47.96.0.1"
    );
}

/// One Zenlayer error: the request's parameters and the expected answer.
struct ZenlayerCase {
    what: &'static str,
    params: pb::ZenlayerAllocateParams,
    http_status: &'static str,
    provider_code: &'static str,
    message: &'static str,
    grpc: Code,
    reason: &'static str,
}

#[tokio::test]
async fn zenlayer_api_page_and_parameter_errors_then_allocation() {
    let eg = emulators::start(EmulatorOptions::default(), "", "", FAST).await;
    let cases = vec![
        // The AllocateEipAddresses page.
        ZenlayerCase {
            what: "zone that sells no EIPs",
            params: zenlayer_params("TYO-A"),
            http_status: "400",
            provider_code: "INVALID_EIP_TYPE_ZONE_NO_SELL",
            message: "EIPs are not sold in the specified zone `TYO-A`",
            grpc: Code::FailedPrecondition,
            reason: "EIP_NOT_SOLD_IN_ZONE",
        },
        ZenlayerCase {
            what: "unknown zone",
            params: zenlayer_params("XXX-A"),
            http_status: "404",
            provider_code: "INVALID_ZONE_NOT_FOUND",
            message: "The specified zoneId `XXX-A` is not found",
            grpc: Code::NotFound,
            reason: "ZONE_NOT_FOUND",
        },
        // Parameters the gateway accepts and the emulator refuses.
        ZenlayerCase {
            what: "netmask 27 (the gateway accepts 1..=32; the zone sells 28..=32)",
            params: pb::ZenlayerAllocateParams {
                netmask: Some(27),
                ..zenlayer_params("SEL-A")
            },
            http_status: "400",
            provider_code: "INVALID_EIP_TYPE_ZONE_NO_SELL",
            message: "EIPs with netmask 27 are not sold in the specified zone `SEL-A`",
            grpc: Code::FailedPrecondition,
            reason: "EIP_NOT_SOLD_IN_ZONE",
        },
        ZenlayerCase {
            what: "netmask 1",
            params: pb::ZenlayerAllocateParams {
                netmask: Some(1),
                ..zenlayer_params("HKG-A")
            },
            http_status: "400",
            provider_code: "INVALID_EIP_TYPE_ZONE_NO_SELL",
            message: "EIPs with netmask 1 are not sold in the specified zone `HKG-A`",
            grpc: Code::FailedPrecondition,
            reason: "EIP_NOT_SOLD_IN_ZONE",
        },
        ZenlayerCase {
            what: "unknown resource group",
            params: pb::ZenlayerAllocateParams {
                resource_group_id: "rg-unknown".into(),
                ..zenlayer_params("SEL-A")
            },
            http_status: "404",
            provider_code: "OPERATION_FAILED_RESOURCE_GROUP_NOT_FOUND",
            message: "The specified resourceGroupId `rg-unknown` is not found",
            grpc: Code::NotFound,
            reason: "RESOURCE_GROUP_NOT_FOUND",
        },
        ZenlayerCase {
            what: "POC voucher the account does not have",
            params: pb::ZenlayerAllocateParams {
                use_poc_voucher: true,
                ..zenlayer_params("FRA-A")
            },
            http_status: "403",
            provider_code: "OPERATION_DENIED_POC_VOUCHER_NOT_AVAILABLE",
            message: "No POC voucher is available for this account.",
            grpc: Code::FailedPrecondition,
            reason: "OPERATION_DENIED",
        },
        ZenlayerCase {
            what: "PREPAID in a zone that sells no EIPs",
            params: pb::ZenlayerAllocateParams {
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: Some(1),
                amount: Some(3),
                ..zenlayer_params("TYO-A")
            },
            http_status: "400",
            provider_code: "INVALID_EIP_TYPE_ZONE_NO_SELL",
            message: "EIPs are not sold in the specified zone `TYO-A`",
            grpc: Code::FailedPrecondition,
            reason: "EIP_NOT_SOLD_IN_ZONE",
        },
    ];
    for case in &cases {
        let status = allocate(&eg.gateway, zenlayer_request(case.params.clone()))
            .await
            .expect_err(case.what);
        let metadata = assert_error(
            &status,
            &Expected {
                grpc: case.grpc,
                reason: case.reason,
                domain: ZENLAYER_DOMAIN,
                provider: "zenlayer",
                provider_kind: "zenlayer",
                provider_action: "AllocateEipAddresses",
                provider_code: case.provider_code,
                message: case.message,
                http_status: case.http_status,
                retry_delay: None,
            },
            case.what,
        );
        assert!(!metadata.contains_key("idempotencyKey"), "{}", case.what);
    }
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!(seen.requests, cases.len() as u64, "not retried: {seen:?}");
    assert_eq!(seen.allocations, 0, "{seen:?}");
    assert!(zenlayer_emulator(&eg).eips().is_empty());

    // The gateway's own validation still comes first: netmask 33 and a
    // resource group id with a space never reach the emulator.
    let status = allocate(
        &eg.gateway,
        zenlayer_request(pb::ZenlayerAllocateParams {
            netmask: Some(33),
            resource_group_id: "rg unknown".into(),
            ..zenlayer_params("SEL-A")
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["zenlayer.netmask", "zenlayer.resource_group_id"]
    );
    assert_eq!(
        counters(&eg.zenlayer_url).await.requests,
        cases.len() as u64
    );

    // A successful call afterwards: the EIPs are created in the known
    // resource group, tagged, CREATING.
    let response = allocate(
        &eg.gateway,
        zenlayer_request(pb::ZenlayerAllocateParams {
            amount: Some(2),
            netmask: Some(28),
            resource_group_id: "rg-sandbox-team-a".into(),
            ..zenlayer_params("SEL-A")
        }),
    )
    .await
    .unwrap();
    assert_eq!(response.provider, "zenlayer");
    assert!(!response.provider_request_id.is_empty());
    assert_eq!(response.order_number, "");
    assert_eq!(response.allocations.len(), 2);
    for allocation in &response.allocations {
        assert_eq!(allocation.state(), pb::AllocationState::Pending);
        assert_eq!(allocation.provider_status, "CREATING");
        assert_eq!(allocation.zone_id, "SEL-A");
        assert_eq!(allocation.netmask, 28);
        assert_eq!(allocation.ip_address, "");
        let eip = zenlayer_emulator(&eg).eip(&allocation.id).unwrap();
        assert_eq!(eip.resource_group_id, "rg-sandbox-team-a");
        assert_eq!(eip.netmask, 28);
        assert_eq!(eip.eip_status, zenlayer::EipStatus::Creating);
        assert!(
            eip.tags
                .tags
                .iter()
                .any(|t| t.key == "ipalloc-idempotency-key" && t.value.starts_with("gw-")),
            "{eip:?}"
        );
    }
    assert_eq!(counters(&eg.zenlayer_url).await.allocations, 2);
}

/// A gateway in front of `eg`'s emulators with other credentials (and one
/// attempt per call), providers named `aliyun` and `zenlayer` as in `eg`.
async fn gateway_with_credentials(
    eg: &EmulatedGateway,
    aliyun_key: (&str, &str),
    zenlayer_key: (&str, &str),
) -> TestGateway {
    let config = format!(
        "[providers.aliyun]\nkind = \"aliyun\"\nregion = \"cn-hangzhou\"\nendpoint = \"{}\"\n\
         access_key_id = \"{}\"\naccess_key_secret = \"{}\"\nmax_attempts = 1\n\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{}\"\n\
         access_key_id = \"{}\"\naccess_key_password = \"{}\"\nmax_attempts = 1\n",
        eg.aliyun_url, aliyun_key.0, aliyun_key.1, eg.zenlayer_url, zenlayer_key.0, zenlayer_key.1,
    );
    start_gateway(&config).await
}

#[tokio::test]
async fn rejected_credentials_then_good_ones() {
    let eg = emulators::start(EmulatorOptions::default(), "", FAST, FAST).await;
    let wrong_secret = "not-the-sandbox-secret";
    let wrong_password = "not-the-sandbox-password";

    // Right key ids, wrong secret / password.
    let bad = gateway_with_credentials(
        &eg,
        (aliyun::SANDBOX_ACCESS_KEY_ID, wrong_secret),
        (zenlayer::SANDBOX_ACCESS_KEY_ID, wrong_password),
    )
    .await;
    let status = allocate(&bad, aliyun_request("i-emuready001", "", ""))
        .await
        .unwrap_err();
    let metadata = assert_error(
        &status,
        &Expected {
            grpc: Code::FailedPrecondition,
            reason: "PROVIDER_SIGNATURE_REJECTED",
            domain: ALIYUN_DOMAIN,
            provider: "aliyun",
            provider_kind: "aliyun",
            provider_action: "AllocatePublicIpAddress",
            provider_code: "SignatureDoesNotMatch",
            message: "Specified signature is not matched with our calculation.",
            http_status: "400",
            retry_delay: None,
        },
        "aliyun wrong secret",
    );
    // The emulator echoes its string-to-sign (every signed parameter, the
    // AccessKeyId included), as Alibaba does; the gateway cuts it.
    let message = &metadata["providerMessage"];
    assert_eq!(
        message,
        "Specified signature is not matched with our calculation. server string to sign is: [redacted]"
    );
    for leak in [
        "POST&",
        "AccessKeyId",
        aliyun::SANDBOX_ACCESS_KEY_ID,
        "SignatureNonce",
    ] {
        assert!(!status.message().contains(leak), "{leak}: {status:?}");
        assert!(!message.contains(leak), "{leak}: {message}");
    }
    assert!(!status.message().contains(wrong_secret));

    let status = allocate(&bad, zenlayer_request(zenlayer_params("SEL-A")))
        .await
        .unwrap_err();
    let metadata = assert_error(
        &status,
        &Expected {
            grpc: Code::FailedPrecondition,
            reason: "PROVIDER_SIGNATURE_REJECTED",
            domain: ZENLAYER_DOMAIN,
            provider: "zenlayer",
            provider_kind: "zenlayer",
            provider_action: "AllocateEipAddresses",
            provider_code: "AUTHFAILURE_SIGNATURE_FAILURE",
            message: "The signature does not match",
            http_status: "401",
            retry_delay: None,
        },
        "zenlayer wrong password",
    );
    assert!(!metadata["providerMessage"].contains(wrong_password));
    drop(bad);

    // Unknown key ids.
    let unknown = gateway_with_credentials(
        &eg,
        ("LTAI5tNoSuchAccessKey99", aliyun::SANDBOX_ACCESS_KEY_SECRET),
        (
            "ZLNOSUCHKEY000000099",
            zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
        ),
    )
    .await;
    let status = allocate(&unknown, aliyun_request("i-emuready001", "", ""))
        .await
        .unwrap_err();
    assert_error(
        &status,
        &Expected {
            grpc: Code::FailedPrecondition,
            reason: "PROVIDER_CREDENTIALS_REJECTED",
            domain: ALIYUN_DOMAIN,
            provider: "aliyun",
            provider_kind: "aliyun",
            provider_action: "AllocatePublicIpAddress",
            provider_code: "InvalidAccessKeyId.NotFound",
            message: "Specified access key is not found.",
            http_status: "404",
            retry_delay: None,
        },
        "aliyun unknown AccessKeyId",
    );
    // The emulated Zenlayer answers an unknown key id like a bad signature.
    let status = allocate(&unknown, zenlayer_request(zenlayer_params("SEL-A")))
        .await
        .unwrap_err();
    assert_error(
        &status,
        &Expected {
            grpc: Code::FailedPrecondition,
            reason: "PROVIDER_SIGNATURE_REJECTED",
            domain: ZENLAYER_DOMAIN,
            provider: "zenlayer",
            provider_kind: "zenlayer",
            provider_action: "AllocateEipAddresses",
            provider_code: "AUTHFAILURE_SIGNATURE_FAILURE",
            message: "The access key id in Credential does not exist.",
            http_status: "401",
            retry_delay: None,
        },
        "zenlayer unknown key id",
    );
    drop(unknown);

    let aliyun_seen = counters(&eg.aliyun_url).await;
    assert_eq!(
        (aliyun_seen.requests, aliyun_seen.auth_failures),
        (2, 2),
        "one attempt each, both counted as auth failures: {aliyun_seen:?}"
    );
    let zenlayer_seen = counters(&eg.zenlayer_url).await;
    assert_eq!(
        (zenlayer_seen.requests, zenlayer_seen.auth_failures),
        (2, 2),
        "{zenlayer_seen:?}"
    );

    // The right credentials still work, on the same emulators.
    assert_eq!(
        assert_aliyun_allocates(&eg.gateway, "i-emuready001", "").await,
        "47.96.0.1"
    );
    let response = allocate(&eg.gateway, zenlayer_request(zenlayer_params("SEL-A")))
        .await
        .unwrap();
    assert_eq!(response.allocations.len(), 1);
    assert_eq!(
        response.allocations[0].state(),
        pb::AllocationState::Pending
    );
    assert_eq!(counters(&eg.zenlayer_url).await.auth_failures, 2);
}

#[tokio::test]
async fn throttling_with_one_attempt_shows_the_raw_mapping() {
    let one_attempt = format!("{FAST}max_attempts = 1\n");
    let eg = emulators::start(EmulatorOptions::default(), "", &one_attempt, &one_attempt).await;
    let always = FaultConfig {
        throttle_probability: 1.0,
        ..FaultConfig::default()
    };
    set_faults(&eg.aliyun_url, &always).await;
    set_faults(&eg.zenlayer_url, &always).await;

    let status = allocate(&eg.gateway, aliyun_request("i-emuready001", "", ""))
        .await
        .unwrap_err();
    assert_error(
        &status,
        &Expected {
            grpc: Code::ResourceExhausted,
            reason: "PROVIDER_THROTTLED",
            domain: ALIYUN_DOMAIN,
            provider: "aliyun",
            provider_kind: "aliyun",
            provider_action: "AllocatePublicIpAddress",
            provider_code: "Throttling",
            message: "Request was denied due to request throttling.",
            http_status: "400",
            // x-acs-retry-after: 100
            retry_delay: Some(Duration::from_millis(100)),
        },
        "aliyun throttled",
    );

    let status = allocate(&eg.gateway, zenlayer_request(zenlayer_params("SEL-A")))
        .await
        .unwrap_err();
    assert_error(
        &status,
        &Expected {
            grpc: Code::ResourceExhausted,
            reason: "PROVIDER_THROTTLED",
            domain: ZENLAYER_DOMAIN,
            provider: "zenlayer",
            provider_kind: "zenlayer",
            provider_action: "AllocateEipAddresses",
            provider_code: "REQUEST_LIMIT_EXCEEDED",
            message: "Request limit exceeded, please try again later.",
            http_status: "429",
            // Zenlayer gives no delay: the gateway's default.
            retry_delay: Some(Duration::from_secs(1)),
        },
        "zenlayer throttled",
    );

    for url in [&eg.aliyun_url, &eg.zenlayer_url] {
        let seen = counters(url).await;
        assert_eq!((seen.requests, seen.throttled), (1, 1), "{url}: {seen:?}");
    }

    // Faults off: both allocate again.
    set_faults(&eg.aliyun_url, &FaultConfig::default()).await;
    set_faults(&eg.zenlayer_url, &FaultConfig::default()).await;
    assert_eq!(
        assert_aliyun_allocates(&eg.gateway, "i-emuready001", "").await,
        "47.96.0.1"
    );
    let response = allocate(&eg.gateway, zenlayer_request(zenlayer_params("SEL-A")))
        .await
        .unwrap();
    assert_eq!(response.allocations.len(), 1);
    assert_eq!(
        zenlayer_emulator(&eg)
            .eip(&response.allocations[0].id)
            .unwrap()
            .zone_id,
        "SEL-A"
    );
}

/// With the default retries, a throttled call is retried (honouring
/// Alibaba's 100 ms) and succeeds once the throttling stops.
#[tokio::test]
async fn throttling_is_retried_until_it_stops() {
    let eg = emulators::start(
        EmulatorOptions::default(),
        "",
        &format!("{FAST}max_attempts = 4\nbackoff_max_ms = 1000\n"),
        "",
    )
    .await;
    set_faults(
        &eg.aliyun_url,
        &FaultConfig {
            throttle_probability: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    let gateway_client = eg.gateway.client.clone();
    let started = std::time::Instant::now();
    let call = tokio::spawn(async move {
        let mut client = gateway_client;
        let mut request = tonic::Request::new(aliyun_request("i-emuready004", "", ""));
        request.set_timeout(Duration::from_secs(30));
        client.allocate_ip(request).await
    });
    // Let at least one attempt be throttled, then lift the fault.
    for _ in 0..200 {
        if counters(&eg.aliyun_url).await.throttled >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    set_faults(&eg.aliyun_url, &FaultConfig::default()).await;
    let outcome = call.await.unwrap();
    let elapsed = started.elapsed();
    let seen = counters(&eg.aliyun_url).await;
    match outcome {
        Ok(response) => {
            let response = response.into_inner();
            assert_eq!(response.allocations[0].ip_address, "47.96.0.1");
            assert!(seen.throttled >= 1, "{seen:?}");
            assert_eq!(seen.allocate_calls, 1, "{seen:?}");
            assert_eq!(seen.requests, seen.throttled + 1, "{seen:?}");
            // Each retry waited out x-acs-retry-after (100 ms) exactly.
            let waited = Duration::from_millis(100) * seen.throttled as u32;
            assert!(elapsed >= waited, "{elapsed:?} < {waited:?}");
        }
        // Only if all four attempts ran before the fault was lifted.
        Err(status) => {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            assert_eq!(seen.throttled, 4, "{seen:?}");
            assert_eq!(seen.allocate_calls, 0, "{seen:?}");
        }
    }
}

/// The codes of the TerminateEipAddress and DescribeEipAvailableResources
/// pages, produced by the emulator and answered by the gateway's status
/// mapping. ReleaseAllocation and CheckAvailability are not served over
/// gRPC yet, so the adapter is driven directly and its error mapped as
/// every provider error is (`provider_status`).
#[tokio::test]
async fn zenlayer_release_and_availability_errors_map_as_documented() {
    use ipalloc_gateway::api::error::provider_status;
    use ipalloc_gateway::provider::model::{
        AllocateSpec, AvailabilitySpec, ChargeType, ChargeTypeName, ReleaseSpec,
    };
    use ipalloc_gateway::provider::zenlayer::ZenlayerProvider;
    use ipalloc_gateway::provider::{CallContext, Provider};

    let eg = emulators::start(EmulatorOptions::default(), "", "", FAST).await;
    let provider = ZenlayerProvider::new(settings::zenlayer(
        &eg.zenlayer_url,
        zenlayer::SANDBOX_ACCESS_KEY_ID,
        zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    ))
    .unwrap();
    let ctx = CallContext::default();
    let one = |charge| AllocateSpec::Zenlayer(settings::zenlayer_allocate("SEL-A", charge, 1));
    let prepaid = provider
        .allocate(&one(ChargeType::Prepaid { period_months: 1 }), &ctx)
        .await
        .unwrap()
        .allocations[0]
        .id
        .clone();
    zenlayer_emulator(&eg).set_creation_delay(Duration::from_secs(3600));
    let creating = provider
        .allocate(&one(ChargeType::Postpaid), &ctx)
        .await
        .unwrap()
        .allocations[0]
        .id
        .clone();
    let release = |id: &str| ReleaseSpec {
        id: id.to_owned(),
        region_id: None,
        purge: false,
    };
    let cases = [
        (
            "release a PREPAID EIP",
            provider
                .release(&release(&prepaid), &ctx)
                .await
                .unwrap_err(),
            "TerminateEipAddress",
            "OPERATION_DENIED_EIP_SUBSCRIPTION",
            "is a subscription (PREPAID) EIP",
            "403",
            Code::FailedPrecondition,
            "EIP_PREPAID_NOT_RELEASABLE",
        ),
        (
            "release a CREATING EIP",
            provider
                .release(&release(&creating), &ctx)
                .await
                .unwrap_err(),
            "TerminateEipAddress",
            "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
            "is being created",
            "403",
            Code::FailedPrecondition,
            "EIP_STATUS_NOT_SUPPORTED",
        ),
        (
            "availability of an unknown zone",
            provider
                .check_availability(
                    &AvailabilitySpec::Zenlayer {
                        zone_id: Some("XXX-A".to_owned()),
                        netmask: None,
                        charge: ChargeTypeName::Postpaid,
                    },
                    &ctx,
                )
                .await
                .unwrap_err(),
            "DescribeEipAvailableResources",
            "INVALID_ZONE_NOT_FOUND",
            "The specified zoneId `XXX-A` is not found",
            "404",
            Code::NotFound,
            "ZONE_NOT_FOUND",
        ),
    ];
    for (what, error, action, code, message, http_status, grpc, reason) in &cases {
        let status = provider_status(provider.description(), error);
        assert_error(
            &status,
            &Expected {
                grpc: *grpc,
                reason,
                domain: ZENLAYER_DOMAIN,
                provider: "zenlayer-test",
                provider_kind: "zenlayer",
                provider_action: action,
                provider_code: code,
                message,
                http_status,
                retry_delay: None,
            },
            what,
        );
    }
    // An EIP the provider does not know: NOT_FOUND, for the gRPC layer to
    // consult its own records.
    let unknown = provider
        .release(&release("eip-unknown"), &ctx)
        .await
        .unwrap_err();
    let status = provider_status(provider.description(), &unknown);
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(error_info(&status).0, "EIP_NOT_FOUND");
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!((seen.release_calls, seen.allocations), (0, 2), "{seen:?}");
    assert_eq!(
        zenlayer_emulator(&eg).eips().len(),
        2,
        "nothing was released"
    );
}
