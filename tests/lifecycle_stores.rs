//! The allocation lifecycle across stores, end to end: the gateway binary
//! in front of the emulators (in this process), over real sockets.
//!
//! 1. The file store: allocations made on both clouds are still listed
//!    after a restart, with their keys and creation times; released ones
//!    (a purged Zenlayer EIP the provider no longer knows, an Alibaba
//!    instance whose static public IP was reclaimed) are still RELEASED
//!    after another restart, with the same release time, and a repeated
//!    release under the same key is answered from the store (nothing sent).
//! 2. Fleet mode on PostgreSQL: two replicas share the inventory: what one
//!    allocates the other lists; what the other releases (and purges) the
//!    first answers RELEASED.
//! 3. Callers: one limited to one account lists only that account's
//!    allocations; one without ReleaseAllocation in its `rpcs` (and one
//!    releasing on an account it may not use) gets PERMISSION_DENIED
//!    `CALLER_NOT_ALLOWED` and nothing reaches a provider; the audit trail
//!    has one `release` line for each release outcome.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::emulators::{both, counters, providers_toml};
use common::fleet::{Fleet, FleetOptions, await_health};
use common::{bearer, error_info, process, requests, sha256_hex};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::EmulatorOptions;
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

type Client = IpAllocationClient<Channel>;

/// Zenlayer EIPs leave CREATING quickly, so a release can follow at once.
fn quick_emulators() -> EmulatorOptions {
    EmulatorOptions {
        creation_delay: Duration::from_millis(50),
        ..EmulatorOptions::default()
    }
}

/// The providers on the emulators: one attempt per call, fast polling.
fn providers(aliyun_url: &str, zenlayer_url: &str) -> String {
    providers_toml(
        aliyun_url,
        zenlayer_url,
        "max_attempts = 1",
        "max_attempts = 1\npoll_initial_ms = 20\npoll_max_ms = 50",
    )
}

/// Starts the binary with `config` in `dir` and connects to it.
async fn start(dir: &Path, config: &str) -> (process::Gateway, Client) {
    let mut gateway = process::spawn(dir, config, |_| {});
    // Polls the log file: off the workers the emulators run on.
    let addr = tokio::task::block_in_place(|| gateway.wait_listening());
    let client = IpAllocationClient::new(common::channel(addr).await);
    (gateway, client)
}

/// SIGTERM and the clean exit, off the emulators' workers.
fn stop(gateway: process::Gateway) -> String {
    tokio::task::block_in_place(|| gateway.terminate())
}

/// `count` POSTPAID EIPs in SEL-A under `key`, waited for (READY).
fn zenlayer_allocation(key: &str, count: u32) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        wait: true,
        ..requests::keyed(
            key,
            requests::zenlayer(
                "zenlayer",
                pb::ZenlayerAllocateParams {
                    amount: Some(count),
                    ..requests::postpaid("SEL-A")
                },
            ),
        )
    }
}

/// A static public IP for Alibaba instance `instance` under `key`.
fn aliyun_allocation(key: &str, instance: &str) -> pb::AllocateIpRequest {
    requests::keyed(
        key,
        requests::aliyun("aliyun", requests::instance(instance)),
    )
}

fn release(provider: &str, id: &str, key: &str, purge: bool) -> pb::ReleaseAllocationRequest {
    pb::ReleaseAllocationRequest {
        provider: provider.into(),
        id: id.into(),
        idempotency_key: key.into(),
        purge,
        ..Default::default()
    }
}

fn list_all() -> pb::ListAllocationsRequest {
    pb::ListAllocationsRequest {
        page_size: 500,
        ..Default::default()
    }
}

fn list_state(state: pb::AllocationState) -> pb::ListAllocationsRequest {
    pb::ListAllocationsRequest {
        state: state as i32,
        ..list_all()
    }
}

/// Every page of ListAllocations (at most 20 pages), as the caller with
/// `token` when one is given.
async fn list_as(
    client: &mut Client,
    request: pb::ListAllocationsRequest,
    token: Option<&str>,
) -> Vec<pb::ListedAllocation> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    for _ in 0..20 {
        let message = pb::ListAllocationsRequest {
            page_token: page_token.clone(),
            ..request.clone()
        };
        let call = match token {
            Some(token) => bearer(message, token),
            None => tonic::Request::new(message),
        };
        let page = client
            .list_allocations(call)
            .await
            .expect("ListAllocations answers")
            .into_inner();
        all.extend(page.allocations);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
    panic!("more than 20 pages");
}

/// [`list_as`] without a token (authorization off).
async fn list(
    client: &mut Client,
    request: pb::ListAllocationsRequest,
) -> Vec<pb::ListedAllocation> {
    list_as(client, request, None).await
}

fn allocation(listed: &pb::ListedAllocation) -> &pb::Allocation {
    listed.allocation.as_ref().expect("a listed allocation")
}

/// (provider, id) of each listed allocation, in order.
fn listed_ids(listed: &[pb::ListedAllocation]) -> Vec<(String, String)> {
    listed
        .iter()
        .map(|l| (allocation(l).provider.clone(), allocation(l).id.clone()))
        .collect()
}

fn state_of(allocation: Option<&pb::Allocation>) -> pb::AllocationState {
    allocation.expect("an allocation").state()
}

/// A released Zenlayer EIP or Alibaba IP, as GetAllocation answers it.
async fn get_state(client: &mut Client, provider: &str, id: &str) -> pb::AllocationState {
    client
        .get_allocation(requests::lookup(provider, id))
        .await
        .unwrap_or_else(|e| panic!("GetAllocation {provider}/{id}: {e:?}"))
        .into_inner()
        .state()
}

/// The WARN and ERROR lines of a gateway's log.
fn warnings(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_released(listed: &pb::ListedAllocation) -> bool {
    allocation(listed).state() == pb::AllocationState::Released && listed.release_time.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_store_keeps_allocations_and_releases_across_restarts() {
    let (emulators, aliyun_url, zenlayer_url) = both(&quick_emulators()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.redb");
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[idempotency]\npath = \"{}\"\n{}",
        store.display(),
        providers(&aliyun_url, &zenlayer_url)
    );

    // Allocate on both clouds.
    let (gateway, mut client) = start(dir.path(), &config).await;
    let eips: Vec<String> = client
        .allocate_ip(zenlayer_allocation("ls-file-z", 2))
        .await
        .expect("the Zenlayer allocation")
        .into_inner()
        .allocations
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(eips.len(), 2);
    client
        .allocate_ip(aliyun_allocation("ls-file-a", "i-emuready001"))
        .await
        .expect("the Alibaba allocation");
    let before = list(&mut client, list_all()).await;
    // In the inventory's order: creation time, then account, then id (the
    // two EIPs of one call were recorded at the same moment).
    let mut eips = eips;
    eips.sort();
    let expected = vec![
        ("zenlayer".to_owned(), eips[0].clone()),
        ("zenlayer".to_owned(), eips[1].clone()),
        ("aliyun".to_owned(), "i-emuready001".to_owned()),
    ];
    assert_eq!(listed_ids(&before), expected, "{before:?}");

    // Restart: the same allocations, keys and creation times.
    stop(gateway);
    let (gateway, mut client) = start(dir.path(), &config).await;
    let after = list(&mut client, list_all()).await;
    assert_eq!(listed_ids(&after), expected, "after a restart: {after:?}");
    for (b, a) in before.iter().zip(&after) {
        assert!(a.managed, "{a:?}");
        assert_eq!(a.idempotency_key, b.idempotency_key, "{a:?}");
        assert_eq!(a.create_time, b.create_time, "{a:?}");
        assert_eq!(allocation(a).state(), pb::AllocationState::Ready, "{a:?}");
    }
    assert_eq!(after[0].idempotency_key, "ls-file-z");
    assert_eq!(after[2].idempotency_key, "ls-file-a");

    // Release the first EIP (purged: the provider forgets it) and the
    // Alibaba IP.
    let zl = client
        .release_allocation(release("zenlayer", &eips[0], "ls-file-rel-z", true))
        .await
        .expect("the Zenlayer release")
        .into_inner();
    assert!(zl.purged && !zl.already_released, "{zl:?}");
    assert_eq!(
        state_of(zl.allocation.as_ref()),
        pb::AllocationState::Released
    );
    let ali = client
        .release_allocation(release("aliyun", "i-emuready001", "ls-file-rel-a", false))
        .await
        .expect("the Alibaba release")
        .into_inner();
    assert_eq!(
        state_of(ali.allocation.as_ref()),
        pb::AllocationState::Released
    );
    let released = list(&mut client, list_state(pb::AllocationState::Released)).await;
    assert_eq!(
        listed_ids(&released),
        vec![expected[0].clone(), expected[2].clone()],
        "{released:?}"
    );
    assert!(released.iter().all(is_released), "{released:?}");
    let sent =
        counters(&zenlayer_url).await.release_calls + counters(&aliyun_url).await.release_calls;

    // Restart: still RELEASED, released at the same time; the other EIP
    // still READY.
    stop(gateway);
    let (gateway, mut client) = start(dir.path(), &config).await;
    let again = list(&mut client, list_state(pb::AllocationState::Released)).await;
    assert_eq!(listed_ids(&again), listed_ids(&released), "{again:?}");
    for (b, a) in released.iter().zip(&again) {
        assert!(is_released(a), "{a:?}");
        assert_eq!(a.release_time, b.release_time, "{a:?}");
    }
    let ready = list(&mut client, list_state(pb::AllocationState::Ready)).await;
    assert_eq!(listed_ids(&ready), vec![expected[1].clone()], "{ready:?}");
    assert_eq!(
        get_state(&mut client, "zenlayer", &eips[0]).await,
        pb::AllocationState::Released,
        "a purged EIP"
    );
    assert!(
        emulators
            .zenlayer
            .as_ref()
            .unwrap()
            .1
            .eip(&eips[0])
            .is_none(),
        "the emulator no longer knows the purged EIP"
    );
    assert_eq!(
        get_state(&mut client, "aliyun", "i-emuready001").await,
        pb::AllocationState::Released,
        "a reclaimed static public IP"
    );

    // The same releases again under their keys: the first answers, from
    // the store; nothing is sent.
    let zl_again = client
        .release_allocation(release("zenlayer", &eips[0], "ls-file-rel-z", true))
        .await
        .expect("the repeated Zenlayer release")
        .into_inner();
    assert_eq!(zl_again, zl, "the first call's result");
    let ali_again = client
        .release_allocation(release("aliyun", "i-emuready001", "ls-file-rel-a", false))
        .await
        .expect("the repeated Alibaba release")
        .into_inner();
    assert_eq!(ali_again, ali, "the first call's result");
    assert_eq!(
        counters(&zenlayer_url).await.release_calls + counters(&aliyun_url).await.release_calls,
        sent,
        "nothing released twice"
    );
    stop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_inventory_on_postgres() {
    let db = common::postgres::fresh_database().await;
    let fleet = Fleet::start(&FleetOptions {
        replicas: 2,
        postgres_url: db.url.clone(),
        lease_ms: 2000,
        provider: "max_attempts = 1\npoll_initial_ms = 20\npoll_max_ms = 50\n".to_owned(),
        faults: Default::default(),
    })
    .await;
    fleet
        .emulator()
        .set_creation_delay(Duration::from_millis(50));
    // Both replicas serving: the database prepared (migrated) by one of
    // them. Before that a replica answers NOT_SERVING, and a call it takes
    // meanwhile may find the schema half made.
    for replica in &fleet.replicas {
        let mut health = replica.health.clone();
        assert!(
            await_health(&mut health, ServingStatus::Serving, Duration::from_secs(30))
                .await
                .is_some(),
            "replica {} serving within 30 s:\n{}",
            replica.id,
            warnings(&replica.process.log_text())
        );
    }
    let account = common::fleet::ACCOUNT;
    let mut first = fleet.replicas[0].client.clone();
    let mut second = fleet.replicas[1].client.clone();

    // Allocated on the first replica, listed by the second.
    let allocate = pb::AllocateIpRequest {
        provider: account.into(),
        ..zenlayer_allocation("ls-fleet-1", 2)
    };
    let mut eips: Vec<String> = first
        .allocate_ip(allocate)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the allocation: {e:?}\nthe first replica's warnings:\n{}",
                warnings(&fleet.log(0))
            )
        })
        .into_inner()
        .allocations
        .into_iter()
        .map(|a| a.id)
        .collect();
    // The inventory's order within one call: by id.
    eips.sort();
    let listed = list(&mut second, list_all()).await;
    assert_eq!(
        listed_ids(&listed),
        eips.iter()
            .map(|id| (account.to_owned(), id.clone()))
            .collect::<Vec<_>>(),
        "{listed:?}\nthe replicas' warnings:\n{}\n{}",
        warnings(&fleet.log(0)),
        warnings(&fleet.log(1))
    );
    assert!(
        listed
            .iter()
            .all(|l| l.managed && l.idempotency_key == "ls-fleet-1"),
        "{listed:?}"
    );

    // Released and purged on the second: the first answers RELEASED (the
    // provider no longer knows the EIP; the shared inventory does).
    let released = second
        .release_allocation(release(account, &eips[0], "ls-fleet-rel-1", true))
        .await
        .expect("the release")
        .into_inner();
    assert!(released.purged, "{released:?}");
    assert!(fleet.emulator().eip(&eips[0]).is_none(), "purged");
    assert_eq!(
        get_state(&mut first, account, &eips[0]).await,
        pb::AllocationState::Released
    );
    // Both list it released at the moment the second saw the release (a
    // replica with an inventory of its own would stamp its own refresh).
    let on_second = list(&mut second, list_state(pb::AllocationState::Released)).await;
    let on_first = list(&mut first, list_state(pb::AllocationState::Released)).await;
    assert_eq!(
        listed_ids(&on_first),
        vec![(account.to_owned(), eips[0].clone())],
        "{on_first:?}"
    );
    assert!(on_first.iter().all(is_released), "{on_first:?}");
    assert_eq!(listed_ids(&on_second), listed_ids(&on_first));
    assert_eq!(
        on_first[0].release_time, on_second[0].release_time,
        "one shared release time"
    );

    // The same key on the first replica: the second's answer, nothing sent.
    let calls = fleet.emulator().faults().snapshot().release_calls;
    let repeated = first
        .release_allocation(release(account, &eips[0], "ls-fleet-rel-1", true))
        .await
        .expect("the repeated release")
        .into_inner();
    assert_eq!(repeated, released, "the first call's result");
    assert_eq!(fleet.emulator().faults().snapshot().release_calls, calls);

    // The other EIP released (not purged) on the first, RELEASED on the
    // second.
    first
        .release_allocation(release(account, &eips[1], "ls-fleet-rel-2", false))
        .await
        .expect("the second release");
    assert_eq!(
        get_state(&mut second, account, &eips[1]).await,
        pb::AllocationState::Released
    );
    let everything = list(&mut second, list_state(pb::AllocationState::Released)).await;
    assert_eq!(everything.len(), 2, "{everything:?}");
}

const APP_TOKEN: &str = "app-TOKEN-lifecycle-0123456789";
const ZL_TOKEN: &str = "zl-TOKEN-lifecycle-0123456789";
const READER_TOKEN: &str = "reader-TOKEN-lifecycle-0123456789";

/// `UPPER_SNAKE` of a gRPC code, as the audit trail writes it.
fn code_name(code: Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn refused_for_the_caller(status: &tonic::Status, what: &str) {
    assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
    assert_eq!(
        error_info(status).0,
        "CALLER_NOT_ALLOWED",
        "{what}: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_see_and_release_only_what_they_may_and_each_release_is_audited() {
    let (_emulators, aliyun_url, zenlayer_url) = both(&quick_emulators()).await;
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[audit]\npath = \"{trail}\"\n\
         [callers.app]\ntoken_sha256 = [\"{app}\"]\n\
         [callers.zl]\ntoken_sha256 = [\"{zl}\"]\nproviders = [\"zenlayer\"]\n\
         [callers.reader]\ntoken_sha256 = [\"{reader}\"]\nrpcs = [\"ListAllocations\", \"GetAllocation\"]\n{providers}",
        trail = trail.display(),
        app = sha256_hex(APP_TOKEN),
        zl = sha256_hex(ZL_TOKEN),
        reader = sha256_hex(READER_TOKEN),
        providers = providers(&aliyun_url, &zenlayer_url),
    );
    let (gateway, mut client) = start(dir.path(), &config).await;

    // app allocates on both accounts, zl on Zenlayer.
    let app_eip = client
        .allocate_ip(bearer(zenlayer_allocation("ls-call-app-z", 1), APP_TOKEN))
        .await
        .expect("app's Zenlayer allocation")
        .into_inner()
        .allocations[0]
        .id
        .clone();
    client
        .allocate_ip(bearer(
            aliyun_allocation("ls-call-app-a", "i-emuready002"),
            APP_TOKEN,
        ))
        .await
        .expect("app's Alibaba allocation");
    let zl_eip = client
        .allocate_ip(bearer(zenlayer_allocation("ls-call-zl-z", 1), ZL_TOKEN))
        .await
        .expect("zl's allocation")
        .into_inner()
        .allocations[0]
        .id
        .clone();

    // zl lists only the Zenlayer account's allocations (app's too: the
    // limit is the account); app lists all three.
    let zl_listed = list_as(&mut client, list_all(), Some(ZL_TOKEN)).await;
    assert_eq!(
        listed_ids(&zl_listed),
        vec![
            ("zenlayer".to_owned(), app_eip.clone()),
            ("zenlayer".to_owned(), zl_eip.clone())
        ],
        "{zl_listed:?}"
    );
    assert_eq!(zl_listed[0].caller, "app");
    assert_eq!(zl_listed[1].caller, "zl");
    let app_listed = list_as(&mut client, list_all(), Some(APP_TOKEN)).await;
    assert_eq!(app_listed.len(), 3, "{app_listed:?}");
    assert_eq!(
        allocation(&app_listed[1]).id,
        "i-emuready002",
        "{app_listed:?}"
    );
    let status = client
        .list_allocations(bearer(
            pb::ListAllocationsRequest {
                provider: "aliyun".into(),
                ..list_all()
            },
            ZL_TOKEN,
        ))
        .await
        .expect_err("zl may not list the Alibaba account");
    refused_for_the_caller(&status, "zl lists aliyun");
    let reader_listed = list_as(&mut client, list_all(), Some(READER_TOKEN)).await;
    assert_eq!(reader_listed.len(), 3, "reader may list: {reader_listed:?}");

    // Refused for the caller: nothing reaches a provider.
    let sent = counters(&zenlayer_url).await.requests + counters(&aliyun_url).await.requests;
    let status = client
        .release_allocation(bearer(
            release("zenlayer", &app_eip, "ls-call-rel-r", false),
            READER_TOKEN,
        ))
        .await
        .expect_err("reader may not release");
    refused_for_the_caller(&status, "reader releases");
    let status = client
        .release_allocation(bearer(
            release("aliyun", "i-emuready002", "ls-call-rel-zl", false),
            ZL_TOKEN,
        ))
        .await
        .expect_err("zl may not release on the Alibaba account");
    refused_for_the_caller(&status, "zl releases on aliyun");
    assert_eq!(
        counters(&zenlayer_url).await.requests + counters(&aliyun_url).await.requests,
        sent,
        "nothing was sent for a refused release"
    );
    assert_eq!(
        state_of(Some(
            &client
                .get_allocation(bearer(requests::lookup("zenlayer", &app_eip), APP_TOKEN))
                .await
                .unwrap()
                .into_inner()
        )),
        pb::AllocationState::Ready,
        "still allocated"
    );

    // Released by app; again under the same key (the first answer); again
    // without a key (already released); an unknown EIP (the provider's
    // error).
    let done = client
        .release_allocation(bearer(
            release("zenlayer", &app_eip, "ls-call-rel-1", false),
            APP_TOKEN,
        ))
        .await
        .expect("app releases")
        .into_inner();
    assert!(!done.already_released, "{done:?}");
    let repeated = client
        .release_allocation(bearer(
            release("zenlayer", &app_eip, "ls-call-rel-1", false),
            APP_TOKEN,
        ))
        .await
        .expect("the same release again")
        .into_inner();
    assert_eq!(repeated, done, "the first call's result");
    let again = client
        .release_allocation(bearer(release("zenlayer", &app_eip, "", false), APP_TOKEN))
        .await
        .expect("released again")
        .into_inner();
    assert!(again.already_released, "{again:?}");
    let unknown = client
        .release_allocation(bearer(
            release("zenlayer", "eip-doesnotexist", "", false),
            APP_TOKEN,
        ))
        .await
        .expect_err("an unknown EIP");
    let unknown_code = code_name(unknown.code());
    let unknown_reason = error_info(&unknown).0;
    stop(gateway);

    // One `release` line per outcome, in order.
    let text = std::fs::read_to_string(&trail).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line: &Value| line["action"] == "release")
        .collect();
    // (caller, provider, id, key, code, reason). The id and key are
    // read from the request once the caller may call ReleaseAllocation at
    // all: the line of a caller refused the RPC names neither (as
    // AllocateIp's do not), the line of one refused the account names
    // both.
    #[rustfmt::skip]
    let expected: [(&str, &str, &str, &str, &str, &str); 6] = [
        ("reader", "zenlayer", "", "", "PERMISSION_DENIED", "CALLER_NOT_ALLOWED"),
        ("zl", "aliyun", "i-emuready002", "ls-call-rel-zl", "PERMISSION_DENIED", "CALLER_NOT_ALLOWED"),
        ("app", "zenlayer", &app_eip, "ls-call-rel-1", "OK", ""),
        ("app", "zenlayer", &app_eip, "ls-call-rel-1", "OK", ""),
        ("app", "zenlayer", &app_eip, "", "OK", ""),
        ("app", "zenlayer", "eip-doesnotexist", "", &unknown_code, &unknown_reason),
    ];
    assert_eq!(lines.len(), expected.len(), "release lines:\n{text}");
    for (i, (line, (caller, provider, id, key, code, reason))) in
        lines.iter().zip(expected).enumerate()
    {
        let what = format!("release line {}: {line}", i + 1);
        assert_eq!(line["caller"], caller, "{what}");
        assert_eq!(line["caller_via"], "token", "{what}");
        assert_eq!(line["provider"], provider, "{what}");
        assert_eq!(line["code"], code, "{what}");
        assert_eq!(line["reason"], reason, "{what}");
        assert_eq!(line["idempotency_key"], key, "{what}");
        if id.is_empty() {
            assert_eq!(line["params"], serde_json::json!({}), "{what}");
        } else {
            assert_eq!(line["params"]["id"], id, "{what}");
        }
        assert!(
            line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{what}"
        );
    }
    // A success names the released allocation and its state.
    for line in &lines[2..5] {
        assert_eq!(line["eips"][0]["id"], app_eip.as_str(), "{line}");
        assert_eq!(line["eips"][0]["state"], "RELEASED", "{line}");
    }
    for token in [APP_TOKEN, ZL_TOKEN, READER_TOKEN] {
        assert!(!text.contains(token), "the trail holds a token");
    }
}
