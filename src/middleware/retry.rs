//! The retry policy (`tower::retry::Policy`): retry only what certainly did
//! not execute, plus, for reads, what may have. It decides nothing about
//! errors itself: it reads each error's classification
//! ([`ProviderError::classification`], chosen once where the error is made).
//!
//! - Always retried: errors of `RetryClass::Retryable` (nothing was sent,
//!   throttling, `SERVICE_TEMPORARY_UNAVAILABLE`, ...).
//! - Retried for reads only: errors of `RetryClass::IdempotentOnly` (sent
//!   without an answer, provider-side failures, an unreadable 5xx).
//! - Never retried: everything else, and above all a mutating call whose
//!   outcome is unknown; nor what the classification says not to resend (an
//!   unreadable answer other than a 5xx, the gateway's own refusals after
//!   waiting as long as the deadline allowed: `RateLimited`,
//!   `DeadlineExceeded`).
//!
//! Backoff is exponential with full jitter (uniform in
//! `0..=min(backoff_max, backoff_base * 2^retry)`); a provider's
//! `retry_after` is waited out exactly instead, unless it is longer than
//! `backoff_max`, in which case the error goes back to the caller (who sees
//! it in RetryInfo). A retry also needs a token from the account's shared
//! `TpsBudget` (one deposit per call, one withdrawal per retry), must stay
//! within `max_attempts`, and its sleep must end before the deadline.
//!
//! Every retry re-sends the request through the layers below, down to the
//! adapter's innermost service, which signs it afresh.

use std::sync::Arc;
use std::time::Duration;

use super::budget::RetryBudget;
use rand::Rng;
use tokio::time::{Instant, Sleep};
use tower::retry::Policy;

use super::{AttemptRequest, ResilienceSettings};
use crate::provider::Operation;
use crate::provider::error::ProviderError;

/// Whether a failed attempt of `op` may be repeated.
///
/// A call counts as a read only if neither the request's operation nor the
/// error's says it mutates.
pub fn is_retryable(error: &ProviderError, op: Operation) -> bool {
    let read = !op.mutating && !error.operation().is_some_and(|op| op.mutating);
    let class = error.classification();
    class.resend && class.repeatable(read)
}

/// How long the provider asked us to wait, if it did.
fn retry_after(error: &ProviderError) -> Option<Duration> {
    match error {
        ProviderError::Api(api) => api.retry_after,
        _ => None,
    }
}

/// `min(max, base * 2^retry)`, without overflowing.
fn backoff_ceiling(retry: u32, base: Duration, max: Duration) -> Duration {
    2u32.checked_pow(retry)
        .and_then(|factor| base.checked_mul(factor))
        .map_or(max, |ceiling| ceiling.min(max))
}

/// Full jitter: uniform in `0..=backoff_ceiling(retry, base, max)`.
fn full_jitter<G: Rng + ?Sized>(
    retry: u32,
    base: Duration,
    max: Duration,
    rng: &mut G,
) -> Duration {
    let ceiling = backoff_ceiling(retry, base, max);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// tokio's timer resolution: a sleep ends up to this much after its instant.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// The policy. The copy held by the service is a template (`retries` 0);
/// tower clones it for every call, and that copy counts the call's retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    budget: Arc<RetryBudget>,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    /// Retries already made for the call this copy follows.
    retries: u32,
}

impl RetryPolicy {
    pub fn new(settings: &ResilienceSettings, budget: Arc<RetryBudget>) -> Self {
        RetryPolicy {
            budget,
            max_attempts: settings.max_attempts.max(1),
            backoff_base: settings.backoff_base,
            backoff_max: settings.backoff_max,
            retries: 0,
        }
    }

    fn attempts_made(&self) -> u32 {
        self.retries.saturating_add(1)
    }
}

impl<R, Res> Policy<R, Res, ProviderError> for RetryPolicy
where
    R: AttemptRequest,
{
    type Future = Sleep;

    fn retry(&mut self, request: &mut R, result: &mut Result<Res, ProviderError>) -> Option<Sleep> {
        let error = result.as_ref().err()?;
        if self.attempts_made() >= self.max_attempts || !is_retryable(error, request.operation()) {
            return None;
        }
        let delay = match retry_after(error) {
            Some(asked) if asked > self.backoff_max => return None,
            Some(asked) => asked,
            None => full_jitter(
                self.retries,
                self.backoff_base,
                self.backoff_max,
                &mut rand::rng(),
            ),
        };
        let wake = Instant::now().checked_add(delay)?;
        // A sleep ending at or after the deadline could only end in
        // DeadlineExceeded; tokio's timers may fire up to a tick late.
        let latest_wake = wake.checked_add(TIMER_TICK)?;
        if request
            .deadline()
            .is_some_and(|deadline| latest_wake >= deadline)
        {
            return None;
        }
        // Last, so that only retries actually made spend the budget.
        if !self.budget.withdraw() {
            return None;
        }
        self.retries = self.attempts_made();
        Some(tokio::time::sleep_until(wake))
    }

    fn clone_request(&mut self, request: &R) -> Option<R> {
        // tower calls this on the template once per call, before the first
        // attempt, and on the call's own copy before each retry.
        if self.retries == 0 {
            self.budget.deposit();
        }
        // No copy is needed when no retry can follow.
        if self.attempts_made() >= self.max_attempts {
            return None;
        }
        Some(request.clone())
    }
}

#[cfg(test)]
mod tests {
    use tower::retry::Retry;
    use tower::{Service, ServiceExt};

    use super::*;
    use crate::middleware::BudgetSettings;
    use crate::middleware::testing::{
        ALLOCATE, Answer, READ, Scripted, TestRequest, api, malformed, not_sent, ok, sent,
        throttled,
    };
    use crate::provider::ProviderKind::{Aliyun, Zenlayer};
    use crate::provider::error::{SendPhase, TransportError};
    use tower::retry::budget::TpsBudget;

    fn settings(max_attempts: u32) -> ResilienceSettings {
        ResilienceSettings {
            max_attempts,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            ..Default::default()
        }
    }

    /// A budget large enough never to matter.
    fn ample_budget() -> Arc<RetryBudget> {
        Arc::new(RetryBudget::new(TpsBudget::new(
            Duration::from_secs(10),
            1000,
            1000.0,
        )))
    }

    fn retrying(inner: &Scripted, settings: &ResilienceSettings) -> Retry<RetryPolicy, Scripted> {
        Retry::new(RetryPolicy::new(settings, ample_budget()), inner.clone())
    }

    async fn run(service: &mut Retry<RetryPolicy, Scripted>, request: TestRequest) -> Answer {
        service.ready().await.unwrap().call(request).await
    }

    fn numbered_not_sent(attempt: u32) -> ProviderError {
        ProviderError::Transport(TransportError {
            op: ALLOCATE,
            phase: SendPhase::NotSent,
            timed_out: false,
            detail: format!("attempt {attempt}"),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn not_sent_is_retried_up_to_max_attempts_then_the_last_error_returns() {
        let inner = Scripted::new((1..=6).map(|n| Err(numbered_not_sent(n))));
        let mut service = retrying(&inner, &settings(4));
        let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
        assert_eq!(result.err(), Some(numbered_not_sent(4)));
        assert_eq!(inner.calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_and_temporary_unavailability_are_retried_even_for_allocations() {
        let cases = [
            (Aliyun, "Throttling", 400),
            (Aliyun, "Throttling.User", 400),
            (Aliyun, "Throttling.Api", 400),
            (Aliyun, "SomethingNew", 429),
            (Zenlayer, "REQUEST_LIMIT_EXCEEDED", 429),
            (Zenlayer, "SERVICE_TEMPORARY_UNAVAILABLE", 503),
            (Zenlayer, "SECURITY_CHALLENGE", 403),
        ];
        for (kind, code, status) in cases {
            let inner = Scripted::new([Err(api(kind, ALLOCATE, code, status)), ok()]);
            let mut service = retrying(&inner, &settings(4));
            let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
            assert!(result.is_ok(), "{code}");
            assert_eq!(inner.calls(), 2, "{code}");
        }
        // Throttled every time: max_attempts, then the last throttle.
        let inner = Scripted::always(Err(throttled(ALLOCATE, None)));
        let mut service = retrying(&inner, &settings(3));
        let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
        assert_eq!(result.err(), Some(throttled(ALLOCATE, None)));
        assert_eq!(inner.calls(), 3);
    }

    /// Errors after which a write may have happened, or a read may succeed.
    fn outcome_unknown(op: crate::provider::Operation) -> Vec<ProviderError> {
        let answers = [
            (Aliyun, "InternalError", 500),
            (Aliyun, "ServiceUnavailable", 503),
            (Aliyun, "UnknownError", 500),
            (Aliyun, "SignatureNonceUsed", 400),
            (Aliyun, "SomethingNew", 502),
            (Zenlayer, "INTERNAL_SERVER_ERROR", 500),
            (Zenlayer, "REQUEST_TIMED_OUT", 503),
        ];
        let mut errors = vec![sent(op, true), sent(op, false)];
        errors.extend(answers.map(|(kind, code, status)| api(kind, op, code, status)));
        errors.extend([malformed(op, 502), malformed(op, 500)]);
        errors
    }

    #[tokio::test(start_paused = true)]
    async fn a_mutating_call_whose_outcome_is_unknown_is_never_retried() {
        for error in outcome_unknown(ALLOCATE) {
            let inner = Scripted::new([Err(error.clone()), ok()]);
            let mut service = retrying(&inner, &settings(4));
            let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
            assert_eq!(result.err(), Some(error.clone()));
            assert_eq!(inner.calls(), 1, "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reads_are_retried_when_the_outcome_is_unknown() {
        for error in outcome_unknown(READ) {
            let inner = Scripted::new([Err(error.clone()), ok()]);
            let mut service = retrying(&inner, &settings(4));
            let result = run(&mut service, TestRequest::new(READ)).await;
            assert!(result.is_ok(), "{error}");
            assert_eq!(inner.calls(), 2, "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn definite_failures_are_never_retried() {
        let answers = [
            (Aliyun, "InvalidInstanceId.NotFound", 404),
            (Aliyun, "Forbidden.RAM", 403),
            (Aliyun, "SignatureDoesNotMatch", 400),
            (Zenlayer, "INVALID_ZONE_NOT_FOUND", 404),
            (Zenlayer, "SomethingNew", 400),
        ];
        let answers = answers.map(|(kind, code, status)| api(kind, READ, code, status));
        let others = [
            malformed(READ, 200),
            malformed(READ, 404),
            ProviderError::NotFound {
                op: READ,
                reason: "EIP_NOT_FOUND",
                message: "no such EIP".into(),
                request_id: None,
            },
            ProviderError::RateLimited {
                op: READ,
                retry_after: Duration::from_millis(10),
            },
            ProviderError::DeadlineExceeded {
                op: READ,
                sent: true,
            },
            ProviderError::DeadlineExceeded {
                op: READ,
                sent: false,
            },
            ProviderError::Internal("bug".into()),
        ];
        for error in answers.into_iter().chain(others) {
            let inner = Scripted::new([Err(error.clone()), ok()]);
            let mut service = retrying(&inner, &settings(4));
            let result = run(&mut service, TestRequest::new(READ)).await;
            assert_eq!(result.err(), Some(error.clone()));
            assert_eq!(inner.calls(), 1, "{error}");
        }
    }

    #[test]
    fn a_read_request_with_a_mutating_error_counts_as_mutating() {
        assert!(!is_retryable(&sent(ALLOCATE, true), READ));
        assert!(is_retryable(&sent(READ, true), READ));
        assert!(!is_retryable(&sent(READ, true), ALLOCATE));
        assert!(is_retryable(&not_sent(ALLOCATE), READ));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_exactly() {
        let asked = Duration::from_millis(2500);
        let inner = Scripted::new([Err(throttled(ALLOCATE, Some(asked))), ok()]);
        let mut service = retrying(&inner, &settings(4));
        let start = Instant::now();
        let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
        assert!(result.is_ok());
        assert_eq!(start.elapsed(), asked);
        let seen = inner.seen();
        assert_eq!(seen[1].1 - seen[0].1, asked);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_beyond_backoff_max_goes_back_to_the_caller() {
        let error = throttled(ALLOCATE, Some(Duration::from_secs(6)));
        let inner = Scripted::new([Err(error.clone()), ok()]);
        let mut service = retrying(&inner, &settings(4));
        let start = Instant::now();
        let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
        assert_eq!(result.err(), Some(error));
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(inner.calls(), 1);
    }

    #[test]
    fn full_jitter_stays_within_its_ceiling() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut rng = rand::rng();
        for retry in 0..10 {
            let ceiling = backoff_ceiling(retry, base, max);
            assert_eq!(ceiling, (base * 2u32.pow(retry)).min(max));
            let samples: Vec<Duration> = (0..1000)
                .map(|_| full_jitter(retry, base, max, &mut rng))
                .collect();
            assert!(samples.iter().all(|s| *s <= ceiling), "retry {retry}");
            // Spread over the whole range, not clustered at one end.
            assert!(samples.iter().any(|s| *s < ceiling / 4), "retry {retry}");
            assert!(
                samples.iter().any(|s| *s > ceiling * 3 / 4),
                "retry {retry}"
            );
        }
        // Huge exponents and bases saturate at the maximum.
        assert_eq!(backoff_ceiling(40, base, max), max);
        assert_eq!(backoff_ceiling(3, Duration::MAX, max), max);
        assert_eq!(
            full_jitter(0, Duration::ZERO, max, &mut rng),
            Duration::ZERO
        );
        assert!(full_jitter(5, Duration::MAX, Duration::MAX, &mut rng) <= Duration::MAX);
    }

    /// The sleeps the policy actually takes between attempts stay below the
    /// full-jitter ceiling of each retry.
    #[tokio::test(start_paused = true)]
    async fn gaps_between_attempts_stay_within_the_backoff_ceilings() {
        let settings = settings(6);
        for _ in 0..20 {
            let inner = Scripted::always(Err(not_sent(ALLOCATE)));
            let mut service = retrying(&inner, &settings);
            let _ = run(&mut service, TestRequest::new(ALLOCATE)).await;
            let seen = inner.seen();
            assert_eq!(seen.len(), 6);
            for (retry, pair) in seen.windows(2).enumerate() {
                let gap = pair[1].1 - pair[0].1;
                let ceiling =
                    backoff_ceiling(retry as u32, settings.backoff_base, settings.backoff_max);
                assert!(gap <= ceiling, "retry {retry}: slept {gap:?} > {ceiling:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_backoff_sleep_ends_after_the_deadline() {
        // The provider asks for 3 s; the caller has 1 s: give up now.
        let error = throttled(ALLOCATE, Some(Duration::from_secs(3)));
        let inner = Scripted::new([Err(error.clone()), ok()]);
        let mut service = retrying(&inner, &settings(4));
        let start = Instant::now();
        let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_secs(1));
        assert_eq!(run(&mut service, request).await.err(), Some(error));
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(inner.calls(), 1);

        // Jittered sleeps of up to 400 ms against a 500 ms deadline: however
        // the dice fall, the call ends before its deadline with the last error.
        let settings = ResilienceSettings {
            max_attempts: 50,
            backoff_base: Duration::from_millis(400),
            backoff_max: Duration::from_millis(400),
            ..Default::default()
        };
        for _ in 0..20 {
            let inner = Scripted::always(Err(not_sent(ALLOCATE)));
            let mut service = retrying(&inner, &settings);
            let start = Instant::now();
            let request = TestRequest::new(ALLOCATE).deadline_in(Duration::from_millis(500));
            let result = run(&mut service, request).await;
            assert_eq!(result.err(), Some(not_sent(ALLOCATE)));
            assert!(start.elapsed() < Duration::from_millis(500));
            assert!(inner.calls() >= 1);
        }
    }

    /// One deposit per call, one withdrawal per retry: with no reserve and a
    /// ratio of 1, each call affords exactly one retry.
    #[tokio::test(start_paused = true)]
    async fn each_call_deposits_once_and_each_retry_withdraws() {
        let budget = Arc::new(RetryBudget::new(TpsBudget::new(
            Duration::from_secs(1),
            0,
            1.0,
        )));
        let inner = Scripted::always(Err(throttled(ALLOCATE, None)));
        let mut service = Retry::new(RetryPolicy::new(&settings(4), budget), inner.clone());
        for call in 1..=3 {
            let result = run(&mut service, TestRequest::new(ALLOCATE)).await;
            assert!(result.is_err());
            assert_eq!(inner.calls(), call * 2);
        }
    }

    /// 100% throttling over many calls: the budget holds the total of
    /// attempts to calls * (1 + ratio) + min_per_second * ttl.
    #[tokio::test(start_paused = true)]
    async fn exhausted_budget_stops_retries() {
        const CALLS: usize = 200;
        let settings = ResilienceSettings {
            max_attempts: 4,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            retry_budget: BudgetSettings {
                ttl: Duration::from_secs(10),
                min_per_second: 5,
                retry_ratio: 0.2,
            },
            ..Default::default()
        };
        let limits = crate::middleware::ProviderLimits::new(&settings);
        let inner = Scripted::always(Err(throttled(ALLOCATE, None)));
        let policy = RetryPolicy::new(&settings, limits.retry_budget());
        let mut service = Retry::new(policy, inner.clone());
        for _ in 0..CALLS {
            assert!(run(&mut service, TestRequest::new(ALLOCATE)).await.is_err());
        }
        let bound = CALLS as f64 * 1.2 + 5.0 * 10.0;
        assert!(inner.calls() as f64 <= bound, "{} > {bound}", inner.calls());
        assert!(inner.calls() > CALLS, "the budget allowed some retries");
        assert!(inner.calls() < CALLS * 4);
    }

    #[tokio::test(start_paused = true)]
    async fn success_and_single_attempt_settings_do_not_retry() {
        let inner = Scripted::new([ok(), Err(not_sent(ALLOCATE)), ok()]);
        let mut service = retrying(&inner, &settings(4));
        assert!(run(&mut service, TestRequest::new(ALLOCATE)).await.is_ok());
        assert_eq!(inner.calls(), 1);

        let mut once = retrying(&inner, &settings(0));
        let result = run(&mut once, TestRequest::new(ALLOCATE)).await;
        assert_eq!(result.err(), Some(not_sent(ALLOCATE)));
        assert_eq!(inner.calls(), 2);
    }
}
