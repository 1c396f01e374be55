//! The allocation lifecycle end to end (issue 12): ReleaseAllocation,
//! ListAllocations, CheckAvailability and `AllocateIp { validate_only }`,
//! through a real tonic client, the gateway on 127.0.0.1:0 and both
//! emulators, with the emulators' state and counters as the proof of what
//! reached the provider. Written from the issue and the proto's
//! documentation; every loop and call is bounded.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeSet;
use std::time::Duration;

use common::emulators::{counters, set_faults};
use common::*;
use ipalloc_gateway::emulator::FaultConfig;
use ipalloc_gateway::emulator::aliyun::{Instance, InstanceStatus};
use ipalloc_gateway::emulator::zenlayer::EipStatus;
use ipalloc_gateway::pb;
use lifecycle::*;
use pb::AllocationState::{Pending, Ready, Released, Unspecified};
use tonic::Code;

/// The ErrorInfo domain of Zenlayer's codes.
const ZENLAYER_DOMAIN: &str = "bmc.console.zenlayer.com";

/// What Zenlayer shows for a terminated EIP (the proto: RECYCLING or
/// RECYCLE).
fn is_recycled(status: &str) -> bool {
    matches!(status, "RECYCLING" | "RECYCLE")
}

fn listing() -> pb::ListAllocationsRequest {
    pb::ListAllocationsRequest::default()
}

/// Point 1 and 2 of the tests: allocate (wait), list, release one,
/// get it RELEASED, list again; every filter, and paging one by one.
#[tokio::test]
async fn zenlayer_allocate_list_release_get_list() {
    let eg = start(Duration::from_millis(200), "").await;
    let blue = [tag("team", "blue"), tag("env", "test")];
    let red = [tag("team", "red")];
    let a = allocate(&eg, zenlayer_waited("lc-a-1", "SEL-A", 2, &blue))
        .await
        .unwrap();
    let b = allocate(&eg, zenlayer_waited("lc-b-1", "HKG-A", 1, &red))
        .await
        .unwrap();
    let c = allocate(
        &eg,
        requests::keyed(
            "lc-c-1",
            requests::aliyun("aliyun", requests::instance("i-emuready001")),
        ),
    )
    .await
    .unwrap();
    let a_ids: BTreeSet<String> = a.allocations.iter().map(|x| x.id.clone()).collect();
    let b_id = b.allocations[0].id.clone();
    let c_id = c.allocations[0].id.clone();
    assert_eq!(a_ids.len(), 2);
    assert_eq!(c_id, "i-emuready001");

    // Every allocation once, in creation order: A's two (one call), then B, then C.
    let listed = list(&eg, listing()).await.unwrap();
    assert_eq!(listed.next_page_token, "", "four fit on the default page");
    let all = ids(&listed.allocations);
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[..2].iter().cloned().collect::<BTreeSet<_>>(), a_ids);
    assert_eq!(all[2..], [b_id.clone(), c_id.clone()]);
    let mut previous = None;
    for entry in &listed.allocations {
        let allocation = allocation(entry);
        let (key, tags, kind) = if a_ids.contains(&allocation.id) {
            ("lc-a-1", &blue[..], pb::ProviderKind::Zenlayer)
        } else if allocation.id == b_id {
            ("lc-b-1", &red[..], pb::ProviderKind::Zenlayer)
        } else {
            ("lc-c-1", &[][..], pb::ProviderKind::Aliyun)
        };
        assert_eq!(allocation.state(), Ready, "{entry:?}");
        assert_eq!(allocation.provider_kind(), kind, "{entry:?}");
        assert!(!allocation.ip_address.is_empty(), "{entry:?}");
        assert!(entry.managed, "{entry:?}");
        assert_eq!(entry.idempotency_key, key, "{entry:?}");
        assert_eq!(entry.tags, tags, "{entry:?}");
        assert_eq!(entry.caller, "", "authorization is off");
        assert!(entry.refreshed, "{entry:?}");
        assert!(entry.state_time.is_some(), "{entry:?}");
        assert!(entry.release_time.is_none(), "{entry:?}");
        let created = entry.create_time.expect("create_time");
        let created = (created.seconds, created.nanos);
        assert!(previous <= Some(created), "creation order: {listed:?}");
        previous = Some(created);
    }
    // The state was refreshed from the provider: the emulator agrees.
    for entry in &listed.allocations[..3] {
        let allocation = allocation(entry);
        let at_emulator = eip(&eg, &allocation.id).unwrap();
        assert_eq!(
            at_emulator.ip_address.as_deref(),
            Some(allocation.ip_address.as_str())
        );
        assert_eq!(allocation.provider_status, "AVAILABLE");
    }

    // Release the first of A; it stays RECYCLING at the provider for a while.
    zenlayer_emulator(&eg).set_recycling_delay(Duration::from_secs(600));
    let released_id = all[0].clone();
    let kept_a = all[1].clone();
    let before = counters(&eg.zenlayer_url).await;
    let answer = release(&eg, release_of("zenlayer", &released_id))
        .await
        .unwrap();
    assert_eq!(answer.provider, "zenlayer");
    assert!(!answer.provider_request_id.is_empty(), "{answer:?}");
    assert!(!answer.already_released && !answer.purged, "{answer:?}");
    let released = answer.allocation.as_ref().expect("the allocation");
    assert_eq!(released.id, released_id);
    assert_eq!(released.state(), Released, "{answer:?}");
    assert_eq!(released.provider_status, "RECYCLING", "{answer:?}");
    assert_eq!(released.zone_id, "SEL-A");
    let after = counters(&eg.zenlayer_url).await;
    assert_eq!(after.release_calls - before.release_calls, 1, "{after:?}");
    assert_eq!(after.released - before.released, 1, "{after:?}");
    assert_eq!(
        eip(&eg, &released_id).unwrap().eip_status,
        EipStatus::Recycling
    );
    assert_eq!(eip(&eg, &kept_a).unwrap().eip_status, EipStatus::Available);

    let got = get(&eg, "zenlayer", &released_id).await.unwrap();
    assert_eq!(got.state(), Released, "{got:?}");
    assert_eq!(got.provider_status, "RECYCLING", "{got:?}");

    let again = list(&eg, listing()).await.unwrap();
    assert_eq!(
        ids(&again.allocations),
        all,
        "the same allocations, same order"
    );
    for entry in &again.allocations {
        let allocation = allocation(entry);
        if allocation.id == released_id {
            assert_eq!(allocation.state(), Released, "{entry:?}");
            assert_eq!(allocation.provider_status, "RECYCLING", "{entry:?}");
            let at = entry
                .release_time
                .expect("release_time of the released one");
            let created = entry.create_time.unwrap();
            assert!((at.seconds, at.nanos) >= (created.seconds, created.nanos));
        } else {
            assert_eq!(allocation.state(), Ready, "{entry:?}");
            assert!(entry.release_time.is_none(), "{entry:?}");
        }
        assert!(entry.refreshed, "{entry:?}");
    }

    // Filters.
    let state = |s: pb::AllocationState| pb::ListAllocationsRequest {
        state: s as i32,
        ..listing()
    };
    let tagged = |tags: &[pb::Tag]| pb::ListAllocationsRequest {
        tags: tags.to_vec(),
        ..listing()
    };
    let prefixed = |prefix: &str| pb::ListAllocationsRequest {
        idempotency_key_prefix: prefix.into(),
        ..listing()
    };
    let provider = |name: &str| pb::ListAllocationsRequest {
        provider: name.into(),
        ..listing()
    };
    let cases: Vec<(&str, pb::ListAllocationsRequest, Vec<String>)> = vec![
        ("state RELEASED", state(Released), vec![released_id.clone()]),
        (
            "state READY",
            state(Ready),
            vec![kept_a.clone(), b_id.clone(), c_id.clone()],
        ),
        ("state PENDING", state(Pending), vec![]),
        ("tag team=blue", tagged(&blue[..1]), all[..2].to_vec()),
        ("both blue tags", tagged(&blue), all[..2].to_vec()),
        ("tag team=red", tagged(&red), vec![b_id.clone()]),
        (
            "tags of A and B",
            tagged(&[blue[0].clone(), red[0].clone()]),
            vec![],
        ),
        ("tag env=prod", tagged(&[tag("env", "prod")]), vec![]),
        ("prefix lc-a", prefixed("lc-a"), all[..2].to_vec()),
        ("prefix lc-b-1", prefixed("lc-b-1"), vec![b_id.clone()]),
        ("prefix lc-", prefixed("lc-"), all.clone()),
        ("prefix zz", prefixed("zz"), vec![]),
        ("provider zenlayer", provider("zenlayer"), all[..3].to_vec()),
        ("provider aliyun", provider("aliyun"), vec![c_id.clone()]),
        (
            "READY on zenlayer tagged blue",
            pb::ListAllocationsRequest {
                provider: "zenlayer".into(),
                state: Ready as i32,
                tags: blue[..1].to_vec(),
                ..listing()
            },
            vec![kept_a.clone()],
        ),
    ];
    for (name, request, want) in cases {
        let got = list_all(&eg, request).await;
        assert_eq!(ids(&got), want, "{name}");
    }

    // Paging one by one: every allocation once, in the same order, the last
    // page's token empty.
    let one_by_one = pages(
        &eg,
        pb::ListAllocationsRequest {
            page_size: 1,
            ..listing()
        },
        20,
    )
    .await;
    let mut seen = Vec::new();
    for (n, page) in one_by_one.iter().enumerate() {
        assert!(page.allocations.len() <= 1, "page {n}: {page:?}");
        seen.extend(ids(&page.allocations));
    }
    assert_eq!(seen, all);
    assert_eq!(one_by_one.last().unwrap().next_page_token, "");
    assert!(one_by_one.len() >= 4, "{one_by_one:?}");
}

/// Releasing twice, while the EIP is RECYCLING and once it is RECYCLE
/// (a second Terminate would be refused as recycled): the second call
/// answers OK with already_released, and the emulator saw one
/// TerminateEipAddress.
#[tokio::test]
async fn release_twice_terminates_once() {
    let eg = start(Duration::from_millis(200), "").await;
    // (recycling delay, the status the second release finds)
    let cases = [
        (Duration::from_secs(600), EipStatus::Recycling),
        (Duration::ZERO, EipStatus::Recycle),
    ];
    for (n, (recycling_delay, between)) in cases.into_iter().enumerate() {
        zenlayer_emulator(&eg).set_recycling_delay(recycling_delay);
        let key = format!("twice-{n}");
        let response = allocate(&eg, zenlayer_waited(&key, "SEL-A", 1, &[]))
            .await
            .unwrap();
        let id = response.allocations[0].id.clone();
        assert_eq!(response.allocations[0].state(), Ready);
        let before = counters(&eg.zenlayer_url).await;

        let first = release(&eg, release_of("zenlayer", &id)).await.unwrap();
        assert!(!first.already_released, "{between:?}: {first:?}");
        assert!(!first.provider_request_id.is_empty(), "{first:?}");
        assert_eq!(eip(&eg, &id).unwrap().eip_status, between);
        let second = release(&eg, release_of("zenlayer", &id)).await.unwrap();
        assert!(second.already_released, "{between:?}: {second:?}");
        assert_eq!(
            second.provider_request_id, "",
            "nothing had to be sent: {second:?}"
        );
        for answer in [&first, &second] {
            let allocation = answer.allocation.as_ref().unwrap();
            assert_eq!(allocation.id, id);
            assert_eq!(allocation.state(), Released, "{between:?}: {answer:?}");
            assert!(is_recycled(&allocation.provider_status), "{answer:?}");
            assert_eq!(answer.provider, "zenlayer");
        }
        assert_eq!(
            second.allocation.as_ref().unwrap().provider_status,
            between.as_str(),
            "{second:?}"
        );
        let after = counters(&eg.zenlayer_url).await;
        assert_eq!(
            (
                after.release_calls - before.release_calls,
                after.released - before.released
            ),
            (1, 1),
            "{between:?}: {after:?}"
        );
    }
}

/// The answer of TerminateEipAddress is lost (the emulator terminates, then
/// drops the connection): the gateway reads the EIP back and answers OK
/// RELEASED, or answers that the outcome is unknown and a retry with the
/// same key answers OK. Either way one terminate at the emulator.
#[tokio::test]
async fn release_after_a_dropped_answer_is_reconciled() {
    let eg = start(Duration::from_millis(200), "").await;
    let response = allocate(&eg, zenlayer_waited("drop-alloc-1", "SEL-A", 1, &[]))
        .await
        .unwrap();
    let id = response.allocations[0].id.clone();

    set_faults(
        &eg.zenlayer_url,
        &FaultConfig {
            drop_after_release_probability: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    let request = release_keyed("drop-release-1", release_of("zenlayer", &id));
    let first = release(&eg, request.clone()).await;
    set_faults(&eg.zenlayer_url, &FaultConfig::default()).await;
    let answer = match first {
        Ok(answer) => answer,
        Err(status) => {
            assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
            let (reason, _, metadata) = error_info(&status);
            assert_eq!(reason, "PROVIDER_OUTCOME_UNKNOWN", "{status:?}");
            assert_eq!(metadata["idempotencyKey"], "drop-release-1");
            release(&eg, request)
                .await
                .expect("the retry with the key answers OK")
        }
    };
    let allocation = answer.allocation.as_ref().unwrap();
    assert_eq!(allocation.id, id);
    assert_eq!(allocation.state(), Released, "{answer:?}");
    assert!(is_recycled(&allocation.provider_status), "{answer:?}");

    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!(seen.dropped, 1, "the answer was dropped: {seen:?}");
    assert_eq!(
        (seen.release_calls, seen.released),
        (1, 1),
        "one terminate: {seen:?}"
    );
    assert_eq!(eip(&eg, &id).unwrap().eip_status, EipStatus::Recycle);
    let got = get(&eg, "zenlayer", &id).await.unwrap();
    assert_eq!(got.state(), Released, "{got:?}");
}

/// A PREPAID EIP cannot be terminated, nor one still CREATING: the
/// provider's refusal, FAILED_PRECONDITION with its mapped reason and code;
/// nothing is released.
#[tokio::test]
async fn prepaid_and_creating_eips_are_refused() {
    let eg = start(Duration::from_millis(200), "").await;
    let prepaid = pb::AllocateIpRequest {
        wait: true,
        ..requests::zenlayer(
            "zenlayer",
            pb::ZenlayerAllocateParams {
                zone_id: "SEL-A".into(),
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: Some(1),
                ..Default::default()
            },
        )
    };
    let prepaid = allocate(&eg, prepaid).await.unwrap();
    let prepaid_id = prepaid.allocations[0].id.clone();
    assert_eq!(prepaid.allocations[0].state(), Ready);

    // EIPs allocated from now on stay CREATING for a minute.
    zenlayer_emulator(&eg).set_creation_delay(Duration::from_secs(60));
    let creating = allocate(
        &eg,
        requests::zenlayer("zenlayer", requests::postpaid("SEL-A")),
    )
    .await
    .unwrap();
    let creating_id = creating.allocations[0].id.clone();
    assert_eq!(creating.allocations[0].state(), Pending);

    // (id, the provider's code, the ErrorInfo reason, status after)
    let cases = [
        (
            &prepaid_id,
            "OPERATION_DENIED_EIP_SUBSCRIPTION",
            PREPAID_REASON,
            EipStatus::Available,
        ),
        (
            &creating_id,
            "OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT",
            CREATING_REASON,
            EipStatus::Creating,
        ),
    ];
    for (id, code, reason, after) in cases {
        let status = release(&eg, release_of("zenlayer", id)).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{code}: {status:?}"
        );
        let (got_reason, domain, metadata) = error_info(&status);
        assert_eq!(got_reason, reason, "{code}: {status:?}");
        assert_eq!(domain, ZENLAYER_DOMAIN, "{code}");
        assert_eq!(metadata["providerCode"], code, "{status:?}");
        assert_eq!(
            metadata["providerAction"], "TerminateEipAddress",
            "{status:?}"
        );
        assert_eq!(eip(&eg, id).unwrap().eip_status, after, "{code}");
    }
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!((seen.release_calls, seen.released), (0, 0), "{seen:?}");
    let got = get(&eg, "zenlayer", &prepaid_id).await.unwrap();
    assert_eq!(got.state(), Ready, "still allocated: {got:?}");
}

/// The ErrorInfo reason Zenlayer's error table gives
/// OPERATION_DENIED_EIP_SUBSCRIPTION.
const PREPAID_REASON: &str = "EIP_PREPAID_NOT_RELEASABLE";
/// The ErrorInfo reason Zenlayer's error table gives
/// OPERATION_DENIED_EIP_STATUS_NOT_SUPPORT.
const CREATING_REASON: &str = "EIP_STATUS_NOT_SUPPORTED";

/// A release under an idempotency key: the same key and id answer the
/// first answer again without a second terminate; the same key with
/// another id is INVALID_ARGUMENT and releases nothing.
#[tokio::test]
async fn release_with_an_idempotency_key() {
    let eg = start(Duration::from_millis(200), "").await;
    let response = allocate(&eg, zenlayer_waited("rk-alloc-1", "SEL-A", 2, &[]))
        .await
        .unwrap();
    let first_id = response.allocations[0].id.clone();
    let other_id = response.allocations[1].id.clone();

    let request = release_keyed("rk-release-1", release_of("zenlayer", &first_id));
    let first = release(&eg, request.clone()).await.unwrap();
    let replay = release(&eg, request).await.unwrap();
    assert_eq!(replay, first, "the first call's result");
    assert!(!first.already_released, "{first:?}");
    assert_eq!(first.allocation.as_ref().unwrap().state(), Released);

    let status = release(
        &eg,
        release_keyed("rk-release-1", release_of("zenlayer", &other_id)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let (reason, _, metadata) = error_info(&status);
    assert_eq!(reason, "IDEMPOTENCY_KEY_REUSED", "{status:?}");
    assert_eq!(metadata["idempotencyKey"], "rk-release-1");
    assert_eq!(violated_fields(&status), ["idempotency_key"], "{status:?}");
    assert!(
        status
            .message()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .any(|word| word == "id"),
        "names what differs (the id): {}",
        status.message()
    );

    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!((seen.release_calls, seen.released), (1, 1), "{seen:?}");
    assert_eq!(
        eip(&eg, &other_id).unwrap().eip_status,
        EipStatus::Available
    );
}

/// `purge`: terminated, then (once RECYCLE) deleted from the recycle bin;
/// the provider no longer knows the EIP, the gateway's inventory still
/// answers RELEASED.
#[tokio::test]
async fn release_with_purge_deletes_it_from_the_recycle_bin() {
    let eg = start(Duration::from_millis(200), "").await;
    let response = allocate(&eg, zenlayer_waited("purge-1", "SEL-A", 1, &[]))
        .await
        .unwrap();
    let id = response.allocations[0].id.clone();
    // ReleaseEipAddresses refuses an EIP until it is RECYCLE: the gateway
    // waits for it, within the call's deadline.
    zenlayer_emulator(&eg).set_recycling_delay(Duration::from_millis(500));

    let answer = release(
        &eg,
        pb::ReleaseAllocationRequest {
            purge: true,
            ..release_of("zenlayer", &id)
        },
    )
    .await
    .unwrap();
    assert!(answer.purged, "{answer:?}");
    assert!(!answer.already_released, "{answer:?}");
    assert_eq!(answer.allocation.as_ref().unwrap().state(), Released);
    assert!(eip(&eg, &id).is_none(), "gone from Describe");
    assert!(
        zenlayer_emulator(&eg).eips().iter().all(|e| e.eip_id != id),
        "gone from the account"
    );
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!(
        (seen.release_calls, seen.released),
        (2, 1),
        "a terminate and a purge: {seen:?}"
    );

    let got = get(&eg, "zenlayer", &id).await.unwrap();
    assert_eq!(got.state(), Released, "from the inventory: {got:?}");
    assert_eq!(got.id, id);

    let again = release(&eg, release_of("zenlayer", &id)).await.unwrap();
    assert!(again.already_released, "{again:?}");
    assert_eq!(again.allocation.as_ref().unwrap().state(), Released);
    assert_eq!(counters(&eg.zenlayer_url).await.release_calls, 2);

    let listed = list_all(
        &eg,
        pb::ListAllocationsRequest {
            state: Released as i32,
            ..listing()
        },
    )
    .await;
    assert_eq!(ids(&listed), [id]);
    assert!(listed[0].release_time.is_some());
}

/// Alibaba: the static public IP is given back (the instance has none at
/// the emulator), GetAllocation and ListAllocations say RELEASED, and a
/// second release answers already_released without sending anything.
#[tokio::test]
async fn aliyun_release() {
    let eg = start(Duration::from_millis(200), "").await;
    let id = "i-emuready002";
    let allocated = allocate(
        &eg,
        requests::keyed(
            "ali-rel-1",
            requests::aliyun("aliyun", requests::instance(id)),
        ),
    )
    .await
    .unwrap();
    let ip = allocated.allocations[0].ip_address.clone();
    assert_eq!(
        instance(&eg, id).public_ip.map(|a| a.to_string()),
        Some(ip.clone())
    );

    let answer = release(&eg, release_of("aliyun", id)).await.unwrap();
    assert_eq!(answer.provider, "aliyun");
    assert!(!answer.already_released && !answer.purged, "{answer:?}");
    assert!(!answer.provider_request_id.is_empty(), "{answer:?}");
    let allocation = answer.allocation.as_ref().unwrap();
    assert_eq!(allocation.id, id);
    assert_eq!(allocation.state(), Released, "{answer:?}");
    assert_eq!(allocation.provider_kind(), pb::ProviderKind::Aliyun);
    let at_emulator = instance(&eg, id);
    assert_eq!(at_emulator.public_ip, None, "{at_emulator:?}");
    assert_eq!(
        at_emulator.internet_max_bandwidth_out, 0,
        "the documented way"
    );
    let seen = counters(&eg.aliyun_url).await;
    assert_eq!((seen.release_calls, seen.released), (1, 1), "{seen:?}");

    let got = get(&eg, "aliyun", id).await.unwrap();
    assert_eq!(got.state(), Released, "{got:?}");
    assert_eq!(got.id, id);

    // Someone raises the bandwidth again outside the gateway, without a
    // public IP: the allocation stays released, and a ModifyInstanceNetworkSpec
    // sent now would show (the bandwidth would drop to 0 again).
    aliyun_emulator(&eg)
        .upsert_instance(Instance {
            internet_max_bandwidth_out: 5,
            ..at_emulator
        })
        .unwrap();
    let before = counters(&eg.aliyun_url).await;
    let again = release(&eg, release_of("aliyun", id)).await.unwrap();
    assert!(again.already_released, "{again:?}");
    assert_eq!(again.provider_request_id, "", "nothing sent: {again:?}");
    assert_eq!(again.allocation.as_ref().unwrap().state(), Released);
    let after = counters(&eg.aliyun_url).await;
    assert!(
        after.requests - before.requests <= 1,
        "at most a read: {before:?} -> {after:?}"
    );
    assert_eq!(after.release_calls, before.release_calls);
    assert_eq!(
        instance(&eg, id).internet_max_bandwidth_out,
        5,
        "no change sent"
    );

    let listed = list_all(
        &eg,
        pb::ListAllocationsRequest {
            provider: "aliyun".into(),
            ..listing()
        },
    )
    .await;
    assert_eq!(ids(&listed), [id]);
    assert_eq!(allocation_state(&listed[0]), Released, "{listed:?}");
    assert_eq!(listed[0].idempotency_key, "ali-rel-1");
    assert!(listed[0].release_time.is_some(), "{listed:?}");
}

fn allocation_state(entry: &pb::ListedAllocation) -> pb::AllocationState {
    allocation(entry).state()
}

/// The /32 row a zone's availability must hold (status, provider word), or
/// `None` when it must have no rows.
type Row32 = Option<(pb::SaleStatus, &'static str)>;

/// Zenlayer CheckAvailability: a selling, a short and a sold-out zone, a
/// zone that sells nothing, the netmask filter, every zone. Nothing is
/// allocated.
#[tokio::test]
async fn check_availability_zenlayer() {
    let eg = start(Duration::from_millis(200), "").await;
    // (zone, netmask, available, the /32 row's status or None for no rows)
    #[rustfmt::skip]
    let cases: [(&str, Option<u32>, bool, Row32); 6] = [
        ("SEL-A", None, true, Some((pb::SaleStatus::Sell, "SELL"))),
        ("LAX-A", None, true, Some((pb::SaleStatus::Shortage, "SELL_SHORTAGE"))),
        ("DXB-A", None, false, Some((pb::SaleStatus::SoldOut, "SOLD_OUT"))),
        ("TYO-A", None, false, None),
        ("SEL-A", Some(32), true, Some((pb::SaleStatus::Sell, "SELL"))),
        ("LAX-A", Some(32), true, Some((pb::SaleStatus::Shortage, "SELL_SHORTAGE"))),
    ];
    for (zone, netmask, available, row32) in cases {
        let name = format!("{zone} netmask {netmask:?}");
        let answer = check(&eg, zenlayer_check(zone, netmask)).await.unwrap();
        assert_eq!(answer.provider, "zenlayer", "{name}");
        assert!(!answer.provider_request_id.is_empty(), "{name}: {answer:?}");
        assert_eq!(answer.available, available, "{name}: {answer:?}");
        assert!(answer.conditions.is_empty(), "{name}: {answer:?}");
        for row in &answer.zones {
            assert_eq!(row.zone_id, zone, "{name}: {answer:?}");
            assert!(
                netmask.is_none_or(|n| row.netmask == n),
                "{name}: {answer:?}"
            );
        }
        match row32 {
            None => assert!(answer.zones.is_empty(), "{name}: {answer:?}"),
            Some((status, word)) => {
                let row = answer
                    .zones
                    .iter()
                    .find(|z| z.netmask == 32)
                    .unwrap_or_else(|| panic!("{name}: no /32 row: {answer:?}"));
                assert_eq!(
                    (row.status(), row.provider_status.as_str()),
                    (status, word),
                    "{name}"
                );
            }
        }
        if netmask.is_some() {
            assert_eq!(answer.zones.len(), 1, "{name}: {answer:?}");
        }
    }

    // LAX-A sells /32 and /31 short, nothing larger: /30 alone is sold out.
    let answer = check(&eg, zenlayer_check("LAX-A", Some(30))).await.unwrap();
    assert!(!answer.available, "{answer:?}");
    assert_eq!(answer.zones.len(), 1, "{answer:?}");
    assert_eq!(answer.zones[0].status(), pb::SaleStatus::SoldOut);
    assert_eq!(answer.zones[0].provider_status, "SOLD_OUT");

    // Every zone: those that sell EIPs, not TYO-A.
    let answer = check(&eg, zenlayer_check("", None)).await.unwrap();
    assert!(answer.available, "{answer:?}");
    let zones: BTreeSet<&str> = answer.zones.iter().map(|z| z.zone_id.as_str()).collect();
    for zone in ["SEL-A", "HKG-A", "FRA-A", "LAX-A", "DXB-A"] {
        assert!(zones.contains(zone), "{zone}: {answer:?}");
    }
    assert!(!zones.contains("TYO-A"), "{answer:?}");

    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!((seen.allocate_calls, seen.allocations), (0, 0), "{seen:?}");
}

/// The conditions CheckAvailability reports for an Alibaba instance.
const CONDITIONS: [&str; 6] = [
    "instance_status",
    "security_lock",
    "financial_lock",
    "public_bandwidth",
    "no_eip",
    "no_public_ip",
];

/// Alibaba CheckAvailability: a good instance satisfies every condition;
/// each seeded instance that fails one is reported with the code
/// AllocatePublicIpAddress answers it, and the gateway's reason and code.
#[tokio::test]
async fn check_availability_aliyun() {
    let eg = start(Duration::from_millis(200), "").await;
    let good = check(&eg, aliyun_check("i-emuready004")).await.unwrap();
    assert!(good.available, "{good:?}");
    assert_eq!(good.provider, "aliyun");
    assert!(!good.provider_request_id.is_empty(), "{good:?}");
    assert!(good.zones.is_empty(), "{good:?}");
    let names: BTreeSet<&str> = good.conditions.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CONDITIONS.into_iter().collect(), "{good:?}");
    for condition in &good.conditions {
        assert!(condition.satisfied, "{condition:?}");
        assert!(!condition.description.is_empty(), "{condition:?}");
        assert_eq!(condition.error_code, "", "{condition:?}");
    }

    // (instance, the failing condition, AllocatePublicIpAddress's code, reason, gRPC code, observed)
    #[rustfmt::skip]
    let cases = [
        ("i-emustarting01", "instance_status", "IncorrectInstanceStatus", "INSTANCE_STATUS_INCORRECT", "FAILED_PRECONDITION", "Starting"),
        ("i-emulocksec01", "security_lock", "InstanceLockedForSecurity", "INSTANCE_LOCKED_FOR_SECURITY", "FAILED_PRECONDITION", "security"),
        ("i-emulockfin01", "financial_lock", "InstanceExpiredOrInArrears", "INSTANCE_EXPIRED_OR_IN_ARREARS", "FAILED_PRECONDITION", "financial"),
        ("i-emubwzero01", "public_bandwidth", "AllocateIpInvalidInstanceBandwidth", "INSTANCE_BANDWIDTH_ZERO", "FAILED_PRECONDITION", "0"),
        ("i-emuvpceip01", "no_eip", "OperationDenied", "INSTANCE_IN_VPC", "FAILED_PRECONDITION", "121.40.10.1"),
        ("i-emuhasip001", "no_public_ip", "AllocatedAlready", "PUBLIC_IP_ALREADY_ALLOCATED", "ALREADY_EXISTS", "47.96.0.10"),
    ];
    for (id, failing, code, reason, grpc_code, observed) in cases {
        let answer = check(&eg, aliyun_check(id)).await.unwrap();
        assert!(!answer.available, "{id}: {answer:?}");
        let names: BTreeSet<&str> = answer.conditions.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, CONDITIONS.into_iter().collect(), "{id}: {answer:?}");
        for condition in &answer.conditions {
            if condition.name == failing {
                assert!(!condition.satisfied, "{id}: {condition:?}");
                assert_eq!(condition.error_code, code, "{id}: {condition:?}");
                assert_eq!(condition.reason, reason, "{id}: {condition:?}");
                assert_eq!(condition.grpc_code, grpc_code, "{id}: {condition:?}");
                assert!(condition.observed.contains(observed), "{id}: {condition:?}");
            } else {
                assert!(
                    condition.satisfied,
                    "{id}: only {failing} fails: {condition:?}"
                );
            }
        }
    }
    let seen = counters(&eg.aliyun_url).await;
    assert_eq!((seen.allocate_calls, seen.allocations), (0, 0), "{seen:?}");

    // The real AllocateIp on each of them: refused with exactly the code,
    // reason and gRPC code its condition announced.
    for (id, _, code, reason, grpc_code, _) in cases {
        let status = allocate(&eg, requests::aliyun("aliyun", requests::instance(id)))
            .await
            .unwrap_err();
        let (got_reason, _, metadata) = error_info(&status);
        assert_eq!(
            (code_name(status.code()), got_reason.as_str()),
            (grpc_code, reason),
            "{id}: {status:?}"
        );
        assert_eq!(metadata["providerCode"], code, "{id}: {status:?}");
    }
    let seen = counters(&eg.aliyun_url).await;
    assert_eq!((seen.allocate_calls, seen.allocations), (0, 0), "{seen:?}");
}

/// The google.rpc.Code name of `code`, as AvailabilityCondition.grpc_code
/// spells it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        other => panic!("a code these tests do not expect: {other:?}"),
    }
}

/// `validate_only`: valid requests answer what would be allocated with the
/// availability, nothing is allocated, and the key still allocates later;
/// an invalid request is INVALID_ARGUMENT; a request the provider would
/// refuse gets the refusal's status. Zero allocations at the emulators
/// until the real calls.
#[tokio::test]
async fn validate_only_allocates_nothing() {
    let eg = start(Duration::from_millis(200), "").await;
    let validate = |request: pb::AllocateIpRequest| pb::AllocateIpRequest {
        validate_only: true,
        ..request
    };

    // Zenlayer: two EIPs in SEL-A.
    let zenlayer = zenlayer_waited("vo-z-1", "SEL-A", 2, &[tag("team", "blue")]);
    let answer = allocate(&eg, validate(zenlayer.clone())).await.unwrap();
    assert!(answer.validated_only, "{answer:?}");
    assert_eq!(answer.provider, "zenlayer");
    let availability = answer.availability.as_ref().expect("availability");
    assert!(availability.available, "{answer:?}");
    assert!(
        availability.zones.iter().any(|z| z.zone_id == "SEL-A"),
        "{answer:?}"
    );
    assert_eq!(answer.allocations.len(), 2, "{answer:?}");
    for allocation in &answer.allocations {
        assert_eq!(allocation.id, "", "{allocation:?}");
        assert_eq!(allocation.ip_address, "", "{allocation:?}");
        assert_eq!(allocation.state(), Unspecified, "{allocation:?}");
        assert_eq!(allocation.zone_id, "SEL-A", "{allocation:?}");
        assert_eq!(allocation.netmask, 32, "{allocation:?}");
    }

    // Alibaba: a good instance.
    let aliyun = requests::keyed(
        "vo-a-1",
        requests::aliyun("aliyun", requests::instance("i-emuready005")),
    );
    let answer = allocate(&eg, validate(aliyun.clone())).await.unwrap();
    assert!(answer.validated_only, "{answer:?}");
    assert_eq!(answer.provider, "aliyun");
    let availability = answer.availability.as_ref().expect("availability");
    assert!(availability.available, "{answer:?}");
    assert!(
        availability.conditions.iter().all(|c| c.satisfied),
        "{answer:?}"
    );
    assert_eq!(answer.allocations.len(), 1, "{answer:?}");
    assert_eq!(answer.allocations[0].id, "i-emuready005");
    assert_eq!(answer.allocations[0].ip_address, "");
    assert_eq!(answer.allocations[0].state(), Unspecified);
    assert_eq!(instance(&eg, "i-emuready005").public_ip, None);

    // Invalid: every bad field named.
    let invalid = validate(requests::zenlayer(
        "zenlayer",
        pb::ZenlayerAllocateParams {
            amount: Some(101),
            netmask: Some(33),
            ..requests::postpaid("SEL-A")
        },
    ));
    let status = allocate(&eg, invalid).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        ["zenlayer.amount", "zenlayer.netmask"],
        "{status:?}"
    );

    // Refused by the provider, as the real call would be. A Stopped
    // instance with no public bandwidth:
    aliyun_emulator(&eg)
        .upsert_instance(Instance {
            status: InstanceStatus::Stopped,
            internet_max_bandwidth_out: 0,
            ..Instance::new("i-emustopbw001")
        })
        .unwrap();
    // (request, gRPC code, reason, provider code)
    let refused = [
        (
            validate(requests::zenlayer("zenlayer", requests::postpaid("TYO-A"))),
            Code::FailedPrecondition,
            "EIP_NOT_SOLD_IN_ZONE",
            "INVALID_EIP_TYPE_ZONE_NO_SELL",
        ),
        (
            validate(requests::aliyun(
                "aliyun",
                requests::instance("i-emustopbw001"),
            )),
            Code::FailedPrecondition,
            "INSTANCE_BANDWIDTH_ZERO",
            "AllocateIpInvalidInstanceBandwidth",
        ),
        (
            validate(requests::aliyun(
                "aliyun",
                requests::instance("i-emuhasip001"),
            )),
            Code::AlreadyExists,
            "PUBLIC_IP_ALREADY_ALLOCATED",
            "AllocatedAlready",
        ),
        (
            validate(requests::aliyun(
                "aliyun",
                requests::instance("i-emuvpceip01"),
            )),
            Code::FailedPrecondition,
            "INSTANCE_IN_VPC",
            "OperationDenied",
        ),
    ];
    for (request, code, reason, provider_code) in refused {
        let domain = match request.params {
            Some(pb::allocate_ip_request::Params::Zenlayer(_)) => ZENLAYER_DOMAIN,
            _ => "ecs.aliyuncs.com",
        };
        let status = allocate(&eg, request).await.unwrap_err();
        assert_eq!(status.code(), code, "{provider_code}: {status:?}");
        let (got_reason, got_domain, metadata) = error_info(&status);
        assert_eq!(got_reason, reason, "{status:?}");
        assert_eq!(got_domain, domain, "{status:?}");
        assert_eq!(metadata["providerCode"], provider_code, "{status:?}");
    }
    // A sold-out zone: Zenlayer would accept the order and end it
    // CREATE_FAILED, so no provider code exists; the gateway's own decision
    // (README, gateway decisions: ZONE_SOLD_OUT).
    let status = allocate(
        &eg,
        validate(requests::zenlayer("zenlayer", requests::postpaid("DXB-A"))),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let (reason, domain, metadata) = error_info(&status);
    assert_eq!(
        (reason.as_str(), domain.as_str()),
        ("ZONE_SOLD_OUT", "ipalloc-gateway"),
        "{status:?}"
    );
    assert_eq!(metadata["zoneId"], "DXB-A", "{status:?}");

    for url in [&eg.zenlayer_url, &eg.aliyun_url] {
        let seen = counters(url).await;
        assert_eq!(
            (seen.allocate_calls, seen.allocations),
            (0, 0),
            "{url}: {seen:?}"
        );
    }

    // The keys were not consumed: the same requests now allocate for real.
    let real = allocate(&eg, zenlayer).await.unwrap();
    assert!(!real.validated_only);
    assert_eq!(real.allocations.len(), 2);
    for allocation in &real.allocations {
        assert_eq!(allocation.state(), Ready, "{allocation:?}");
        assert!(eip(&eg, &allocation.id).is_some());
    }
    let real = allocate(&eg, aliyun).await.unwrap();
    assert!(!real.validated_only);
    assert_eq!(real.allocations[0].id, "i-emuready005");
    assert_eq!(
        instance(&eg, "i-emuready005")
            .public_ip
            .map(|a| a.to_string()),
        Some(real.allocations[0].ip_address.clone())
    );
    assert_eq!(counters(&eg.zenlayer_url).await.allocations, 2);
    assert_eq!(counters(&eg.aliyun_url).await.allocations, 1);
}

/// Bad ListAllocations input is INVALID_ARGUMENT naming the field; a page
/// size of 0 is the default (50) and one above 500 is capped, not refused.
#[tokio::test]
async fn list_allocations_input() {
    let eg = start(
        Duration::from_millis(200),
        "rate_per_second = 200\nburst = 200\n",
    )
    .await;
    // 600 EIPs, in six calls of 100.
    for n in 0..6 {
        let response = allocate(
            &eg,
            requests::keyed(
                &format!("many-{n}"),
                requests::zenlayer(
                    "zenlayer",
                    pb::ZenlayerAllocateParams {
                        amount: Some(100),
                        ..requests::postpaid("SEL-A")
                    },
                ),
            ),
        )
        .await
        .unwrap();
        assert_eq!(response.allocations.len(), 100);
    }

    let page = |size: i32, token: &str| pb::ListAllocationsRequest {
        page_size: size,
        page_token: token.into(),
        ..listing()
    };
    let first = list(&eg, page(2, "")).await.unwrap();
    assert!(!first.next_page_token.is_empty(), "{first:?}");

    // (case, request, the field named)
    let bad = [
        ("negative page_size", page(-1, ""), "page_size"),
        ("garbage page_token", page(2, "not-a-token!"), "page_token"),
        (
            "token with another filter",
            pb::ListAllocationsRequest {
                idempotency_key_prefix: "many-1".into(),
                ..page(2, &first.next_page_token)
            },
            "page_token",
        ),
        (
            "token with another provider",
            pb::ListAllocationsRequest {
                provider: "zenlayer".into(),
                ..page(2, &first.next_page_token)
            },
            "page_token",
        ),
    ];
    for (name, request, field) in bad {
        let status = list(&eg, request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert_eq!(violated_fields(&status), [field], "{name}: {status:?}");
    }

    // The token still works with the same fields.
    let second = list(&eg, page(2, &first.next_page_token)).await.unwrap();
    let both: Vec<String> = ids(&first.allocations)
        .into_iter()
        .chain(ids(&second.allocations))
        .collect();
    assert_eq!(
        both.iter().collect::<BTreeSet<_>>().len(),
        both.len(),
        "no repeats"
    );

    // 0: the default of 50.
    let default = list(&eg, page(0, "")).await.unwrap();
    assert!(
        default.allocations.len() <= 50,
        "{}",
        default.allocations.len()
    );
    assert!(!default.next_page_token.is_empty());

    // 10,000: capped at 500, so 600 take at least two pages.
    let capped = pages(&eg, page(10_000, ""), 100).await;
    assert!(capped.len() >= 2, "{} pages", capped.len());
    let mut seen = Vec::new();
    for page in &capped {
        assert!(page.allocations.len() <= 500, "{}", page.allocations.len());
        seen.extend(ids(&page.allocations));
    }
    assert_eq!(seen.len(), 600);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 600, "each once");
}

/// ListAllocations reads the provider's current state: an EIP listed while
/// CREATING is listed READY with its address once the provider says
/// AVAILABLE. When the provider cannot be asked, the listing still answers,
/// with the last state seen and `refreshed` false.
#[tokio::test]
async fn list_refreshes_the_state_from_the_provider() {
    let eg = start(Duration::from_millis(700), "").await;
    let response = allocate(
        &eg,
        requests::keyed(
            "refresh-1",
            requests::zenlayer("zenlayer", requests::postpaid("FRA-A")),
        ),
    )
    .await
    .unwrap();
    let id = response.allocations[0].id.clone();
    assert_eq!(response.allocations[0].state(), Pending);

    let early = list_all(&eg, listing()).await;
    assert_eq!(ids(&early), std::slice::from_ref(&id));
    if eip(&eg, &id).unwrap().eip_status == EipStatus::Creating {
        assert_eq!(allocation_state(&early[0]), Pending, "{early:?}");
        assert_eq!(allocation(&early[0]).ip_address, "");
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while eip(&eg, &id).unwrap().eip_status != EipStatus::Available {
        assert!(
            std::time::Instant::now() < deadline,
            "the EIP becomes AVAILABLE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = list_all(&eg, listing()).await;
    let entry = &ready[0];
    assert_eq!(allocation_state(entry), Ready, "{ready:?}");
    assert_eq!(
        Some(allocation(entry).ip_address.as_str()),
        eip(&eg, &id).unwrap().ip_address.as_deref()
    );
    assert!(entry.refreshed, "{entry:?}");
    let seen_at = entry.state_time.expect("state_time");

    // The provider fails every request now.
    set_faults(
        &eg.zenlayer_url,
        &FaultConfig {
            error_5xx_probability: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    let stale = list_all(&eg, listing()).await;
    assert_eq!(ids(&stale), [id]);
    let entry = &stale[0];
    assert!(!entry.refreshed, "{entry:?}");
    assert_eq!(
        allocation_state(entry),
        Ready,
        "the last state seen: {entry:?}"
    );
    assert_eq!(
        allocation(entry).ip_address,
        allocation(&ready[0]).ip_address
    );
    let stale_at = entry.state_time.expect("state_time");
    assert!(
        (stale_at.seconds, stale_at.nanos) <= (seen_at.seconds, seen_at.nanos),
        "not newer than the last read: {entry:?}"
    );
    assert!(counters(&eg.zenlayer_url).await.server_errors > 0);
}

/// A second gateway on the same Zenlayer account: what it allocates is
/// unmanaged for the first (listed only with `include_unmanaged`, after the
/// first's own, with `managed` false and no key), and what it releases of
/// the first's is released outside the first: listed RELEASED with a
/// release time, and released again with already_released.
#[tokio::test]
async fn another_gateway_on_the_same_account() {
    let eg = start(Duration::from_millis(200), "").await;
    let other = start_gateway(&common::emulators::providers_toml(
        &eg.aliyun_url,
        &eg.zenlayer_url,
        "",
        FAST_POLL,
    ))
    .await;
    let other_allocate = |request: pb::AllocateIpRequest| {
        let mut client = other.client.clone();
        async move { client.allocate_ip(request).await.unwrap().into_inner() }
    };
    let own = allocate(&eg, zenlayer_waited("mine-1", "SEL-A", 2, &[]))
        .await
        .unwrap();
    let own_ids: Vec<String> = own.allocations.iter().map(|a| a.id.clone()).collect();
    let foreign = other_allocate(zenlayer_waited("theirs-1", "HKG-A", 1, &[])).await;
    let foreign_id = foreign.allocations[0].id.clone();

    let managed_only = list_all(&eg, listing()).await;
    assert_eq!(
        ids(&managed_only).into_iter().collect::<BTreeSet<_>>(),
        own_ids.iter().cloned().collect(),
        "{managed_only:?}"
    );

    let with_unmanaged = pb::ListAllocationsRequest {
        provider: "zenlayer".into(),
        include_unmanaged: true,
        ..listing()
    };
    for page_size in [0, 1] {
        let all = list_all(
            &eg,
            pb::ListAllocationsRequest {
                page_size,
                ..with_unmanaged.clone()
            },
        )
        .await;
        assert_eq!(all.len(), 3, "page_size {page_size}: {all:?}");
        assert_eq!(
            ids(&all[..2]).into_iter().collect::<BTreeSet<_>>(),
            own_ids.iter().cloned().collect(),
            "the gateway's own first: {all:?}"
        );
        for entry in &all[..2] {
            assert!(entry.managed, "{entry:?}");
            assert_eq!(entry.idempotency_key, "mine-1");
        }
        let unmanaged = &all[2];
        assert_eq!(allocation(unmanaged).id, foreign_id);
        assert!(!unmanaged.managed, "{unmanaged:?}");
        assert_eq!(unmanaged.idempotency_key, "", "{unmanaged:?}");
        assert_eq!(unmanaged.caller, "", "{unmanaged:?}");
        assert_eq!(allocation_state(unmanaged), Ready, "{unmanaged:?}");
        assert_eq!(
            Some(allocation(unmanaged).ip_address.as_str()),
            eip(&eg, &foreign_id).unwrap().ip_address.as_deref()
        );
    }

    // The other gateway releases one of ours.
    let victim = own_ids[0].clone();
    let released = other
        .client
        .clone()
        .release_allocation(release_of("zenlayer", &victim))
        .await
        .unwrap()
        .into_inner();
    assert!(!released.already_released, "{released:?}");
    assert_eq!(counters(&eg.zenlayer_url).await.release_calls, 1);

    let listed = list_all(&eg, listing()).await;
    let entry = listed
        .iter()
        .find(|e| allocation(e).id == victim)
        .expect("still listed");
    assert_eq!(allocation_state(entry), Released, "{entry:?}");
    assert!(entry.release_time.is_some(), "seen released: {entry:?}");
    assert!(entry.refreshed, "{entry:?}");
    let again = release(&eg, release_of("zenlayer", &victim)).await.unwrap();
    assert!(again.already_released, "released outside: {again:?}");
    assert_eq!(again.allocation.as_ref().unwrap().state(), Released);
    assert_eq!(counters(&eg.zenlayer_url).await.release_calls, 1);
}

/// The inventory and the keyed release answers live in the store's file:
/// after a restart the gateway still lists its allocations (same creation
/// times), answers RELEASED for an EIP the provider has forgotten (purged),
/// and replays a keyed release.
#[tokio::test]
async fn the_inventory_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let top = format!(
        "[idempotency]\npath = \"{}\"\n",
        dir.path().join("store.redb").display()
    );
    let options = ipalloc_gateway::sandbox::EmulatorOptions {
        creation_delay: Duration::from_millis(200),
        ..Default::default()
    };
    let eg = common::emulators::start(options, &top, "", FAST_POLL).await;
    let response = allocate(
        &eg,
        zenlayer_waited("durable-1", "SEL-A", 2, &[tag("k", "v")]),
    )
    .await
    .unwrap();
    let purged_id = response.allocations[0].id.clone();
    let kept_id = response.allocations[1].id.clone();
    let purge = release_keyed(
        "durable-release-1",
        pb::ReleaseAllocationRequest {
            purge: true,
            ..release_of("zenlayer", &purged_id)
        },
    );
    let purged = release(&eg, purge.clone()).await.unwrap();
    assert!(purged.purged, "{purged:?}");
    let before = list_all(&eg, listing()).await;
    assert_eq!(before.len(), 2);

    let common::emulators::EmulatedGateway {
        gateway,
        emulators,
        aliyun_url,
        zenlayer_url,
    } = eg;
    gateway.stop().await;
    let config = format!(
        "{top}\n{}",
        common::emulators::providers_toml(&aliyun_url, &zenlayer_url, "", FAST_POLL)
    );
    let eg = common::emulators::EmulatedGateway {
        gateway: start_gateway(&config).await,
        emulators,
        aliyun_url,
        zenlayer_url,
    };

    let after = list_all(&eg, listing()).await;
    assert_eq!(
        ids(&after),
        ids(&before),
        "the same allocations, same order"
    );
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new.create_time, old.create_time, "{new:?}");
        assert_eq!(new.idempotency_key, "durable-1");
        assert_eq!(new.tags, [tag("k", "v")]);
        assert_eq!(allocation_state(new), allocation_state(old), "{new:?}");
    }
    let forgotten = after
        .iter()
        .find(|e| allocation(e).id == purged_id)
        .unwrap();
    assert_eq!(allocation_state(forgotten), Released);
    assert!(forgotten.release_time.is_some(), "{forgotten:?}");
    let kept = after.iter().find(|e| allocation(e).id == kept_id).unwrap();
    assert_eq!(allocation_state(kept), Ready);

    assert!(eip(&eg, &purged_id).is_none(), "the provider forgot it");
    let got = get(&eg, "zenlayer", &purged_id).await.unwrap();
    assert_eq!(got.state(), Released, "{got:?}");
    let replay = release(&eg, purge).await.unwrap();
    assert_eq!(replay, purged, "the keyed answer, kept across the restart");
    let again = release(&eg, release_of("zenlayer", &purged_id))
        .await
        .unwrap();
    assert!(again.already_released, "{again:?}");
    let seen = counters(&eg.zenlayer_url).await;
    assert_eq!(
        (seen.release_calls, seen.released),
        (2, 1),
        "one terminate and one purge: {seen:?}"
    );
}

/// Alibaba: `purge` is INVALID_ARGUMENT (Zenlayer only), nothing sent; a
/// release whose ModifyInstanceNetworkSpec answer is lost is read back and
/// answers OK RELEASED (or outcome unknown, then the retry with the key
/// answers OK), with one reclaim at the emulator.
#[tokio::test]
async fn aliyun_purge_refused_and_a_lost_release_answer() {
    let eg = start(Duration::from_millis(200), "").await;
    let id = "i-emuready003";
    allocate(&eg, requests::aliyun("aliyun", requests::instance(id)))
        .await
        .unwrap();

    let status = release(
        &eg,
        pb::ReleaseAllocationRequest {
            purge: true,
            ..release_of("aliyun", id)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["purge"], "{status:?}");
    assert!(instance(&eg, id).public_ip.is_some(), "nothing sent");
    assert_eq!(counters(&eg.aliyun_url).await.release_calls, 0);

    set_faults(
        &eg.aliyun_url,
        &FaultConfig {
            drop_after_release_probability: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    let request = release_keyed("ali-drop-1", release_of("aliyun", id));
    let first = release(&eg, request.clone()).await;
    set_faults(&eg.aliyun_url, &FaultConfig::default()).await;
    let answer = match first {
        Ok(answer) => answer,
        Err(status) => {
            assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
            assert_eq!(error_info(&status).0, "PROVIDER_OUTCOME_UNKNOWN");
            release(&eg, request).await.expect("the retry answers OK")
        }
    };
    assert_eq!(
        answer.allocation.as_ref().unwrap().state(),
        Released,
        "{answer:?}"
    );
    assert_eq!(instance(&eg, id).public_ip, None);
    let seen = counters(&eg.aliyun_url).await;
    assert_eq!(
        (seen.release_calls, seen.released, seen.dropped),
        (1, 1, 1),
        "{seen:?}"
    );
}

/// A page never grows past what a gRPC client accepts (4 MiB by default):
/// 200 EIPs each carrying 40 tags of 128-character keys and values (about
/// 10 KB each, 2 MB in all) come in several pages even when 500 are asked
/// for, every one of them exactly once.
#[tokio::test]
async fn a_page_is_bounded_in_bytes_whatever_the_tags() {
    let eg = start(Duration::ZERO, "").await;
    let tags: Vec<pb::Tag> = (0..40)
        .map(|i| tag(&format!("{i:0>128}"), &"v".repeat(128)))
        .collect();
    let mut made = BTreeSet::new();
    for call in 0..2 {
        let response = allocate(
            &eg,
            zenlayer_waited(&format!("big-{call}"), "SEL-A", 100, &tags),
        )
        .await
        .unwrap();
        made.extend(response.allocations.into_iter().map(|a| a.id));
    }
    assert_eq!(made.len(), 200);
    let request = pb::ListAllocationsRequest {
        page_size: 500,
        ..listing()
    };
    let pages = pages(&eg, request, 10).await;
    assert!(pages.len() >= 2, "{} pages", pages.len());
    let mut listed = Vec::new();
    for page in &pages {
        let bytes = prost::Message::encoded_len(page);
        assert!(bytes <= (1 << 20) + 64 * 1024, "a page of {bytes} bytes");
        listed.extend(page.allocations.iter().map(|a| allocation(a).id.clone()));
    }
    assert_eq!(listed.len(), 200, "every allocation once");
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), made);
}
