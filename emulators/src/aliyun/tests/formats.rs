//! The answer formats: JSON and XML (the V1 default), success and error
//! shapes, lists as repeated XML elements, `Format` in any case.

use serde_json::json;

use super::*;

#[tokio::test]
async fn xml_and_json_formats() {
    let harness = start_default().await;
    // XML success.
    let mut params = v1_params(
        "AllocatePublicIpAddress",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "XML");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    let request_id = answer.headers["x-acs-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        answer.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AllocatePublicIpAddressResponse><IpAddress>47.96.0.1</IpAddress><RequestId>{request_id}</RequestId></AllocatePublicIpAddressResponse>"
        )
    );
    // XML error; `Format` omitted means XML.
    let mut params = v1_params(
        "AllocatePublicIpAddress",
        &[("InstanceId", "i-emuready001")],
    );
    remove(&mut params, "Format");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    let request_id = answer.headers["x-acs-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(answer.body.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>{request_id}</RequestId><HostId>ecs.cn-hangzhou.aliyuncs.com</HostId><Code>AllocatedAlready</Code><Message>There is an IpAddress allocated already for the specified instance.</Message><Recommend>"
    )), "{}", answer.body);
    assert!(answer.body.ends_with("</Recommend></Error>"));
    // (The gateway's parser reading it: tests/provider_aliyun.rs.)
    // XML describe: lists become repeated elements.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emulocksec01")],
    );
    set(&mut params, "Format", "xml");
    let answer = harness.v1("POST", &params).await;
    assert!(answer.body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstanceAttributeResponse>"
    ));
    assert!(answer.body.contains("<OperationLocks><LockReason><LockMsg></LockMsg><LockReason>security</LockReason></LockReason></OperationLocks>"), "{}", answer.body);
    assert!(answer.body.contains("<PublicIpAddress></PublicIpAddress>"));
    // Lowercase json.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "json");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(
        answer.json()["PublicIpAddress"]["IpAddress"],
        json!(["47.96.0.1"])
    );
    // An unknown format: refused, in XML.
    let mut params = v1_params(
        "DescribeInstanceAttribute",
        &[("InstanceId", "i-emuready001")],
    );
    set(&mut params, "Format", "yaml");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("<Code>InvalidParameter.Format</Code>"));
}
