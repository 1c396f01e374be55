//! Numeric settings of one configuration table, checked against their
//! ranges. A setting starts at its default; a value in range replaces it,
//! one out of range is a problem naming its key (never the value) and the
//! default stays, so that the rest of the configuration is still checked and
//! every problem reported at once.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::problems::{Collector, Problem};

/// One table (`server.`, `providers.NAME.`, ...): its settings are checked
/// into one collector, each problem under the table's key for the field.
pub(super) struct Table<'a> {
    pub c: &'a mut Collector,
    prefix: String,
}

impl<'a> Table<'a> {
    /// The table whose keys start with `prefix` (`"server."`).
    pub fn new(c: &'a mut Collector, prefix: impl Into<String>) -> Self {
        Table {
            c,
            prefix: prefix.into(),
        }
    }

    /// The full key of `field`.
    pub fn key(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// The value of `result`, or `None` after recording its problem.
    pub fn take<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        self.c.take(result)
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let key = self.key(field);
        self.c.add(key, message);
    }

    /// Sets `target` to `value` when it is given and within `bounds`; out of
    /// range, the problem is recorded and `target` keeps its default.
    pub fn set<T: FromWhole>(
        &mut self,
        target: &mut T,
        value: Option<u64>,
        field: &str,
        bounds: RangeInclusive<u64>,
    ) {
        let Some(value) = value else { return };
        match T::from_whole(value).filter(|_| bounds.contains(&value)) {
            Some(value) => *target = value,
            None => {
                let message = format!("is outside {}..={}", bounds.start(), bounds.end());
                self.add(field, message);
            }
        }
    }
}

/// `setting!(t, target = raw.field in bounds)`: sets `target` from
/// `raw.field` checked against `bounds` ([`Table::set`]), under the key
/// spelled like the field. One line per setting, in the order they are
/// checked (and their problems reported).
macro_rules! setting {
    ($table:ident, $($target:ident).+ = $raw:ident . $field:ident in $bounds:expr) => {
        $table.set(&mut $($target).+, $raw.$field, stringify!($field), $bounds)
    };
}
pub(super) use setting;

/// A setting's type, made from the whole number the file gives; `None`
/// when it does not fit.
pub(super) trait FromWhole: Sized {
    fn from_whole(n: u64) -> Option<Self>;
}

impl FromWhole for u64 {
    fn from_whole(n: u64) -> Option<Self> {
        Some(n)
    }
}

impl FromWhole for u32 {
    fn from_whole(n: u64) -> Option<Self> {
        u32::try_from(n).ok()
    }
}

impl FromWhole for usize {
    fn from_whole(n: u64) -> Option<Self> {
        usize::try_from(n).ok()
    }
}

/// Durations are given in milliseconds (their keys end in `_ms`).
impl FromWhole for Duration {
    fn from_whole(n: u64) -> Option<Self> {
        Some(Duration::from_millis(n))
    }
}
