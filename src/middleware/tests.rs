//! Tests of the whole stack: the layers together, in their order.

use std::time::Duration;

use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use super::testing::{ALLOCATE, Answer, READ, Scripted, Step, TestRequest, ok, throttled};
use super::{ProviderLimits, ResilienceSettings, stack};
use crate::provider::error::{ProviderError, SendPhase, TransportError};
use crate::provider::http::HttpResponse;
use crate::testing::settings::quick;

type Stack = BoxCloneSyncService<TestRequest, HttpResponse, ProviderError>;

fn build(inner: &Scripted, settings: &ResilienceSettings) -> (Stack, ProviderLimits) {
    let limits = ProviderLimits::new(settings);
    (stack(inner.clone(), settings, &limits), limits)
}

async fn run(service: &mut Stack, request: TestRequest) -> Answer {
    service.ready().await.unwrap().call(request).await
}

#[test]
fn the_stack_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Stack>();
    assert_traits::<ProviderLimits>();
}

#[tokio::test(start_paused = true)]
async fn every_attempt_reaches_inner_as_a_fresh_call() {
    let inner = Scripted::new([
        Err(throttled(ALLOCATE, None)),
        Err(throttled(ALLOCATE, None)),
        ok(),
    ]);
    let (mut service, _) = build(&inner, &quick());
    let result = run(&mut service, TestRequest::new(ALLOCATE).id(7)).await;
    assert!(result.is_ok());
    let seen = inner.seen();
    assert_eq!(seen.len(), 3, "3 attempts, 3 calls of inner");
    assert!(
        seen.iter().all(|(id, _)| *id == 7),
        "the same request each time"
    );
    assert_eq!(inner.max_in_flight(), 1, "one attempt at a time");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_allocation_is_sent_once() {
    let inner = Scripted::then_always([Step::Hang], ok());
    let (mut service, _) = build(&inner, &quick());
    let start = Instant::now();
    let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
    assert_eq!(
        result.err(),
        Some(ProviderError::Transport(TransportError {
            op: ALLOCATE,
            phase: SendPhase::Sent,
            timed_out: true,
            detail: "attempt timed out after 1s".into(),
        }))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(inner.calls(), 1);
    assert_eq!(inner.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn timed_out_reads_are_retried_up_to_max_attempts() {
    let inner = Scripted::new([Step::Hang, Step::Hang, Step::Hang, Step::Now(ok())]);
    let (mut service, _) = build(&inner, &quick());
    let result = run(&mut service, TestRequest::new(READ)).await;
    assert!(matches!(
        result,
        Err(ProviderError::Transport(TransportError {
            phase: SendPhase::Sent,
            timed_out: true,
            ..
        }))
    ));
    assert_eq!(inner.calls(), 3);

    let inner = Scripted::new([Step::Hang, Step::Now(ok())]);
    let (mut service, _) = build(&inner, &quick());
    assert!(run(&mut service, TestRequest::new(READ)).await.is_ok());
    assert_eq!(inner.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_call() {
    for _ in 0..10 {
        let inner = Scripted::new([Step::Hang, Step::Hang, Step::Hang]);
        let (mut service, _) = build(&inner, &quick());
        let start = Instant::now();
        let request = TestRequest::new(READ).deadline_in(Duration::from_millis(1500));
        let result = run(&mut service, request).await;
        assert!(start.elapsed() <= Duration::from_millis(1500));
        // The first attempt times out after 1 s: that is now the latency
        // the provider has shown, so the retry, with less than that left,
        // is refused before it is sent rather than cut by the deadline.
        assert!(
            matches!(result, Err(ProviderError::RateLimited { op: READ, .. })),
            "{result:?}"
        );
        assert!(start.elapsed() < Duration::from_millis(1200));
        assert_eq!(inner.calls(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_spends_nothing() {
    let settings = ResilienceSettings {
        rate_per_second: 1,
        burst: 1,
        ..quick()
    };
    let inner = Scripted::always(ok());
    let (mut service, limits) = build(&inner, &settings);
    let result = run(
        &mut service,
        TestRequest::new(ALLOCATE).deadline_in(Duration::ZERO),
    )
    .await;
    assert_eq!(
        result.err(),
        Some(ProviderError::DeadlineExceeded {
            op: ALLOCATE,
            sent: false
        })
    );
    assert_eq!(inner.calls(), 0);
    assert!(
        limits.admission().account().available_now(),
        "no slot taken"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_take_rate_limit_tokens() {
    let settings = ResilienceSettings {
        rate_per_second: 1,
        burst: 1,
        ..quick()
    };
    // The retry waits for the next token, a second after the first.
    let inner = Scripted::new([Err(throttled(ALLOCATE, None)), ok()]);
    let (mut service, _) = build(&inner, &settings);
    let start = Instant::now();
    assert!(run(&mut service, TestRequest::new(ALLOCATE)).await.is_ok());
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(inner.calls(), 2);

    // With half a second left, the retry cannot get a token: RateLimited,
    // and it was not sent.
    let inner = Scripted::new([Err(throttled(ALLOCATE, None)), ok()]);
    let (mut service, _) = build(&inner, &settings);
    let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(500));
    let result = run(&mut service, request).await;
    assert!(
        matches!(result, Err(ProviderError::RateLimited { op, retry_after })
            if op == ALLOCATE && retry_after <= Duration::from_secs(1)),
        "{result:?}"
    );
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn stacks_of_one_account_share_its_limits() {
    let settings = ResilienceSettings {
        max_concurrency: 1,
        attempt_timeout: Duration::from_secs(30),
        ..quick()
    };
    let limits = ProviderLimits::new(&settings);
    let hanging = Scripted::new([Step::Hang]);
    let other = Scripted::always(ok());
    let first = stack(hanging.clone(), &settings, &limits);
    let mut second: Stack = stack(other.clone(), &settings, &limits);
    let task = tokio::spawn(first.oneshot(TestRequest::new(READ)));
    tokio::task::yield_now().await;
    assert_eq!(hanging.calls(), 1);

    let request = TestRequest::new(READ).deadline_in(Duration::from_millis(100));
    let result = run(&mut second, request).await;
    assert_eq!(
        result.err(),
        Some(ProviderError::DeadlineExceeded {
            op: READ,
            sent: false
        })
    );
    assert_eq!(other.calls(), 0);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn default_settings_honour_a_provider_retry_after() {
    let asked = Duration::from_millis(1200);
    let inner = Scripted::new([Err(throttled(ALLOCATE, Some(asked))), ok()]);
    let (mut service, _) = build(&inner, &ResilienceSettings::default());
    let start = Instant::now();
    let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(10));
    assert!(run(&mut service, request).await.is_ok());
    assert_eq!(start.elapsed(), asked);
    assert_eq!(inner.calls(), 2);
}
