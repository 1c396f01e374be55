//! Tests of the rate limit: admission with its reserve, the read share,
//! and booking order under contention.

use std::num::NonZeroU32;
use std::time::Duration;

use tower::{Layer, ServiceExt};

use super::admission::fits;
use super::*;
use crate::middleware::deadline::Guarded;
use crate::middleware::testing::{
    ALLOCATE, READ, Scripted, Step, TestRequest, assert_within_rate, ok,
};

/// The account's limiter alone: no read share, no reserve (a slot fits
/// when it is no later than the deadline).
fn limiter(rate: u32, burst: u32) -> Arc<Admission> {
    admission(rate, burst, 1.0, Duration::ZERO)
}

fn admission(rate: u32, burst: u32, read_share: f64, floor: Duration) -> Arc<Admission> {
    Arc::new(Admission::new(
        NonZeroU32::new(rate).unwrap(),
        NonZeroU32::new(burst).unwrap(),
        read_share,
        floor,
        Duration::from_secs(30),
    ))
}

/// A limiter of `rate` per second and a burst of one, whose burst one
/// successful call has used.
async fn burst_used(rate: u32) -> (Scripted, Guarded<RateLimit, Scripted>) {
    let inner = Scripted::always(ok());
    let service = RateLimitLayer::new(limiter(rate, 1)).layer(inner.clone());
    assert!(
        service
            .clone()
            .oneshot(TestRequest::new(READ))
            .await
            .is_ok()
    );
    (inner, service)
}

/// Under contention, callers that cannot get a slot before their
/// deadline are refused at once, not at their deadlines; the others go
/// in booking order at the rate.
#[tokio::test(start_paused = true)]
async fn refusals_come_at_once_and_slots_are_served_in_order() {
    let inner = Scripted::always(ok());
    let service = RateLimitLayer::new(limiter(20, 5)).layer(inner.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..200 {
        let request = TestRequest::new(READ)
            .id(id)
            .deadline_in(Duration::from_secs(3));
        let call = service.clone().oneshot(request);
        tasks.push(tokio::spawn(async move {
            let result = call.await;
            (result, start.elapsed())
        }));
    }
    let (mut passed, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (Ok(_), elapsed) => {
                passed += 1;
                assert!(elapsed <= Duration::from_secs(3));
            }
            (Err(ProviderError::RateLimited { retry_after, .. }), elapsed) => {
                refused += 1;
                assert_eq!(elapsed, Duration::ZERO, "refused at once");
                assert!(retry_after >= Duration::from_secs(3), "{retry_after:?}");
            }
            (Err(other), _) => panic!("unexpected {other:?}"),
        }
    }
    // 5 at once, then one every 50 ms up to the 3 s deadline, the last
    // one excepted: the attempts have shown up to 1 ms (the first
    // bucket), which the slot at 3 s would not leave.
    assert_eq!(passed, 5 + 59);
    assert_eq!(refused, 200 - 64);
    assert_eq!(inner.calls(), 64);
}

/// Many concurrent callers without deadlines: in every window of the
/// paused clock, at most `rate * seconds + burst` calls got through.
#[tokio::test(start_paused = true)]
async fn never_more_than_rate_times_seconds_plus_burst() {
    const RATE: u32 = 10;
    const BURST: u32 = 5;
    const CALLERS: u32 = 60;
    let inner = Scripted::always(ok());
    let service = RateLimitLayer::new(limiter(RATE, BURST)).layer(inner.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..CALLERS {
        let request = TestRequest::new(READ).id(id);
        tasks.push(tokio::spawn(service.clone().oneshot(request)));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(inner.seen().len(), CALLERS as usize);
    assert_within_rate(&inner, RATE, BURST);
    // And it does let them through at that rate: (60 - 5) / 10 s.
    assert_eq!(start.elapsed(), Duration::from_millis(5500));
}

#[tokio::test(start_paused = true)]
async fn too_close_deadline_is_rate_limited_at_once() {
    let (inner, service) = burst_used(1).await;
    let start = Instant::now();
    let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(100));
    let error = service.oneshot(request).await.err();
    assert_eq!(start.elapsed(), Duration::ZERO, "failed without waiting");
    match error {
        Some(ProviderError::RateLimited { op, retry_after }) => {
            assert_eq!(op, ALLOCATE);
            assert!(
                retry_after > Duration::from_millis(900) && retry_after <= Duration::from_secs(1),
                "{retry_after:?}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(inner.calls(), 1, "the rate-limited attempt was not sent");
}

#[tokio::test(start_paused = true)]
async fn waits_for_the_token_when_the_deadline_allows() {
    let (inner, service) = burst_used(10).await;
    let start = Instant::now();
    let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(1));
    assert!(service.oneshot(request).await.is_ok());
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(inner.calls(), 2);
}

/// Waiters racing for the same token: the losers wait again, or give up
/// with RateLimited when their deadline comes first.
#[tokio::test(start_paused = true)]
async fn racing_waiters_respect_their_deadlines() {
    let inner = Scripted::always(ok());
    let service = RateLimitLayer::new(limiter(10, 1)).layer(inner.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..10 {
        // Every caller allows 250 ms: room for the burst token and two more.
        let request = TestRequest::new(READ)
            .id(id)
            .deadline_in(Duration::from_millis(250));
        tasks.push(tokio::spawn(service.clone().oneshot(request)));
    }
    let mut passed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => passed += 1,
            Err(ProviderError::RateLimited { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(passed, 3);
    assert_eq!(inner.calls(), 3);
    assert!(start.elapsed() <= Duration::from_millis(250));
}

#[test]
fn the_admission_rule_leaves_the_reserve_before_the_deadline() {
    let now = Instant::now();
    let ms = Duration::from_millis;
    let deadline = Some(now + ms(1000));
    assert!(fits(now, ms(200), deadline));
    assert!(fits(now + ms(800), ms(200), deadline), "exactly fits");
    assert!(!fits(now + ms(801), ms(200), deadline));
    assert!(
        !fits(now, ms(1001), deadline),
        "the reserve alone is too long"
    );
    assert!(fits(now + ms(1000), Duration::ZERO, deadline));
    assert!(fits(now + Duration::from_secs(86_400), ms(200), None));
    assert!(!fits(now, Duration::MAX, deadline), "no overflow");
}

/// 100 attempts at once against 20/s with a burst of 20 and 2 s
/// deadlines, with a 250 ms reserve: the ones whose slot leaves the
/// reserve go (20 at once, then one every 50 ms up to 1.75 s), every
/// other is refused at once with the time of its slot, and none is sent
/// later than 250 ms before its deadline.
#[tokio::test(start_paused = true)]
async fn a_slot_is_kept_only_if_the_reserve_fits_before_the_deadline() {
    let inner = Scripted::always(ok());
    let reserve = Duration::from_millis(250);
    let service = RateLimitLayer::new(admission(20, 20, 1.0, reserve)).layer(inner.clone());
    let start = Instant::now();
    let deadline = Duration::from_secs(2);
    let mut tasks = Vec::new();
    for id in 0..100 {
        let request = TestRequest::new(ALLOCATE).id(id).deadline_in(deadline);
        let call = service.clone().oneshot(request);
        tasks.push(tokio::spawn(async move { (call.await, start.elapsed()) }));
    }
    let (mut sent, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (Ok(_), _) => sent += 1,
            (Err(ProviderError::RateLimited { retry_after, .. }), elapsed) => {
                refused += 1;
                assert_eq!(elapsed, Duration::ZERO, "refused at once");
                assert!(
                    retry_after + reserve > deadline,
                    "the refused slot did not fit: {retry_after:?}"
                );
            }
            (Err(other), _) => panic!("unexpected {other:?}"),
        }
    }
    // 20 at once, then slots at 50 ms .. 1750 ms.
    assert_eq!(sent, 20 + 35);
    assert_eq!(refused, 100 - 55);
    let latest = inner.seen().into_iter().map(|(_, at)| at - start).max();
    assert_eq!(latest, Some(deadline - reserve));
}

/// The reserve follows what the provider shows: after attempts that took
/// 700 ms, an attempt with 500 ms left is refused at once instead of
/// being sent to time out, while one with 2 s left still goes.
#[tokio::test(start_paused = true)]
async fn the_reserve_adapts_to_the_providers_latency() {
    let slow = Scripted::then_always(
        (0..20).map(|_| Step::After(Duration::from_millis(700), ok())),
        ok(),
    );
    let admission = admission(1000, 1000, 1.0, Duration::from_millis(10));
    let service = RateLimitLayer::new(Arc::clone(&admission)).layer(slow.clone());
    let request = || TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(500));
    assert!(
        service.clone().oneshot(request()).await.is_ok(),
        "the floor fits"
    );
    let mut tasks = Vec::new();
    for _ in 0..19 {
        tasks.push(tokio::spawn(
            service.clone().oneshot(TestRequest::new(ALLOCATE)),
        ));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    let reserve = admission.reserve(ALLOCATE, Instant::now());
    assert!(reserve >= Duration::from_millis(700), "{reserve:?}");
    // Reads have shown nothing yet: their reserve is still the floor.
    assert_eq!(
        admission.reserve(READ, Instant::now()),
        Duration::from_millis(10)
    );

    let start = Instant::now();
    let refused = service.clone().oneshot(request()).await;
    assert!(
        matches!(refused, Err(ProviderError::RateLimited { .. })),
        "{refused:?}"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    let calls = slow.calls();
    let roomy = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(2));
    assert!(service.clone().oneshot(roomy).await.is_ok());
    assert_eq!(slow.calls(), calls + 1);
    // A minute later the slow attempts are forgotten.
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(
        admission.reserve(ALLOCATE, Instant::now()),
        Duration::from_millis(10)
    );
}

/// 300 reads without a deadline (open watches) queue on the read share
/// (half of 10/s); allocations arriving meanwhile still get the other
/// half at once: every allocation with a 1 s deadline goes through.
#[tokio::test(start_paused = true)]
async fn reads_cannot_starve_allocations() {
    let inner = Scripted::always(ok());
    let service = RateLimitLayer::new(admission(10, 10, 0.5, Duration::ZERO)).layer(inner.clone());
    let start = Instant::now();
    let mut reads = Vec::new();
    for id in 0..300 {
        let request = TestRequest::new(READ).lane(Lane::Read).id(id);
        reads.push(tokio::spawn(service.clone().oneshot(request)));
    }
    tokio::task::yield_now().await;
    // Five allocations per second for ten seconds, each with 1 s.
    let mut allocated = 0;
    for id in 0..50 {
        tokio::time::sleep_until(start + Duration::from_millis(200 * id)).await;
        let request = TestRequest::new(ALLOCATE)
            .id(1000 + id as u32)
            .deadline_in(Duration::from_secs(1));
        if service.clone().oneshot(request).await.is_ok() {
            allocated += 1;
        }
    }
    assert_eq!(allocated, 50, "every allocation got a slot");
    let reads_sent = inner.seen().iter().filter(|(id, _)| *id < 1000).count();
    // 5 at once (the read burst), then 5/s.
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        reads_sent as f64 <= 5.0 + 5.0 * elapsed + 1.0,
        "{reads_sent} reads in {elapsed} s"
    );
    assert!(reads_sent >= 45, "reads use their share: {reads_sent}");
    for task in reads {
        task.abort();
    }
}

/// A read that waited for the read share's slot still needs an account
/// slot: it does not take one the allocations already booked, and with
/// its deadline too close it is refused then, unsent.
#[tokio::test(start_paused = true)]
async fn a_read_books_the_account_after_its_share() {
    let inner = Scripted::always(ok());
    let admission = admission(10, 2, 0.5, Duration::ZERO);
    let service = RateLimitLayer::new(Arc::clone(&admission)).layer(inner.clone());
    // The read share (5/s, burst 1) is used; the next read slot is 200 ms
    // away.
    let read = || TestRequest::new(READ).lane(Lane::Read);
    assert!(service.clone().oneshot(read()).await.is_ok());
    // Allocations book the account's next slots (2 burst, then 100 ms
    // each) up to 500 ms.
    let mut allocations = Vec::new();
    for _ in 0..5 {
        allocations.push(tokio::spawn(
            service.clone().oneshot(TestRequest::new(ALLOCATE)),
        ));
    }
    tokio::task::yield_now().await;
    let start = Instant::now();
    let late = service
        .clone()
        .oneshot(read().deadline_in(Duration::from_millis(300)))
        .await;
    assert!(
        matches!(late, Err(ProviderError::RateLimited { .. })),
        "{late:?}"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(200),
        "refused at its turn"
    );
    for task in allocations {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(inner.calls(), 6, "the late read was not sent");
}

/// Every admitted attempt's wait is observed and every refusal counted,
/// on the attempt's lane.
#[tokio::test(start_paused = true)]
async fn waits_and_refusals_are_recorded_by_lane() {
    let inner = Scripted::always(ok());
    let metrics = AccountMetrics::detached("recorded");
    let service =
        RateLimitLayer::counted(limiter(10, 1), Arc::clone(&metrics)).layer(inner.clone());
    // The burst: no wait.
    assert!(
        service
            .clone()
            .oneshot(TestRequest::new(ALLOCATE))
            .await
            .is_ok()
    );
    // The next slot is 100 ms away: waited for.
    let waited = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(1));
    assert!(service.clone().oneshot(waited).await.is_ok());
    // 100 ms away again, with 50 ms left: refused at once.
    let late = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(50));
    let refused = service.clone().oneshot(late).await;
    assert!(
        matches!(refused, Err(ProviderError::RateLimited { .. })),
        "{refused:?}"
    );
    let (admitted, waited_seconds, refusals) = metrics.rate_limit_counts(Lane::Allocation);
    assert_eq!((admitted, refusals), (2, 1));
    assert!((waited_seconds - 0.1).abs() < 1e-6, "{waited_seconds}");
    assert_eq!(metrics.rate_limit_counts(Lane::Read), (0, 0.0, 0));
}
