//! [`sign`] end to end: the vector V1 of `tests/vectors/zenlayer-zc2.json`
//! (computed with the official SDK) through the whole request, every header
//! it decides in order with its sensitivity, and the clock it refuses.

use super::*;

const BODY: &str = r#"{"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 1, "tags": {"tags": [{"key": "env", "value": "test"}]}}"#;
const SIGNATURE: &str = "2e98a7bd088f194afb1d138875c07065ddeea8facf72dbfa5d17edbc268903de";

fn signed(
    url: &str,
    time: OffsetDateTime,
) -> Result<SigningOutput<SigningInstructions>, SigningError> {
    let url = Url::parse(url).unwrap();
    sign(
        &SignableRequest {
            url: &url,
            action: "AllocateEipAddresses",
            body: BODY.as_bytes(),
        },
        &SigningParams {
            access_key_id: "AKIDZLTEST0000000001",
            access_key_password: "zlTestPassw0rd/Example+Key=",
            api_version: "2026-02-01",
            time,
        },
    )
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

#[test]
fn sign_reproduces_the_sdk_vector_with_every_header() {
    let output = signed("https://console.zenlayer.com/api/v2/bmc", at(1_700_000_000)).unwrap();
    assert_eq!(output.signature(), SIGNATURE);
    let instructions = output.output();
    assert_eq!(instructions.query(), None);
    let authorization = format!(
        "ZC2-HMAC-SHA256 Credential=AKIDZLTEST0000000001, SignedHeaders=content-type;host, Signature={SIGNATURE}"
    );
    assert_eq!(
        instructions.listed(),
        [
            ("content-type", "application/json", false),
            ("x-zc-action", "AllocateEipAddresses", false),
            ("x-zc-version", "2026-02-01", false),
            ("x-zc-service", "bmc", false),
            ("x-zc-timestamp", "1700000000", false),
            ("x-zc-signature-method", "ZC2-HMAC-SHA256", false),
            ("authorization", authorization.as_str(), true),
        ]
    );
}

#[test]
fn the_signed_host_names_a_non_default_port() {
    let default_port = signed(
        "https://console.zenlayer.com:443/api/v2/bmc",
        at(1_700_000_000),
    );
    assert_eq!(default_port.unwrap().signature(), SIGNATURE);
    let other_port = signed(
        "https://console.zenlayer.com:8443/api/v2/bmc",
        at(1_700_000_000),
    );
    let expected = sign_input(&SigningInput {
        access_key_id: "AKIDZLTEST0000000001",
        access_key_password: "zlTestPassw0rd/Example+Key=",
        timestamp: "1700000000",
        content_type: "application/json",
        host: "console.zenlayer.com:8443",
        body: BODY.as_bytes(),
    });
    assert_eq!(other_port.unwrap().signature(), expected);
    assert_ne!(expected, SIGNATURE);
}

#[test]
fn a_clock_before_1970_is_an_error() {
    for seconds in [0, -1] {
        let error = signed("https://console.zenlayer.com/api/v2/bmc", at(seconds)).unwrap_err();
        assert_eq!(error, SigningError::ClockBeforeEpoch);
    }
}
