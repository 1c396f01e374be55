//! The gateway's metrics: one prometheus-client registry, the metric
//! families in it, and what the instrumented code calls.
//!
//! **Where it lives.** [`Metrics::global`] is created once, on first use
//! (a `OnceLock`), and is what every instrumented point records into and
//! `GET /metrics` encodes: the call path (the access log), the provider
//! stack, the allocation flow and both stores reach it without a handle
//! being passed through every constructor. Nothing else is global: the
//! pieces that count per provider account take an [`AccountMetrics`]
//! handle, and code built without an account (unit tests, tools) gets a
//! detached one ([`AccountMetrics::detached`]) whose counters are its own,
//! so tests never read each other's counts.
//!
//! **Naming.** Server calls follow gRPC's OpenTelemetry proposal A66
//! (`grpc_server_call_duration_seconds{grpc_method,grpc_status}`, methods
//! as `package.Service/Method`, other paths as `other`); everything else is
//! `ipalloc_*`. Every label has a bounded set of values: methods from a
//! fixed list, gRPC code names, configured account names, provider action
//! names, error codes from the error tables, and the fixed words of each
//! family (see README, "Metrics").
//!
//! **Cost.** Label sets hold `&'static str` and `Arc<str>` only, so
//! recording never allocates; per-account series are resolved once per
//! account; the per-method in-flight gauges once at creation.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

pub use super::account::{AccountMetrics, AttemptRecorder};

/// The `Content-Type` of `GET /metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A family of histograms that all share one set of buckets.
pub(super) type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The methods the gateway serves, as A66 names them; any other path is
/// [`OTHER_METHOD`].
pub const METHODS: &[&str] = &[
    "ipalloc.v1.IpAllocation/AllocateIp",
    "ipalloc.v1.IpAllocation/GetAllocation",
    "ipalloc.v1.IpAllocation/ListProviders",
    "ipalloc.v1.IpAllocation/WatchAllocation",
    "ipalloc.v1.IpAllocation/ReleaseAllocation",
    "ipalloc.v1.IpAllocation/ListAllocations",
    "ipalloc.v1.IpAllocation/CheckAvailability",
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The method label of a path no service has (A66's `other`).
pub const OTHER_METHOD: &str = "other";

/// The store label of this process's idempotency store.
pub const STORE_LOCAL: &str = "local";
/// The store label of fleet mode's PostgreSQL database.
pub const STORE_POSTGRES: &str = "postgres";

/// Buckets of the server call duration, in seconds: calls that answer from
/// the store take well under a millisecond, allocations seconds, watches
/// up to an hour.
const CALL_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Buckets of store operations, in seconds (memory: microseconds; a file
/// commit or a database round trip: milliseconds).
const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Buckets of the rate limit's wait, in seconds (most attempts wait 0).
pub(super) const WAIT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of an EIP's time to READY, in seconds.
pub(super) const READY_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    grpc_method: &'static str,
    grpc_status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreErrorLabels {
    store: &'static str,
    operation: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

/// Every metric of the gateway, and the registry `GET /metrics` encodes.
pub struct Metrics {
    registry: Registry,
    calls: Histograms<CallLabels>,
    /// One gauge per entry of [`METHODS`], then `other`.
    in_flight: Vec<Gauge>,
    watches_open: Gauge,
    store_durations: Histograms<StoreLabels>,
    store_errors: Family<StoreErrorLabels, Counter>,
    accounts: super::account::Families,
    /// Each account's handle, resolved once.
    by_account: RwLock<HashMap<String, Arc<AccountMetrics>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

pub(super) fn histograms<L: Clone + std::hash::Hash + Eq>(
    constructor: fn() -> Histogram,
) -> Histograms<L> {
    Family::new_with_constructor(constructor)
}

impl Metrics {
    /// The process's metrics (created on first use).
    pub fn global() -> &'static Metrics {
        static GLOBAL: OnceLock<Metrics> = OnceLock::new();
        GLOBAL.get_or_init(Metrics::new)
    }

    /// A registry of its own with every family (tests use one each).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let calls = histograms(|| Histogram::new(CALL_BUCKETS.iter().copied()));
        registry.register(
            "grpc_server_call_duration_seconds",
            "Time from a call's request headers to the end of its response (gRPC A66 \
             grpc.server.call.duration; a WatchAllocation stream's whole life), by method and \
             status code",
            calls.clone(),
        );
        let in_flight_family = Family::<MethodLabels, Gauge>::default();
        let in_flight = METHODS
            .iter()
            .chain([&OTHER_METHOD])
            .map(|grpc_method| in_flight_family.get_or_create_owned(&MethodLabels { grpc_method }))
            .collect();
        registry.register(
            "ipalloc_server_calls_in_flight",
            "Calls that have started and not yet ended, by method",
            in_flight_family,
        );
        let watches_open = Gauge::default();
        registry.register(
            "ipalloc_watches_open",
            "WatchAllocation streams following an allocation now",
            watches_open.clone(),
        );
        let store_durations = histograms(|| Histogram::new(STORE_BUCKETS.iter().copied()));
        registry.register(
            "ipalloc_store_operation_duration_seconds",
            "Time of one store operation (local: one operation of this process's idempotency \
             store; postgres: one statement of fleet mode), by store and operation",
            store_durations.clone(),
        );
        let store_errors = Family::<StoreErrorLabels, Counter>::default();
        registry.register(
            "ipalloc_store_operation_errors",
            "Store operations that failed, by store, operation and kind of error",
            store_errors.clone(),
        );
        let accounts = super::account::Families::new();
        accounts.register(&mut registry);
        registry.register(
            "ipalloc_build",
            "The gateway's version and the git commit it was built from",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("IPALLOC_GIT_COMMIT"),
            }),
        );
        Metrics {
            registry,
            calls,
            in_flight,
            watches_open,
            store_durations,
            store_errors,
            accounts,
            by_account: RwLock::new(HashMap::new()),
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// The handle of provider account `name` (its series are created on
    /// the first call, at zero).
    pub fn account(&self, name: &str) -> Arc<AccountMetrics> {
        let read = self
            .by_account
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = read.get(name) {
            return Arc::clone(found);
        }
        drop(read);
        let mut write = self
            .by_account
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let handle = write
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(self.accounts.account(name)));
        Arc::clone(handle)
    }

    /// A call to `path` has started: it counts as in flight until the
    /// returned timer ends (or is dropped, as a cancelled call).
    pub fn call_started(&self, path: &str) -> CallTimer {
        let index = method_index(path);
        let in_flight = self.in_flight.get(index).cloned().unwrap_or_default();
        in_flight.inc();
        CallTimer {
            grpc_method: METHODS.get(index).copied().unwrap_or(OTHER_METHOD),
            in_flight,
            calls: self.calls.clone(),
            started: Instant::now(),
            ended: false,
        }
    }

    /// A WatchAllocation stream started following: it counts as open until
    /// the returned guard is dropped.
    pub fn watch_opened(&self) -> WatchGuard {
        self.watches_open.inc();
        WatchGuard(self.watches_open.clone())
    }

    /// One store operation took `took`; `error` names the kind of failure.
    pub fn store_operation(
        &self,
        store: &'static str,
        operation: &'static str,
        took: Duration,
        error: Option<&'static str>,
    ) {
        self.store_durations
            .get_or_create(&StoreLabels { store, operation })
            .observe(took.as_secs_f64());
        if let Some(error) = error {
            self.store_errors
                .get_or_create(&StoreErrorLabels {
                    store,
                    operation,
                    error,
                })
                .inc();
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The index of `path` (`/package.Service/Method`) in [`METHODS`], or
/// `METHODS.len()` for any other path.
fn method_index(path: &str) -> usize {
    let name = path.strip_prefix('/').unwrap_or(path);
    METHODS
        .iter()
        .position(|method| *method == name)
        .unwrap_or(METHODS.len())
}

/// One call in flight (see [`Metrics::call_started`]).
pub struct CallTimer {
    grpc_method: &'static str,
    in_flight: Gauge,
    calls: Histograms<CallLabels>,
    started: Instant,
    ended: bool,
}

impl CallTimer {
    /// The call ended with `grpc_status` (a gRPC code name).
    pub fn end(mut self, grpc_status: &'static str) {
        self.record(grpc_status);
    }

    fn record(&mut self, grpc_status: &'static str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.in_flight.dec();
        self.calls
            .get_or_create(&CallLabels {
                grpc_method: self.grpc_method,
                grpc_status,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for CallTimer {
    /// A call dropped before it ended was cancelled (the client went away).
    fn drop(&mut self) {
        self.record("CANCELLED");
    }
}

/// An open watch (see [`Metrics::watch_opened`]).
pub struct WatchGuard(Gauge);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
