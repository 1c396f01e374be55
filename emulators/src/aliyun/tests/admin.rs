//! The admin routes: listing instances, adding and replacing them (then
//! using them through the API), removing them, and the pools.

use serde_json::json;

use reqwest::Method;

use super::start_default;

const POST: Method = Method::POST;
use crate::aliyun::admin::PoolsView;

#[tokio::test]
async fn instances_can_be_listed_added_replaced_and_removed() {
    let harness = start_default().await;
    let all = harness.admin_get("/_admin/instances").await;
    assert_eq!(all.as_array().unwrap().len(), 2055);
    let one = harness.admin_get("/_admin/instances/i-emulocksec01").await;
    assert_eq!(one["locks"], json!(["security"]));
    assert_eq!(one["status"], "Running");
    assert_eq!(one["network"], "vpc");

    let url = format!("{}/_admin/instances", harness.base());
    // Added with defaults.
    let answer = harness
        .admin_send(
            POST,
            "/_admin/instances",
            &json!({"instance_id": "i-mytest01"}),
        )
        .await;
    assert_eq!(answer.status, 201);
    let stored = answer.json();
    assert_eq!(stored["zone_id"], "cn-hangzhou-h");
    assert_eq!(stored["internet_max_bandwidth_out"], 5);
    let answer = harness.allocate("i-mytest01").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ip = answer.json()["IpAddress"].as_str().unwrap().to_owned();

    // Replaced: now Stopping, and its address returns to the pool.
    let response = harness
        .admin_send(
            POST,
            "/_admin/instances",
            &json!({"instance_id": "i-mytest01", "status": "Stopping"}),
        )
        .await;
    assert_eq!(response.status, 200);
    let answer = harness.allocate("i-mytest01").await;
    assert_eq!(answer.code(), "IncorrectInstanceStatus");
    let pools: PoolsView =
        serde_json::from_value(harness.admin_get("/_admin/pools").await).unwrap();
    assert!(
        pools.zones["cn-hangzhou-h"]
            .free_ips
            .contains(&ip.parse().unwrap())
    );

    // A designated failure.
    let response = harness
        .admin_send(
            POST,
            "/_admin/instances",
            &json!({"instance_id": "i-mytest02", "forced_error": "NAT_PUBLIC_IP_ALLOCATE_FAILED"}),
        )
        .await;
    assert_eq!(response.status, 201);
    let answer = harness.allocate("i-mytest02").await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (403, "NAT_PUBLIC_IP_ALLOCATE_FAILED")
    );

    // Refused: an address another instance holds, a bad id, unknown fields.
    for (body, status) in [
        (
            json!({"instance_id": "i-mytest03", "public_ip": "47.96.0.10"}),
            409,
        ),
        (json!({"instance_id": "bad id"}), 400),
        (json!({"instance_id": "i-x", "colour": "red"}), 422),
        (json!({"instance_id": "i-x", "public_ip": "not-an-ip"}), 422),
    ] {
        let response = harness.admin_send(POST, "/_admin/instances", &body).await;
        assert_eq!(response.status, status, "{body}");
    }

    // Removed, then gone.
    for (method, status) in [
        (reqwest::Method::DELETE, 200),
        (reqwest::Method::DELETE, 404),
        (reqwest::Method::GET, 404),
    ] {
        let response = harness
            .http
            .request(method.clone(), format!("{url}/i-mytest02"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method}");
    }
    assert!(harness.emulator.instance("i-mytest02").is_none());
    assert!(harness.emulator.instance("i-mytest01").is_some());
    // Admin requests are not API requests.
    assert_eq!(harness.counters().await["requests"], 3);
}

#[tokio::test]
async fn pools_can_be_extended() {
    let harness = start_default().await;
    let response = harness
        .admin_send(
            POST,
            "/_admin/pools",
            &json!({"vlan_id": "300", "ips": ["47.100.3.1"]}),
        )
        .await;
    assert_eq!(response.status, 200);
    let pools: PoolsView = serde_json::from_str(&response.body).unwrap();
    assert_eq!(pools.vlans["300"].free, 1);
    let answer = harness
        .call(
            "AllocatePublicIpAddress",
            &[("InstanceId", "i-emuclassic01"), ("VlanId", "300")],
        )
        .await;
    assert_eq!(answer.json()["IpAddress"], "47.100.3.1");

    let response = harness
        .admin_send(
            POST,
            "/_admin/pools",
            &json!({"zone_id": "cn-hangzhou-k", "ips": ["47.98.0.1"]}),
        )
        .await;
    assert_eq!(response.status, 200);
    let answer = harness.allocate("i-emuemptyzone1").await;
    assert_eq!(answer.json()["IpAddress"], "47.98.0.1");

    for body in [
        json!({"ips": []}),
        json!({"zone_id": "a", "vlan_id": "b"}),
        json!({"zone_id": ""}),
    ] {
        let response = harness.admin_send(POST, "/_admin/pools", &body).await;
        assert_eq!(response.status, 400, "{body}");
    }
}
