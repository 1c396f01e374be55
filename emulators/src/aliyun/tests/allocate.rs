//! Every row of the seeded inventory (README's table), in order, as raw V1
//! requests to one fresh emulator: each answers as its row says, and
//! together they reach every error row of the API page word for word.

use std::collections::BTreeSet;

use super::super::errors::API_PAGE;
use super::super::{Outcome, SEEDED};
use super::*;

#[tokio::test]
async fn every_seeded_row_and_every_api_page_error() {
    let harness = start_default().await;
    let mut seen = BTreeSet::new();
    for row in SEEDED {
        let mut extra = row.params.to_vec();
        if !row.instance_id.is_empty() {
            extra.push(("InstanceId", row.instance_id));
        }
        let params = v1_params("AllocatePublicIpAddress", &extra);
        let answer = harness.v1("POST", &params).await;
        let context = format!("{} {:?}", row.label, row.params);
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
            Outcome::Error { http, code } => {
                assert_error(&answer, http, code);
                let message = answer.json()["Message"].as_str().unwrap().to_owned();
                seen.insert((http, code.to_owned(), message));
            }
        }
    }
    for (status, code, message) in API_PAGE {
        assert!(
            seen.contains(&(*status, (*code).to_owned(), (*message).to_owned())),
            "no seeded row produces {status} {code} {message:?}"
        );
    }
    let allocated = SEEDED
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Allocated { .. }))
        .count();
    assert_eq!(harness.counters().await["allocate_calls"], allocated as u64);
}
