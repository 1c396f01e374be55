//! The shared GCRA limiter of fleet mode: each provider account's
//! theoretical arrival time is a row of `ipalloc_rate_limits`, and a booking
//! is one call of `ipalloc_book` (one round trip, serialized per account by
//! its row lock), so all replicas together keep the account's rate and
//! burst. The admission rule is the single node's: a slot is booked only if
//! it comes within `max_delay` (the caller's deadline minus the reserve).

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::database::Database;
use super::error::ClusterError;
use crate::middleware::{SharedBooking, SharedRate, SharedRateError};

const BOOK: &str = "SELECT booked, delay_us FROM ipalloc_book($1, $2, $3, $4)";

/// Bookings on the fleet database.
#[derive(Debug, Clone)]
pub struct SharedRateLimiter {
    db: Database,
}

impl SharedRateLimiter {
    pub fn new(db: Database) -> Self {
        SharedRateLimiter { db }
    }

    /// Books `account`'s earliest slot (one per `interval`, `tolerance`
    /// ahead) if it comes within `max_delay` (`None`: any). `Ok(Ok(delay))`:
    /// booked, the slot is `delay` away; `Ok(Err(wait))`: refused, nothing
    /// booked.
    pub async fn book(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> Result<Result<Duration, Duration>, ClusterError> {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let interval_us = micros(interval).max(1);
        let tolerance_us = micros(tolerance);
        let max_delay_us = max_delay.map_or(-1, micros);
        let row = self
            .db
            .query_one(
                "rate limit",
                BOOK,
                &[&account, &interval_us, &tolerance_us, &max_delay_us],
            )
            .await?;
        let field = |e: tokio_postgres::Error| ClusterError::from_postgres("rate limit", &e);
        let booked: bool = row.try_get(0).map_err(field)?;
        let delay_us: i64 = row.try_get(1).map_err(field)?;
        let delay = Duration::from_micros(u64::try_from(delay_us).unwrap_or(0));
        Ok(if booked { Ok(delay) } else { Err(delay) })
    }

    /// Whether the database answered its last statement.
    pub fn usable(&self) -> bool {
        self.db.usable()
    }
}

impl SharedRate for SharedRateLimiter {
    fn book(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> BoxFuture<'static, Result<SharedBooking, SharedRateError>> {
        let (this, account) = (self.clone(), account.to_owned());
        Box::pin(async move {
            SharedRateLimiter::book(&this, &account, interval, tolerance, max_delay)
                .await
                .map_err(|e| SharedRateError(e.to_string()))
        })
    }

    fn usable(&self) -> bool {
        SharedRateLimiter::usable(self)
    }
}
