//! Issue 7 point 5 end to end: 300 open `WatchAllocation` streams against
//! the Zenlayer emulator. Their polling draws on the account's read share,
//! so AllocateIp keeps its share of the rate; every open watch counts
//! against `server.max_concurrent_calls` for as long as it streams, so the
//! watches past the cap are shed with `GATEWAY_OVERLOADED`; and each watch
//! ends at `server.watch_max_lifetime_ms` with UNAVAILABLE
//! `WATCH_LIFETIME_ENDED`, freeing its slot. Bounded in calls and time.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::emulators::{self, counters};
use common::*;
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::EmulatorOptions;
use pb::allocate_ip_request::Params;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

const WATCHES: usize = 300;
const CAP: usize = 320;
const EXTRA_WATCHES: usize = 40;
const LIFETIME: Duration = Duration::from_secs(6);
const RATE: u64 = 20;
const BURST: u64 = 20;
/// The allocations' share: what reads (at most half) leave of the rate.
const ALLOCATIONS_PER_SECOND: u64 = RATE / 2;
const ALLOCATE_FOR: Duration = Duration::from_secs(3);

fn allocate_request(key: &str) -> tonic::Request<pb::AllocateIpRequest> {
    let mut request = tonic::Request::new(pb::AllocateIpRequest {
        provider: "zenlayer".into(),
        idempotency_key: key.into(),
        params: Some(Params::Zenlayer(pb::ZenlayerAllocateParams {
            zone_id: "SEL-A".into(),
            charge_type: pb::ChargeType::Postpaid as i32,
            ..Default::default()
        })),
        ..Default::default()
    });
    request.set_timeout(Duration::from_secs(2));
    request
}

/// How one watch went: refused at once, or opened and then ended.
enum Watched {
    Shed(tonic::Status),
    Ended {
        items: usize,
        status: Option<tonic::Status>,
        lasted: Duration,
    },
}

/// Opens a watch of `id` without a deadline; reports on `opened` once the
/// gateway accepted it (or refused it), then follows it to its end.
async fn watch(
    mut client: IpAllocationClient<Channel>,
    id: String,
    opened: mpsc::UnboundedSender<bool>,
) -> Watched {
    let started = Instant::now();
    let request = pb::WatchAllocationRequest {
        provider: "zenlayer".into(),
        id,
        region_id: String::new(),
    };
    let mut stream = match client.watch_allocation(request).await {
        Ok(response) => {
            let _ = opened.send(true);
            response.into_inner()
        }
        Err(status) => {
            let _ = opened.send(false);
            return Watched::Shed(status);
        }
    };
    let mut items = 0;
    // Bounded: the EIP stays CREATING, so a watch sends one state at most.
    for _ in 0..10 {
        match stream.next().await {
            Some(Ok(_)) => items += 1,
            Some(Err(status)) => {
                return Watched::Ended {
                    items,
                    status: Some(status),
                    lasted: started.elapsed(),
                };
            }
            None => break,
        }
    }
    Watched::Ended {
        items,
        status: None,
        lasted: started.elapsed(),
    }
}

async fn connect(addr: std::net::SocketAddr) -> IpAllocationClient<Channel> {
    let channel = channel(addr).await;
    IpAllocationClient::new(channel)
}

/// Waits (bounded) until `count` watches reported; returns how many opened.
async fn opened(reports: &mut mpsc::UnboundedReceiver<bool>, count: usize) -> usize {
    let mut accepted = 0;
    for _ in 0..count {
        let report = tokio::time::timeout(Duration::from_secs(20), reports.recv())
            .await
            .expect("every watch is accepted or refused promptly")
            .expect("reports");
        accepted += usize::from(report);
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_watches_neither_starve_allocations_nor_escape_the_cap() {
    let options = EmulatorOptions {
        // The watched EIP stays CREATING for the whole test.
        creation_delay: Duration::from_secs(120),
        ..EmulatorOptions::default()
    };
    let top = format!(
        "[server]\nmax_concurrent_calls = {CAP}\nwatch_max_lifetime_ms = {}\n",
        LIFETIME.as_millis()
    );
    let zenlayer = format!(
        "rate_per_second = {RATE}\nburst = {BURST}\npoll_initial_ms = 200\npoll_max_ms = 1000\n"
    );
    let env = emulators::start(options, &top, "", &zenlayer).await;
    let mut client = env.gateway.client.clone();
    let eip = first_allocation_id(&mut client, allocate_request("watched-1")).await;

    // 300 watches, no deadline, over four connections (h2 clients open at
    // most 100 streams per connection).
    let mut clients = Vec::new();
    for _ in 0..(WATCHES + EXTRA_WATCHES).div_ceil(90) {
        clients.push(connect(env.gateway.addr).await);
    }
    let (reports, mut reported) = mpsc::unbounded_channel();
    let mut watches = Vec::new();
    for n in 0..WATCHES {
        let client = clients[n % clients.len()].clone();
        watches.push(tokio::spawn(watch(client, eip.clone(), reports.clone())));
    }
    assert_eq!(
        opened(&mut reported, WATCHES).await,
        WATCHES,
        "all 300 open"
    );

    // AllocateIp at the allocations' share of the rate while they stream.
    let started = Instant::now();
    let calls = (ALLOCATIONS_PER_SECOND * ALLOCATE_FOR.as_secs()) as u32;
    let mut allocations = Vec::new();
    for n in 0..calls {
        tokio::time::sleep_until(started + ALLOCATE_FOR * n / calls).await;
        let mut client = client.clone();
        allocations.push(tokio::spawn(async move {
            client
                .allocate_ip(allocate_request(&format!("during-watches-{n}")))
                .await
        }));
    }
    let mut allocated = 0;
    let mut failed = Vec::new();
    for call in allocations {
        match call.await.unwrap() {
            Ok(_) => allocated += 1,
            Err(status) => failed.push(format!("{:?} {:?}", status.code(), error_info(&status).0)),
        }
    }
    let allocate_elapsed = started.elapsed();

    // The cap counts the open watches: 20 more fit, the rest are shed, and
    // so is an allocation while the cap is full.
    for n in 0..EXTRA_WATCHES {
        let client = clients[n % clients.len()].clone();
        watches.push(tokio::spawn(watch(client, eip.clone(), reports.clone())));
    }
    let extra_open = opened(&mut reported, EXTRA_WATCHES).await;
    let at_cap = client.allocate_ip(allocate_request("at-the-cap")).await;

    // Every watch ends at its lifetime, with the documented status.
    let mut shed = Vec::new();
    let mut ended = Vec::new();
    for task in watches {
        let watched = tokio::time::timeout(LIFETIME + Duration::from_secs(10), task)
            .await
            .expect("a watch ends at its lifetime")
            .unwrap();
        match watched {
            Watched::Shed(status) => shed.push(status),
            Watched::Ended {
                items,
                status,
                lasted,
            } => ended.push((items, status, lasted)),
        }
    }
    let after = client
        .allocate_ip(allocate_request("after-the-watches"))
        .await;
    let seen = counters(&env.zenlayer_url).await;
    let with_state = ended.iter().filter(|(items, _, _)| *items > 0).count();
    let longest = ended
        .iter()
        .map(|(_, _, lasted)| *lasted)
        .max()
        .unwrap_or_default();
    eprintln!(
        "watches figure: watches={WATCHES} cap={CAP} rate={RATE}/s burst={BURST} \
         allocate_ip={allocated}/{calls} ok at {ALLOCATIONS_PER_SECOND}/s in {:.1}s \
         (failed {failed:?}) extra_watches={EXTRA_WATCHES} accepted={extra_open} shed={} \
         ended_with_lifetime_status={} (of {}; {with_state} had streamed a state) \
         longest_watch={:.1}s (lifetime {}s) provider_requests={} max_per_second={} (bound {})",
        allocate_elapsed.as_secs_f64(),
        shed.len(),
        ended
            .iter()
            .filter(|(_, status, _)| status
                .as_ref()
                .is_some_and(|s| s.code() == Code::Unavailable))
            .count(),
        ended.len(),
        longest.as_secs_f64(),
        LIFETIME.as_secs(),
        seen.requests,
        seen.max_requests_per_second,
        RATE + BURST,
    );

    assert_eq!(allocated, calls, "allocations keep their share: {failed:?}");
    assert_eq!(extra_open, CAP - WATCHES, "watches fill the cap, no more");
    assert_eq!(shed.len(), EXTRA_WATCHES - (CAP - WATCHES));
    for status in shed.iter().chain(at_cap.as_ref().err()) {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let (reason, _, metadata) = error_info(status);
        assert_eq!(reason, "GATEWAY_OVERLOADED");
        assert_eq!(metadata["maxConcurrentCalls"], CAP.to_string());
        assert!(retry_delay(status).is_some());
    }
    assert!(at_cap.is_err(), "an allocation at the full cap is shed");
    assert_eq!(ended.len(), CAP);
    for (_, status, lasted) in &ended {
        let status = status.as_ref().expect("a watch ends with a status");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let (reason, domain, metadata) = error_info(status);
        assert_eq!(
            (reason.as_str(), domain.as_str()),
            ("WATCH_LIFETIME_ENDED", "ipalloc-gateway")
        );
        assert_eq!(
            metadata["watchMaxLifetimeMs"],
            LIFETIME.as_millis().to_string()
        );
        assert_eq!(metadata["provider"], "zenlayer");
        assert!(*lasted <= LIFETIME + Duration::from_secs(5), "{lasted:?}");
    }
    assert!(after.is_ok(), "the slots are free again: {after:?}");
    assert!(
        seen.max_requests_per_second <= RATE + BURST,
        "{} requests in one second",
        seen.max_requests_per_second
    );
}
