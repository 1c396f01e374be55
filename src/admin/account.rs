//! The metrics of one provider account: its provider attempts, retries,
//! rate limit, unknown outcomes, reconciliations, idempotency replays,
//! conflicts and in-flight waits, and its EIPs' time to READY. Each series
//! is resolved once per account ([`AccountMetrics`]), so recording is an
//! atomic add or one histogram observation; only provider attempts, whose
//! action, outcome and error code vary, are looked up per attempt (a read
//! lock and a hash of static strings, no allocation).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::metrics::{Histograms, READY_BUCKETS, WAIT_BUCKETS, histograms};
use crate::provider::error::{ProviderError, SendPhase};
use crate::provider::{Lane, Operation};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabels {
    provider: Arc<str>,
    lane: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    provider: Arc<str>,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: Arc<str>,
    action: &'static str,
    outcome: &'static str,
    code: &'static str,
}

/// The lanes, in the order of the per-lane arrays.
const LANES: [Lane; 2] = [Lane::Allocation, Lane::Read];

fn lane_name(lane: Lane) -> &'static str {
    match lane {
        Lane::Allocation => "allocation",
        Lane::Read => "read",
    }
}

fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Allocation => 0,
        Lane::Read => 1,
    }
}

/// What a reconciliation with the provider found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// The allocation exists: it is recorded and answered.
    Found,
    /// The provider answered that nothing was allocated.
    NotFound,
    /// The lookup failed: nothing is re-sent.
    Failed,
}

const RECONCILED: [(Reconciled, &str); 3] = [
    (Reconciled::Found, "found"),
    (Reconciled::NotFound, "not_found"),
    (Reconciled::Failed, "failed"),
];

/// The families every account's series belong to.
#[derive(Clone)]
pub(super) struct Families {
    attempts: Family<AttemptLabels, Counter>,
    retries: Family<ProviderLabels, Counter>,
    budget_refusals: Family<ProviderLabels, Counter>,
    rate_waits: Histograms<LaneLabels>,
    rate_refusals: Family<LaneLabels, Counter>,
    outcome_unknown: Family<ProviderLabels, Counter>,
    reconciliations: Family<ResultLabels, Counter>,
    replays: Family<ProviderLabels, Counter>,
    conflicts: Family<ProviderLabels, Counter>,
    inflight_waits: Family<ResultLabels, Counter>,
    time_to_ready: Histograms<ProviderLabels>,
}

impl Families {
    pub(super) fn new() -> Families {
        Families {
            attempts: Family::default(),
            retries: Family::default(),
            budget_refusals: Family::default(),
            rate_waits: histograms(|| Histogram::new(WAIT_BUCKETS.iter().copied())),
            rate_refusals: Family::default(),
            outcome_unknown: Family::default(),
            reconciliations: Family::default(),
            replays: Family::default(),
            conflicts: Family::default(),
            inflight_waits: Family::default(),
            time_to_ready: histograms(|| Histogram::new(READY_BUCKETS.iter().copied())),
        }
    }

    #[rustfmt::skip]
    pub(super) fn register(&self, registry: &mut Registry) {
        let f = self.clone();
        registry.register("ipalloc_provider_attempts", "Provider requests sent (each retry is one), by account, action, outcome and provider error code", f.attempts);
        registry.register("ipalloc_provider_retries", "Retries of provider requests, by account", f.retries);
        registry.register("ipalloc_provider_retry_budget_refusals", "Retries not made because the account's retry budget was spent, by account", f.budget_refusals);
        registry.register("ipalloc_rate_limit_wait_seconds", "Time a provider request waited for its rate-limit slot, by account and lane", f.rate_waits);
        registry.register("ipalloc_rate_limit_refusals", "Provider requests refused by the gateway's rate limit (no slot before the deadline; nothing sent), by account and lane", f.rate_refusals);
        registry.register("ipalloc_allocations_outcome_unknown", "Allocation requests that may or may not have allocated (recorded as unknown, then reconciled), by account", f.outcome_unknown);
        registry.register("ipalloc_reconciliations", "Reconciliations of an unknown outcome with the provider, by account and result", f.reconciliations);
        registry.register("ipalloc_idempotency_replays", "AllocateIp calls answered from a completed idempotency record, by account", f.replays);
        registry.register("ipalloc_idempotency_conflicts", "AllocateIp calls refused because their idempotency key was used with other parameters, by account", f.conflicts);
        registry.register("ipalloc_idempotency_inflight_waits", "AllocateIp calls that waited for another call with the same key, by account and how the wait ended", f.inflight_waits);
        registry.register("ipalloc_eip_time_to_ready_seconds", "Time from an allocation's answer to the poll that saw its address READY (AllocateIp with wait), by account", f.time_to_ready);
    }

    /// The series of account `name`, created at zero.
    pub(super) fn account(&self, name: &str) -> AccountMetrics {
        let provider: Arc<str> = Arc::from(name);
        let one = || ProviderLabels {
            provider: Arc::clone(&provider),
        };
        let lane = |lane: Lane| LaneLabels {
            provider: Arc::clone(&provider),
            lane: lane_name(lane),
        };
        let result = |result: &'static str| ResultLabels {
            provider: Arc::clone(&provider),
            result,
        };
        AccountMetrics {
            retries: self.retries.get_or_create_owned(&one()),
            budget_refusals: self.budget_refusals.get_or_create_owned(&one()),
            rate_waits: LANES.map(|l| self.rate_waits.get_or_create_owned(&lane(l))),
            rate_refusals: LANES.map(|l| self.rate_refusals.get_or_create_owned(&lane(l))),
            outcome_unknown: self.outcome_unknown.get_or_create_owned(&one()),
            reconciliations: RECONCILED
                .map(|(_, name)| self.reconciliations.get_or_create_owned(&result(name))),
            replays: self.replays.get_or_create_owned(&one()),
            conflicts: self.conflicts.get_or_create_owned(&one()),
            inflight_waits: ["finished", "timed_out"]
                .map(|name| self.inflight_waits.get_or_create_owned(&result(name))),
            time_to_ready: self.time_to_ready.get_or_create_owned(&one()),
            attempts: self.attempts.clone(),
            provider,
        }
    }
}

/// One provider account's series. Cheap to share (`Arc`); every method
/// records at once.
pub struct AccountMetrics {
    provider: Arc<str>,
    attempts: Family<AttemptLabels, Counter>,
    retries: Counter,
    budget_refusals: Counter,
    rate_waits: [Histogram; 2],
    rate_refusals: [Counter; 2],
    outcome_unknown: Counter,
    reconciliations: [Counter; 3],
    replays: Counter,
    conflicts: Counter,
    /// Finished, timed out.
    inflight_waits: [Counter; 2],
    time_to_ready: Histogram,
}

impl std::fmt::Debug for AccountMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountMetrics")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl AccountMetrics {
    /// Series of their own, registered nowhere: for code built without an
    /// account (unit tests), so that it counts only for itself.
    pub fn detached(name: &str) -> Arc<AccountMetrics> {
        Arc::new(Families::new().account(name))
    }

    /// A provider attempt of `op` is being sent: the returned recorder
    /// counts it when it ends (or, dropped unfinished, as timed out).
    pub fn attempt(self: &Arc<Self>, op: Operation) -> AttemptRecorder {
        AttemptRecorder {
            account: Some(Arc::clone(self)),
            action: op.name,
        }
    }

    fn count_attempt(&self, action: &'static str, outcome: &'static str, code: &'static str) {
        self.attempts
            .get_or_create(&AttemptLabels {
                provider: Arc::clone(&self.provider),
                action,
                outcome,
                code,
            })
            .inc();
    }

    /// How many attempts of `action` ended with `outcome` and `code`.
    #[cfg(test)]
    pub fn attempts(&self, action: &'static str, outcome: &'static str, code: &'static str) -> u64 {
        self.attempts
            .get(&AttemptLabels {
                provider: Arc::clone(&self.provider),
                action,
                outcome,
                code,
            })
            .map_or(0, |counter| counter.get())
    }

    /// A retry goes out (its budget withdrawal was granted).
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// A retry was not made: the retry budget is spent.
    pub fn retry_refused_by_budget(&self) {
        self.budget_refusals.inc();
    }

    /// Retries made and refused by the budget so far.
    #[cfg(test)]
    pub fn retry_counts(&self) -> (u64, u64) {
        (self.retries.get(), self.budget_refusals.get())
    }

    /// An attempt on `lane` got its slot after waiting `waited`.
    pub fn rate_limit_waited(&self, lane: Lane, waited: Duration) {
        if let Some(histogram) = self.rate_waits.get(lane_index(lane)) {
            histogram.observe(waited.as_secs_f64());
        }
    }

    /// An attempt on `lane` was refused a slot.
    pub fn rate_limit_refused(&self, lane: Lane) {
        if let Some(counter) = self.rate_refusals.get(lane_index(lane)) {
            counter.inc();
        }
    }

    /// Attempts admitted (with their total wait, in seconds) and refused on
    /// `lane` so far.
    #[cfg(test)]
    pub fn rate_limit_counts(&self, lane: Lane) -> (u64, f64, u64) {
        let i = lane_index(lane);
        let waits = self.rate_waits.get(i);
        (
            waits.map_or(0, Histogram::count),
            waits.map_or(0.0, Histogram::sum),
            self.rate_refusals.get(i).map_or(0, Counter::get),
        )
    }

    /// An allocation request ended without a definite answer.
    pub fn outcome_unknown(&self) {
        self.outcome_unknown.inc();
    }

    /// A reconciliation ended with `result`.
    pub fn reconciled(&self, result: Reconciled) {
        let index = RECONCILED.iter().position(|(r, _)| *r == result);
        if let Some(counter) = index.and_then(|i| self.reconciliations.get(i)) {
            counter.inc();
        }
    }

    /// A call was answered from a completed record.
    pub fn replayed(&self) {
        self.replays.inc();
    }

    /// A key came back with other parameters.
    pub fn key_conflict(&self) {
        self.conflicts.inc();
    }

    /// A call waited for another one with its key; `finished` unless the
    /// wait ran out first.
    pub fn inflight_waited(&self, finished: bool) {
        let index = if finished { 0 } else { 1 };
        if let Some(counter) = self.inflight_waits.get(index) {
            counter.inc();
        }
    }

    /// An EIP was seen READY `after` its allocation answered.
    pub fn ready_after(&self, after: Duration) {
        self.time_to_ready.observe(after.as_secs_f64());
    }
}

/// One provider attempt on its way (see [`AccountMetrics::attempt`]).
pub struct AttemptRecorder {
    /// Taken once the attempt is counted.
    account: Option<Arc<AccountMetrics>>,
    action: &'static str,
}

impl AttemptRecorder {
    /// The attempt ended with `result`.
    pub fn finish<T>(mut self, result: &Result<T, ProviderError>) {
        let (outcome, code) = attempt_outcome(result);
        if let Some(account) = self.account.take() {
            account.count_attempt(self.action, outcome, code);
        }
    }
}

impl Drop for AttemptRecorder {
    /// Dropped unfinished: the attempt timeout or the caller's deadline cut
    /// the attempt short.
    fn drop(&mut self) {
        if let Some(account) = self.account.take() {
            account.count_attempt(self.action, "timeout", "");
        }
    }
}

/// The `outcome` and `code` labels of an attempt's result. `code` is the
/// provider's error code as its table row names it (`Throttling*` for a
/// wildcard row), `other` for a code no table knows, and empty without an
/// error answer: a bounded set, whatever the provider sends.
pub fn attempt_outcome<T>(result: &Result<T, ProviderError>) -> (&'static str, &'static str) {
    let Err(error) = result else {
        return ("ok", "");
    };
    match error {
        ProviderError::Api(api) => {
            let code = api.rule().code;
            ("error", if code == "*" { "other" } else { code })
        }
        ProviderError::Transport(transport) => match (transport.phase, transport.timed_out) {
            (SendPhase::NotSent, _) => ("not_sent", ""),
            (SendPhase::Sent, true) => ("timeout", ""),
            (SendPhase::Sent, false) => ("no_answer", ""),
        },
        ProviderError::MalformedResponse { .. } => ("malformed", ""),
        ProviderError::NotFound { .. } => ("not_found", ""),
        ProviderError::DeadlineExceeded { .. } => ("timeout", ""),
        ProviderError::RateLimited { .. } | ProviderError::SharedStateUnavailable { .. } => {
            ("not_sent", "")
        }
        ProviderError::Internal(_) => ("internal", ""),
    }
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
