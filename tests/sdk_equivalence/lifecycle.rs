//! The cases of the lifecycle RPCs (issue 12): every provider request that
//! ReleaseAllocation, CheckAvailability and ListAllocations make, on both
//! clouds and, for Alibaba, in every signing variant.
//!
//! As in the rest of the test, each SDK request is written from what the
//! operation was asked (the ids, zones, regions and keys given to the
//! gateway, and the ids the scripted provider handed out), never from the
//! gateway's request. The Alibaba release's `ClientToken` is derived by
//! the gateway from the instance and the idempotency key; the test
//! derives it again, independently, by the documented rule
//! ([`release_client_token`]). A release without a key carries a fresh
//! UUID instead, which only the gateway knows: like the key the gateway
//! makes up for an allocation without one, it is the one value the SDK
//! side takes from the gateway's request (after checking its format).

use ipalloc_gateway::pb;
use pb::check_availability_request::Params as CheckParams;
use serde_json::{Value, json};
use sha2::Digest;

use super::{AliyunVariant, Run, action_of, aliyun_credentials, eip, exchange, zl_ok};
use crate::common::{Recorded, Reply, requests};

/// The `ClientToken` of releasing `instance` under idempotency key `key`:
/// `ipalloc-` and the first 48 hex digits of SHA-256 over
/// `ModifyInstanceNetworkSpec`, NUL, the instance id, NUL, the key (the
/// derivation `provider::aliyun::client_token` documents).
pub fn release_client_token(instance: &str, key: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"ModifyInstanceNetworkSpec\0");
    hasher.update(instance.as_bytes());
    hasher.update(b"\0");
    hasher.update(key.as_bytes());
    let digest = hex::encode(hasher.finalize());
    format!("ipalloc-{}", &digest[..48])
}

/// ReleaseAllocation on account `provider`.
fn release(provider: &str, id: &str, key: &str, purge: bool) -> pb::ReleaseAllocationRequest {
    pb::ReleaseAllocationRequest {
        provider: provider.into(),
        id: id.into(),
        idempotency_key: key.into(),
        purge,
        ..Default::default()
    }
}

/// A Zenlayer DescribeEipAddresses answer built from the request's
/// `eipIds`: every id AVAILABLE in SEL-A.
fn zl_echo_available(request: &Recorded) -> Reply {
    let body = request.body_json();
    let ids: Vec<Value> = body["eipIds"].as_array().cloned().unwrap_or_default();
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            eip(
                id.as_str().unwrap_or_default(),
                "SEL-A",
                "AVAILABLE",
                json!({}),
            )
        })
        .collect();
    zl_ok(json!({"totalCount": data.len(), "dataSet": data}))
}

/// One EIP in `status`, as DescribeEipAddresses answers for it.
fn zl_described(id: &str, status: &str) -> Reply {
    zl_ok(json!({"totalCount": 1, "dataSet": [eip(id, "SEL-A", status, json!({}))]}))
}

/// Every Zenlayer request of the lifecycle RPCs, on account `zl` (and
/// `zl-bare`, an account the gateway has allocated nothing on).
pub async fn zenlayer_cases(run: &mut Run) {
    let server = run.zenlayer.clone();

    // ReleaseAllocation: TerminateEipAddress, then the state read back.
    let (outcome, [terminate, read_back]) = exchange(
        &server,
        vec![zl_ok(json!({})), zl_described("eip-rel1", "RECYCLING")],
        ["TerminateEipAddress", "DescribeEipAddresses"],
        "release",
        run.client
            .release_allocation(release("zl", "eip-rel1", "eq-z-release", false)),
    )
    .await;
    let response = outcome.expect("release").into_inner();
    assert_eq!(
        response.allocation.as_ref().map(|a| a.state),
        Some(pb::AllocationState::Released as i32),
        "{response:?}"
    );
    run.zl_case(
        "zl-release-terminate",
        json!({"eipId": "eip-rel1"}),
        terminate,
    );
    run.zl_case(
        "zl-release-read-back",
        json!({"eipIds": ["eip-rel1"]}),
        read_back,
    );

    // The answer to TerminateEipAddress lost: the EIP read back (in the
    // recycle bin: released) before anything is sent again.
    let (outcome, [terminate, reconcile]) = exchange(
        &server,
        vec![Reply::Drop, zl_described("eip-rel3", "RECYCLING")],
        ["TerminateEipAddress", "DescribeEipAddresses"],
        "release after a lost answer",
        run.client
            .release_allocation(release("zl", "eip-rel3", "eq-z-release-lost", false)),
    )
    .await;
    let response = outcome.expect("release after a lost answer").into_inner();
    assert_eq!(
        response.allocation.as_ref().map(|a| a.state),
        Some(pb::AllocationState::Released as i32),
        "{response:?}"
    );
    run.zl_case(
        "zl-release-lost-terminate",
        json!({"eipId": "eip-rel3"}),
        terminate,
    );
    run.zl_case(
        "zl-release-lost-reconcile",
        json!({"eipIds": ["eip-rel3"]}),
        reconcile,
    );

    // With purge: terminated, read back, then deleted from the recycle bin
    // (ReleaseEipAddresses).
    let (outcome, [terminate, read_back, purge]) = exchange(
        &server,
        vec![
            zl_ok(json!({})),
            zl_described("eip-rel2", "RECYCLE"),
            zl_ok(json!({})),
        ],
        [
            "TerminateEipAddress",
            "DescribeEipAddresses",
            "ReleaseEipAddresses",
        ],
        "release with purge",
        run.client
            .release_allocation(release("zl", "eip-rel2", "eq-z-purge", true)),
    )
    .await;
    let response = outcome.expect("release with purge").into_inner();
    assert!(response.purged, "{response:?}");
    run.zl_case(
        "zl-purge-terminate",
        json!({"eipId": "eip-rel2"}),
        terminate,
    );
    run.zl_case(
        "zl-purge-read-back",
        json!({"eipIds": ["eip-rel2"]}),
        read_back,
    );
    run.zl_case("zl-purge-release", json!({"eipIds": ["eip-rel2"]}), purge);

    // CheckAvailability: one zone (POSTPAID, the default), one zone and
    // netmask, and every zone for PREPAID.
    let answer = zl_ok(json!({"eipResources": [
        {"zoneId": "SEL-A", "status": "SELL", "netmask": 32},
        {"zoneId": "SEL-A", "status": "SELL_SHORTAGE", "netmask": 30}
    ]}));
    let checks = [
        (
            "zl-available-zone",
            pb::ZenlayerAvailabilityParams {
                zone_id: "SEL-A".into(),
                ..Default::default()
            },
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}),
        ),
        // A netmask is filtered by the gateway: the API has no such field.
        (
            "zl-available-zone-netmask",
            pb::ZenlayerAvailabilityParams {
                zone_id: "SEL-A".into(),
                netmask: Some(30),
                charge_type: pb::ChargeType::Postpaid as i32,
            },
            json!({"zoneId": "SEL-A", "eipChargeType": "POSTPAID"}),
        ),
        (
            "zl-available-every-zone-prepaid",
            pb::ZenlayerAvailabilityParams {
                charge_type: pb::ChargeType::Prepaid as i32,
                ..Default::default()
            },
            json!({"eipChargeType": "PREPAID"}),
        ),
    ];
    for (case, params, sdk) in checks {
        let (outcome, [r]) = exchange(
            &server,
            vec![answer.clone()],
            ["DescribeEipAvailableResources"],
            case,
            run.client.check_availability(pb::CheckAvailabilityRequest {
                provider: "zl".into(),
                params: Some(CheckParams::Zenlayer(params)),
            }),
        )
        .await;
        let response = outcome
            .unwrap_or_else(|e| panic!("{case}: {e:?}"))
            .into_inner();
        assert!(response.available, "{case}: {response:?}");
        run.zl_case(case, sdk, r);
    }

    // ListAllocations' refresh: 105 allocations under one key prefix, read
    // back 100 ids per DescribeEipAddresses.
    let ids: Vec<String> = (0..105).map(|n| format!("eip-l{n:03}")).collect();
    for (key, chunk) in [("eq-z-list-1", &ids[..100]), ("eq-z-list-2", &ids[100..])] {
        let (outcome, [_]) = exchange(
            &server,
            vec![zl_ok(json!({"eipIdSet": chunk, "orderNumber": ""}))],
            ["AllocateEipAddresses"],
            key,
            run.allocate(super::zl_request(
                key,
                false,
                pb::ZenlayerAllocateParams {
                    amount: Some(chunk.len() as u32),
                    ..requests::postpaid("SEL-A")
                },
            )),
        )
        .await;
        outcome.unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
    let (outcome, [first, second]) = exchange(
        &server,
        vec![Reply::Echo(zl_echo_available)],
        ["DescribeEipAddresses", "DescribeEipAddresses"],
        "list refresh",
        run.client.list_allocations(pb::ListAllocationsRequest {
            provider: "zl".into(),
            idempotency_key_prefix: "eq-z-list-".into(),
            page_size: 500,
            ..Default::default()
        }),
    )
    .await;
    let listed = outcome.expect("list").into_inner();
    let listed_ids: Vec<&str> = listed
        .allocations
        .iter()
        .filter_map(|l| l.allocation.as_ref().map(|a| a.id.as_str()))
        .collect();
    assert_eq!(listed_ids, ids, "every allocation, in creation order");
    assert!(
        listed.allocations.iter().all(|l| l.refreshed && l.managed),
        "{listed:?}"
    );
    run.zl_case(
        "zl-list-refresh-100",
        json!({"eipIds": ids[..100], "pageSize": 100}),
        first,
    );
    run.zl_case(
        "zl-list-refresh-rest",
        json!({"eipIds": ids[100..], "pageSize": 100}),
        second,
    );

    // include_unmanaged, on an account where the gateway made nothing:
    // first the pages of its own allocations (empty: each scans a bounded
    // part of the inventory, which holds the other account's; nothing is
    // sent), then the account's EIPs page by page (pageNum, and pageSize
    // the caller's page size), following the page tokens.
    let unmanaged = pb::ListAllocationsRequest {
        provider: "zl-bare".into(),
        include_unmanaged: true,
        page_size: 2,
        ..Default::default()
    };
    let pages = [
        vec![
            eip("eip-u1", "SEL-A", "AVAILABLE", json!({})),
            eip("eip-u2", "HKG-A", "AVAILABLE", json!({})),
        ],
        vec![eip("eip-u3", "SEL-A", "ASSOCIATED", json!({}))],
    ];
    server.set_replies(
        pages
            .iter()
            .map(|data| zl_ok(json!({"totalCount": 3, "dataSet": data})))
            .collect(),
    );
    let mut token = String::new();
    let mut listed = Vec::new();
    let mut sent = Vec::new();
    for call in 0.. {
        assert!(call < 100, "include_unmanaged: more than 100 pages");
        let before = server.requests().len();
        let page = run
            .client
            .list_allocations(pb::ListAllocationsRequest {
                page_token: token.clone(),
                ..unmanaged.clone()
            })
            .await
            .expect("list unmanaged")
            .into_inner();
        let requests = server.requests().split_off(before);
        assert!(requests.len() <= 1, "one provider page per call");
        if requests.is_empty() {
            assert!(page.allocations.is_empty(), "none of its own: {page:?}");
        }
        sent.extend(requests);
        listed.extend(page.allocations);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let ids: Vec<&str> = listed
        .iter()
        .filter_map(|l| l.allocation.as_ref().map(|a| a.id.as_str()))
        .collect();
    assert_eq!(ids, ["eip-u1", "eip-u2", "eip-u3"], "{listed:?}");
    assert!(listed.iter().all(|l| !l.managed), "{listed:?}");
    assert_eq!(sent.len(), 2, "two provider pages");
    for (page_num, r) in (1..).zip(sent) {
        assert_eq!(action_of(&r), "DescribeEipAddresses");
        run.zl_case(
            &format!("zl-list-unmanaged-page-{page_num}"),
            json!({"pageNum": page_num, "pageSize": 2}),
            r,
        );
    }
}

/// An Alibaba instance with a static public IP, as DescribeInstances lists
/// it.
fn ali_instance(id: &str) -> Value {
    json!({
        "InstanceId": id, "RegionId": "cn-hangzhou", "ZoneId": "cn-hangzhou-h",
        "Status": "Running", "InternetMaxBandwidthOut": 5,
        "PublicIpAddress": {"IpAddress": ["47.96.0.9"]},
        "EipAddress": {"IpAddress": "", "AllocationId": ""},
        "OperationLocks": {"LockReason": []}
    })
}

/// A DescribeInstances answer built from the request's `InstanceIds`.
fn ali_echo_instances(request: &Recorded) -> Reply {
    let ids: Vec<String> = request
        .param("InstanceIds")
        .and_then(|list| serde_json::from_str(&list).ok())
        .unwrap_or_default();
    let instances: Vec<Value> = ids.iter().map(|id| ali_instance(id)).collect();
    Reply::json(
        200,
        json!({
            "RequestId": "R-EQ-4", "TotalCount": instances.len(), "PageNumber": 1,
            "PageSize": 100, "Instances": {"Instance": instances}
        }),
    )
}

fn ali_modified() -> Reply {
    Reply::json(200, json!({"RequestId": "R-EQ-3", "OrderId": ""}))
}

/// Every Alibaba request of the lifecycle RPCs for one signing variant,
/// after [`super::aliyun_cases`] allocated on i-eqplain01, i-eqvlan01,
/// i-eqrec01 (cn-hangzhou) and i-eqregion01 (cn-beijing).
pub async fn aliyun_cases(run: &mut Run, variant: &AliyunVariant) {
    let server = run.aliyun.clone();
    let p = variant.provider;
    let credentials = aliyun_credentials(variant.sts);

    // ListAllocations' refresh: DescribeInstances per region, the ids as a
    // JSON array, a page of 100.
    let before = server.requests().len();
    server.set_replies(vec![Reply::Echo(ali_echo_instances)]);
    let listed = run
        .client
        .list_allocations(pb::ListAllocationsRequest {
            provider: p.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{p} list: {e:?}"))
        .into_inner();
    assert_eq!(listed.allocations.len(), 4, "{p}: {listed:?}");
    assert!(
        listed.allocations.iter().all(|l| l.refreshed),
        "{p}: {listed:?}"
    );
    let refreshes = Run::new_requests(&server, before, &["DescribeInstances"; 2], "list refresh");
    for r in refreshes {
        // Which of the two regions this call is for (the order of the
        // regions is not the point).
        let region = if r.param("RegionId").as_deref() == Some("cn-beijing") {
            "cn-beijing"
        } else {
            "cn-hangzhou"
        };
        let ids: &[&str] = if region == "cn-beijing" {
            &["i-eqregion01"]
        } else {
            &["i-eqplain01", "i-eqvlan01", "i-eqrec01"]
        };
        let list = serde_json::to_string(ids).unwrap();
        let mut sdk = json!({"InstanceIds": list, "PageSize": 100});
        if variant.sdk == super::Sdk::AliyunV3 {
            // The V3 SDK sends only what is set; DescribeInstances needs
            // its region. The V1 SDK adds the client's region itself.
            sdk["RegionId"] = json!(region);
        }
        run.push(
            &format!("{p}-list-refresh-{region}"),
            variant.sdk,
            sdk,
            credentials.clone(),
            region,
            r,
        );
    }

    // CheckAvailability: DescribeInstanceAttribute, in the default region
    // and in another one.
    for (name, region_id, region) in [
        ("check", "", "cn-hangzhou"),
        ("check-region", "cn-shanghai", "cn-shanghai"),
    ] {
        let (outcome, [r]) = exchange(
            &server,
            vec![super::ali_described("i-eqcheck01")],
            ["DescribeInstanceAttribute"],
            name,
            run.client.check_availability(pb::CheckAvailabilityRequest {
                provider: p.into(),
                params: Some(CheckParams::Aliyun(pb::AliyunAvailabilityParams {
                    instance_id: "i-eqcheck01".into(),
                    region_id: region_id.into(),
                })),
            }),
        )
        .await;
        let response = outcome
            .unwrap_or_else(|e| panic!("{p} {name}: {e:?}"))
            .into_inner();
        assert!(!response.conditions.is_empty(), "{p} {name}: {response:?}");
        run.push(
            &format!("{p}-{name}"),
            variant.sdk,
            json!({"InstanceId": "i-eqcheck01"}),
            credentials.clone(),
            region,
            r,
        );
    }

    // ReleaseAllocation: the instance read first, then its public
    // bandwidth set to 0 with a ClientToken.
    for (name, instance, region_id, region) in [
        ("release", "i-eqplain01", "", "cn-hangzhou"),
        ("release-region", "i-eqregion01", "cn-beijing", "cn-beijing"),
    ] {
        let key = format!("eq-{p}-{name}");
        let request = pb::ReleaseAllocationRequest {
            region_id: region_id.into(),
            ..release(p, instance, &key, false)
        };
        let (outcome, [describe, modify]) = exchange(
            &server,
            vec![super::ali_described(instance), ali_modified()],
            ["DescribeInstanceAttribute", "ModifyInstanceNetworkSpec"],
            name,
            run.client.release_allocation(request),
        )
        .await;
        let response = outcome
            .unwrap_or_else(|e| panic!("{p} {name}: {e:?}"))
            .into_inner();
        assert_eq!(
            response.allocation.as_ref().map(|a| a.state),
            Some(pb::AllocationState::Released as i32),
            "{p} {name}: {response:?}"
        );
        run.push(
            &format!("{p}-{name}-describe"),
            variant.sdk,
            json!({"InstanceId": instance}),
            credentials.clone(),
            region,
            describe,
        );
        run.push(
            &format!("{p}-{name}-modify"),
            variant.sdk,
            json!({
                "InstanceId": instance, "InternetMaxBandwidthOut": 0,
                "ClientToken": release_client_token(instance, &key)
            }),
            credentials.clone(),
            region,
            modify,
        );
    }

    // Without an idempotency key: the ClientToken is a fresh UUID, as an
    // SDK user fills it; only the gateway knows its value, so the SDK side
    // takes it from the gateway's request once its format is checked.
    let instance = "i-eqvlan01";
    let (outcome, [describe, modify]) = exchange(
        &server,
        vec![super::ali_described(instance), ali_modified()],
        ["DescribeInstanceAttribute", "ModifyInstanceNetworkSpec"],
        "release without a key",
        run.client
            .release_allocation(release(p, instance, "", false)),
    )
    .await;
    outcome.unwrap_or_else(|e| panic!("{p} release without a key: {e:?}"));
    let token = modify.param("ClientToken").unwrap_or_default();
    assert_eq!(
        uuid::Uuid::parse_str(&token).map(|u| u.get_version_num()),
        Ok(4),
        "{p}: a keyless release's ClientToken is a UUID v4: {token:?}"
    );
    run.push(
        &format!("{p}-release-keyless-describe"),
        variant.sdk,
        json!({"InstanceId": instance}),
        credentials.clone(),
        "cn-hangzhou",
        describe,
    );
    run.push(
        &format!("{p}-release-keyless-modify"),
        variant.sdk,
        json!({"InstanceId": instance, "InternetMaxBandwidthOut": 0, "ClientToken": token}),
        credentials,
        "cn-hangzhou",
        modify,
    );
}
