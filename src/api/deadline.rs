//! The caller's deadline, from the `grpc-timeout` header (up to 8 digits and
//! one of `H M S m u n`). tonic's server also enforces that header and
//! answers CANCELLED when it fires, so the gateway's own deadline is set a
//! little earlier: the caller gets the meaningful DEADLINE_EXCEEDED (with
//! "outcome unknown" when an allocation was in flight) instead.

use std::time::Duration;

use tokio::time::Instant;

/// The `grpc-timeout` header name.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Parses a `grpc-timeout` value; `None` when malformed.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if !value.is_ascii() {
        return None;
    }
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// How much earlier than the caller's deadline the gateway gives up, so its
/// answer (and the bookkeeping before it) beats the caller's and tonic's own
/// timers: a tenth of the timeout, 20 to 100 ms (never more than half).
pub fn margin(timeout: Duration) -> Duration {
    (timeout / 10)
        .clamp(Duration::from_millis(20), Duration::from_millis(100))
        .min(timeout / 2)
}

/// The gateway's deadline for a request that arrived at `arrival`.
pub fn from_metadata(metadata: &tonic::metadata::MetadataMap, arrival: Instant) -> Option<Instant> {
    let timeout = metadata
        .get(GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)?;
    // Checked: a caller's number never overflows the clock (a deadline
    // beyond what the clock can hold is no deadline at all).
    arrival.checked_add(timeout.saturating_sub(margin(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_rejects_the_rest() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("200m"), Some(Duration::from_millis(200)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("5n"), Some(Duration::from_nanos(5)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", "10 S", "1é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn margin_is_bounded() {
        // Never more than half of a very short timeout.
        assert_eq!(margin(Duration::from_millis(10)), Duration::from_millis(5));
        assert_eq!(
            margin(Duration::from_millis(200)),
            Duration::from_millis(20)
        );
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(100));
        assert_eq!(margin(Duration::from_secs(60)), Duration::from_millis(100));
    }

    #[test]
    fn deadline_from_metadata() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        let now = Instant::now();
        assert_eq!(from_metadata(&metadata, now), None);
        metadata.insert(GRPC_TIMEOUT, "200m".parse().unwrap());
        assert_eq!(
            from_metadata(&metadata, now),
            Some(now + Duration::from_millis(180))
        );
        metadata.insert(GRPC_TIMEOUT, "garbage".parse().unwrap());
        assert_eq!(from_metadata(&metadata, now), None);
    }
}
