//! Every row of the seeded inventory (README's tables: allocation, then the
//! two ways of giving the IP back), in order, as raw V1 requests to one
//! fresh emulator: each answers as its row says, and together they reach
//! every error row of the AllocatePublicIpAddress and
//! ReleasePublicIpAddress pages, and every ModifyInstanceNetworkSpec row the
//! emulator reproduces, word for word.

use std::collections::BTreeSet;

use super::super::errors::{API_PAGE, MODIFY_PAGE, RELEASE_PAGE};
use super::super::{Outcome, SEEDED, TABLES};
use super::*;

#[tokio::test]
async fn every_seeded_row_and_every_api_page_error() {
    let harness = start_default().await;
    let mut seen = BTreeSet::new();
    for (action, rows) in TABLES {
        for row in *rows {
            let mut extra = row.params.to_vec();
            if !row.instance_id.is_empty() {
                extra.push(("InstanceId", row.instance_id));
            }
            let answer = harness.call(action, &extra).await;
            let context = format!("{action} {} {:?}", row.label, row.params);
            match row.outcome {
                Outcome::Allocated { ip } => {
                    assert_eq!(answer.status, 200, "{context}: {}", answer.body);
                    let got = answer.json()["IpAddress"].as_str().unwrap().to_owned();
                    if ip.ends_with('.') {
                        assert!(got.starts_with(ip), "{context}: {got}");
                    } else {
                        assert_eq!(got, ip, "{context}");
                    }
                }
                Outcome::Done => {
                    assert_eq!(answer.status, 200, "{context}: {}", answer.body);
                    assert!(answer.json()["RequestId"].is_string(), "{context}");
                }
                Outcome::Error { http, code } => {
                    assert_error(&answer, http, code);
                    let message = answer.json()["Message"].as_str().unwrap().to_owned();
                    seen.insert((*action, http, code.to_owned(), message));
                }
            }
        }
    }
    for (action, page) in [
        ("AllocatePublicIpAddress", API_PAGE),
        ("ReleasePublicIpAddress", RELEASE_PAGE),
        ("ModifyInstanceNetworkSpec", MODIFY_PAGE),
    ] {
        for (status, code, message) in page {
            assert!(
                seen.contains(&(action, *status, (*code).to_owned(), (*message).to_owned())),
                "no seeded row produces {action} {status} {code} {message:?}"
            );
        }
    }
    let allocated = SEEDED
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Allocated { .. }))
        .count();
    let counters = harness.counters().await;
    // The last ModifyInstanceNetworkSpec row assigns an IP too.
    assert_eq!(counters["allocate_calls"], allocated as u64 + 1);
    // ReleasePublicIpAddress once, ModifyInstanceNetworkSpec to 0 once.
    assert_eq!(
        (
            counters["release_calls"].as_u64(),
            counters["released"].as_u64()
        ),
        (Some(2), Some(2))
    );
}
