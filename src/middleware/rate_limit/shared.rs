//! Fleet mode's account rate limit: the GCRA limiter whose state lives
//! outside the process (PostgreSQL, `cluster`), so that every gateway using
//! a provider account books its slots on the same schedule, and what one
//! account's stacks need to use it (see the parent module for how they do).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

/// The answer to one booking: `Ok(slot)`, booked; `Err(wait)`, refused,
/// nothing booked, the slot was `wait` away.
pub type SharedBooking = Result<SharedSlot, Duration>;

/// Where a booked slot falls on this process's clock. The shared state
/// places it on its own clock, which this process cannot read: it lies
/// somewhere in `earliest..=latest`, as closely as the implementation can
/// tell (one booking alone: within its way there and back; PostgreSQL's
/// learns the two clocks' offset from every booking, `cluster::clock`).
/// The attempt goes at `latest`, never before the slot, and counts
/// lateness from `earliest`, so that a slot it cannot keep within the
/// slack is given up (see [`Fleet::slack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSlot {
    pub earliest: Instant,
    pub latest: Instant,
}

/// A GCRA limiter whose state lives outside this process (fleet mode:
/// PostgreSQL), shared by every gateway using the account.
pub trait SharedRate: Send + Sync + std::fmt::Debug + 'static {
    /// Books the earliest slot for `account` (one per `interval`, up to
    /// `tolerance` ahead of the theoretical arrival time, i.e. (burst-1)
    /// intervals) if it comes within `max_delay` from now (at most that
    /// far; None: any). Ok(Ok(slot)): booked, where the slot falls on this
    /// process's clock ([`SharedSlot`]). Ok(Err(wait)): refused, nothing booked,
    /// the slot was `wait` away. Err: the shared state cannot be reached
    /// (nothing booked).
    fn book(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> BoxFuture<'static, Result<SharedBooking, SharedRateError>>;

    /// Whether the shared state answered recently (reads use the local
    /// fallback when not).
    fn usable(&self) -> bool;
}

/// The shared state cannot be reached. The text says why, and must never
/// hold a secret (it reaches logs, never the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SharedRateError(pub String);

/// The fleet's shared limiter and how many gateways share each account:
/// what the server hands every provider adapter it builds.
#[derive(Debug, Clone)]
pub struct FleetRate {
    pub rate: Arc<dyn SharedRate>,
    /// Gateways sharing each account (0 counts as 1): reads that cannot use
    /// the shared state are limited to the account's rate divided by this.
    pub replicas: u32,
}

impl FleetRate {
    /// The shared limit of the account named `account`.
    pub fn account(&self, account: &str) -> SharedAccount {
        SharedAccount {
            rate: Arc::clone(&self.rate),
            account: account.to_owned(),
            replicas: self.replicas,
        }
    }
}

/// One provider account's shared limit: [`super::super::ProviderLimits::shared`]
/// builds the account's limits on it.
#[derive(Debug, Clone)]
pub struct SharedAccount {
    pub rate: Arc<dyn SharedRate>,
    /// The account's name in the shared state (the provider's configured
    /// name).
    pub account: String,
    /// Gateways sharing the account (0 counts as 1).
    pub replicas: u32,
}

/// The account's schedule on the shared limiter, as [`Admission`] books it.
///
/// [`Admission`]: super::Admission
/// The least [`Fleet::slack`] that is checked.
const MIN_SLACK: Duration = Duration::from_millis(2);

/// Most times one attempt gives a late slot up and books again; then,
/// rather than go late or wait on, an allocation is refused and a read
/// books the local fallback.
pub(super) const MAX_REBOOKINGS: u8 = 2;

#[derive(Debug)]
pub(super) struct Fleet {
    rate: Arc<dyn SharedRate>,
    account: String,
    /// Time between slots at the account's whole rate.
    interval: Duration,
    /// (burst - 1) intervals.
    tolerance: Duration,
}

impl Fleet {
    /// The schedule of `shared`'s account: one slot per `interval`,
    /// `burst` at once, fleet-wide.
    pub(super) fn new(shared: SharedAccount, interval: Duration, burst: u32) -> Self {
        Fleet {
            rate: shared.rate,
            account: shared.account,
            interval,
            tolerance: interval.saturating_mul(burst.saturating_sub(1)),
        }
    }

    /// Asks for the earliest slot, kept only within `max_delay`.
    pub(super) fn book(
        &self,
        max_delay: Option<Duration>,
    ) -> BoxFuture<'static, Result<SharedBooking, SharedRateError>> {
        self.rate
            .book(&self.account, self.interval, self.tolerance, max_delay)
    }

    /// How late after its slot an attempt may still go: later, the slot is
    /// given up and another booked, so that late sends (an answer that came
    /// back slowly, a starved process) cannot bunch up past the account's
    /// rate and burst. Half an interval; `None` (no check) when that is
    /// under 2 ms (rates above 250/s), where a database's ordinary round
    /// trip would re-book most slots and a late send adds at most
    /// rate x lateness to a second's requests, a small share of them.
    pub(super) fn slack(&self) -> Option<Duration> {
        let half = self.interval / 2;
        (half >= MIN_SLACK).then_some(half)
    }

    /// The time between the account's slots.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the shared state answered recently.
    pub(super) fn usable(&self) -> bool {
        self.rate.usable()
    }
}
