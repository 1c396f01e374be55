//! `DescribeEipAddresses`: the answer's shape, every filter, paging, a
//! full zone, and the eventual consistency of `describe_lag_ms`.

use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn describe_shape_matches_the_docs() {
    let h = harness(Duration::ZERO).await;
    let post = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "tags": {"tags": [{"key": "env", "value": "test"}]}}))
        .await;
    let pre = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1}}))
        .await;
    let response = h.ok(DESCRIBE, json!({"eipIds": [post[0]]})).await;
    assert_eq!(response["totalCount"], 1);
    let eip = &response["dataSet"][0];
    let mut keys: Vec<&str> = eip
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createTime",
            "eipChargeType",
            "eipId",
            "eipStatus",
            "expiredTime",
            "instanceId",
            "instanceName",
            "ipAddress",
            "netmask",
            "period",
            "resourceGroupId",
            "resourceGroupName",
            "tags",
            "zoneId"
        ]
    );
    assert_eq!(eip["eipChargeType"], "POSTPAID");
    assert_eq!(eip["period"], Value::Null);
    assert_eq!(eip["expiredTime"], Value::Null);
    assert_eq!(eip["eipStatus"], "AVAILABLE");
    assert_eq!(eip["netmask"], 32);
    assert_eq!(
        eip["tags"],
        json!({"tags": [{"key": "env", "value": "test"}]})
    );
    let created = eip["createTime"].as_str().unwrap();
    assert!(
        time::PrimitiveDateTime::parse(
            created.trim_end_matches('Z'),
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]")
        )
        .is_ok()
            && created.ends_with('Z')
            && created.len() == 20,
        "{created}"
    );
    // (It decoding with the gateway's own wire type: tests/provider_zenlayer.rs.)

    let response = h.ok(DESCRIBE, json!({"eipIds": [pre[0]]})).await;
    let eip = &response["dataSet"][0];
    assert_eq!(eip["period"], 1);
    assert!(eip["expiredTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(eip["tags"], json!({"tags": []}));
}

#[tokio::test]
async fn describe_filters() {
    let h = harness(Duration::ZERO).await;
    let sel = h
        .allocate(
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2,
            "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]}}),
        )
        .await;
    let hkg = h
        .allocate(json!({"zoneId": "HKG-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1},
            "resourceGroupId": "rg-sandbox-team-a", "tags": {"tags": [{"key": "env", "value": "dev"}]}}))
        .await;
    let sin = h
        .allocate(json!({"zoneId": "SIN-A", "eipChargeType": "POSTPAID"}))
        .await;
    h.emulator.set_creation_delay(Duration::from_secs(3600));
    let creating = h
        .allocate(json!({"zoneId": "FRA-A", "eipChargeType": "POSTPAID"}))
        .await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let (total, all) = h.describe(json!({})).await;
    assert_eq!(total, 5);
    // Newest first.
    assert_eq!(all[0], creating[0]);
    assert_eq!(all[4..], sel[..1]);

    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            json!({"eipIds": [sel[1], hkg[0]]}),
            vec![sel[1].clone(), hkg[0].clone()],
        ),
        (json!({"eipIds": []}), vec![]),
        (json!({"eipIds": ["eip-nope"]}), vec![]),
        (json!({"zoneId": "SEL-A"}), sel.clone()),
        (json!({"zoneId": ""}), vec![]),
        (json!({"tagKeys": []}), vec![]),
        (json!({"tags": []}), vec![]),
        (json!({"zoneId": "NOPE"}), vec![]),
        (json!({"eipStatus": "CREATING"}), creating.clone()),
        (json!({"eipStatus": "CREATE_FAILED"}), sin.clone()),
        (json!({"eipStatus": "ASSOCIATED"}), vec![]),
        (json!({"eipChargeType": "PREPAID"}), hkg.clone()),
        (json!({"resourceGroupId": "rg-sandbox-team-a"}), hkg.clone()),
        (json!({"instanceId": "bm-1"}), vec![]),
        (
            json!({"tagKeys": ["env"]}),
            [sel.clone(), hkg.clone()].concat(),
        ),
        (json!({"tagKeys": ["env", "team"]}), sel.clone()),
        (
            json!({"tags": [{"key": "env", "value": "dev"}]}),
            hkg.clone(),
        ),
        (
            json!({"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]}),
            sel.clone(),
        ),
        (
            json!({"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "b"}]}),
            vec![],
        ),
        (
            json!({"zoneId": "SEL-A", "eipStatus": "AVAILABLE", "tagKeys": ["team"]}),
            sel.clone(),
        ),
    ];
    for (filter, want) in cases {
        let (total, got) = h.describe(filter.clone()).await;
        assert_eq!(total as usize, want.len(), "{filter}");
        assert_eq!(sorted(got), sorted(want), "{filter}");
    }

    let ip = h.emulator.eip(&sel[0]).unwrap().ip_address.unwrap();
    let (_, got) = h.describe(json!({"ipAddress": ip})).await;
    assert_eq!(got, [sel[0].clone()]);

    let errors: Vec<(Value, &str)> = vec![
        (
            json!({"eipIds": (0..101).map(|i| format!("eip-{i}")).collect::<Vec<_>>()}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (
            json!({"tagKeys": (0..21).map(|i| format!("k{i}")).collect::<Vec<_>>()}),
            "INVALID_PARAMETER_EXCEED_LENGTH",
        ),
        (json!({"eipIds": "eip-1"}), "INVALID_PARAMETER_TYPE"),
        (json!({"eipIds": [1]}), "INVALID_PARAMETER_TYPE"),
        (json!({"eipStatus": "RUNNING"}), "INVALID_PARAMETER_VALUE"),
        (json!({"eipChargeType": "FREE"}), "INVALID_PARAMETER_VALUE"),
        (json!({"tags": {"tags": []}}), "INVALID_PARAMETER_TYPE"),
        (json!({"tags": [{"value": "x"}]}), "MISSING_PARAMETER"),
        (
            json!({"pageSize": 1001}),
            "INVALID_PARAMETER_EXCEED_MAXIMUM",
        ),
        (json!({"pageSize": 0}), "INVALID_PARAMETER_LESS_MINIMUM"),
        (json!({"pageNum": 0}), "INVALID_PARAMETER_LESS_MINIMUM"),
        (json!({"pageNum": "1"}), "INVALID_PARAMETER_TYPE"),
    ];
    for (body, code) in errors {
        h.fails(DESCRIBE, body, 400, code).await;
    }
    // 100 ids is the limit, not an error.
    let (total, _) = h
        .describe(json!({"eipIds": (0..100).map(|i| format!("eip-{i}")).collect::<Vec<_>>()}))
        .await;
    assert_eq!(total, 0);
}

#[tokio::test]
async fn describe_pages() {
    let h = harness(Duration::ZERO).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(
            h.allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 10}))
                .await,
        );
    }
    ids.reverse(); // newest first
    let (total, page) = h.describe(json!({})).await;
    assert_eq!((total, page.len()), (30, 20));
    assert_eq!(page, ids[..20]);
    let (total, page) = h.describe(json!({"pageNum": 2})).await;
    assert_eq!((total, page.as_slice()), (30, &ids[20..]));
    let (_, page) = h.describe(json!({"pageSize": 7, "pageNum": 3})).await;
    assert_eq!(page, ids[14..21]);
    let (total, page) = h.describe(json!({"pageSize": 1000, "pageNum": 4})).await;
    assert_eq!((total, page.len()), (30, 0));
    let (total, page) = h
        .describe(json!({"pageSize": 1000, "pageNum": 9_223_372_036_854_775_807i64}))
        .await;
    assert_eq!((total, page.len()), (30, 0));
    let (_, page) = h.describe(json!({"pageSize": 1000})).await;
    assert_eq!(page, ids);
}

#[tokio::test]
async fn a_thousand_eips_fit_in_one_zone() {
    let h = harness(Duration::ZERO).await;
    for _ in 0..11 {
        h.allocate(json!({"zoneId": "HKG-A", "eipChargeType": "POSTPAID", "amount": 100}))
            .await;
    }
    let eips = h.emulator.eips();
    assert_eq!(eips.len(), 1100);
    let mut ips: Vec<String> = eips
        .iter()
        .map(|e| {
            assert_eq!(e.eip_status, EipStatus::Available);
            e.ip_address.clone().unwrap()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 1100);
    let (total, page) = h
        .describe(json!({"zoneId": "HKG-A", "pageSize": 1000}))
        .await;
    assert_eq!((total, page.len()), (1100, 1000));
}

#[tokio::test]
async fn new_eips_show_only_after_the_describe_lag() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(
        h.admin_put("/_admin/faults", json!({"describe_lag_ms": 400}))
            .await,
        200
    );
    let ids = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 2}))
        .await;
    let (total, _) = h.describe(json!({"eipIds": ids})).await;
    assert_eq!(total, 0, "not visible yet");
    assert_eq!(h.emulator.eips().len(), 2, "but they exist");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (total, got) = h.describe(json!({"eipIds": ids})).await;
        if total == 2 {
            assert_eq!(got.len(), 2);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never visible");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
