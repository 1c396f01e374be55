//! The spend limit keys, `max_addresses_per_hour` and
//! `max_addresses_per_day`, of `[callers.NAME]` (the caller's addresses on
//! every account) and `[providers.NAME]` (the account's, whoever calls)
//! tables. See `crate::spend`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::raw::RawProvider;
use super::values::Table;
use crate::spend::WindowLimits;

/// Smallest and largest `max_addresses_per_*`.
pub const MAX_ADDRESSES_RANGE: RangeInclusive<u64> = 1..=1_000_000;

/// The checked limits of one table (`t`'s prefix names it).
pub(super) fn window_limits(
    hour: Option<u64>,
    day: Option<u64>,
    t: &mut Table<'_>,
) -> WindowLimits {
    let mut checked = |value: Option<u64>, field: &str| {
        let value = value?;
        if MAX_ADDRESSES_RANGE.contains(&value) {
            Some(value)
        } else {
            t.add(
                field,
                format!(
                    "is outside {}..={}",
                    MAX_ADDRESSES_RANGE.start(),
                    MAX_ADDRESSES_RANGE.end()
                ),
            );
            None
        }
    };
    let limits = WindowLimits {
        per_hour: checked(hour, "max_addresses_per_hour"),
        per_day: checked(day, "max_addresses_per_day"),
    };
    if let (Some(hour), Some(day)) = (limits.per_hour, limits.per_day)
        && hour > day
    {
        t.add(
            "max_addresses_per_hour",
            "is above max_addresses_per_day (a day holds every hour)",
        );
    }
    limits
}

/// The limits of every provider account that has one.
pub(super) fn account_limits(
    providers: &BTreeMap<String, RawProvider>,
    c: &mut super::problems::Collector,
) -> BTreeMap<String, WindowLimits> {
    let mut out = BTreeMap::new();
    for (name, raw) in providers {
        let mut t = Table::new(c, format!("providers.{name}."));
        let limits = window_limits(
            raw.max_addresses_per_hour,
            raw.max_addresses_per_day,
            &mut t,
        );
        if !limits.is_empty() {
            out.insert(name.clone(), limits);
        }
    }
    out
}
