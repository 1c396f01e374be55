//! `DescribeInstances` over raw V1 requests: filters, paging, limits, and
//! allocations showing up.

use serde_json::{Value, json};

use super::*;

/// `DescribeInstances` in the emulator's region with `extra` parameters.
async fn in_region(harness: &Harness, extra: &[(&str, &str)]) -> Answer {
    let mut params = vec![("RegionId", "cn-hangzhou")];
    params.extend_from_slice(extra);
    harness.call("DescribeInstances", &params).await
}

fn ids(body: &Value) -> Vec<String> {
    body["Instances"]["Instance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["InstanceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filters_paging_and_limits() {
    let harness = start_default().await;
    // By ids.
    let answer = in_region(
        &harness,
        &[(
            "InstanceIds",
            r#"["i-emuready001","i-emuhasip001","i-unknown"]"#,
        )],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["TotalCount"], 2);
    assert_eq!(body["PageNumber"], 1);
    assert_eq!(body["PageSize"], 10);
    assert_eq!(ids(&body), ["i-emuhasip001", "i-emuready001"]);
    assert_eq!(
        body["Instances"]["Instance"][0]["PublicIpAddress"]["IpAddress"],
        json!(["47.96.0.10"])
    );
    assert_eq!(
        body["Instances"]["Instance"][0]["EipAddress"]["IsSupportUnassociate"],
        true
    );

    // Everything, paged.
    let answer = in_region(&harness, &[("PageSize", "5"), ("PageNumber", "2")]).await;
    let body = answer.json();
    assert_eq!(body["TotalCount"], 2055);
    assert_eq!(ids(&body).len(), 5);
    assert_eq!(body["PageNumber"], 2);
    // Past the end.
    let answer = in_region(&harness, &[("PageSize", "100"), ("PageNumber", "99")]).await;
    assert_eq!(answer.json()["TotalCount"], 2055);
    assert!(ids(&answer.json()).is_empty());

    // Filters.
    let filters: [(&str, &str, &[&str]); 4] = [
        ("Status", "Starting", &["i-emustarting01"]),
        (
            "InstanceNetworkType",
            "classic",
            &[
                "i-emuclassic01",
                "i-emuclassic02",
                "i-emuclbwzero1",
                "i-emucllock01",
                "i-emuclrel01",
                "i-emuclstop01",
                "i-emurellimit1",
            ],
        ),
        ("ZoneId", "cn-hangzhou-k", &["i-emuemptyzone1"]),
        (
            "PublicIpAddresses",
            r#"["47.100.0.10"]"#,
            &["i-emuclassic02"],
        ),
    ];
    for (name, value, want) in filters {
        let answer = in_region(&harness, &[(name, value)]).await;
        assert_eq!(ids(&answer.json()), want, "{name}={value}");
    }
    // Another region has none of them.
    let answer = harness
        .call("DescribeInstances", &[("RegionId", "cn-beijing")])
        .await;
    assert_eq!(answer.json()["TotalCount"], 0);

    // Errors.
    let answer = harness.call("DescribeInstances", &[]).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "MissingParameter")
    );
    assert!(
        answer.json()["Message"]
            .as_str()
            .unwrap()
            .contains("\"RegionId\"")
    );
    let many: Vec<String> = (0..101).map(|n| format!("i-emupool{n:04}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    for (name, value) in [
        ("InstanceIds", many.as_str()),
        ("InstanceIds", "i-emuready001"),
        ("InstanceIds", "[1,2]"),
        ("PublicIpAddresses", "{}"),
        ("PageSize", "101"),
        ("PageSize", "0"),
        ("PageNumber", "0"),
        ("PageNumber", "x"),
    ] {
        let answer = in_region(&harness, &[(name, value)]).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (400, "InvalidParameter"),
            "{name}={value}"
        );
        assert!(answer.json()["Message"].as_str().unwrap().contains(name));
    }
    // 100 ids are fine.
    let hundred: Vec<String> = (0..100).map(|n| format!("i-emupool{n:04}")).collect();
    let hundred = serde_json::to_string(&hundred).unwrap();
    let answer = in_region(
        &harness,
        &[("InstanceIds", hundred.as_str()), ("PageSize", "100")],
    )
    .await;
    assert_eq!(answer.json()["TotalCount"], 100);
    assert_eq!(ids(&answer.json()).len(), 100);
}

#[tokio::test]
async fn an_allocation_is_visible_in_both_describe_calls() {
    let harness = start_default().await;
    let answer = harness
        .call(
            "AllocatePublicIpAddress",
            &[("InstanceId", "i-emuclassic01"), ("VlanId", "100")],
        )
        .await;
    assert_eq!(answer.json()["IpAddress"], "47.100.0.11");
    let answer = harness
        .v1(
            "POST",
            &v1_params(
                "DescribeInstances",
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("InstanceIds", r#"["i-emuclassic01"]"#),
                ],
            ),
        )
        .await;
    assert_eq!(
        answer.json()["Instances"]["Instance"][0]["PublicIpAddress"]["IpAddress"],
        json!(["47.100.0.11"])
    );
    let answer = harness.describe_attribute("i-emuclassic01").await;
    assert_eq!(
        answer.json()["PublicIpAddress"]["IpAddress"],
        json!(["47.100.0.11"])
    );
    assert_eq!(
        answer.json()["InnerIpAddress"]["IpAddress"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let pools = harness.admin_get("/_admin/pools").await;
    assert_eq!(
        pools["vlans"]["100"]["free_ips"],
        json!(["47.100.0.12", "47.100.0.13", "47.100.0.14"])
    );
}

#[tokio::test]
async fn describe_instances_in_xml() {
    let harness = start_default().await;
    let mut params = v1_params(
        "DescribeInstances",
        &[
            ("RegionId", "cn-hangzhou"),
            ("InstanceIds", r#"["i-emuhasip001","i-emuready001"]"#),
        ],
    );
    super::set(&mut params, "Format", "XML");
    let answer = harness.v1("POST", &params).await;
    assert_eq!(answer.content_type(), "text/xml;charset=utf-8");
    let body = &answer.body;
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstancesResponse>")
    );
    assert_eq!(body.matches("<Instance><").count(), 2, "{body}");
    assert!(body.contains("<PublicIpAddress><IpAddress>47.96.0.10</IpAddress></PublicIpAddress>"));
    assert!(body.contains("<TotalCount>2</TotalCount>"));
    assert!(body.ends_with("</DescribeInstancesResponse>"));
}

#[tokio::test]
async fn a_new_public_ip_shows_only_after_the_describe_lag() {
    let harness = start_default().await;
    harness
        .admin_put_faults(json!({"describe_lag_ms": 400}))
        .await;
    let allocated = harness.allocate("i-emuready001").await;
    assert_eq!(allocated.status, 200, "{}", allocated.body);
    let ip = allocated.json()["IpAddress"].clone();
    let attribute = || {
        v1_params(
            "DescribeInstanceAttribute",
            &[("InstanceId", "i-emuready001")],
        )
    };
    let list = || {
        v1_params(
            "DescribeInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceIds", r#"["i-emuready001"]"#),
            ],
        )
    };
    let early = harness.v1("POST", &attribute()).await.json();
    assert_eq!(early["PublicIpAddress"]["IpAddress"], json!([]), "{early}");
    let early = harness.v1("POST", &list()).await.json();
    assert_eq!(
        early["Instances"]["Instance"][0]["PublicIpAddress"]["IpAddress"],
        json!([])
    );
    // The emulator holds it all along: a repeat is refused.
    let again = harness.allocate("i-emuready001").await;
    assert_eq!(again.code(), "AllocatedAlready");
    // Bounded poll: visible once the lag has passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = harness.v1("POST", &attribute()).await.json();
        if now["PublicIpAddress"]["IpAddress"] == json!([ip.clone()]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never visible: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let late = harness.v1("POST", &list()).await.json();
    assert_eq!(
        late["Instances"]["Instance"][0]["PublicIpAddress"]["IpAddress"],
        json!([ip])
    );
}

#[tokio::test]
async fn describe_instance_attribute_fields() {
    let harness: Harness = start_default().await;
    let answer = harness.describe_attribute("i-emuvpceip01").await;
    let body = answer.json();
    assert_eq!(body["InstanceId"], "i-emuvpceip01");
    assert_eq!(body["RegionId"], "cn-hangzhou");
    assert_eq!(body["ZoneId"], "cn-hangzhou-h");
    assert_eq!(body["Status"], "Running");
    assert_eq!(body["InstanceNetworkType"], "vpc");
    assert_eq!(body["InternetMaxBandwidthOut"], 5);
    assert_eq!(body["EipAddress"]["IpAddress"], "121.40.10.1");
    assert_eq!(body["EipAddress"]["AllocationId"], "eip-emu00000001");
    assert_eq!(body["PublicIpAddress"]["IpAddress"], json!([]));
    assert_eq!(body["OperationLocks"]["LockReason"], json!([]));
    assert!(
        body["VpcAttributes"]["VpcId"]
            .as_str()
            .unwrap()
            .starts_with("vpc-")
    );
    let answer = harness.describe_attribute("i-emulockfin01").await;
    assert_eq!(
        answer.json()["OperationLocks"]["LockReason"][0]["LockReason"],
        "financial"
    );
    let answer = harness.describe_attribute("i-nope").await;
    assert_error(&answer, 404, "InvalidInstanceId.NotFound");
    let answer = harness.call("DescribeInstanceAttribute", &[]).await;
    assert_error(&answer, 400, "MissingParameter");
}
