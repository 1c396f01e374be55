//! How a provider account is called: its HTTP timeouts and its resilience
//! settings (retries and their budget, rate limit and read share,
//! concurrency cap; one attempt's timeout, `request_timeout_ms`).

use super::raw::RawProvider;
use super::values::{Table, setting};
use crate::middleware::ResilienceSettings;
use crate::provider::HttpSettings;

/// The checked HTTP timeouts of `[providers.NAME]`.
pub(super) fn http_settings(raw: &RawProvider, t: &mut Table<'_>) -> HttpSettings {
    let mut http = HttpSettings::default();
    setting!(t, http.connect_timeout = raw.connect_timeout_ms in 1..=600_000);
    http
}

/// The checked resilience settings of `[providers.NAME]`; `None` when they
/// contradict each other.
pub(super) fn resilience_settings(
    raw: &RawProvider,
    t: &mut Table<'_>,
) -> Option<ResilienceSettings> {
    let mut settings = ResilienceSettings::default();
    // One attempt (one HTTP request, send to last body byte).
    setting!(t, settings.attempt_timeout = raw.request_timeout_ms in 1..=600_000);
    let ratio = &mut settings.retry_budget.retry_ratio;
    match raw.retry_budget_ratio {
        None => {}
        Some(r) if (0.0..=10.0).contains(&r) => *ratio = r as f32,
        Some(_) => t.add("retry_budget_ratio", "is outside 0..=10"),
    }
    setting!(t, settings.max_attempts = raw.max_attempts in 1..=10);
    setting!(t, settings.backoff_base = raw.backoff_base_ms in 1..=60_000);
    setting!(t, settings.backoff_max = raw.backoff_max_ms in 1..=600_000);
    let budget = &mut settings.retry_budget;
    setting!(t, budget.ttl = raw.retry_budget_window_ms in 1_000..=60_000);
    setting!(t, budget.min_per_second = raw.retry_budget_min_per_second in 0..=1000);
    setting!(t, settings.rate_per_second = raw.rate_per_second in 1..=100_000);
    setting!(t, settings.burst = raw.burst in 1..=100_000);
    setting!(t, settings.max_concurrency = raw.max_concurrency in 1..=10_000);
    match raw.read_share {
        None => {}
        Some(share) if share > 0.0 && share <= 1.0 => settings.read_share = share,
        Some(_) => t.add("read_share", "is outside 0 (excluded) ..= 1"),
    }
    setting!(t, settings.reserve_floor = raw.reserve_floor_ms in 0..=60_000);
    if let Err(e) = settings.validate() {
        let field = match e.field {
            "backoff_max" => "backoff_max_ms",
            "backoff_base" => "backoff_base_ms",
            "reserve_floor" => "reserve_floor_ms",
            other => other,
        };
        t.add(field, e.problem);
        return None;
    }
    Some(settings)
}
