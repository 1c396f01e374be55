//! [`sign`] end to end with a fixed clock and nonce: every parameter and
//! header it decides, their order, and which are sensitive. Expected
//! signatures computed independently with Python's hmac, hashlib and
//! base64 from the FACTS.md §1.2 and §2.2 recipes.

use super::*;
use crate::config::secret::Secret;

const NONCE: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

fn credentials(sts: bool) -> AliyunCredentials {
    AliyunCredentials {
        access_key_id: "LTAI5tExampleAkId0001".into(),
        access_key_secret: Secret::new("TopSecret/Value+=-7f3e"),
        security_token: sts.then(|| Secret::new("CAIS+sts/token==value")),
    }
}

fn signed(
    version: SignatureVersion,
    url: &str,
    params: &[(&'static str, String)],
) -> SigningOutput<SigningInstructions> {
    let url = Url::parse(url).unwrap();
    sign(
        &SignableRequest {
            method: "POST",
            url: &url,
            action: "AllocatePublicIpAddress",
            params,
        },
        &SigningParams {
            version,
            credentials: &credentials(true),
            region: "cn-beijing",
            time: time::macros::datetime!(2024-05-01 16:30:00 +08:00),
            nonce: NONCE,
        },
    )
    .unwrap()
}

#[test]
fn v1_signs_every_common_parameter_in_the_query() {
    let params = [
        ("InstanceId", "i-2ze0example0000002".to_owned()),
        ("VlanId", "100 *~".to_owned()),
    ];
    let output = signed(
        SignatureVersion::V1,
        "https://ecs.cn-beijing.aliyuncs.com/",
        &params,
    );
    assert_eq!(output.signature(), "x+XvNJqRabhVBb1HCYEZuBhAC7A=");
    let instructions = output.output();
    assert_eq!(
        instructions.query(),
        Some(
            "AccessKeyId=LTAI5tExampleAkId0001&Action=AllocatePublicIpAddress&Format=JSON&InstanceId=i-2ze0example0000002&RegionId=cn-beijing&SecurityToken=CAIS%2Bsts%2Ftoken%3D%3Dvalue&SignatureMethod=HMAC-SHA1&SignatureNonce=0123456789abcdef0123456789abcdef&SignatureType=&SignatureVersion=1.0&Timestamp=2024-05-01T08%3A30%3A00Z&Version=2014-05-26&VlanId=100%20%2A~&Signature=x%2BXvNJqRabhVBb1HCYEZuBhAC7A%3D"
        )
    );
    assert_eq!(
        instructions.listed(),
        [
            ("x-acs-action", "AllocatePublicIpAddress", false),
            ("x-acs-version", "2014-05-26", false),
        ]
    );
}

#[test]
fn v3_signs_headers_and_marks_the_token_and_authorization_sensitive() {
    let params = [
        ("InstanceId", "i-bp1abcdefghijk123456".to_owned()),
        ("VlanId", "a b".to_owned()),
    ];
    let output = signed(
        SignatureVersion::V3,
        "https://ecs.cn-hangzhou.aliyuncs.com/",
        &params,
    );
    let signature = "21fbbb4b0e05cd61644c5b4100257b83af476767ea9d1117cfd05885b9370558";
    assert_eq!(output.signature(), signature);
    let instructions = output.output();
    assert_eq!(
        instructions.query(),
        Some("InstanceId=i-bp1abcdefghijk123456&VlanId=a%20b")
    );
    let authorization = format!(
        "ACS3-HMAC-SHA256 Credential=LTAI5tExampleAkId0001,SignedHeaders=host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature={signature}"
    );
    assert_eq!(
        instructions.listed(),
        [
            ("host", "ecs.cn-hangzhou.aliyuncs.com", false),
            ("x-acs-action", "AllocatePublicIpAddress", false),
            ("x-acs-version", "2014-05-26", false),
            ("x-acs-date", "2024-05-01T08:30:00Z", false),
            (
                "x-acs-signature-nonce",
                "0123456789abcdef0123456789abcdef",
                false
            ),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256, false),
            ("x-acs-accesskey-id", "LTAI5tExampleAkId0001", false),
            ("x-acs-security-token", "CAIS+sts/token==value", true),
            ("authorization", authorization.as_str(), true),
        ]
    );
}

#[test]
fn v3_host_names_a_non_default_port() {
    let params = [("InstanceId", "i-1".to_owned())];
    let output = signed(SignatureVersion::V3, "http://127.0.0.1:8081/", &params);
    let host = output.output().header("host").unwrap();
    assert_eq!(host.value(), "127.0.0.1:8081");
}

#[test]
fn a_token_that_is_not_a_header_value_is_an_error_without_the_token() {
    let url = Url::parse("https://ecs.cn-hangzhou.aliyuncs.com/").unwrap();
    let mut credentials = credentials(true);
    credentials.security_token = Some(Secret::new("bad\nvalue-secret"));
    let error = sign(
        &SignableRequest {
            method: "POST",
            url: &url,
            action: "AllocatePublicIpAddress",
            params: &[],
        },
        &SigningParams {
            version: SignatureVersion::V3,
            credentials: &credentials,
            region: "cn-hangzhou",
            time: OffsetDateTime::UNIX_EPOCH,
            nonce: NONCE,
        },
    )
    .unwrap_err();
    assert!(!error.to_string().contains("value-secret"), "{error}");
}

#[test]
fn timestamp_format() {
    let t = time::macros::datetime!(2024-05-01 08:30:00 UTC);
    assert_eq!(timestamp(t), "2024-05-01T08:30:00Z");
    let t = time::macros::datetime!(2024-01-02 03:04:05.999 +08:00);
    assert_eq!(timestamp(t), "2024-01-01T19:04:05Z");
}
