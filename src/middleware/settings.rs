//! Settings of the resilience stack, and the limits one provider account
//! shares across all its stacks (retry budget, rate limiter, in-flight cap);
//! in fleet mode the rate limit is shared with the other gateways too; and
//! the account's metrics, which the retry budget and the rate limit record
//! into.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::retry::budget::TpsBudget;

use super::budget::RetryBudget;
use crate::admin::{AccountMetrics, Metrics};

use super::rate_limit::{Admission, FleetRate, SharedAccount};

/// How the stack retries, limits and times out one provider account's calls.
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceSettings {
    /// Longest single attempt (the caller's deadline may cut it shorter).
    pub attempt_timeout: Duration,
    /// Attempts per call, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Ceiling of the first retry's full-jitter backoff; doubles per retry.
    pub backoff_base: Duration,
    /// Largest backoff ceiling, and the longest provider `retry_after` the
    /// gateway waits out itself (a longer one goes back to the caller).
    pub backoff_max: Duration,
    pub retry_budget: BudgetSettings,
    /// Sustained provider requests per second from this account.
    pub rate_per_second: u32,
    /// Requests that may go out at once after a quiet period.
    pub burst: u32,
    /// Provider requests in flight at once from this account.
    pub max_concurrency: usize,
    /// The share (0 < share <= 1) of `rate_per_second` and `burst` that
    /// reads (polling, lookups) may use; allocations keep the rest.
    pub read_share: f64,
    /// The least time admission reserves for an attempt before the
    /// deadline, whatever latency the provider has shown.
    pub reserve_floor: Duration,
}

/// The retry budget (`tower::retry::budget::TpsBudget`): retries may add at
/// most `retry_ratio` of the calls made in the last `ttl`, plus a floor of
/// `min_per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSettings {
    /// How long a call counts towards the budget (1 to 60 s).
    pub ttl: Duration,
    /// Retries per second allowed however few calls there were.
    pub min_per_second: u32,
    /// Retries allowed per call (0.2 = one retry per five calls).
    pub retry_ratio: f32,
}

impl Default for ResilienceSettings {
    /// Conservative: an allocation costs money, the providers' own limits
    /// are not published (Zenlayer) or per API (Alibaba), and a retry storm
    /// against a throttling provider only makes the throttling longer.
    fn default() -> Self {
        ResilienceSettings {
            // `request_timeout_ms`, 30 s (Alibaba's SDK reads for 36 s): a
            // short timeout on an allocation turns a slow success into an
            // unknown outcome.
            attempt_timeout: Duration::from_secs(30),
            // 1 + 3 retries, what both Alibaba's and Zenlayer's SDKs do.
            max_attempts: 4,
            // Alibaba's SDK backs off 100, 200, 400 ms; full jitter spreads
            // the retries of callers that were throttled together.
            backoff_base: Duration::from_millis(100),
            // Keeps the gateway's own waiting well inside a typical deadline;
            // longer provider retry-afters are passed to the caller instead.
            backoff_max: Duration::from_secs(5),
            retry_budget: BudgetSettings::default(),
            // Neither provider publishes a per-account limit we could rely
            // on; 10/s is far above what allocation traffic needs and far
            // below what gets an account throttled.
            rate_per_second: 10,
            burst: 10,
            // Allocation calls take seconds; 16 in flight is plenty and
            // keeps one slow provider from holding many sockets.
            max_concurrency: 16,
            // Half for reads: a busy `wait`/WatchAllocation population can
            // never take more, and allocations use what reads leave.
            read_share: 0.5,
            // The reserve follows the p99 the provider shows; the floor
            // covers a cold start and timer slack without refusing callers
            // whose short deadlines a fast provider can meet.
            reserve_floor: Duration::from_millis(100),
        }
    }
}

impl Default for BudgetSettings {
    /// Retries add at most 20% to the provider's load (plus 5/s so that a
    /// quiet account can still retry), counted over the last 10 s.
    fn default() -> Self {
        BudgetSettings {
            ttl: Duration::from_secs(10),
            min_per_second: 5,
            retry_ratio: 0.2,
        }
    }
}

/// A setting out of range, found by [`ResilienceSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resilience setting {field}: {problem}")]
pub struct InvalidSettings {
    pub field: &'static str,
    pub problem: &'static str,
}

impl ResilienceSettings {
    /// Checks every setting. [`ProviderLimits::new`] and the layers never
    /// panic on bad values (they clamp them), so configuration loading
    /// should call this to reject them loudly instead.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let fail = |field, problem| Err(InvalidSettings { field, problem });
        let budget = &self.retry_budget;
        if self.attempt_timeout.is_zero() {
            return fail("attempt_timeout", "must be positive");
        }
        if self.max_attempts == 0 {
            return fail("max_attempts", "must be at least 1");
        }
        if self.backoff_base.is_zero() {
            return fail("backoff_base", "must be positive");
        }
        if self.backoff_max < self.backoff_base {
            return fail("backoff_max", "must not be less than backoff_base");
        }
        if budget.ttl < MIN_BUDGET_TTL || budget.ttl > MAX_BUDGET_TTL {
            return fail("retry_budget.ttl", "must be between 1 and 60 seconds");
        }
        if budget.min_per_second > MAX_BUDGET_MIN_PER_SECOND {
            return fail("retry_budget.min_per_second", "is too large");
        }
        if !(0.0..=MAX_RETRY_RATIO).contains(&budget.retry_ratio) {
            return fail("retry_budget.retry_ratio", "must be between 0 and 1000");
        }
        if self.rate_per_second == 0 {
            return fail("rate_per_second", "must be at least 1");
        }
        if self.burst == 0 {
            return fail("burst", "must be at least 1");
        }
        if self.max_concurrency == 0 || self.max_concurrency > Semaphore::MAX_PERMITS {
            return fail("max_concurrency", "must be between 1 and 2^61 - 1");
        }
        if !(self.read_share > 0.0 && self.read_share <= 1.0) {
            return fail("read_share", "must be above 0 and at most 1");
        }
        if self.reserve_floor > MAX_RESERVE_FLOOR {
            return fail("reserve_floor", "must be at most 60 seconds");
        }
        Ok(())
    }
}

// TpsBudget::new asserts these ranges.
const MIN_BUDGET_TTL: Duration = Duration::from_secs(1);
const MAX_BUDGET_TTL: Duration = Duration::from_secs(60);
const MAX_BUDGET_MIN_PER_SECOND: u32 = i32::MAX as u32 - 1;
const MAX_RETRY_RATIO: f32 = 1000.0;
const MAX_RESERVE_FLOOR: Duration = Duration::from_secs(60);

/// The limits one provider account shares across every stack built for it:
/// create one per account and pass it to each [`super::stack`]. Cloning
/// shares the limits.
#[derive(Debug, Clone)]
pub struct ProviderLimits {
    retry_budget: Arc<RetryBudget>,
    admission: Arc<Admission>,
    in_flight: Arc<Semaphore>,
    metrics: Arc<AccountMetrics>,
}

impl ProviderLimits {
    /// Builds the limits. Out-of-range settings are clamped to the nearest
    /// valid value (zero rates and caps become 1), never a panic; see
    /// [`ResilienceSettings::validate`]. Without an account, its metrics
    /// are its own ([`AccountMetrics::detached`]).
    pub fn new(settings: &ResilienceSettings) -> Self {
        Self::build(settings, None, AccountMetrics::detached("unnamed"))
    }

    /// Fleet mode: like [`ProviderLimits::new`], with the account's rate
    /// limit booked on `shared`'s limiter, which every gateway using the
    /// account shares (reads fall back to this replica's part of the rate
    /// when it cannot be reached). The retry budget and the in-flight cap
    /// stay this process's own.
    pub fn shared(settings: &ResilienceSettings, shared: SharedAccount) -> Self {
        Self::build(settings, Some(shared), AccountMetrics::detached("unnamed"))
    }

    /// The limits of an account named `account`: fleet mode with `fleet`,
    /// this process's own without; recording into the account's metrics.
    pub fn for_account(
        settings: &ResilienceSettings,
        account: &str,
        fleet: Option<&FleetRate>,
    ) -> Self {
        let shared = fleet.map(|fleet| fleet.account(account));
        Self::build(settings, shared, Metrics::global().account(account))
    }

    fn build(
        settings: &ResilienceSettings,
        shared: Option<SharedAccount>,
        metrics: Arc<AccountMetrics>,
    ) -> Self {
        let budget = &settings.retry_budget;
        let ratio = if budget.retry_ratio.is_nan() {
            0.0
        } else {
            budget.retry_ratio.clamp(0.0, MAX_RETRY_RATIO)
        };
        let retry_budget = TpsBudget::new(
            budget.ttl.clamp(MIN_BUDGET_TTL, MAX_BUDGET_TTL),
            budget.min_per_second.min(MAX_BUDGET_MIN_PER_SECOND),
            ratio,
        );
        let rate = NonZeroU32::new(settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
        let permits = settings.max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let (read_share, floor, ceiling) = (
            settings.read_share,
            settings.reserve_floor.min(MAX_RESERVE_FLOOR),
            settings.attempt_timeout,
        );
        let admission = match shared {
            None => Admission::new(rate, burst, read_share, floor, ceiling),
            Some(shared) => Admission::shared(rate, burst, read_share, floor, ceiling, shared),
        };
        ProviderLimits {
            retry_budget: Arc::new(RetryBudget::counted(retry_budget, Arc::clone(&metrics))),
            admission: Arc::new(admission),
            in_flight: Arc::new(Semaphore::new(permits)),
            metrics,
        }
    }

    pub(super) fn retry_budget(&self) -> Arc<RetryBudget> {
        Arc::clone(&self.retry_budget)
    }

    pub(super) fn admission(&self) -> Arc<Admission> {
        Arc::clone(&self.admission)
    }

    pub(super) fn in_flight(&self) -> Arc<Semaphore> {
        Arc::clone(&self.in_flight)
    }

    pub(super) fn metrics(&self) -> Arc<AccountMetrics> {
        Arc::clone(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ResilienceSettings::default().validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_bad_field() {
        let bad = [
            (
                ResilienceSettings {
                    max_attempts: 0,
                    ..Default::default()
                },
                "max_attempts",
            ),
            (
                ResilienceSettings {
                    rate_per_second: 0,
                    ..Default::default()
                },
                "rate_per_second",
            ),
            (
                ResilienceSettings {
                    backoff_max: Duration::from_millis(1),
                    ..Default::default()
                },
                "backoff_max",
            ),
            (
                ResilienceSettings {
                    retry_budget: BudgetSettings {
                        retry_ratio: f32::NAN,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "retry_budget.retry_ratio",
            ),
            (
                ResilienceSettings {
                    retry_budget: BudgetSettings {
                        ttl: Duration::from_secs(61),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "retry_budget.ttl",
            ),
            (
                ResilienceSettings {
                    max_concurrency: 0,
                    ..Default::default()
                },
                "max_concurrency",
            ),
            (
                ResilienceSettings {
                    read_share: 0.0,
                    ..Default::default()
                },
                "read_share",
            ),
            (
                ResilienceSettings {
                    read_share: f64::NAN,
                    ..Default::default()
                },
                "read_share",
            ),
            (
                ResilienceSettings {
                    reserve_floor: Duration::from_secs(61),
                    ..Default::default()
                },
                "reserve_floor",
            ),
        ];
        for (settings, field) in bad {
            assert_eq!(settings.validate().map_err(|e| e.field), Err(field));
        }
    }

    /// TpsBudget::new, Quota and Semaphore::new panic on these; the limits
    /// clamp them instead.
    #[tokio::test]
    async fn limits_clamp_out_of_range_settings_without_panicking() {
        let settings = ResilienceSettings {
            retry_budget: BudgetSettings {
                ttl: Duration::ZERO,
                min_per_second: u32::MAX,
                retry_ratio: f32::NAN,
            },
            rate_per_second: 0,
            burst: 0,
            max_concurrency: usize::MAX,
            ..Default::default()
        };
        let limits = ProviderLimits::new(&settings);
        assert!(limits.admission.account().available_now());
        assert_eq!(limits.in_flight.available_permits(), Semaphore::MAX_PERMITS);

        let zero = ProviderLimits::new(&ResilienceSettings {
            max_concurrency: 0,
            retry_budget: BudgetSettings {
                ttl: Duration::from_secs(3600),
                min_per_second: 0,
                retry_ratio: -1.0,
            },
            ..Default::default()
        });
        assert_eq!(zero.in_flight.available_permits(), 1);
    }

    #[test]
    fn clones_share_the_limits() {
        let limits = ProviderLimits::new(&ResilienceSettings::default());
        let clone = limits.clone();
        assert!(Arc::ptr_eq(&limits.retry_budget, &clone.retry_budget));
        assert!(Arc::ptr_eq(&limits.admission, &clone.admission));
        assert!(Arc::ptr_eq(&limits.in_flight, &clone.in_flight));
    }
}
