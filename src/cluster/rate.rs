//! The shared GCRA limiter of fleet mode: each provider account's
//! theoretical arrival time is a row of `ipalloc_rate_limits`, and a booking
//! is one call of `ipalloc_book` (one round trip, serialized per account by
//! its row lock), so all replicas together keep the account's rate and
//! burst. The admission rule is the single node's: a slot is booked only if
//! it comes within `max_delay` (the caller's deadline minus the reserve).
//! The slot is placed on this process's clock from the database's own
//! (`clock`), never before it is due.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::clock::DatabaseClock;
use super::database::Database;
use super::error::ClusterError;
use crate::middleware::{SharedBooking, SharedRate, SharedRateError, SharedSlot};

/// Besides the answer and the delay from the statement's start (`now()`):
/// that start on the database's clock, and how long the statement had run
/// when its answer was ready (the wait for the account's row lock
/// included), read after `ipalloc_book` returned (PL/pgSQL materializes its
/// rows first). The longest delay is `$4` (µs, negative: any) or, once
/// the database's clock is known here, counted in the statement from `$5`:
/// the latest slot on the database's clock, so that a wait for a pooled
/// connection or for the statement to start does not move the slot past
/// what the caller's deadline allows.
const BOOK: &str = "SELECT booked, delay_us, \
     floor(extract(epoch FROM now()) * 1000000)::bigint, \
     greatest(0, floor(extract(epoch FROM clock_timestamp() - now()) * 1000000))::bigint \
     FROM ipalloc_book($1, $2, $3, CASE WHEN $5::bigint IS NULL THEN $4::bigint \
         ELSE greatest(0, $5::bigint - floor(extract(epoch FROM now()) * 1000000)::bigint) END)";

/// Bookings on the fleet database.
#[derive(Debug, Clone)]
pub struct SharedRateLimiter {
    db: Database,
    /// Where the database's moments fall on this process's clock.
    clock: Arc<DatabaseClock>,
}

impl SharedRateLimiter {
    pub fn new(db: Database) -> Self {
        SharedRateLimiter {
            db,
            clock: Arc::new(DatabaseClock::new()),
        }
    }

    /// Books `account`'s earliest slot (one per `interval`, `tolerance`
    /// ahead) if it comes within `max_delay` (`None`: any). `Ok(Ok(slot))`:
    /// booked, where it falls on this process's clock; `Ok(Err(wait))`:
    /// refused, nothing booked.
    ///
    /// The database counts the delay from the statement's start (`now()`),
    /// which came after the statement was handed to its connection and at
    /// least `held_us` before its answer arrived here; each booking's
    /// reading of the start tightens what is known of the two clocks'
    /// offset ([`DatabaseClock`]), so the slot is placed as closely as the
    /// fastest recent round trip allows.
    pub async fn book(
        &self,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> Result<Result<SharedSlot, Duration>, ClusterError> {
        self.book_from(Instant::now(), account, interval, tolerance, max_delay)
            .await
    }

    /// [`SharedRateLimiter::book`], `max_delay` counted from `asked`.
    async fn book_from(
        &self,
        asked: Instant,
        account: &str,
        interval: Duration,
        tolerance: Duration,
        max_delay: Option<Duration>,
    ) -> Result<Result<SharedSlot, Duration>, ClusterError> {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let interval_us = micros(interval).max(1);
        let tolerance_us = micros(tolerance);
        let max_delay_us = max_delay.map_or(-1, micros);
        let latest_slot_us: Option<i64> = max_delay
            .and_then(|max| asked.checked_add(max))
            .and_then(|latest| self.clock.surely_by(latest, Instant::now()));
        let (row, sent) = self
            .db
            .query_one_sent(
                "rate limit",
                BOOK,
                &[
                    &account,
                    &interval_us,
                    &tolerance_us,
                    &max_delay_us,
                    &latest_slot_us,
                ],
            )
            .await?;
        let arrived = Instant::now();
        let field = |e: tokio_postgres::Error| ClusterError::from_postgres("rate limit", &e);
        let booked: bool = row.try_get(0).map_err(field)?;
        let delay_us: i64 = row.try_get(1).map_err(field)?;
        let start_us: i64 = row.try_get(2).map_err(field)?;
        let held_us: i64 = row.try_get(3).map_err(field)?;
        let delay = Duration::from_micros(u64::try_from(delay_us).unwrap_or(0));
        if !booked {
            return Ok(Err(delay));
        }
        let held = Duration::from_micros(u64::try_from(held_us).unwrap_or(0));
        // The statement began after `sent` and `held` before the answer.
        let by = arrived.checked_sub(held).unwrap_or(sent);
        let slot = start_us.saturating_add(delay_us.max(0));
        // A slot beyond this clock's range is booked and left unused.
        Ok(self.clock.place(start_us, sent, by, slot).ok_or(delay))
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
        let (this, account, asked) = (self.clone(), account.to_owned(), Instant::now());
        Box::pin(async move {
            this.book_from(asked, &account, interval, tolerance, max_delay)
                .await
                .map_err(|e| SharedRateError(e.to_string()))
        })
    }

    fn usable(&self) -> bool {
        SharedRateLimiter::usable(self)
    }
}
