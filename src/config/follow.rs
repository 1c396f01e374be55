//! A provider's follow settings (`poll_initial_ms`, `poll_max_ms`,
//! `terminate_failed`, `reconcile_grace_ms`): how the gateway follows the
//! allocations it made.

use super::raw::RawProvider;
use super::values::{Table, setting};
use crate::provider::FollowSettings;

/// The checked follow settings of `[providers.NAME]`; `None` when they
/// contradict each other.
pub(super) fn follow_settings(raw: &RawProvider, t: &mut Table<'_>) -> Option<FollowSettings> {
    let mut follow = FollowSettings::default();
    setting!(t, follow.poll_initial = raw.poll_initial_ms in 1..=3_600_000);
    setting!(t, follow.poll_max = raw.poll_max_ms in 1..=3_600_000);
    follow.terminate_failed = raw.terminate_failed.unwrap_or(follow.terminate_failed);
    setting!(t, follow.reconcile_grace = raw.reconcile_grace_ms in 1..=3_600_000);
    if follow.poll_max < follow.poll_initial {
        t.add("poll_max_ms", "must not be below poll_initial_ms");
        return None;
    }
    Some(follow)
}
