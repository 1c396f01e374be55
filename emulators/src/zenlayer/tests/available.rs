//! `DescribeEipAvailableResources`: SELL, SELL_SHORTAGE and SOLD_OUT from
//! the seeded zones, stock following allocations and terminations, and the
//! parameter errors.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

/// LAX-A's statuses now.
async fn lax(h: &Harness) -> BTreeMap<(String, u64), String> {
    statuses(
        &h.ok(
            AVAILABLE,
            json!({"eipChargeType": "POSTPAID", "zoneId": "LAX-A"}),
        )
        .await,
    )
}

/// `(zoneId, netmask) -> status` of an answer.
fn statuses(response: &Value) -> BTreeMap<(String, u64), String> {
    response["eipResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!(row.as_object().unwrap().len(), 3, "{row}");
            (
                (
                    row["zoneId"].as_str().unwrap().to_owned(),
                    row["netmask"].as_u64().unwrap(),
                ),
                row["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_status_from_the_seeded_zones() {
    let h = harness(Duration::ZERO).await;
    let all = statuses(&h.ok(AVAILABLE, json!({"eipChargeType": "POSTPAID"})).await);
    let zones: Vec<&str> = all.keys().map(|(zone, _)| zone.as_str()).collect();
    assert!(
        !zones.contains(&"TYO-A"),
        "a zone that sells no EIPs has no rows"
    );
    assert_eq!(all.len(), 6 * 5, "six zones sell, five netmasks each");
    let status = |zone: &str, netmask: u64| all[&(zone.to_owned(), netmask)].as_str();
    for netmask in 28..=32 {
        for zone in ["SEL-A", "HKG-A", "FRA-A", "SIN-A"] {
            assert_eq!(status(zone, netmask), "SELL", "{zone} /{netmask}");
        }
        assert_eq!(status("DXB-A", netmask), "SOLD_OUT");
    }
    assert_eq!(
        [32, 31, 30, 29, 28].map(|n| status("LAX-A", n)),
        [
            "SELL_SHORTAGE",
            "SELL_SHORTAGE",
            "SOLD_OUT",
            "SOLD_OUT",
            "SOLD_OUT"
        ]
    );
    // One zone, either charge type: the same stock.
    let lax = h
        .ok(
            AVAILABLE,
            json!({"eipChargeType": "PREPAID", "zoneId": "LAX-A"}),
        )
        .await;
    assert_eq!(
        lax["eipResources"][0],
        json!({"zoneId": "LAX-A", "status": "SELL_SHORTAGE", "netmask": 32})
    );
    assert_eq!(lax["eipResources"].as_array().unwrap().len(), 5);
    let tyo = h
        .ok(
            AVAILABLE,
            json!({"eipChargeType": "POSTPAID", "zoneId": "TYO-A"}),
        )
        .await;
    assert_eq!(tyo["eipResources"], json!([]));
}

#[tokio::test]
async fn stock_follows_allocations_and_terminations() {
    let h = harness(Duration::ZERO).await;
    let ids = h
        .allocate(json!({"zoneId": "LAX-A", "eipChargeType": "POSTPAID", "amount": 6}))
        .await;
    let now = lax(&h).await;
    assert_eq!(now[&("LAX-A".to_owned(), 32)], "SOLD_OUT");
    assert_eq!(now[&("LAX-A".to_owned(), 31)], "SOLD_OUT");
    // An order the pool cannot fill is accepted and ends CREATE_FAILED.
    let more = h
        .allocate(json!({"zoneId": "LAX-A", "eipChargeType": "POSTPAID"}))
        .await;
    assert_eq!(
        h.emulator.eip(&more[0]).unwrap().eip_status,
        EipStatus::CreateFailed
    );
    h.ok(TERMINATE, json!({"eipId": ids[0]})).await;
    assert_eq!(lax(&h).await[&("LAX-A".to_owned(), 32)], "SELL_SHORTAGE");
    // A large zone stays SELL after an allocation.
    h.allocate(
        json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 100, "netmask": 28}),
    )
    .await;
    let sel = h
        .ok(
            AVAILABLE,
            json!({"eipChargeType": "POSTPAID", "zoneId": "SEL-A"}),
        )
        .await;
    assert!(statuses(&sel).values().all(|s| s == "SELL"), "{sel}");
}

#[tokio::test]
async fn parameter_errors_under_both_readings() {
    let h = harness(Duration::ZERO).await;
    for (body, status, code) in [
        (json!({}), 400, "MISSING_PARAMETER"),
        (json!({"zoneId": "SEL-A"}), 400, "MISSING_PARAMETER"),
        (
            json!({"eipChargeType": "MONTHLY"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (json!({"eipChargeType": 1}), 400, "INVALID_PARAMETER_TYPE"),
        (
            json!({"eipChargeType": "POSTPAID", "zoneId": "XXX-A"}),
            404,
            "INVALID_ZONE_NOT_FOUND",
        ),
        (
            json!({"eipChargeType": "POSTPAID", "zoneId": ""}),
            404,
            "INVALID_ZONE_NOT_FOUND",
        ),
        (
            json!({"eipChargeType": "POSTPAID", "zoneId": null}),
            400,
            "INVALID_PARAMETER_TYPE",
        ),
        (
            json!({"eipChargeType": "POSTPAID", "netmask": 32}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
    ] {
        h.fails(AVAILABLE, body, status, code).await;
    }
    let lenient = harness_with(ZenlayerEmulatorConfig {
        reading: crate::ApiReading::Lenient,
        ..ZenlayerEmulatorConfig::default()
    })
    .await;
    let all = lenient
        .ok(
            AVAILABLE,
            json!({"eipChargeType": "POSTPAID", "zoneId": "", "netmask": 32}),
        )
        .await;
    assert_eq!(
        all["eipResources"].as_array().unwrap().len(),
        30,
        "\"\" is no filter"
    );
}
