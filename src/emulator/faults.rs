//! Fault injection and counters shared by the emulators: throttling (by
//! probability or above a QPS), 5xx answers, added latency, and "perform the
//! allocation, then drop the connection". Settable at start and while running
//! (through the admin endpoint); counters prove what the emulator saw.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The faults an emulator injects. Every field has a harmless default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Probability (0..=1) that a request is answered with the provider's
    /// throttling error instead of being performed.
    pub throttle_probability: f64,
    /// Throttle every request beyond this many in any one-second window.
    pub throttle_above_qps: Option<u32>,
    /// Probability (0..=1) of a 5xx answer instead of performing the request.
    pub error_5xx_probability: f64,
    /// Latency added before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Probability (0..=1) that an allocation is performed and then the
    /// connection is dropped without an answer.
    pub drop_after_allocate_probability: f64,
    /// Eventual consistency: for this many milliseconds after an
    /// allocation, Describe calls do not show it yet (Alibaba: the
    /// instance's new public IP; Zenlayer: the new EIPs).
    pub describe_lag_ms: u64,
}

impl FaultConfig {
    /// Checks probabilities are within 0..=1.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("throttle_probability", self.throttle_probability),
            ("error_5xx_probability", self.error_5xx_probability),
            (
                "drop_after_allocate_probability",
                self.drop_after_allocate_probability,
            ),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be within 0..=1, got {p}"));
            }
        }
        Ok(())
    }
}

/// What the emulator decided for one request before performing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Perform it.
    Proceed,
    /// Answer with the provider's throttling error.
    Throttle,
    /// Answer with a 5xx error.
    ServerError,
}

/// Counters, readable through the admin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// API requests received (admin requests excluded).
    pub requests: u64,
    /// Successful allocation calls performed.
    pub allocate_calls: u64,
    /// Addresses allocated (an EIP call with amount 3 counts 3).
    pub allocations: u64,
    /// Requests answered with a throttling error.
    pub throttled: u64,
    /// Requests answered with an injected 5xx.
    pub server_errors: u64,
    /// Allocations performed whose connection was then dropped.
    pub dropped: u64,
    /// Requests rejected for a bad signature, credential or timestamp.
    pub auth_failures: u64,
    /// The most requests seen in any one-second window.
    pub max_requests_per_second: u64,
}

/// Faults plus counters, shared by every request of one emulator.
#[derive(Debug, Default)]
pub struct Faults {
    config: Mutex<FaultConfig>,
    window: Mutex<VecDeque<Instant>>,
    requests: AtomicU64,
    allocate_calls: AtomicU64,
    allocations: AtomicU64,
    throttled: AtomicU64,
    server_errors: AtomicU64,
    dropped: AtomicU64,
    auth_failures: AtomicU64,
    max_per_second: AtomicU64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        Faults {
            config: Mutex::new(config),
            ..Faults::default()
        }
    }

    pub fn config(&self) -> FaultConfig {
        lock(&self.config).clone()
    }

    pub fn set_config(&self, config: FaultConfig) {
        *lock(&self.config) = config;
    }

    /// Counts an API request, waits the configured latency, and decides
    /// whether to throttle it or fail it.
    pub async fn admit(&self) -> Verdict {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let in_window = self.note_arrival();
        let config = self.config();
        if config.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
        }
        let mut rng = rand::rng();
        let over_qps = config
            .throttle_above_qps
            .is_some_and(|limit| in_window > u64::from(limit));
        if over_qps || rng.random_bool(config.throttle_probability.clamp(0.0, 1.0)) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Verdict::Throttle;
        }
        if rng.random_bool(config.error_5xx_probability.clamp(0.0, 1.0)) {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
            return Verdict::ServerError;
        }
        Verdict::Proceed
    }

    /// Records performed allocations; returns true when the connection must
    /// now be dropped without an answer.
    pub fn allocated(&self, addresses: u64) -> bool {
        self.allocate_calls.fetch_add(1, Ordering::Relaxed);
        self.allocations.fetch_add(addresses, Ordering::Relaxed);
        let p = self
            .config()
            .drop_after_allocate_probability
            .clamp(0.0, 1.0);
        let drop = rand::rng().random_bool(p);
        if drop {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }

    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            allocate_calls: self.allocate_calls.load(Ordering::Relaxed),
            allocations: self.allocations.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            auth_failures: self.auth_failures.load(Ordering::Relaxed),
            max_requests_per_second: self.max_per_second.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter to zero.
    pub fn reset_counters(&self) {
        for counter in [
            &self.requests,
            &self.allocate_calls,
            &self.allocations,
            &self.throttled,
            &self.server_errors,
            &self.dropped,
            &self.auth_failures,
            &self.max_per_second,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        lock(&self.window).clear();
    }

    /// Adds this arrival to the sliding one-second window; returns how many
    /// requests the window now holds.
    fn note_arrival(&self) -> u64 {
        let now = Instant::now();
        let mut window = lock(&self.window);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        window.push_back(now);
        let count = window.len() as u64;
        self.max_per_second.fetch_max(count, Ordering::Relaxed);
        count
    }
}

/// A poisoned lock only means another request panicked mid-update; the data
/// (counters, a config) is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn certain_faults_always_fire_and_are_counted() {
        let faults = Faults::new(FaultConfig {
            throttle_probability: 1.0,
            ..FaultConfig::default()
        });
        for _ in 0..5 {
            assert_eq!(faults.admit().await, Verdict::Throttle);
        }
        faults.set_config(FaultConfig {
            error_5xx_probability: 1.0,
            ..FaultConfig::default()
        });
        assert_eq!(faults.admit().await, Verdict::ServerError);
        faults.set_config(FaultConfig {
            drop_after_allocate_probability: 1.0,
            ..FaultConfig::default()
        });
        assert_eq!(faults.admit().await, Verdict::Proceed);
        assert!(faults.allocated(3));
        let s = faults.snapshot();
        assert_eq!((s.requests, s.throttled, s.server_errors), (7, 5, 1));
        assert_eq!((s.allocate_calls, s.allocations, s.dropped), (1, 3, 1));
        assert_eq!(s.max_requests_per_second, 7);
        faults.reset_counters();
        assert_eq!(faults.snapshot(), CounterSnapshot::default());
    }

    #[tokio::test]
    async fn qps_limit_throttles_the_excess_in_a_window() {
        let faults = Faults::new(FaultConfig {
            throttle_above_qps: Some(3),
            ..FaultConfig::default()
        });
        let mut verdicts = Vec::new();
        for _ in 0..5 {
            verdicts.push(faults.admit().await);
        }
        assert_eq!(
            verdicts,
            [
                Verdict::Proceed,
                Verdict::Proceed,
                Verdict::Proceed,
                Verdict::Throttle,
                Verdict::Throttle
            ]
        );
    }

    #[test]
    fn probabilities_are_validated() {
        let bad = FaultConfig {
            throttle_probability: 1.5,
            ..FaultConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("throttle_probability"));
        assert!(FaultConfig::default().validate().is_ok());
        // Omitted fields are off; unknown ones are refused.
        let lag: FaultConfig = serde_json::from_str(r#"{"describe_lag_ms": 500}"#).unwrap();
        assert_eq!(lag.describe_lag_ms, 500);
        assert_eq!(lag.drop_after_allocate_probability, 0.0);
        assert!(serde_json::from_str::<FaultConfig>(r#"{"describe_lag": 1}"#).is_err());
    }
}
