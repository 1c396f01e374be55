//! The strict reading of an RPC request's parameters ([`ApiReading::Strict`]):
//! what the API documents leave open, read the way that hurts a careless
//! client most. Applied after authentication, before the action.
//!
//! | Input | Strict answer |
//! |---|---|
//! | a parameter the action does not define (names are case-sensitive; V3 requests carry only the action's own parameters in the query) | 400 `InvalidParameter` |
//! | a parameter given twice (in the query, the form body, or both) | 400 `InvalidParameter` |
//! | an empty value for an optional parameter: `IpAddress=` | 400 `InvalidIpAddress.Malformed` |
//! | `VlanId=` | 404 `InvalidVlanId.NotFound` |
//! | `RegionId=`, `OwnerId=`, ... | 400 `InvalidParameter` |
//! | `RegionId` other than the emulator's region | 404 `InvalidInstanceId.NotFound` (the instance is not in that region; `DescribeInstances`: no instance) |
//! | `OwnerId` / `ResourceOwnerId` not an integer | 400 `InvalidParameter` |
//! | V1 `SignatureVersion` other than `1.0`, `SignatureType` not empty | 400 `InvalidParameter` |
//!
//! Accepted although not on the API page, because an official SDK sends
//! them: `RegionId` (the legacy `aliyun-python-sdk-core` adds the client's
//! region to every RPC call) and an empty `SignatureType=` (the same SDK,
//! for HMAC-SHA1). The lenient reading checks none of this: unknown
//! parameters are ignored, the first of two wins, an empty value is absent.

use super::actions::{ALLOCATE_PUBLIC_IP_ADDRESS, DESCRIBE_INSTANCE_ATTRIBUTE, DESCRIBE_INSTANCES};
use super::errors::EcsError;
use super::params::ApiRequest;
#[cfg(doc)]
use crate::emulator::ApiReading;

/// The common parameters of a V1 request (signature and protocol).
pub const V1_COMMON: [&str; 11] = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "Signature",
    "SecurityToken",
];

/// Parameters every action accepts: the region (see the module
/// documentation) and the owner fields of the ECS request models.
pub const SHARED: [&str; 5] = [
    "RegionId",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
];

/// The action's own parameters (besides [`SHARED`]).
pub fn action_params(action: &str) -> &'static [&'static str] {
    match action {
        ALLOCATE_PUBLIC_IP_ADDRESS => &["InstanceId", "IpAddress", "VlanId"],
        DESCRIBE_INSTANCE_ATTRIBUTE => &["InstanceId"],
        DESCRIBE_INSTANCES => &[
            "InstanceIds",
            "PublicIpAddresses",
            "ZoneId",
            "Status",
            "InstanceNetworkType",
            "PageNumber",
            "PageSize",
        ],
        _ => &[],
    }
}

/// Checks `request` for `action` under the strict reading; `region` is the
/// emulator's.
pub fn check(request: &ApiRequest, action: &str, region: &str) -> Result<(), EcsError> {
    let v3 = request.is_v3();
    let own = action_params(action);
    let known = |name: &str| {
        own.contains(&name) || SHARED.contains(&name) || (!v3 && V1_COMMON.contains(&name))
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in request.all_params() {
        if !known(name) {
            return Err(EcsError::new(
                400,
                "InvalidParameter",
                format!(
                    "The parameter \"{}\" is not a parameter of {action}.",
                    printable(name)
                ),
            ));
        }
        if seen.contains(&name) {
            return Err(EcsError::new(
                400,
                "InvalidParameter",
                format!("The parameter \"{name}\" is given more than once."),
            ));
        }
        seen.push(name);
    }
    for (name, value) in request.all_params() {
        if !value.is_empty() {
            continue;
        }
        match name {
            // Required parameters: the action answers MissingParameter.
            "InstanceId" => {}
            // The legacy SDK's HMAC-SHA1 signer type is the empty string.
            "SignatureType" => {}
            "IpAddress" => return Err(EcsError::ip_address_malformed()),
            "VlanId" => return Err(EcsError::vlan_not_found()),
            other => return Err(EcsError::invalid_parameter(other)),
        }
    }
    if let Some(requested) = request.param("RegionId")
        && requested != region
        && action != DESCRIBE_INSTANCES
    {
        return Err(EcsError::instance_not_found());
    }
    for name in ["OwnerId", "ResourceOwnerId"] {
        if request
            .param(name)
            .is_some_and(|v| v.parse::<u64>().is_err())
        {
            return Err(EcsError::invalid_parameter(name));
        }
    }
    if !v3 {
        if request
            .param("SignatureVersion")
            .is_some_and(|v| v != crate::provider::aliyun::signer::V1_SIGNATURE_VERSION)
        {
            return Err(EcsError::invalid_parameter("SignatureVersion"));
        }
        if request
            .param("SignatureType")
            .is_some_and(|v| !v.is_empty())
        {
            return Err(EcsError::invalid_parameter("SignatureType"));
        }
    }
    Ok(())
}

/// A parameter name as it may appear in a message: at most 64 characters,
/// control characters replaced.
fn printable(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use bytes::Bytes;

    fn request(uri: &str, headers: &[(&str, &str)], body: &str) -> ApiRequest {
        let mut builder = Request::builder().method("POST").uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        ApiRequest::new(&parts, Bytes::copy_from_slice(body.as_bytes()))
    }

    fn code(uri: &str) -> Option<String> {
        check(
            &request(uri, &[], ""),
            ALLOCATE_PUBLIC_IP_ADDRESS,
            "cn-hangzhou",
        )
        .err()
        .map(|e| e.code.into_owned())
    }

    const LEGACY: &str = "/?InstanceId=i-a&Version=2014-05-26&Action=AllocatePublicIpAddress&Format=JSON&RegionId=cn-hangzhou&Timestamp=2026-01-01T00%3A00%3A00Z&SignatureMethod=HMAC-SHA1&SignatureType=&SignatureVersion=1.0&SignatureNonce=abc&AccessKeyId=AK&Signature=x";

    #[test]
    fn what_the_official_sdks_send_passes() {
        assert_eq!(code(LEGACY), None);
        assert_eq!(
            code(&format!("{LEGACY}&IpAddress=47.96.1.1&VlanId=100")),
            None
        );
        assert_eq!(code(&format!("{LEGACY}&SecurityToken=t")), None);
        let v3 = request(
            "/?InstanceId=i-a&IpAddress=47.96.1.1",
            &[("authorization", "ACS3-HMAC-SHA256 x")],
            "",
        );
        assert!(check(&v3, ALLOCATE_PUBLIC_IP_ADDRESS, "cn-hangzhou").is_ok());
        let describe = request(
            "/?InstanceId=i-a&RegionId=cn-hangzhou",
            &[("authorization", "ACS3-HMAC-SHA256 x")],
            "",
        );
        assert!(check(&describe, DESCRIBE_INSTANCE_ATTRIBUTE, "cn-hangzhou").is_ok());
    }

    #[test]
    fn unknown_repeated_and_empty_parameters_are_refused() {
        for (extra, want) in [
            ("&Instanceid=i-a", "InvalidParameter"),
            ("&DryRun=true", "InvalidParameter"),
            ("&InstanceId=i-b", "InvalidParameter"),
            ("&IpAddress=", "InvalidIpAddress.Malformed"),
            ("&VlanId=", "InvalidVlanId.NotFound"),
            ("&OwnerAccount=", "InvalidParameter"),
            ("&OwnerId=abc", "InvalidParameter"),
        ] {
            assert_eq!(
                code(&format!("{LEGACY}{extra}")).as_deref(),
                Some(want),
                "{extra}"
            );
        }
        assert_eq!(code(&format!("{LEGACY}&OwnerId=123")), None);
        assert_eq!(
            code(&LEGACY.replace("RegionId=cn-hangzhou", "RegionId=cn-beijing")).as_deref(),
            Some("InvalidInstanceId.NotFound")
        );
        assert_eq!(
            code(&LEGACY.replace("RegionId=cn-hangzhou", "RegionId=")).as_deref(),
            Some("InvalidParameter")
        );
        assert_eq!(
            code(&LEGACY.replace("SignatureType=", "SignatureType=PRIVATEKEY")).as_deref(),
            Some("InvalidParameter")
        );
        assert_eq!(
            code(&LEGACY.replace("SignatureVersion=1.0", "SignatureVersion=2.0")).as_deref(),
            Some("InvalidParameter")
        );
        // A V3 request carries no V1 protocol parameters in its query.
        let v3 = request(
            "/?InstanceId=i-a&Action=AllocatePublicIpAddress",
            &[("authorization", "ACS3-HMAC-SHA256 x")],
            "",
        );
        assert!(check(&v3, ALLOCATE_PUBLIC_IP_ADDRESS, "cn-hangzhou").is_err());
        // A parameter in both the query and the form body is repeated.
        let form = request(
            "/?InstanceId=i-a",
            &[("content-type", "application/x-www-form-urlencoded")],
            "InstanceId=i-a",
        );
        assert_eq!(
            check(&form, DESCRIBE_INSTANCE_ATTRIBUTE, "cn-hangzhou")
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
    }
}
