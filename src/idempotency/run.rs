//! How the store's record changes run: in memory at once on the caller's
//! thread (a map operation, nothing queued or allocated for it); on a file
//! queued to the committer (`file::committer`) and answered once the commit
//! that holds the change is durable. Blocking callers wait on a channel;
//! async callers (the allocation flow, through `Records`) use the `_async`
//! twins here, which await the commit without blocking a worker thread and,
//! in memory, run the same synchronous code.

use std::borrow::Cow;
use std::time::SystemTime;

use tokio::sync::oneshot;

use super::change::{self, AlsoInTransaction, Answer, Op, QueuedChange, Reply};
use super::error::StoreError;
use super::fingerprint::Fingerprint;
use super::store::{Begin, IdempotencyStore, record_timing, timed};

type Result<T, E = StoreError> = std::result::Result<T, E>;

impl IdempotencyStore {
    /// Runs one change of `key` (timed as its operation): at once in
    /// memory; on a file, queued to the committer, blocking until the commit
    /// that holds it is durable.
    pub(super) fn run(&self, key: &str, op: Op<'_>) -> Result<Answer> {
        let name = op.name();
        timed(name, || {
            let result = match self.backend().committer() {
                None => self.run_here(key, &op),
                Some(committer) => {
                    let (reply, answer) = std::sync::mpsc::sync_channel(1);
                    committer.send_blocking(self.queued(key, op, Reply::Blocking(reply)));
                    answer
                        .recv()
                        .unwrap_or_else(|_| Err(self.not_applied(name)))
                }
            };
            self.noted(result)
        })
    }

    /// [`IdempotencyStore::run`] for async callers: the same in memory; on a
    /// file, awaits the commit.
    async fn run_async(&self, key: &str, op: Op<'_>) -> Result<Answer> {
        self.run_async_with(key, op, None).await
    }

    /// [`Self::run_async`], with `also` written in the change's transaction
    /// (on a file; in memory there is none and `also` is dropped: callers
    /// pass it only for a store with a file, [`IdempotencyStore::redb`]).
    async fn run_async_with(
        &self,
        key: &str,
        op: Op<'_>,
        also: Option<AlsoInTransaction>,
    ) -> Result<Answer> {
        let Some(committer) = self.backend().committer() else {
            return self.run(key, op);
        };
        let name = op.name();
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        let mut change = self.queued(key, op, Reply::Async(reply));
        change.also = also;
        committer.send(change).await;
        let result = answer.await.unwrap_or_else(|_| Err(self.not_applied(name)));
        let result = self.noted(result);
        record_timing(name, started, &result);
        result
    }

    /// A change owning its arguments, for the committer.
    fn queued(&self, key: &str, op: Op<'_>, reply: Reply) -> Box<QueuedChange> {
        Box::new(QueuedChange {
            key: key.to_owned(),
            op: op.into_owned(),
            retention: self.retention(),
            reply,
            answer: None,
            also: None,
        })
    }

    /// Runs `op` on `key` in one atomic backend update on this thread.
    fn run_here(&self, key: &str, op: &Op<'_>) -> Result<Answer> {
        let (location, retention) = (self.location(), self.retention());
        let mut out = None;
        self.backend().update(key, op.name(), &mut |bytes| {
            let (answer, write) = change::decide(location, retention, key, op, bytes)?;
            out = Some(answer);
            Ok(write)
        })?;
        out.ok_or_else(|| self.not_applied(op.name()))
    }

    /// Counts (and logs) a refusal at the bound in `result`.
    fn noted<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(StoreError::Full {
            bytes, max_bytes, ..
        }) = &result
        {
            self.note_full(*bytes, *max_bytes);
        }
        result
    }

    fn not_applied(&self, op: &str) -> StoreError {
        StoreError::Unavailable {
            location: self.location().to_owned(),
            reason: format!("{op} was not applied"),
        }
    }

    /// [`IdempotencyStore::begin`] for async callers: `Started` means the
    /// `InFlight` claim is durable.
    pub async fn begin_async(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        now: SystemTime,
    ) -> Result<Begin> {
        let op = Op::Begin {
            fingerprint: Cow::Borrowed(fingerprint),
            now,
        };
        begun(self.run_async(key, op).await, self.location())
    }

    /// [`IdempotencyStore::complete`] for async callers.
    pub async fn complete_async(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::Complete {
            fingerprint: Cow::Borrowed(fingerprint),
            response: Cow::Borrowed(response),
            now,
        };
        self.run_async(key, op).await.map(drop)
    }

    /// [`Self::complete_async`] with `also` (the allocation inventory's
    /// entries) written in the same transaction, so in the same durable
    /// commit. Only for a store with a file.
    pub async fn complete_async_with(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
        also: AlsoInTransaction,
    ) -> Result<()> {
        let op = Op::Complete {
            fingerprint: Cow::Borrowed(fingerprint),
            response: Cow::Borrowed(response),
            now,
        };
        self.run_async_with(key, op, Some(also)).await.map(drop)
    }

    /// [`IdempotencyStore::refresh_completed`] for async callers.
    pub async fn refresh_completed_async(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        response: &[u8],
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::Refresh {
            fingerprint: Cow::Borrowed(fingerprint),
            response: Cow::Borrowed(response),
            now,
        };
        self.run_async(key, op).await.map(drop)
    }

    /// [`IdempotencyStore::mark_unknown`] for async callers.
    pub async fn mark_unknown_async(
        &self,
        key: &str,
        fp: &Fingerprint,
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::MarkUnknown {
            fingerprint: Cow::Borrowed(fp),
            now,
        };
        self.run_async(key, op).await.map(drop)
    }

    /// [`IdempotencyStore::mark_attempt`] for async callers.
    pub async fn mark_attempt_async(
        &self,
        key: &str,
        fp: &Fingerprint,
        now: SystemTime,
    ) -> Result<()> {
        let op = Op::MarkAttempt {
            fingerprint: Cow::Borrowed(fp),
            now,
        };
        self.run_async(key, op).await.map(drop)
    }

    /// [`IdempotencyStore::release`] for async callers.
    pub async fn release_async(&self, key: &str) -> Result<()> {
        self.run_async(key, Op::Release).await.map(drop)
    }
}

/// The [`Begin`] of a begin's answer.
pub(super) fn begun(answer: Result<Answer>, location: &str) -> Result<Begin> {
    match answer? {
        Answer::Begin(begin) => Ok(begin),
        Answer::Done => Err(StoreError::Unavailable {
            location: location.to_owned(),
            reason: "begin was not applied".to_owned(),
        }),
    }
}
