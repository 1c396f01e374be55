//! The one settings builder of the unit tests: `ResilienceSettings` presets
//! that a test changes knob by knob with struct update syntax, e.g.
//! `ResilienceSettings { burst: 1, ..quick() }`.

use std::time::Duration;

use crate::middleware::ResilienceSettings;

/// Timings short enough for a paused clock: 1 s attempts, 3 attempts,
/// backoff from 100 ms up to 2 s, a 10 ms reserve floor.
pub fn quick() -> ResilienceSettings {
    ResilienceSettings {
        attempt_timeout: Duration::from_secs(1),
        max_attempts: 3,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(2),
        reserve_floor: Duration::from_millis(10),
        ..ResilienceSettings::default()
    }
}
