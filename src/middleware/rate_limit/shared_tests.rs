//! Tests of fleet mode's rate limit: replicas sharing one limiter, the
//! admission rule on the shared path, failing closed when the shared state
//! cannot be reached, and the reads' local fallback.

use std::time::Duration;

use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::*;
use crate::middleware::testing::{
    ALLOCATE, InProcessRate, READ, Scripted, TestRequest, assert_within_rate,
    assert_within_rate_late, ok,
};
use crate::middleware::{ProviderLimits, ResilienceSettings, is_retryable, stack};
use crate::provider::error_table::RetryClass;
use crate::provider::http::HttpResponse;
use crate::testing::settings::quick;

type Stack = BoxCloneSyncService<TestRequest, HttpResponse, ProviderError>;

const ACCOUNT: &str = "zl-main";

/// `replicas` gateways' limits of one account, on `rate`.
fn replicas(
    settings: &ResilienceSettings,
    rate: &InProcessRate,
    count: u32,
) -> Vec<ProviderLimits> {
    let fleet = FleetRate {
        rate: Arc::new(rate.clone()),
        replicas: count,
    };
    (0..count)
        .map(|_| ProviderLimits::for_account(settings, ACCOUNT, Some(&fleet)))
        .collect()
}

/// One stack per replica, all sending to `inner` (the provider).
fn stacks(
    settings: &ResilienceSettings,
    limits: &[ProviderLimits],
    inner: &Scripted,
) -> Vec<Stack> {
    limits
        .iter()
        .map(|limits| stack(inner.clone(), settings, limits))
        .collect()
}

const RATE: u32 = 10;
const BURST: u32 = 5;

/// An account at [`RATE`] with a burst of [`BURST`], 30 s attempts.
fn ten_a_second() -> ResilienceSettings {
    ResilienceSettings {
        rate_per_second: RATE,
        burst: BURST,
        attempt_timeout: Duration::from_secs(30),
        ..quick()
    }
}

/// Offers `each` allocations at once to every replica's stack, sending to
/// `inner`; every one succeeds.
async fn allocate_all(
    settings: &ResilienceSettings,
    limits: &[ProviderLimits],
    inner: &Scripted,
    each: u32,
) {
    let mut tasks = Vec::new();
    for (replica, service) in stacks(settings, limits, inner).into_iter().enumerate() {
        for id in 0..each {
            let request = TestRequest::new(ALLOCATE).id(replica as u32 * 100 + id);
            tasks.push(tokio::spawn(service.clone().oneshot(request)));
        }
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
}

/// Two replicas, each offered 60 allocations at once, booking on one
/// shared limiter (answering after a 2 ms round trip): together they never
/// exceed the account's rate and burst, and they get all of it.
#[tokio::test(start_paused = true)]
async fn replicas_sharing_a_limiter_never_exceed_rate_plus_burst_together() {
    let settings = ten_a_second();
    let rate = InProcessRate::with_round_trip(Duration::from_millis(2));
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 2);
    let start = Instant::now();
    allocate_all(&settings, &limits, &inner, 60).await;
    assert_eq!(inner.calls(), 120);
    assert_eq!(rate.booked(), 120);
    // Every slot goes at the latest it can be on this clock: 1 ms (the
    // answer's way back) after it, within the slack, never before.
    assert_within_rate_late(&inner, RATE, BURST, Duration::from_millis(1));
    // (120 - 5) / 10 s after the first booking reached the shared state
    // (half the round trip), plus the way back.
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(1 + 11_500 + 1),
        "the replicas together use the whole rate"
    );
}

/// Bookings whose way to the shared state takes 0 or 40 ms in turn (a wait
/// for a pooled connection, a starved database), 1 ms back: no attempt
/// goes before its slot, so the sends keep the rate and burst to within the
/// way back. (Placing a slot from the moment of asking sent the slow ones
/// up to 40 ms early: 31 calls in 2.56 s, where rate x time + burst is
/// 30.6.)
#[tokio::test(start_paused = true)]
async fn a_slow_way_to_the_shared_state_never_sends_before_the_slot() {
    let settings = ten_a_second();
    let ways = [Duration::ZERO, Duration::from_millis(40)];
    let rate = InProcessRate::with_ways(&ways, Duration::from_millis(1));
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 2);
    allocate_all(&settings, &limits, &inner, 30).await;
    assert_eq!(inner.calls(), 60);
    // 40 ms of uncertainty is within the slack (50 ms): nothing rebooked.
    assert_eq!(rate.booked(), 60);
    assert_within_rate_late(&inner, RATE, BURST, Duration::from_millis(1));
}

/// Bookings whose way there takes 80 ms, more than the slack (half of
/// 100 ms): where the slot falls cannot be known closely enough, so each
/// allocation gives its slot up twice and is then refused with RetryInfo,
/// unsent, rather than risk bunching sends; a read takes the local
/// fallback.
#[tokio::test(start_paused = true)]
async fn a_slot_that_cannot_be_placed_within_the_slack_refuses_an_allocation_and_a_read_goes_local()
{
    let settings = ten_a_second();
    let rate = InProcessRate::with_ways(&[Duration::from_millis(80)], Duration::from_millis(1));
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 1);
    let service = stacks(&settings, &limits, &inner).remove(0);
    let error = service
        .clone()
        .oneshot(TestRequest::new(ALLOCATE))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::RateLimited { retry_after, .. } if retry_after == Duration::from_millis(100)),
        "{error:?}"
    );
    assert_eq!(inner.calls(), 0, "never sent");
    assert_eq!(rate.booked(), 1 + shared::MAX_REBOOKINGS as usize);
    assert!(
        !is_retryable(&error, ALLOCATE),
        "refused, not retried by the stack"
    );

    // A read books the local fallback instead, as when the shared state
    // cannot be reached, and is sent.
    let read = TestRequest::new(READ).lane(Lane::Read);
    assert!(service.oneshot(read).await.is_ok());
    assert_eq!(inner.calls(), 1);
    assert_eq!(rate.booked(), 2 * (1 + shared::MAX_REBOOKINGS as usize));
}

/// The admission rule on the shared path: 100 allocations with 2 s
/// deadlines over two replicas, 20/s with a burst of 20, a 250 ms reserve:
/// the ones whose shared slot leaves the reserve go (20 at once, then one
/// every 50 ms up to 1.75 s), every other is refused at once with the time
/// of its slot and never sent, nor retried.
#[tokio::test(start_paused = true)]
async fn a_shared_slot_is_kept_only_if_the_reserve_fits_before_the_deadline() {
    let reserve = Duration::from_millis(250);
    let settings = ResilienceSettings {
        rate_per_second: 20,
        burst: 20,
        reserve_floor: reserve,
        attempt_timeout: Duration::from_secs(30),
        ..quick()
    };
    let rate = InProcessRate::new();
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 2);
    let services = stacks(&settings, &limits, &inner);
    let start = Instant::now();
    let deadline = Duration::from_secs(2);
    let mut tasks = Vec::new();
    for id in 0..100 {
        let service = services[id % 2].clone();
        let request = TestRequest::new(ALLOCATE)
            .id(id as u32)
            .deadline_in(deadline);
        let call = service.oneshot(request);
        tasks.push(tokio::spawn(async move { (call.await, start.elapsed()) }));
    }
    let (mut sent, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (Ok(_), _) => sent += 1,
            (Err(error @ ProviderError::RateLimited { retry_after, .. }), elapsed) => {
                refused += 1;
                assert_eq!(elapsed, Duration::ZERO, "refused at once");
                assert!(
                    retry_after + reserve > deadline,
                    "the refused slot did not fit: {retry_after:?}"
                );
                assert!(!is_retryable(&error, ALLOCATE));
            }
            (Err(other), _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sent, 20 + 35);
    assert_eq!(refused, 100 - 55);
    assert_eq!(inner.calls(), 55, "the refused attempts were not sent");
    assert_eq!(rate.asked(), 100, "each asked once: no retries");
    assert_eq!(rate.booked(), 55, "refusals book nothing");
    let latest = inner.seen().into_iter().map(|(_, at)| at - start).max();
    assert_eq!(latest, Some(deadline - reserve));
}

/// A deadline shorter than the reserve cannot fit any slot: refused at
/// once without asking the shared state. A deadline passing while the
/// shared state has not answered ends the wait, unsent; an answer that
/// comes too late for the reserve is refused, unsent.
#[tokio::test(start_paused = true)]
async fn the_shared_state_is_never_waited_for_past_what_the_deadline_allows() {
    let settings = ResilienceSettings {
        reserve_floor: Duration::from_millis(100),
        ..quick()
    };
    let inner = Scripted::always(ok());
    let fast = InProcessRate::new();
    let mut service = stacks(&settings, &replicas(&settings, &fast, 1), &inner).remove(0);
    let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(50));
    let result = service.ready().await.unwrap().call(request).await;
    assert_eq!(
        result.err(),
        Some(ProviderError::RateLimited {
            op: ALLOCATE,
            retry_after: Duration::ZERO
        })
    );
    assert_eq!(fast.asked(), 0, "nothing asked");

    for (round_trip, deadline, expected, waited) in [
        // No answer before the deadline.
        (
            Duration::from_secs(5),
            Duration::from_millis(300),
            ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: false,
            },
            Duration::from_millis(300),
        ),
        // Answered "now" after 200 ms: with 50 ms left, the reserve no
        // longer fits.
        (
            Duration::from_millis(200),
            Duration::from_millis(250),
            ProviderError::RateLimited {
                op: ALLOCATE,
                retry_after: Duration::ZERO,
            },
            Duration::from_millis(200),
        ),
    ] {
        let slow = InProcessRate::with_round_trip(round_trip);
        let service = stacks(&settings, &replicas(&settings, &slow, 1), &inner).remove(0);
        let start = Instant::now();
        let request = TestRequest::new(ALLOCATE).deadline_in(deadline);
        let result = service.oneshot(request).await;
        assert_eq!(result.err(), Some(expected), "{round_trip:?}");
        assert_eq!(start.elapsed(), waited, "{round_trip:?}");
        assert_eq!(slow.asked(), 1, "not retried");
    }
    assert_eq!(inner.calls(), 0, "nothing was sent");
}

/// The shared state cannot be reached: an allocation fails closed with
/// `SharedStateUnavailable`, nothing sent and nothing retried, classified
/// as UNAVAILABLE `IDEMPOTENCY_STORE_UNAVAILABLE`, certainly not executed.
#[tokio::test(start_paused = true)]
async fn allocations_fail_closed_when_the_shared_state_is_unreachable() {
    let settings = ResilienceSettings {
        max_attempts: 4,
        ..quick()
    };
    let rate = InProcessRate::new();
    rate.set_unreachable(true);
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 3);
    for claims_usable in [false, true] {
        if claims_usable {
            rate.claim_usable();
        }
        let asked = rate.asked();
        let service = stack(inner.clone(), &settings, &limits[0]);
        let start = Instant::now();
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(5));
        let error = service.oneshot(request).await.err();
        assert_eq!(
            error,
            Some(ProviderError::SharedStateUnavailable {
                op: ALLOCATE,
                detail: "connection refused".into(),
            })
        );
        assert_eq!(start.elapsed(), Duration::ZERO, "failed at once");
        assert_eq!(rate.asked(), asked + 1, "asked once, not retried");
        let error = error.unwrap();
        let class = error.classification();
        assert_eq!(
            (class.grpc, class.reason, class.retry, class.resend),
            (
                tonic::Code::Unavailable,
                "IDEMPOTENCY_STORE_UNAVAILABLE",
                RetryClass::Retryable,
                false
            )
        );
        assert!(!error.outcome_unknown());
        assert!(!is_retryable(&error, ALLOCATE));
    }
    assert_eq!(inner.calls(), 0, "nothing was sent");
}

/// Reads while the shared state is down: limited locally to this
/// replica's part of the account's rate (10/s over 2 replicas: 5/s, a
/// burst of 2), and they keep working; also when the shared state still
/// looked usable and the booking failed.
#[tokio::test(start_paused = true)]
async fn reads_fall_back_to_this_replicas_part_of_the_rate_when_unusable() {
    let settings = ResilienceSettings {
        rate_per_second: 10,
        burst: 4,
        read_share: 1.0,
        ..quick()
    };
    let rate = InProcessRate::new();
    rate.set_unreachable(true);
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 2);
    let service = stack(inner.clone(), &settings, &limits[0]);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..20 {
        let request = TestRequest::new(READ).lane(Lane::Read).id(id);
        tasks.push(tokio::spawn(service.clone().oneshot(request)));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(inner.calls(), 20);
    assert_within_rate(&inner, 5, 2);
    // (20 - 2) / 5 s.
    assert_eq!(start.elapsed(), Duration::from_millis(3600));
    assert_eq!(rate.asked(), 0, "unusable: not asked");

    // It looks usable but does not answer: the read is asked, then falls
    // back, and is sent.
    rate.claim_usable();
    tokio::time::advance(Duration::from_secs(1)).await;
    let read = TestRequest::new(READ)
        .lane(Lane::Read)
        .deadline_in(Duration::from_secs(1));
    assert!(service.clone().oneshot(read).await.is_ok());
    assert_eq!(rate.asked(), 1);
    assert_eq!(inner.calls(), 21);
    assert_eq!(rate.booked(), 0);
}

/// Reads while the shared state answers: after their local read share,
/// they book the account's slot on the shared limiter, so another
/// replica's allocations leave them none.
#[tokio::test(start_paused = true)]
async fn reads_book_the_shared_limiter_when_it_is_usable() {
    let settings = ResilienceSettings {
        rate_per_second: 10,
        burst: 4,
        read_share: 1.0,
        reserve_floor: Duration::from_millis(10),
        ..quick()
    };
    let rate = InProcessRate::new();
    let inner = Scripted::always(ok());
    let limits = replicas(&settings, &rate, 2);
    let services = stacks(&settings, &limits, &inner);
    // Replica 1 uses the account's burst of 4.
    for id in 0..4 {
        let request = TestRequest::new(ALLOCATE).id(id);
        assert!(services[1].clone().oneshot(request).await.is_ok());
    }
    // Replica 0's read share (5/s, a burst of 2) is untouched, but the
    // account's next slot is 100 ms away: a read with 50 ms is refused at
    // once, unsent.
    let start = Instant::now();
    let read = || TestRequest::new(READ).lane(Lane::Read).id(100);
    let refused = services[0]
        .clone()
        .oneshot(read().deadline_in(Duration::from_millis(50)))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::RateLimited { retry_after, .. })
            if retry_after == Duration::from_millis(100)),
        "{refused:?}"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(inner.calls(), 4);
    // With time for it, the read waits for the shared slot.
    let roomy = read().deadline_in(Duration::from_secs(1));
    assert!(services[0].clone().oneshot(roomy).await.is_ok());
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(rate.booked(), 5);
    assert_eq!(rate.asked(), 6);
}
