//! Spend limits: at most N addresses allocated per hour and per day, per
//! caller (`[callers.NAME] max_addresses_per_hour` / `_per_day`) and per
//! provider account (`[providers.NAME]`, the same keys), counted over
//! sliding windows of one hour and one day.
//!
//! What is counted is a *reservation*, one per (account, idempotency key),
//! made in the ledger before the allocation is sent and atomically with the
//! check, so concurrent calls cannot overshoot together:
//! - it counts `amount` addresses (a Zenlayer call may ask for up to 100;
//!   an Alibaba call is one), in the caller's scope and the account's;
//! - it is released on a definite failure (nothing was allocated), kept on
//!   success and on an unknown outcome (the provider may have allocated);
//! - a replay of a completed key makes none (nothing is sent); a re-send
//!   after a reconciliation found nothing moves the key's own reservation
//!   to now instead of adding a second one.
//!
//! The ledger is durable where the idempotency records are: the redb file
//! (`idempotency::IdempotencyStore`), or in fleet mode PostgreSQL
//! (`cluster`), so a restart does not reset it and every replica counts
//! the same. With no limit configured anywhere, no ledger is kept.
//!
//! The types here are what both ledgers share: the limits ([`SpendLimits`],
//! [`WindowLimits`]), a reservation ([`SpendRequest`]), the rule that
//! decides it ([`check`]) and its refusal ([`SpendRefusal`]), and the clock
//! ([`SpendClock`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A sliding window of the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hour,
    Day,
}

impl Window {
    /// Both windows, shortest first (the order they are checked in).
    pub const ALL: [Window; 2] = [Window::Hour, Window::Day];

    /// How long the window is.
    pub fn length(self) -> Duration {
        match self {
            Window::Hour => Duration::from_secs(3600),
            Window::Day => Duration::from_secs(86_400),
        }
    }

    /// `hour` or `day`.
    pub fn name(self) -> &'static str {
        match self {
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }
}

/// The longest window: older reservations count for nothing and are purged.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(86_400);

/// The limits of one caller or account (`None`: no limit in that window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowLimits {
    pub per_hour: Option<u64>,
    pub per_day: Option<u64>,
}

impl WindowLimits {
    /// The limit of `window`.
    pub fn get(&self, window: Window) -> Option<u64> {
        match window {
            Window::Hour => self.per_hour,
            Window::Day => self.per_day,
        }
    }

    /// Whether no window is limited.
    pub fn is_empty(&self) -> bool {
        self.per_hour.is_none() && self.per_day.is_none()
    }
}

/// Whose addresses a count is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScopeKind {
    /// A provider account, whoever calls.
    Account,
    /// A caller, on every account it uses.
    Caller,
}

impl ScopeKind {
    /// `account` or `caller` (in scope keys, ErrorInfo and the audit trail).
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
            ScopeKind::Caller => "caller",
        }
    }
}

/// One count a reservation is made in, with its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: ScopeKind,
    /// The account's or the caller's configured name.
    pub name: String,
    pub limits: WindowLimits,
}

impl Scope {
    /// The ledger's key of the count: `account:NAME` or `caller:NAME`
    /// (names never hold a `:`).
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.name)
    }
}

/// Every configured limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendLimits {
    /// By provider account name.
    pub accounts: BTreeMap<String, WindowLimits>,
    /// By caller name.
    pub callers: BTreeMap<String, WindowLimits>,
}

impl SpendLimits {
    /// Whether any limit is configured (else no ledger is kept).
    pub fn is_active(&self) -> bool {
        self.accounts
            .values()
            .chain(self.callers.values())
            .any(|limits| !limits.is_empty())
    }

    /// The counts an allocation on `account` by `caller` (`None` when
    /// authorization is off) is reserved in, sorted by key: every scope is
    /// counted, limited or not, so a limit added later sees the past day.
    pub fn scopes(&self, account: &str, caller: Option<&str>) -> Vec<Scope> {
        let mut scopes = vec![Scope {
            kind: ScopeKind::Account,
            name: account.to_owned(),
            limits: self.accounts.get(account).copied().unwrap_or_default(),
        }];
        if let Some(caller) = caller {
            scopes.push(Scope {
                kind: ScopeKind::Caller,
                name: caller.to_owned(),
                limits: self.callers.get(caller).copied().unwrap_or_default(),
            });
        }
        scopes.sort_by_key(Scope::key);
        scopes
    }
}

/// One reservation asked of a ledger: `addresses` for `key` of `account`,
/// in each of `scopes`.
#[derive(Debug, Clone, Copy)]
pub struct SpendRequest<'a> {
    pub account: &'a str,
    pub key: &'a str,
    pub addresses: u64,
    pub scopes: &'a [Scope],
}

impl SpendRequest<'_> {
    /// The ledger's id of the reservation: account and key.
    pub fn id(&self) -> String {
        reservation_id(self.account, self.key)
    }
}

/// The ledger's id of the reservation of `key` on `account`.
pub fn reservation_id(account: &str, key: &str) -> String {
    format!("{account}\u{1f}{key}")
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRefusal {
    pub scope: ScopeKind,
    /// The caller's or the account's name.
    pub name: String,
    pub window: Window,
    pub limit: u64,
    /// Addresses already reserved in the window (this key's own left out).
    pub used: u64,
    pub requested: u64,
    /// When enough of the window's reservations are old enough for this one
    /// to fit; `None` when it never fits (it asks for more than the limit).
    pub retry_after: Option<Duration>,
}

impl SpendRefusal {
    /// Whether this refusal is the one to answer rather than `other`: the
    /// call fits only once every window lets it, so the one that never frees
    /// wins, then the one that frees last (the first found on a tie).
    pub fn outranks(&self, other: &SpendRefusal) -> bool {
        match (self.retry_after, other.retry_after) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(mine), Some(theirs)) => mine > theirs,
        }
    }
}

/// What a ledger answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOutcome {
    /// Reserved (or this key's reservation moved to now).
    Reserved,
    Refused(SpendRefusal),
}

/// The rule of one window: `rows` are (time in ns since the epoch, amount)
/// of the scope's reservations inside the window ending at `now_ns`, oldest
/// first, the key's own left out. `None` when `requested` more fits under
/// `limit`; otherwise how many are used and when enough rows leave the
/// window (`None`: never, the request alone is over the limit).
pub fn check(
    rows: &[(u64, u64)],
    now_ns: u64,
    window: Window,
    limit: u64,
    requested: u64,
) -> Option<(u64, Option<Duration>)> {
    let used = rows
        .iter()
        .fold(0u64, |sum, (_, amount)| sum.saturating_add(*amount));
    if used.saturating_add(requested) <= limit {
        return None;
    }
    if requested > limit {
        return Some((used, None));
    }
    let need = used.saturating_add(requested) - limit;
    let window_ns = nanos(window.length());
    let mut freed = 0u64;
    for (at, amount) in rows {
        freed = freed.saturating_add(*amount);
        if freed >= need {
            let leaves = at.saturating_add(window_ns).saturating_sub(now_ns);
            // At least a millisecond: RetryInfo of zero reads as "now".
            let after = Duration::from_nanos(leaves).max(Duration::from_millis(1));
            return Some((used, Some(after)));
        }
    }
    Some((used, None))
}

/// A duration in whole nanoseconds (saturating).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A time in nanoseconds since the epoch (0 before it).
pub fn epoch_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, nanos)
}

/// The ledger's clock: the system's (in fleet mode the database's), moved
/// ahead by an offset that is zero in production. Tests move it to see a
/// window free up without waiting an hour. Cheap to clone: clones share
/// the offset.
#[derive(Debug, Clone, Default)]
pub struct SpendClock {
    ahead_ms: Arc<AtomicU64>,
}

impl SpendClock {
    /// Moves the clock ahead by `by` (tests).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// How far ahead of the real clock this one is.
    pub fn ahead(&self) -> Duration {
        Duration::from_millis(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Now, on this clock.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        now.checked_add(self.ahead()).unwrap_or(now)
    }
}

/// The spend limits a gateway enforces, and its ledger's clock.
#[derive(Debug, Clone, Default)]
pub struct Spend {
    pub limits: SpendLimits,
    pub clock: SpendClock,
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// What [`check`] answers: `None` when it fits.
    type Refused = Option<(u64, Option<Duration>)>;

    #[test]
    fn a_window_frees_when_enough_of_its_oldest_reservations_leave_it() {
        let now = 10_000 * S;
        // Reserved 1, 2 and 3 addresses 50, 20 and 10 minutes ago.
        let rows = [(now - 3000 * S, 1), (now - 1200 * S, 2), (now - 600 * S, 3)];
        #[rustfmt::skip]
        let cases: [(u64, u64, Refused); 6] = [
            // (limit, requested, expected)
            (10, 4, None),
            (6, 0, None),
            // One over: the oldest row (1 address) leaves in 10 minutes.
            (6, 1, Some((6, Some(Duration::from_secs(600))))),
            // Three over: the first two must leave, in 40 minutes.
            (6, 3, Some((6, Some(Duration::from_secs(2400))))),
            // Six over: all of them, in 50 minutes.
            (6, 6, Some((6, Some(Duration::from_secs(3000))))),
            // Never fits.
            (6, 7, Some((6, None))),
        ];
        for (limit, requested, expected) in cases {
            assert_eq!(
                check(&rows, now, Window::Hour, limit, requested),
                expected,
                "limit {limit}, requested {requested}"
            );
        }
    }

    #[test]
    fn scopes_are_the_account_and_the_caller_sorted_by_key() {
        let mut limits = SpendLimits::default();
        assert!(!limits.is_active());
        limits.callers.insert(
            "app".to_owned(),
            WindowLimits {
                per_hour: Some(5),
                per_day: None,
            },
        );
        assert!(limits.is_active());
        let scopes = limits.scopes("zl", Some("app"));
        let keys: Vec<String> = scopes.iter().map(Scope::key).collect();
        assert_eq!(keys, ["account:zl", "caller:app"]);
        assert_eq!(scopes[1].limits.get(Window::Hour), Some(5));
        assert!(scopes[0].limits.is_empty());
        assert_eq!(limits.scopes("zl", None).len(), 1);
    }

    #[test]
    fn the_clock_moves_only_ahead_by_what_tests_add() {
        let clock = SpendClock::default();
        let shared = clock.clone();
        assert_eq!(clock.ahead(), Duration::ZERO);
        shared.advance(Duration::from_secs(3600));
        assert_eq!(clock.ahead(), Duration::from_secs(3600));
        assert!(clock.now() > SystemTime::now() + Duration::from_secs(3500));
    }
}
