//! The error answers the emulator gives, with Alibaba's codes, HTTP
//! statuses and messages: the POP gateway's common errors (signature,
//! credentials, parameters, throttling), every row of the
//! `AllocatePublicIpAddress` API page's error table word for word, and the
//! rows of the `ReleasePublicIpAddress` and `ModifyInstanceNetworkSpec`
//! pages the emulator reproduces ([`RELEASE_PAGE`], [`MODIFY_PAGE`]).
//!
//! Sources: `shared/providers/aliyun/FACTS.md` §4 and
//! `shared/providers/aliyun/AllocatePublicIpAddress.md`. Codes the brief left
//! open were taken from the gateway's public error list (error-center
//! "Public" product): `MissingSecurityToken`,
//! `InvalidSecurityToken.MismatchWithAccessKey`, `InvalidParameter.Format`,
//! `InvalidVersion`.

use std::borrow::Cow;

/// How long a throttled client is asked to wait, in milliseconds
/// (`x-acs-retry-after`).
pub const THROTTLE_RETRY_AFTER_MS: u64 = 100;

/// One error answer: HTTP status, `Code`, `Message`, and for throttling the
/// `x-acs-retry-after` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Sent as `x-acs-retry-after` (milliseconds) when set.
    pub retry_after_ms: Option<u64>,
}

impl EcsError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> EcsError {
        EcsError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    // ----- POP gateway: request shape -----

    /// 400 `MissingParameter`, naming the parameter.
    pub fn missing_parameter(name: &str) -> EcsError {
        EcsError::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// 400 `InvalidParameter`, naming the parameter.
    pub fn invalid_parameter(name: &str) -> EcsError {
        EcsError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid."),
        )
    }

    /// 400 `InvalidParameter.Format`: `Format` is neither JSON nor XML.
    pub fn invalid_format() -> EcsError {
        EcsError::new(
            400,
            "InvalidParameter.Format",
            "Specified parameter Format is not valid.",
        )
    }

    /// 400 `InvalidParameter`: the body exceeds the emulator's limit.
    pub fn body_too_large() -> EcsError {
        EcsError::new(400, "InvalidParameter", "The request body is too large.")
    }

    /// 404 `InvalidApi.NotFound`: unknown `Action` (or path).
    pub fn api_not_found() -> EcsError {
        EcsError::new(
            404,
            "InvalidApi.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    /// 400 `InvalidVersion`: a `Version` other than `2014-05-26`.
    pub fn invalid_version() -> EcsError {
        EcsError::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    /// 400 `UnsupportedHTTPMethod`: neither GET nor POST.
    pub fn unsupported_http_method() -> EcsError {
        EcsError::new(
            400,
            "UnsupportedHTTPMethod",
            "This http method not supported.",
        )
    }

    // ----- POP gateway: authentication -----

    /// 400 `InvalidSignatureMethod`: V1 `SignatureMethod` other than
    /// `HMAC-SHA1`, or a V3 algorithm other than `ACS3-HMAC-SHA256`.
    pub fn invalid_signature_method() -> EcsError {
        EcsError::new(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
        )
    }

    /// 400 `IncompleteSignature`: an unreadable V3 `Authorization` header, or
    /// one that does not sign the headers it must.
    pub fn incomplete_signature() -> EcsError {
        EcsError::new(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    }

    /// 400 `InvalidTimeStamp.Format`.
    pub fn timestamp_format() -> EcsError {
        EcsError::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    }

    /// 400 `InvalidTimeStamp.Expired`: more than 15 minutes off.
    pub fn timestamp_expired() -> EcsError {
        EcsError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        )
    }

    /// 404 `InvalidAccessKeyId.NotFound`.
    pub fn access_key_not_found() -> EcsError {
        EcsError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    /// 400 `SignatureDoesNotMatch`, echoing the server's string-to-sign as
    /// the real gateway does.
    pub fn signature_mismatch(server_string_to_sign: &str) -> EcsError {
        EcsError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{server_string_to_sign}"
            ),
        )
    }

    /// 400 `SignatureNonceUsed`: the nonce was seen within 15 minutes.
    pub fn nonce_used() -> EcsError {
        EcsError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    /// 400 `MissingSecurityToken`: the key is an STS key and no token came.
    pub fn missing_security_token() -> EcsError {
        EcsError::new(
            400,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
        )
    }

    /// 400 `InvalidSecurityToken.MismatchWithAccessKey`: a token that is not
    /// the key's (or a token sent with a permanent key).
    pub fn security_token_mismatch() -> EcsError {
        EcsError::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )
    }

    // ----- injected faults -----

    /// 400 `Throttling` with `x-acs-retry-after: 100`.
    pub fn throttling() -> EcsError {
        EcsError {
            retry_after_ms: Some(THROTTLE_RETRY_AFTER_MS),
            ..EcsError::new(
                400,
                "Throttling",
                "Request was denied due to request throttling.",
            )
        }
    }

    /// 503 `ServiceUnavailable`.
    pub fn service_unavailable() -> EcsError {
        EcsError::new(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    }

    // ----- the AllocatePublicIpAddress API page, in table order -----

    pub fn instance_not_found() -> EcsError {
        EcsError::new(
            404,
            "InvalidInstanceId.NotFound",
            "The specified InstanceId does not exist.",
        )
    }

    pub fn ip_address_malformed() -> EcsError {
        EcsError::new(
            400,
            "InvalidIpAddress.Malformed",
            "The specified parameter \"IpAddress\" is not valid.",
        )
    }

    pub fn vlan_not_found() -> EcsError {
        EcsError::new(
            404,
            "InvalidVlanId.NotFound",
            "The VlanId provided does not exist in our records.",
        )
    }

    pub fn incorrect_instance_status() -> EcsError {
        EcsError::new(
            403,
            "IncorrectInstanceStatus",
            "The current status of the resource does not support this operation.",
        )
    }

    pub fn locked_for_security() -> EcsError {
        EcsError::new(
            403,
            "InstanceLockedForSecurity",
            "The specified operation is denied as your instance is locked for security reasons.",
        )
    }

    pub fn expired_or_in_arrears() -> EcsError {
        EcsError::new(
            403,
            "InstanceExpiredOrInArrears",
            "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode).",
        )
    }

    pub fn ip_not_in_vlan() -> EcsError {
        EcsError::new(
            404,
            "InvalidIpAddress.NotFound",
            "The specified IP is not in the specified vlan.",
        )
    }

    pub fn ip_in_use() -> EcsError {
        EcsError::new(403, "IpInUse", "The specified IP is already in use.")
    }

    pub fn allocated_already() -> EcsError {
        EcsError::new(
            403,
            "AllocatedAlready",
            "There is an IpAddress allocated already for the specified instance.",
        )
    }

    pub fn instance_in_vpc() -> EcsError {
        EcsError::new(
            400,
            "OperationDenied",
            "Specified operation is denied as your instance is in VPC.",
        )
    }

    pub fn insufficient_public_ip() -> EcsError {
        EcsError::new(400, "InsufficientPublicIp", "Ip address not found")
    }

    pub fn internal_error() -> EcsError {
        EcsError::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error.",
        )
    }

    pub fn invalid_instance_bandwidth() -> EcsError {
        EcsError::new(
            400,
            "AllocateIpInvalidInstanceBandwidth",
            "OperationDenied The InternetMaxBandwidthOut of the specified instance cannot be less than 0.",
        )
    }

    pub fn vlan_exhausted() -> EcsError {
        EcsError::new(
            400,
            "OperationDenied",
            "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address.",
        )
    }

    pub fn nat_binding_failed() -> EcsError {
        EcsError::new(
            403,
            "NAT_PUBLIC_IP_BINDING_FAILED",
            "Binding nat public ip failed",
        )
    }

    pub fn nat_allocate_failed() -> EcsError {
        EcsError::new(
            403,
            "NAT_PUBLIC_IP_ALLOCATE_FAILED",
            "Nat public ip binding failed.",
        )
    }
}

impl EcsError {
    // ----- the ReleasePublicIpAddress API page -----

    /// 400 `InvalidIpAddress.NotFound`: no instance (or not the one named)
    /// holds `PublicIpAddress`.
    pub fn ip_not_in_records() -> EcsError {
        EcsError::new(
            400,
            "InvalidIpAddress.NotFound",
            "The specified parameter \"IpAddress\" is not found in your records.",
        )
    }

    /// 400 `DryRunOperation`: every check passed; nothing was done.
    pub fn dry_run_operation() -> EcsError {
        EcsError::new(
            400,
            "DryRunOperation",
            "This is a dryrun request with successful result.",
        )
    }

    /// 403 `InvalidIpAddress.NeedInstanceId`: the address is held, and no
    /// `InstanceId` was given.
    pub fn ip_needs_instance_id() -> EcsError {
        EcsError::new(
            403,
            "InvalidIpAddress.NeedInstanceId",
            "The specified IpAddress need to release with InstanceId.",
        )
    }

    /// 403 `OperationTimesOverLimit`: the instance gave its IP back too
    /// many times.
    pub fn release_times_over_limit() -> EcsError {
        EcsError::new(
            403,
            "OperationTimesOverLimit",
            "The specified operation is denied as release public ip times over the limit.",
        )
    }

    // ----- the ModifyInstanceNetworkSpec API page -----

    /// 403 `IncorrectInstanceStatus`, worded as on this page.
    pub fn incorrect_instance_status_for_network() -> EcsError {
        EcsError::new(
            403,
            "IncorrectInstanceStatus",
            "The current status of the instance does not support this operation.",
        )
    }

    pub fn bandwidth_out_not_supported() -> EcsError {
        EcsError::new(
            400,
            "InvalidInternetMaxBandwidthOut.ValueNotSupported",
            "The specified InternetMaxBandwidthOut is beyond the permitted range.",
        )
    }

    pub fn bandwidth_in_not_supported() -> EcsError {
        EcsError::new(
            400,
            "InvalidInternetMaxBandwidthIn.ValueNotSupported",
            "The specified InternetMaxBandwidthIn is beyond the permitted range.",
        )
    }

    pub fn charge_type_not_supported() -> EcsError {
        EcsError::new(
            400,
            "InvalidInternetChargeType.ValueNotSupported",
            "The specified InternetChargeType is invalid.",
        )
    }

    pub fn invalid_allocate_public_ip() -> EcsError {
        EcsError::new(
            400,
            "InvalidParam.AllocatePublicIp",
            "The specified param AllocatePublicIp is invalid.",
        )
    }

    pub fn eip_instance_needs_no_bandwidth() -> EcsError {
        EcsError::new(
            403,
            "InvalidInstance.InstanceNotSupported",
            "The special vpc instance with eip not need bandwidth.",
        )
    }

    pub fn unpaid_order() -> EcsError {
        EcsError::new(
            403,
            "InvalidInstance.UnPaidOrder",
            "The specified Instance has unpaid order.",
        )
    }

    /// 400 `InvalidClientToken.ValueNotSupported`: not 1 to 64 printable
    /// ASCII characters.
    pub fn invalid_client_token() -> EcsError {
        EcsError::new(
            400,
            "InvalidClientToken.ValueNotSupported",
            "The ClientToken provided is invalid.",
        )
    }

    pub fn ip_allocation_error() -> EcsError {
        EcsError::new(400, "IpAllocationError", "Allocate public ip failed.")
    }

    /// 400 `IdempotentParameterMismatch` (ECS common error): a `ClientToken`
    /// seen before with other parameters.
    pub fn idempotent_parameter_mismatch() -> EcsError {
        EcsError::new(
            400,
            "IdempotentParameterMismatch",
            "The request uses the same client token as a previous, but non-identical request.",
        )
    }
}

/// The rows of the ReleasePublicIpAddress API page (deprecated, updated
/// Apr 2026): (HTTP, code, message). Every one is reachable from the
/// seeded inventory.
#[rustfmt::skip]
pub const RELEASE_PAGE: &[(u16, &str, &str)] = &[
    (400, "OperationDenied", "Specified operation is denied as your instance is in VPC."),
    (400, "InvalidIpAddress.NotFound", "The specified parameter \"IpAddress\" is not found in your records."),
    (400, "DryRunOperation", "This is a dryrun request with successful result."),
    (403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation."),
    (403, "InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons."),
    (403, "InvalidIpAddress.NeedInstanceId", "The specified IpAddress need to release with InstanceId."),
    (403, "OperationTimesOverLimit", "The specified operation is denied as release public ip times over the limit."),
];

/// Every row of the ModifyInstanceNetworkSpec API page's error table
/// (HTTP, code, message; the English page's 40 rows, of which
/// `InvalidInstanceId.NotFound` and `InstanceLockedForSecurity` are common
/// errors): first the ones of the emulator's own checks, then the rows of
/// the designated instances ([`super::refusals`]), whose state the
/// emulator does not model. Every one is reachable from the seeded
/// inventory.
#[rustfmt::skip]
pub const MODIFY_PAGE: &[(u16, &str, &str)] = &[
    (400, "InvalidInternetMaxBandwidthIn.ValueNotSupported", "The specified InternetMaxBandwidthIn is beyond the permitted range."),
    (400, "InvalidInternetMaxBandwidthOut.ValueNotSupported", "The specified InternetMaxBandwidthOut is beyond the permitted range."),
    (403, "IncorrectInstanceStatus", "The current status of the instance does not support this operation."),
    (403, "InstanceExpiredOrInArrears", "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode)."),
    (400, "InvalidInternetChargeType.ValueNotSupported", "The specified InternetChargeType is invalid."),
    (403, "InvalidInstance.UnPaidOrder", "The specified Instance has unpaid order."),
    (400, "IpAllocationError", "Allocate public ip failed."),
    (400, "InvalidParam.AllocatePublicIp", "The specified param AllocatePublicIp is invalid."),
    (403, "InvalidInstance.InstanceNotSupported", "The special vpc instance with eip not need bandwidth."),
    (400, "InvalidClientToken.ValueNotSupported", "The ClientToken provided is invalid."),
    (404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."),
    (403, "InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons."),
    (500, "InternalError", "The request processing has failed due to some unknown error."),
    (403, "ChargeTypeViolation", "The operation is not permitted due to billing method of the instance."),
    (403, "OperationDenied", "The operation is denied due to the instance is PrePaid."),
    (400, "OperationDenied", "Specified instance is in VPC."),
    (400, "InvalidParameter.Bandwidth", "The specified parameter Bandwidth is not valid."),
    (400, "InvalidParameter.Conflict", "The specified parameters conflict."),
    (400, "InvalidStartTime.ValueNotSupported", "The specified EndTime is earlier than the StartTime."),
    (400, "Account.Arrearage", "Your account has an outstanding payment."),
    (400, "DecreasedBandwidthNotAllowed", "The bandwidth of the instance cannot be decreased."),
    (400, "BandwidthUpgradeDenied.EipBoundInstance", "The specified VPC instance has bound EIP, temporary bandwidth upgrade is denied."),
    (403, "InvalidAccountStatus.NotEnoughBalance", "Your account does not have enough balance."),
    (400, "Throttling", "Request was denied due to request throttling, please try again after 5 minutes."),
    (400, "InvalidAction", "Specified action is not valid."),
    (400, "InstanceDowngrade.QuotaExceed", "Quota of instance downgrade is exceed."),
    (400, "InvalidBandwidth.ValueNotSupported", "Instance upgrade bandwidth of temporary not allow less then existed."),
    (400, "InvalidInstanceStatus", "The specified instance status does not support this action."),
    (403, "InvalidInstanceStatus", "The current status of the instance does not support this operation."),
    (400, "InvalidInstance.UnPaidOrder", "Unpaid order exists in your account, please complete or cancel the payment in the expense center."),
    (400, "OperationDenied", "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle."),
    (400, "InvalidInternetChargeType.ValueNotSupported", "The specified InternetChargeType is not supported by the instance."),
    (400, "LastOrderProcessing", "The previous order is still processing, please try again later."),
    (400, "OperationDenied", "The current user does not support this operation."),
    (403, "NAT_PUBLIC_IP_BINDING_FAILED", "Binding nat public ip failed"),
    (403, "InvalidInstance.EipNotSupport", "The specified instance with eip is not supported, please unassociate eip first."),
    (403, "InvalidNetworkType.ValueNotSupported", "The specified parameter NetworkType is not valid."),
    (500, "InternalError", "The request processing has failed due to some unknown error, exception or failure."),
    (403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation."),
];

impl std::fmt::Display for EcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for EcsError {}

/// The 16 rows of the AllocatePublicIpAddress API page: (HTTP, code,
/// message), in page order. Every one is reachable from the seeded
/// inventory.
#[rustfmt::skip]
pub const API_PAGE: &[(u16, &str, &str)] = &[
    (404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."),
    (400, "InvalidIpAddress.Malformed", "The specified parameter \"IpAddress\" is not valid."),
    (404, "InvalidVlanId.NotFound", "The VlanId provided does not exist in our records."),
    (403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation."),
    (403, "InstanceLockedForSecurity", "The specified operation is denied as your instance is locked for security reasons."),
    (403, "InstanceExpiredOrInArrears", "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode)."),
    (404, "InvalidIpAddress.NotFound", "The specified IP is not in the specified vlan."),
    (403, "IpInUse", "The specified IP is already in use."),
    (403, "AllocatedAlready", "There is an IpAddress allocated already for the specified instance."),
    (400, "OperationDenied", "Specified operation is denied as your instance is in VPC."),
    (400, "InsufficientPublicIp", "Ip address not found"),
    (500, "InternalError", "The request processing has failed due to some unknown error."),
    (400, "AllocateIpInvalidInstanceBandwidth", "OperationDenied The InternetMaxBandwidthOut of the specified instance cannot be less than 0."),
    (400, "OperationDenied", "The specified parameter \"VlanId\" is not valid or vlan has not enough IP address."),
    (403, "NAT_PUBLIC_IP_BINDING_FAILED", "Binding nat public ip failed"),
    (403, "NAT_PUBLIC_IP_ALLOCATE_FAILED", "Nat public ip binding failed."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_match_the_api_page_word_for_word() {
        let ours = [
            EcsError::instance_not_found(),
            EcsError::ip_address_malformed(),
            EcsError::vlan_not_found(),
            EcsError::incorrect_instance_status(),
            EcsError::locked_for_security(),
            EcsError::expired_or_in_arrears(),
            EcsError::ip_not_in_vlan(),
            EcsError::ip_in_use(),
            EcsError::allocated_already(),
            EcsError::instance_in_vpc(),
            EcsError::insufficient_public_ip(),
            EcsError::internal_error(),
            EcsError::invalid_instance_bandwidth(),
            EcsError::vlan_exhausted(),
            EcsError::nat_binding_failed(),
            EcsError::nat_allocate_failed(),
        ];
        assert_eq!(ours.len(), API_PAGE.len());
        for (error, (status, code, message)) in ours.iter().zip(API_PAGE) {
            assert_eq!(
                (error.status, error.code.as_ref(), error.message.as_str()),
                (*status, *code, *message)
            );
        }
    }

    #[test]
    fn gateway_messages() {
        assert_eq!(
            EcsError::missing_parameter("Timestamp").message,
            "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied."
        );
        let mismatch = EcsError::signature_mismatch("POST&%2F&A%3D1");
        assert_eq!(mismatch.status, 400);
        assert!(
            mismatch
                .message
                .ends_with("server string to sign is:POST&%2F&A%3D1")
        );
        assert_eq!(EcsError::throttling().retry_after_ms, Some(100));
        assert_eq!(EcsError::access_key_not_found().status, 404);
        assert_eq!(EcsError::service_unavailable().status, 503);
    }
}
