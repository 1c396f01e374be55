//! The Alibaba Cloud ECS error table: provider error code (and, for
//! `OperationDenied`, a message pattern) -> gRPC code, `ErrorInfo` reason
//! and retry class.
//!
//! Sources: the error tables of the `AllocatePublicIpAddress` and
//! `ModifyInstanceNetworkSpec` (the release) API pages, and the POP
//! gateway's common error codes (`shared/providers/aliyun/FACTS.md` §4).
//! The `DescribeInstances` page adds only codes of filters the gateway never
//! sends (`InvalidStatus.NotFound`, `InvalidNetworkType.NotFound`,
//! `InvalidLockReason.NotFound`, `InvalidTag.Mismatch`, `InvalidTagCount`,
//! ...): they, and `InvalidRegionId.NotFound`, fall to the `*.NotFound` and
//! `Invalid*` rows.
//! Classification is by `Code`, never by HTTP status (the docs disagree on
//! statuses); the HTTP column is documentation only. The first matching row
//! wins, so specific rows come before wildcards.

use tonic::Code;

use crate::provider::error_table::{ErrorTable, RetryClass, rule};
use Code::{
    Aborted, AlreadyExists, FailedPrecondition, Internal, InvalidArgument, NotFound,
    PermissionDenied, ResourceExhausted, Unavailable,
};
use RetryClass::{IdempotentOnly, Never, Retryable};

/// Every Alibaba Cloud ECS error code the gateway knows, most specific first.
#[rustfmt::skip]
pub static TABLE: ErrorTable = ErrorTable {
    api: "Alibaba Cloud ECS",
    domain: "ecs.aliyuncs.com",
    rules: &[
        // AllocatePublicIpAddress API page.
        rule("InvalidInstanceId.NotFound", None, Some(404), NotFound, "INSTANCE_NOT_FOUND", Never),
        rule("InvalidIpAddress.Malformed", None, Some(400), InvalidArgument, "IP_ADDRESS_MALFORMED", Never),
        rule("InvalidVlanId.NotFound", None, Some(404), NotFound, "VLAN_NOT_FOUND", Never),
        rule("IncorrectInstanceStatus", None, Some(403), FailedPrecondition, "INSTANCE_STATUS_INCORRECT", Never),
        rule("InstanceLockedForSecurity", None, Some(403), FailedPrecondition, "INSTANCE_LOCKED_FOR_SECURITY", Never),
        rule("InstanceExpiredOrInArrears", None, Some(403), FailedPrecondition, "INSTANCE_EXPIRED_OR_IN_ARREARS", Never),
        rule("InvalidIpAddress.NotFound", None, Some(404), NotFound, "IP_ADDRESS_NOT_IN_VLAN", Never),
        rule("IpInUse", None, Some(403), AlreadyExists, "IP_ADDRESS_IN_USE", Never),
        rule("AllocatedAlready", None, Some(403), AlreadyExists, "PUBLIC_IP_ALREADY_ALLOCATED", Never),
        rule("OperationDenied", Some("VlanId"), Some(400), ResourceExhausted, "VLAN_INVALID_OR_EXHAUSTED", Never),
        rule("OperationDenied", Some("VPC"), Some(400), FailedPrecondition, "INSTANCE_IN_VPC", Never),
        rule("InsufficientPublicIp", None, Some(400), ResourceExhausted, "PUBLIC_IP_INSUFFICIENT", Never),
        rule("InternalError", None, Some(500), Internal, "PROVIDER_INTERNAL_ERROR", IdempotentOnly),
        rule("AllocateIpInvalidInstanceBandwidth", None, Some(400), FailedPrecondition, "INSTANCE_BANDWIDTH_ZERO", Never),
        rule("NAT_PUBLIC_IP_BINDING_FAILED", None, Some(403), Aborted, "NAT_PUBLIC_IP_BINDING_FAILED", Never),
        rule("NAT_PUBLIC_IP_ALLOCATE_FAILED", None, Some(403), Aborted, "NAT_PUBLIC_IP_ALLOCATE_FAILED", Never),
        // ModifyInstanceNetworkSpec API page (the release), codes not above;
        // `IdempotentParameterMismatch` is the ECS common error of a
        // ClientToken reused with other parameters.
        rule("InvalidInternetMaxBandwidthIn.ValueNotSupported", None, Some(400), InvalidArgument, "BANDWIDTH_IN_INVALID", Never),
        rule("InvalidInternetMaxBandwidthOut.ValueNotSupported", None, Some(400), InvalidArgument, "BANDWIDTH_OUT_INVALID", Never),
        rule("ChargeTypeViolation", None, Some(403), FailedPrecondition, "INSTANCE_CHARGE_TYPE_UNSUPPORTED", Never),
        rule("OperationDenied", Some("PrePaid"), Some(403), FailedPrecondition, "INSTANCE_CHARGE_TYPE_UNSUPPORTED", Never),
        rule("OperationDenied", Some("After downgrade"), Some(400), FailedPrecondition, "INSTANCE_DOWNGRADED_THIS_CYCLE", Never),
        rule("OperationDenied", Some("current user"), Some(400), PermissionDenied, "ACCOUNT_OPERATION_DENIED", Never),
        rule("InvalidParameter.Bandwidth", None, Some(400), InvalidArgument, "BANDWIDTH_INVALID", Never),
        rule("InvalidParameter.Conflict", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_CONFLICT", Never),
        rule("InvalidStartTime.ValueNotSupported", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        rule("Account.Arrearage", None, Some(400), FailedPrecondition, "ACCOUNT_IN_ARREARS", Never),
        rule("InvalidInternetChargeType.ValueNotSupported", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        rule("DecreasedBandwidthNotAllowed", None, Some(400), FailedPrecondition, "BANDWIDTH_DECREASE_DENIED", Never),
        rule("BandwidthUpgradeDenied.EipBoundInstance", None, Some(400), FailedPrecondition, "INSTANCE_HAS_EIP", Never),
        rule("InvalidClientToken.ValueNotSupported", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("InvalidAccountStatus.NotEnoughBalance", None, Some(403), FailedPrecondition, "ACCOUNT_BALANCE_INSUFFICIENT", Never),
        rule("InvalidInstance.UnPaidOrder", None, Some(403), FailedPrecondition, "INSTANCE_UNPAID_ORDER", Never),
        rule("InvalidAction", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("IpAllocationError", None, Some(400), Aborted, "PUBLIC_IP_ALLOCATION_FAILED", Never),
        rule("InvalidParam.AllocatePublicIp", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        rule("InstanceDowngrade.QuotaExceed", None, Some(400), ResourceExhausted, "INSTANCE_DOWNGRADE_QUOTA_EXCEEDED", Never),
        rule("InvalidBandwidth.ValueNotSupported", None, Some(400), InvalidArgument, "BANDWIDTH_INVALID", Never),
        rule("InvalidInstance.InstanceNotSupported", None, Some(403), FailedPrecondition, "INSTANCE_HAS_EIP", Never),
        rule("InvalidInstance.EipNotSupport", None, Some(403), FailedPrecondition, "INSTANCE_HAS_EIP", Never),
        rule("InvalidInstanceStatus", None, Some(403), FailedPrecondition, "INSTANCE_STATUS_INCORRECT", Never),
        rule("InvalidNetworkType.ValueNotSupported", None, Some(403), FailedPrecondition, "INSTANCE_NETWORK_TYPE_UNSUPPORTED", Never),
        rule("LastOrderProcessing", None, Some(400), Aborted, "PROVIDER_ORDER_PROCESSING", Retryable),
        rule("IdempotentParameterMismatch", None, Some(400), Aborted, "CLIENT_TOKEN_REUSED", Never),
        // POP gateway common codes.
        rule("Throttling*", None, Some(400), ResourceExhausted, "PROVIDER_THROTTLED", Retryable),
        rule("ServiceUnavailable", None, Some(503), Unavailable, "PROVIDER_UNAVAILABLE", IdempotentOnly),
        rule("UnknownError", None, None, Internal, "PROVIDER_INTERNAL_ERROR", IdempotentOnly),
        rule("SignatureDoesNotMatch", None, Some(400), FailedPrecondition, "PROVIDER_SIGNATURE_REJECTED", Never),
        rule("IncompleteSignature", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("InvalidAccessKeyId.NotFound", None, Some(404), FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", Never),
        rule("InvalidAccessKeyId.Inactive", None, Some(400), FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", Never),
        rule("InvalidSecurityToken.*", None, Some(400), FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", Never),
        rule("Forbidden.RAM", None, Some(403), PermissionDenied, "PROVIDER_PERMISSION_DENIED", Never),
        rule("Forbidden.InstanceNotFound", None, Some(404), NotFound, "INSTANCE_NOT_FOUND", Never),
        rule("Forbidden*", None, Some(403), PermissionDenied, "PROVIDER_PERMISSION_DENIED", Never),
        rule("InvalidTimeStamp.Expired", None, Some(400), FailedPrecondition, "PROVIDER_CLOCK_SKEW", Never),
        rule("InvalidTimeStamp.Format", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("SignatureNonceUsed", None, Some(400), Aborted, "PROVIDER_NONCE_REUSED", IdempotentOnly),
        rule("InvalidSignatureMethod", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("UnsupportedHTTPMethod", None, Some(400), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("InvalidApi.NotFound", None, Some(404), Internal, "PROVIDER_REQUEST_MALFORMED", Never),
        rule("MissingParameter", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_MISSING", Never),
        rule("Missing*", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_MISSING", Never),
        rule("InvalidParameter", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        // Generic families last.
        rule("*.NotFound", None, Some(404), NotFound, "PROVIDER_RESOURCE_NOT_FOUND", Never),
        rule("Invalid*", None, Some(400), InvalidArgument, "PROVIDER_PARAMETER_INVALID", Never),
        rule("OperationDenied", None, Some(400), FailedPrecondition, "OPERATION_DENIED", Never),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// `(code, message, http, grpc, reason, retry)`.
    type Expectation = (
        &'static str,
        &'static str,
        Option<u16>,
        Code,
        &'static str,
        RetryClass,
    );

    /// One line per row, in table order: a realistic code and message (the
    /// API page's messages where it has one) and the expected answer,
    /// written out literally.
    #[rustfmt::skip]
    const EXPECTATIONS: &[Expectation] = &[
        ("InvalidInstanceId.NotFound", "The specified InstanceId does not exist.", Some(404), Code::NotFound, "INSTANCE_NOT_FOUND", RetryClass::Never),
        ("InvalidIpAddress.Malformed", "The specified parameter \"IpAddress\" is not valid.", Some(400), Code::InvalidArgument, "IP_ADDRESS_MALFORMED", RetryClass::Never),
        ("InvalidVlanId.NotFound", "The VlanId provided does not exist in our records.", Some(404), Code::NotFound, "VLAN_NOT_FOUND", RetryClass::Never),
        ("IncorrectInstanceStatus", "The current status of the resource does not support this operation.", Some(403), Code::FailedPrecondition, "INSTANCE_STATUS_INCORRECT", RetryClass::Never),
        ("InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons.", Some(403), Code::FailedPrecondition, "INSTANCE_LOCKED_FOR_SECURITY", RetryClass::Never),
        ("InstanceExpiredOrInArrears", "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode).", Some(403), Code::FailedPrecondition, "INSTANCE_EXPIRED_OR_IN_ARREARS", RetryClass::Never),
        ("InvalidIpAddress.NotFound", "The specified IP is not in the specified vlan.", Some(404), Code::NotFound, "IP_ADDRESS_NOT_IN_VLAN", RetryClass::Never),
        ("IpInUse", "The specified IP is already in use.", Some(403), Code::AlreadyExists, "IP_ADDRESS_IN_USE", RetryClass::Never),
        ("AllocatedAlready", "There is an IpAddress allocated already for the specified instance.", Some(403), Code::AlreadyExists, "PUBLIC_IP_ALREADY_ALLOCATED", RetryClass::Never),
        ("OperationDenied", "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address.", Some(400), Code::ResourceExhausted, "VLAN_INVALID_OR_EXHAUSTED", RetryClass::Never),
        ("OperationDenied", "Specified operation is denied as your instance is in VPC.", Some(400), Code::FailedPrecondition, "INSTANCE_IN_VPC", RetryClass::Never),
        ("InsufficientPublicIp", "Ip address not found", Some(400), Code::ResourceExhausted, "PUBLIC_IP_INSUFFICIENT", RetryClass::Never),
        ("InternalError", "The request processing has failed due to some unknown error.", Some(500), Code::Internal, "PROVIDER_INTERNAL_ERROR", RetryClass::IdempotentOnly),
        ("AllocateIpInvalidInstanceBandwidth", "OperationDenied The InternetMaxBandwidthOut of the specified instance cannot be less than 0.", Some(400), Code::FailedPrecondition, "INSTANCE_BANDWIDTH_ZERO", RetryClass::Never),
        ("NAT_PUBLIC_IP_BINDING_FAILED", "Binding nat public ip failed", Some(403), Code::Aborted, "NAT_PUBLIC_IP_BINDING_FAILED", RetryClass::Never),
        ("NAT_PUBLIC_IP_ALLOCATE_FAILED", "Nat public ip binding failed.", Some(403), Code::Aborted, "NAT_PUBLIC_IP_ALLOCATE_FAILED", RetryClass::Never),
        ("InvalidInternetMaxBandwidthIn.ValueNotSupported", "The specified InternetMaxBandwidthIn is beyond the permitted range.", Some(400), Code::InvalidArgument, "BANDWIDTH_IN_INVALID", RetryClass::Never),
        ("InvalidInternetMaxBandwidthOut.ValueNotSupported", "The specified InternetMaxBandwidthOut is beyond the permitted range.", Some(400), Code::InvalidArgument, "BANDWIDTH_OUT_INVALID", RetryClass::Never),
        ("ChargeTypeViolation", "The operation is not permitted due to billing method of the instance.", Some(403), Code::FailedPrecondition, "INSTANCE_CHARGE_TYPE_UNSUPPORTED", RetryClass::Never),
        ("OperationDenied", "The operation is denied due to the instance is PrePaid.", Some(403), Code::FailedPrecondition, "INSTANCE_CHARGE_TYPE_UNSUPPORTED", RetryClass::Never),
        ("OperationDenied", "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle.", Some(400), Code::FailedPrecondition, "INSTANCE_DOWNGRADED_THIS_CYCLE", RetryClass::Never),
        ("OperationDenied", "The current user does not support this operation.", Some(400), Code::PermissionDenied, "ACCOUNT_OPERATION_DENIED", RetryClass::Never),
        ("InvalidParameter.Bandwidth", "The specified parameter Bandwidth is not valid.", Some(400), Code::InvalidArgument, "BANDWIDTH_INVALID", RetryClass::Never),
        ("InvalidParameter.Conflict", "The specified parameters conflict.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_CONFLICT", RetryClass::Never),
        ("InvalidStartTime.ValueNotSupported", "The end time is earlier than the start time.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("Account.Arrearage", "Your account has an outstanding payment.", Some(400), Code::FailedPrecondition, "ACCOUNT_IN_ARREARS", RetryClass::Never),
        ("InvalidInternetChargeType.ValueNotSupported", "The specified InternetChargeType is invalid.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("DecreasedBandwidthNotAllowed", "The bandwidth cannot be decreased.", Some(400), Code::FailedPrecondition, "BANDWIDTH_DECREASE_DENIED", RetryClass::Never),
        ("BandwidthUpgradeDenied.EipBoundInstance", "The specified VPC instance has bound EIP, temporary bandwidth upgrade is denied.", Some(400), Code::FailedPrecondition, "INSTANCE_HAS_EIP", RetryClass::Never),
        ("InvalidClientToken.ValueNotSupported", "The ClientToken provided is invalid.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("InvalidAccountStatus.NotEnoughBalance", "Your account does not have enough balance.", Some(403), Code::FailedPrecondition, "ACCOUNT_BALANCE_INSUFFICIENT", RetryClass::Never),
        ("InvalidInstance.UnPaidOrder", "The specified Instance has unpaid order.", Some(403), Code::FailedPrecondition, "INSTANCE_UNPAID_ORDER", RetryClass::Never),
        ("InvalidAction", "Specified action is not valid.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("IpAllocationError", "Allocate public ip failed.", Some(400), Code::Aborted, "PUBLIC_IP_ALLOCATION_FAILED", RetryClass::Never),
        ("InvalidParam.AllocatePublicIp", "The specified param AllocatePublicIp is invalid.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("InstanceDowngrade.QuotaExceed", "Quota of instance downgrade is exceed.", Some(400), Code::ResourceExhausted, "INSTANCE_DOWNGRADE_QUOTA_EXCEEDED", RetryClass::Never),
        ("InvalidBandwidth.ValueNotSupported", "Instance upgrade bandwidth of temporary not allow less then existed.", Some(400), Code::InvalidArgument, "BANDWIDTH_INVALID", RetryClass::Never),
        ("InvalidInstance.InstanceNotSupported", "The special vpc instance with eip not need bandwidth.", Some(403), Code::FailedPrecondition, "INSTANCE_HAS_EIP", RetryClass::Never),
        ("InvalidInstance.EipNotSupport", "The specified instance with eip is not supported, please unassociate eip first.", Some(403), Code::FailedPrecondition, "INSTANCE_HAS_EIP", RetryClass::Never),
        ("InvalidInstanceStatus", "The current status of the instance does not support this operation.", Some(403), Code::FailedPrecondition, "INSTANCE_STATUS_INCORRECT", RetryClass::Never),
        ("InvalidNetworkType.ValueNotSupported", "The specified parameter NetworkType is not valid.", Some(403), Code::FailedPrecondition, "INSTANCE_NETWORK_TYPE_UNSUPPORTED", RetryClass::Never),
        ("LastOrderProcessing", "The previous order is still processing, please try again later.", Some(400), Code::Aborted, "PROVIDER_ORDER_PROCESSING", RetryClass::Retryable),
        ("IdempotentParameterMismatch", "The request uses the same client token as a previous, but non-identical request.", Some(400), Code::Aborted, "CLIENT_TOKEN_REUSED", RetryClass::Never),
        ("Throttling.User", "Request was denied due to user flow control.", Some(400), Code::ResourceExhausted, "PROVIDER_THROTTLED", RetryClass::Retryable),
        ("ServiceUnavailable", "The request has failed due to a temporary failure of the server.", Some(503), Code::Unavailable, "PROVIDER_UNAVAILABLE", RetryClass::IdempotentOnly),
        ("UnknownError", "The request processing has failed due to some unknown error.", None, Code::Internal, "PROVIDER_INTERNAL_ERROR", RetryClass::IdempotentOnly),
        ("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is: [redacted]", Some(400), Code::FailedPrecondition, "PROVIDER_SIGNATURE_REJECTED", RetryClass::Never),
        ("IncompleteSignature", "The request signature does not conform to Aliyun standards.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("InvalidAccessKeyId.NotFound", "Specified access key is not found.", Some(404), Code::FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", RetryClass::Never),
        ("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", Some(400), Code::FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", RetryClass::Never),
        ("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", Some(400), Code::FailedPrecondition, "PROVIDER_CREDENTIALS_REJECTED", RetryClass::Never),
        ("Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM.", Some(403), Code::PermissionDenied, "PROVIDER_PERMISSION_DENIED", RetryClass::Never),
        ("Forbidden.InstanceNotFound", "The specified Instance is not found, so we cann't get enough information to check permission in RAM.", Some(404), Code::NotFound, "INSTANCE_NOT_FOUND", RetryClass::Never),
        ("Forbidden.RiskControl", "This operation is forbidden by Aliyun RiskControl system.", Some(403), Code::PermissionDenied, "PROVIDER_PERMISSION_DENIED", RetryClass::Never),
        ("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", Some(400), Code::FailedPrecondition, "PROVIDER_CLOCK_SKEW", RetryClass::Never),
        ("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("SignatureNonceUsed", "Specified signature nonce was used already.", Some(400), Code::Aborted, "PROVIDER_NONCE_REUSED", RetryClass::IdempotentOnly),
        ("InvalidSignatureMethod", "Specified signature method is not valid.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("UnsupportedHTTPMethod", "This http method not supported.", Some(400), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("InvalidApi.NotFound", "Specified api is not found, please check your url and method.", Some(404), Code::Internal, "PROVIDER_REQUEST_MALFORMED", RetryClass::Never),
        ("MissingParameter", "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_MISSING", RetryClass::Never),
        ("MissingInstanceId", "InstanceId is mandatory for this action.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_MISSING", RetryClass::Never),
        ("InvalidParameter", "The specified value of parameter \"VlanId\" is not valid.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("InvalidRegionId.NotFound", "The specified RegionId does not exist.", Some(404), Code::NotFound, "PROVIDER_RESOURCE_NOT_FOUND", RetryClass::Never),
        ("InvalidInstanceId.Malformed", "The specified parameter \"InstanceId\" is not valid.", Some(400), Code::InvalidArgument, "PROVIDER_PARAMETER_INVALID", RetryClass::Never),
        ("OperationDenied", "The specified operation is denied as the instance has not been started yet.", Some(400), Code::FailedPrecondition, "OPERATION_DENIED", RetryClass::Never),
    ];

    #[test]
    fn every_row_is_reachable_and_maps_as_specified() {
        assert_eq!(
            EXPECTATIONS.len(),
            TABLE.rules.len(),
            "one expectation per row"
        );
        for (row, &(code, message, http, grpc, reason, retry)) in EXPECTATIONS.iter().enumerate() {
            let rule = TABLE
                .lookup(code, message)
                .unwrap_or_else(|| panic!("{code} / {message:?} matches no row"));
            assert_eq!(
                (rule.grpc, rule.reason, rule.retry, rule.http_status),
                (grpc, reason, retry, http),
                "{code} / {message:?}"
            );
            // The expectation for row N is answered by row N itself: no
            // earlier row shadows it.
            assert!(
                std::ptr::eq(rule, &TABLE.rules[row]),
                "{code} / {message:?} matched row {:?} instead of row {row} ({})",
                TABLE.rules.iter().position(|r| std::ptr::eq(r, rule)),
                TABLE.rules[row].code
            );
        }
    }

    #[test]
    fn operation_denied_messages_from_the_api_page_map_to_different_rows() {
        let vlan = TABLE.resolve(
            "OperationDenied",
            "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address.",
            400,
        );
        let vpc = TABLE.resolve(
            "OperationDenied",
            "Specified operation is denied as your instance is in VPC.",
            400,
        );
        assert_eq!(vlan.grpc, Code::ResourceExhausted);
        assert_eq!(vlan.reason, "VLAN_INVALID_OR_EXHAUSTED");
        assert_eq!(vpc.grpc, Code::FailedPrecondition);
        assert_eq!(vpc.reason, "INSTANCE_IN_VPC");
        // Message patterns are case-insensitive.
        assert_eq!(
            TABLE
                .resolve("OperationDenied", "instance is in a vpc network", 400)
                .reason,
            "INSTANCE_IN_VPC"
        );
    }

    #[test]
    fn unknown_codes_fall_back_by_http_status() {
        let cases = [
            (400, Code::InvalidArgument, RetryClass::Never),
            (403, Code::FailedPrecondition, RetryClass::Never),
            (404, Code::NotFound, RetryClass::Never),
            (429, Code::ResourceExhausted, RetryClass::Retryable),
            (500, Code::Internal, RetryClass::IdempotentOnly),
            (503, Code::Unavailable, RetryClass::IdempotentOnly),
            (418, Code::FailedPrecondition, RetryClass::Never),
        ];
        for (status, grpc, retry) in cases {
            assert!(TABLE.lookup("QuotaExceed.Unheard", "m").is_none());
            let rule = TABLE.resolve("QuotaExceed.Unheard", "something new", status);
            assert_eq!(rule.grpc, grpc, "HTTP {status}");
            assert_eq!(rule.retry, retry, "HTTP {status}");
            assert_eq!(rule.reason, "PROVIDER_ERROR_UNRECOGNIZED");
        }
    }

    #[test]
    fn throttling_variants_are_retryable() {
        for code in ["Throttling", "Throttling.User", "Throttling.Api"] {
            let rule = TABLE.resolve(code, "Request was denied due to request throttling.", 400);
            assert_eq!(rule.reason, "PROVIDER_THROTTLED", "{code}");
            assert_eq!(rule.retry, RetryClass::Retryable, "{code}");
        }
    }

    #[test]
    fn codes_have_at_most_one_wildcard() {
        for rule in TABLE.rules {
            assert!(rule.code.matches('*').count() <= 1, "{}", rule.code);
        }
    }
}
