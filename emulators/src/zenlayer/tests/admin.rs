//! The admin routes: creation delay, EIPs, counters; only POST on the API
//! path.

use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn admin_routes() {
    let h = harness(Duration::from_secs(2)).await;
    assert_eq!(
        h.admin_get("/_admin/creation-delay").await,
        json!({"ms": 2000})
    );
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": 0}))
            .await,
        200
    );
    assert_eq!(h.emulator.creation_delay(), Duration::ZERO);
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": "soon"}))
            .await,
        422
    );
    assert_eq!(
        h.admin_put("/_admin/creation-delay", json!({"ms": u64::MAX}))
            .await,
        200
    );
    assert_eq!(h.emulator.creation_delay(), MAX_CREATION_DELAY);
    let ids = h
        .allocate(json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}))
        .await;
    let eips = h.admin_get("/_admin/eips").await;
    assert_eq!(eips[0]["eipId"], ids[0].as_str());
    assert_eq!(eips[0]["eipStatus"], "CREATING");
    assert_eq!(eips[0]["ipAddress"], Value::Null);

    // Admin requests are not counted; API requests are.
    let counters = h.admin_get("/_admin/counters").await;
    assert_eq!(counters["requests"], 1);
    assert_eq!(counters["allocations"], 1);
    let reset = h
        .http
        .post(format!("{}/_admin/counters/reset", h.running.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(h.counters().await, CounterSnapshot::default());

    // Only POST on the API path.
    let get = h.http.get(h.url()).send().await.unwrap();
    assert_eq!(get.status(), 405);
}
