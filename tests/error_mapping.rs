//! Error mapping end to end: for every row of both providers' error tables,
//! the scripted provider answers with that error and the test checks the gRPC
//! code, ErrorInfo (reason, domain, metadata), RequestInfo and RetryInfo the
//! tonic client receives, for a write (AllocateIp) and a read
//! (GetAllocation). Then transport failures and bodies that are not the API's.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ipalloc_gateway::pb;
use ipalloc_gateway::provider::ProviderKind;
use ipalloc_gateway::provider::error_table::{ErrorRule, RetryClass};
use serde_json::json;
use tonic::Code;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Aliyun,
    Zenlayer,
}

impl Kind {
    fn table_kind(self) -> ProviderKind {
        match self {
            Kind::Aliyun => ProviderKind::Aliyun,
            Kind::Zenlayer => ProviderKind::Zenlayer,
        }
    }

    /// One attempt per call: these tests map single answers (retries are
    /// tested in resilience.rs).
    fn config(self, endpoint: &str, extra: &str) -> String {
        let extra = format!("max_attempts = 1\n{extra}");
        match self {
            Kind::Aliyun => aliyun_provider("p", endpoint, &extra),
            Kind::Zenlayer => zenlayer_provider("p", endpoint, &extra),
        }
    }

    /// How many allocation requests the provider received (reconciliation
    /// adds Describe calls after an unknown outcome).
    fn allocations_sent(self, server: &Scripted) -> usize {
        server
            .requests()
            .iter()
            .filter(|r| match self {
                Kind::Aliyun => r.param("Action").as_deref() == Some("AllocatePublicIpAddress"),
                Kind::Zenlayer => r.header("x-zc-action") == Some("AllocateEipAddresses"),
            })
            .count()
    }

    fn allocate(self) -> pb::AllocateIpRequest {
        match self {
            Kind::Aliyun => requests::aliyun("p", requests::instance("i-bp1abcdefghijk123456")),
            Kind::Zenlayer => requests::zenlayer("p", requests::postpaid("SEL-A")),
        }
    }

    fn get(self) -> pb::GetAllocationRequest {
        match self {
            Kind::Aliyun => requests::lookup("p", "i-bp1abcdefghijk123456"),
            Kind::Zenlayer => requests::lookup("p", "eip-1"),
        }
    }

    /// The provider's error body.
    fn error_reply(self, status: u16, code: &str, message: &str, request_id: &str) -> Reply {
        match self {
            Kind::Aliyun => Reply::json(
                status,
                json!({"RequestId": request_id, "HostId": "ecs.cn-hangzhou.aliyuncs.com",
                       "Code": code, "Message": message,
                       "Recommend": "https://api.aliyun.com/troubleshoot"}),
            ),
            Kind::Zenlayer => Reply::json(
                status,
                json!({"requestId": request_id, "code": code, "message": message}),
            ),
        }
    }
}

/// A code that matches the row's pattern.
fn sample_code(rule: &ErrorRule) -> String {
    rule.code.replace('*', "Sample")
}

fn sample_message(rule: &ErrorRule) -> String {
    match rule.message {
        Some(pattern) => format!("Specified operation is denied: {pattern} test."),
        None => format!("message for {}", rule.code),
    }
}

struct Expect<'a> {
    code: Code,
    reason: &'a str,
    domain: &'a str,
    retry_info: bool,
    provider_code: &'a str,
    http_status: &'a str,
    request_id: Option<&'a str>,
}

fn check(status: &tonic::Status, expect: &Expect<'_>, context: &str) {
    assert_eq!(status.code(), expect.code, "{context}: {status:?}");
    let (reason, domain, metadata) = error_info(status);
    assert_eq!(reason, expect.reason, "{context}");
    assert_eq!(domain, expect.domain, "{context}");
    for key in [
        "provider",
        "providerKind",
        "providerAction",
        "providerCode",
        "providerMessage",
        "providerRequestId",
        "httpStatus",
    ] {
        assert!(
            metadata.contains_key(key),
            "{context}: metadata lacks {key}"
        );
    }
    assert_eq!(metadata["provider"], "p", "{context}");
    assert_eq!(metadata["providerCode"], expect.provider_code, "{context}");
    assert_eq!(metadata["httpStatus"], expect.http_status, "{context}");
    assert_eq!(
        metadata["providerRequestId"],
        expect.request_id.unwrap_or_default(),
        "{context}"
    );
    assert_eq!(
        request_id(status).as_deref(),
        expect.request_id,
        "{context}"
    );
    assert_eq!(
        retry_delay(status).is_some(),
        expect.retry_info,
        "{context}: RetryInfo presence"
    );
    assert_eq!(
        details(status).error_info().into_iter().count(),
        1,
        "{context}: exactly one ErrorInfo"
    );
}

async fn every_row_maps(kind: Kind) {
    let server = Scripted::start(vec![]).await;
    let gateway = start_gateway(&kind.config(&server.url(), "")).await;
    let mut client = gateway.client.clone();
    let table = kind.table_kind().error_table();
    for (i, rule) in table.rules.iter().enumerate() {
        let code = sample_code(rule);
        let message = sample_message(rule);
        let http = rule.http_status.unwrap_or(400);
        let request_id = format!("req-{i}");
        server.set_replies(vec![kind.error_reply(http, &code, &message, &request_id)]);
        let context = format!("{} row {i} ({code}, HTTP {http})", table.api);

        // A write: rows that may have been performed become "outcome unknown".
        let status = client.allocate_ip(kind.allocate()).await.unwrap_err();
        let (grpc, reason) = if rule.retry == RetryClass::IdempotentOnly {
            (Code::DeadlineExceeded, "PROVIDER_OUTCOME_UNKNOWN")
        } else {
            (rule.grpc, rule.reason)
        };
        let http_text = http.to_string();
        check(
            &status,
            &Expect {
                code: grpc,
                reason,
                domain: table.domain,
                retry_info: rule.retry == RetryClass::Retryable,
                provider_code: &code,
                http_status: &http_text,
                request_id: Some(&request_id),
            },
            &format!("AllocateIp {context}"),
        );
        let (_, _, metadata) = error_info(&status);
        assert_eq!(metadata["providerMessage"], message, "{context}");
        assert!(
            status.message().contains(&code),
            "{context}: {}",
            status.message()
        );

        // A read: the row as written; waiting helps unless the row says never.
        let status = client.get_allocation(kind.get()).await.unwrap_err();
        check(
            &status,
            &Expect {
                code: rule.grpc,
                reason: rule.reason,
                domain: table.domain,
                retry_info: rule.retry != RetryClass::Never,
                provider_code: &code,
                http_status: &http_text,
                request_id: Some(&request_id),
            },
            &format!("GetAllocation {context}"),
        );
    }
    assert_eq!(kind.allocations_sent(&server), table.rules.len());
}

#[tokio::test]
async fn every_aliyun_row_maps_end_to_end() {
    every_row_maps(Kind::Aliyun).await;
}

#[tokio::test]
async fn every_zenlayer_row_maps_end_to_end() {
    every_row_maps(Kind::Zenlayer).await;
}

/// The codes of the API pages (Alibaba's allocation; Zenlayer's
/// allocation, termination and release), with literal expectations.
#[tokio::test]
async fn api_page_codes_map_as_documented() {
    let aliyun_cases: &[(u16, &str, &str, Code, &str)] = &[
        (
            404,
            "InvalidInstanceId.NotFound",
            "The specified InstanceId does not exist.",
            Code::NotFound,
            "INSTANCE_NOT_FOUND",
        ),
        (
            400,
            "InvalidIpAddress.Malformed",
            "The specified parameter \"IpAddress\" is not valid.",
            Code::InvalidArgument,
            "IP_ADDRESS_MALFORMED",
        ),
        (
            404,
            "InvalidVlanId.NotFound",
            "The VlanId provided does not exist in our records.",
            Code::NotFound,
            "VLAN_NOT_FOUND",
        ),
        (
            403,
            "IncorrectInstanceStatus",
            "The current status of the resource does not support this operation.",
            Code::FailedPrecondition,
            "INSTANCE_STATUS_INCORRECT",
        ),
        (
            403,
            "InstanceLockedForSecurity",
            "The specified operation is denied as your instance is locked for security reasons.",
            Code::FailedPrecondition,
            "INSTANCE_LOCKED_FOR_SECURITY",
        ),
        (
            403,
            "InstanceExpiredOrInArrears",
            "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode).",
            Code::FailedPrecondition,
            "INSTANCE_EXPIRED_OR_IN_ARREARS",
        ),
        (
            404,
            "InvalidIpAddress.NotFound",
            "The specified IP is not in the specified vlan.",
            Code::NotFound,
            "IP_ADDRESS_NOT_IN_VLAN",
        ),
        (
            403,
            "IpInUse",
            "The specified IP is already in use.",
            Code::AlreadyExists,
            "IP_ADDRESS_IN_USE",
        ),
        (
            403,
            "AllocatedAlready",
            "There is an IpAddress allocated already for the specified instance.",
            Code::AlreadyExists,
            "PUBLIC_IP_ALREADY_ALLOCATED",
        ),
        (
            400,
            "OperationDenied",
            "Specified operation is denied as your instance is in VPC.",
            Code::FailedPrecondition,
            "INSTANCE_IN_VPC",
        ),
        (
            400,
            "InsufficientPublicIp",
            "Ip address not found",
            Code::ResourceExhausted,
            "PUBLIC_IP_INSUFFICIENT",
        ),
        (
            500,
            "InternalError",
            "The request processing has failed due to some unknown error.",
            Code::DeadlineExceeded,
            "PROVIDER_OUTCOME_UNKNOWN",
        ),
        (
            400,
            "AllocateIpInvalidInstanceBandwidth",
            "OperationDenied The InternetMaxBandwidthOut of the specified instance cannot be less than 0.",
            Code::FailedPrecondition,
            "INSTANCE_BANDWIDTH_ZERO",
        ),
        (
            400,
            "OperationDenied",
            "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address.",
            Code::ResourceExhausted,
            "VLAN_INVALID_OR_EXHAUSTED",
        ),
        (
            403,
            "NAT_PUBLIC_IP_BINDING_FAILED",
            "Binding nat public ip failed",
            Code::Aborted,
            "NAT_PUBLIC_IP_BINDING_FAILED",
        ),
        (
            403,
            "NAT_PUBLIC_IP_ALLOCATE_FAILED",
            "Nat public ip binding failed.",
            Code::Aborted,
            "NAT_PUBLIC_IP_ALLOCATE_FAILED",
        ),
        // The ModifyInstanceNetworkSpec page (the release): the same table.
        (
            403,
            "ChargeTypeViolation",
            "The operation is not permitted due to billing method of the instance.",
            Code::FailedPrecondition,
            "INSTANCE_CHARGE_TYPE_UNSUPPORTED",
        ),
        (
            403,
            "OperationDenied",
            "The operation is denied due to the instance is PrePaid.",
            Code::FailedPrecondition,
            "INSTANCE_CHARGE_TYPE_UNSUPPORTED",
        ),
        (
            400,
            "OperationDenied",
            "Specified instance is in VPC.",
            Code::FailedPrecondition,
            "INSTANCE_IN_VPC",
        ),
        (
            400,
            "OperationDenied",
            "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle.",
            Code::FailedPrecondition,
            "INSTANCE_DOWNGRADED_THIS_CYCLE",
        ),
        (
            400,
            "OperationDenied",
            "The current user does not support this operation.",
            Code::PermissionDenied,
            "ACCOUNT_OPERATION_DENIED",
        ),
        (
            400,
            "Account.Arrearage",
            "Your account has an outstanding payment.",
            Code::FailedPrecondition,
            "ACCOUNT_IN_ARREARS",
        ),
        (
            403,
            "InvalidAccountStatus.NotEnoughBalance",
            "Your account does not have enough balance.",
            Code::FailedPrecondition,
            "ACCOUNT_BALANCE_INSUFFICIENT",
        ),
        (
            403,
            "InvalidInstance.UnPaidOrder",
            "The specified Instance has unpaid order.",
            Code::FailedPrecondition,
            "INSTANCE_UNPAID_ORDER",
        ),
        (
            400,
            "InvalidInstanceStatus",
            "The specified instance status does not support this action.",
            Code::FailedPrecondition,
            "INSTANCE_STATUS_INCORRECT",
        ),
        (
            403,
            "InvalidInstance.InstanceNotSupported",
            "The special vpc instance with eip not need bandwidth.",
            Code::FailedPrecondition,
            "INSTANCE_HAS_EIP",
        ),
        (
            400,
            "InstanceDowngrade.QuotaExceed",
            "Quota of instance downgrade is exceed.",
            Code::ResourceExhausted,
            "INSTANCE_DOWNGRADE_QUOTA_EXCEEDED",
        ),
        (
            400,
            "IdempotentParameterMismatch",
            "The request uses the same client token as a previous, but non-identical request.",
            Code::Aborted,
            "CLIENT_TOKEN_REUSED",
        ),
    ];
    let zenlayer_cases: &[(u16, &str, &str, Code, &str)] = &[
        (
            400,
            "INVALID_EIP_TYPE_ZONE_NO_SELL",
            "EIP is not sold in zone SEL-A",
            Code::FailedPrecondition,
            "EIP_NOT_SOLD_IN_ZONE",
        ),
        (
            404,
            "INVALID_ZONE_NOT_FOUND",
            "The specified zoneId `SEL--A` is not found",
            Code::NotFound,
            "ZONE_NOT_FOUND",
        ),
        // A sold-out zone (the SDKs' BMC error enum; no page gives its
        // HTTP status).
        (
            403,
            "RESOURCE_INSUFFICIENT_PRODUCT_SOLD_OUT",
            "Resources not for sale.",
            Code::ResourceExhausted,
            "EIP_SOLD_OUT",
        ),
        // The TerminateEipAddress and ReleaseEipAddresses pages: the
        // mapping is the code's, whichever action answers it.
        (
            404,
            "INVALID_EIP_NOT_FOUND",
            "Elastic IP does not exist.",
            Code::NotFound,
            "EIP_NOT_FOUND",
        ),
        (
            403,
            "OPERATION_DENIED_EIP_SUBSCRIPTION",
            "Operations on a subscription elastic IP are not supported.",
            Code::FailedPrecondition,
            "EIP_PREPAID_NOT_RELEASABLE",
        ),
        (
            403,
            "OPERATION_DENIED_EIP_RECYCLED",
            "Operations on an elastic IP in recycle bin are not supported.",
            Code::FailedPrecondition,
            "EIP_ALREADY_RECYCLED",
        ),
        (
            403,
            "OPERATION_DENIED_EIP_NOT_RECYCLED",
            "Elastic IP not in recycle bin.",
            Code::FailedPrecondition,
            "EIP_NOT_RECYCLED",
        ),
        (
            403,
            "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
            "Elastic IP status not supported.",
            Code::FailedPrecondition,
            "EIP_STATUS_NOT_SUPPORTED",
        ),
    ];
    for (kind, cases) in [
        (Kind::Aliyun, aliyun_cases),
        (Kind::Zenlayer, zenlayer_cases),
    ] {
        let server = Scripted::start(vec![]).await;
        let gateway = start_gateway(&kind.config(&server.url(), "")).await;
        for (http, code, message, grpc, reason) in cases {
            server.set_replies(vec![kind.error_reply(*http, code, message, "req-doc")]);
            let status = gateway
                .client
                .clone()
                .allocate_ip(kind.allocate())
                .await
                .unwrap_err();
            assert_eq!(status.code(), *grpc, "{code}: {status:?}");
            let (got_reason, _, metadata) = error_info(&status);
            assert_eq!(got_reason, *reason, "{code}");
            assert_eq!(metadata["providerCode"], *code);
            assert_eq!(metadata["providerMessage"], *message);
        }
        assert_eq!(
            kind.allocations_sent(&server),
            cases.len(),
            "one allocation per request"
        );
    }
}

#[tokio::test]
async fn unknown_codes_fall_back_on_http_status_and_keep_the_code() {
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let server = Scripted::start(vec![]).await;
        let gateway = start_gateway(&kind.config(&server.url(), "")).await;
        for (http, grpc) in [
            (409, Code::Aborted),
            (404, Code::NotFound),
            (418, Code::FailedPrecondition),
            (429, Code::ResourceExhausted),
        ] {
            server.set_replies(vec![kind.error_reply(
                http,
                "BrandNewCode",
                "something new",
                "req-new",
            )]);
            let status = gateway
                .client
                .clone()
                .get_allocation(kind.get())
                .await
                .unwrap_err();
            assert_eq!(status.code(), grpc, "HTTP {http}: {status:?}");
            let (reason, _, metadata) = error_info(&status);
            assert_eq!(reason, "PROVIDER_ERROR_UNRECOGNIZED");
            assert_eq!(metadata["providerCode"], "BrandNewCode");
            assert_eq!(metadata["httpStatus"], http.to_string());
        }
    }
}

#[tokio::test]
async fn alibaba_retry_after_header_becomes_retry_info() {
    let server = Scripted::start(vec![
        Kind::Aliyun
            .error_reply(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
                "req-t",
            )
            .with_header("x-acs-retry-after", "1500"),
    ])
    .await;
    let gateway = start_gateway(&Kind::Aliyun.config(&server.url(), "")).await;
    let status = gateway
        .client
        .clone()
        .allocate_ip(Kind::Aliyun.allocate())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(retry_delay(&status), Some(Duration::from_millis(1500)));
}

/// Nothing sent (connection refused): UNAVAILABLE, safe to retry.
#[tokio::test]
async fn connection_refused_is_unavailable_and_retryable() {
    let port = closed_port().await;
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let gateway = start_gateway(&kind.config(&format!("http://127.0.0.1:{port}"), "")).await;
        let status = gateway
            .client
            .clone()
            .allocate_ip(kind.allocate())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let (reason, domain, metadata) = error_info(&status);
        assert_eq!(reason, "PROVIDER_UNREACHABLE");
        assert_eq!(domain, kind.table_kind().error_table().domain);
        assert_eq!(metadata["providerCode"], "");
        assert!(retry_delay(&status).is_some());
        assert!(
            !status.message().contains("127.0.0.1"),
            "no URL in errors: {}",
            status.message()
        );
    }
}

/// A timeout after sending: the allocation may have happened.
#[tokio::test]
async fn timeout_after_sending_is_outcome_unknown_for_allocations() {
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let server = Scripted::start(vec![
            kind.error_reply(200, "never", "read", "late")
                .delayed(Duration::from_secs(3)),
        ])
        .await;
        let gateway = start_gateway(&kind.config(&server.url(), "request_timeout_ms = 300")).await;
        let mut client = gateway.client.clone();
        let status = client.allocate_ip(kind.allocate()).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        let (reason, _, _) = error_info(&status);
        assert_eq!(reason, "PROVIDER_OUTCOME_UNKNOWN");
        assert!(retry_delay(&status).is_none(), "never invite a blind retry");
        assert!(
            status.message().contains("GetAllocation"),
            "{}",
            status.message()
        );

        let status = client.get_allocation(kind.get()).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert_eq!(error_info(&status).0, "PROVIDER_TIMEOUT");
        assert!(retry_delay(&status).is_some(), "a read may be retried");
    }
}

/// An answer whose body stops halfway (headers and a full content-length
/// sent, the connection left open): the attempt still ends at
/// `request_timeout_ms`, enforced by the resilience stack around the whole
/// exchange (the HTTP client has no timer of its own), not at the 60 s the
/// provider holds it.
#[tokio::test]
async fn an_answer_body_that_stalls_ends_at_the_request_timeout() {
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let server = Scripted::start(vec![
            kind.error_reply(200, "never", "read", "late").stalled(),
        ])
        .await;
        let gateway = start_gateway(&kind.config(&server.url(), "request_timeout_ms = 300")).await;
        let mut client = gateway.client.clone();
        let started = std::time::Instant::now();
        let status = client.allocate_ip(kind.allocate()).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_eq!(error_info(&status).0, "PROVIDER_OUTCOME_UNKNOWN");
        assert!(retry_delay(&status).is_none(), "never invite a blind retry");
        let status = client.get_allocation(kind.get()).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_eq!(error_info(&status).0, "PROVIDER_TIMEOUT");
        // Far below the stall: both calls ended at their attempt timeouts.
        assert!(
            started.elapsed() < common::scripted::STALL / 4,
            "{:?}: {:?}",
            kind.table_kind(),
            started.elapsed()
        );
    }
}

/// The provider read the request and dropped the connection.
#[tokio::test]
async fn dropped_connection_after_sending_is_outcome_unknown() {
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let server = Scripted::start(vec![Reply::Drop]).await;
        let gateway = start_gateway(&kind.config(&server.url(), "")).await;
        let mut client = gateway.client.clone();
        let status = client.allocate_ip(kind.allocate()).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_eq!(error_info(&status).0, "PROVIDER_OUTCOME_UNKNOWN");
        let status = client.get_allocation(kind.get()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(error_info(&status).0, "PROVIDER_CONNECTION_LOST");
        assert_eq!(
            kind.allocations_sent(&server),
            1,
            "an unknown outcome is never re-sent"
        );
    }
}

/// Bodies that are not the API's JSON give a clear error, never a panic.
#[tokio::test]
async fn bodies_that_are_not_the_api_format() {
    const MALFORMED: &str = "PROVIDER_RESPONSE_MALFORMED";
    // An allocation may have happened behind an answer that cannot be read.
    const UNKNOWN: Outcome = (Code::DeadlineExceeded, "PROVIDER_OUTCOME_UNKNOWN");
    /// A gRPC code and ErrorInfo reason.
    type Outcome = (Code, &'static str);
    // (reply, AllocateIp outcome, GetAllocation outcome)
    let cases: Vec<(Reply, Outcome, Outcome)> = vec![
        (
            Reply::raw(
                502,
                "text/html",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            UNKNOWN,
            (Code::Unavailable, MALFORMED),
        ),
        (
            Reply::raw(200, "application/json", ""),
            UNKNOWN,
            (Code::Internal, MALFORMED),
        ),
        (
            Reply::raw(200, "application/json", "{\"RequestId\":\"x\",\"IpAdd"),
            UNKNOWN,
            (Code::Internal, MALFORMED),
        ),
        (
            Reply::raw(403, "text/html", "<html>Access denied by proxy</html>"),
            (Code::FailedPrecondition, MALFORMED),
            (Code::FailedPrecondition, MALFORMED),
        ),
        (
            Reply::raw(400, "application/json", "[1,2,3]"),
            (Code::InvalidArgument, MALFORMED),
            (Code::InvalidArgument, MALFORMED),
        ),
    ];
    for kind in [Kind::Aliyun, Kind::Zenlayer] {
        let server = Scripted::start(vec![]).await;
        let gateway = start_gateway(&kind.config(&server.url(), "")).await;
        let mut client = gateway.client.clone();
        for (reply, (write_code, write_reason), (read_code, read_reason)) in &cases {
            server.set_replies(vec![reply.clone()]);
            let status = client.allocate_ip(kind.allocate()).await.unwrap_err();
            assert_eq!(status.code(), *write_code, "allocate {reply:?}: {status:?}");
            assert_eq!(error_info(&status).0, *write_reason, "allocate {reply:?}");
            let status = client.get_allocation(kind.get()).await.unwrap_err();
            assert_eq!(status.code(), *read_code, "get {reply:?}: {status:?}");
            assert_eq!(error_info(&status).0, *read_reason, "get {reply:?}");
        }
    }
}

/// Zenlayer sits behind Cloudflare: a challenge page is not an API answer.
#[tokio::test]
async fn cloudflare_challenge_and_legal_block() {
    let server = Scripted::start(vec![
        Reply::raw(
            403,
            "text/html",
            "<!DOCTYPE html><title>Just a moment...</title>",
        )
        .with_header("cf-mitigated", "challenge"),
    ])
    .await;
    let gateway = start_gateway(&Kind::Zenlayer.config(&server.url(), "")).await;
    let mut client = gateway.client.clone();
    let status = client
        .allocate_ip(Kind::Zenlayer.allocate())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(reason, "PROVIDER_SECURITY_CHALLENGE");
    assert_eq!(metadata["providerCode"], "SECURITY_CHALLENGE");
    assert!(retry_delay(&status).is_some());

    server.set_replies(vec![Reply::raw(451, "text/html", "blocked")]);
    let status = client
        .allocate_ip(Kind::Zenlayer.allocate())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&status).0, "PROVIDER_REQUEST_BLOCKED");
}
