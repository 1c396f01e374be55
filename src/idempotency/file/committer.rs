//! Group commit: the file's durable changes (records, the spend ledger,
//! the allocation inventory) are queued to one committer
//! thread, which applies whatever is waiting (in arrival order, at most
//! [`MAX_BATCH`] changes or [`MAX_BATCH_BYTES`]) in one write transaction
//! committed with `Durability::Immediate`, then answers each caller. So no
//! fsync runs on the async worker threads, and concurrent changes share one
//! fsync instead of waiting for one each.
//!
//! A change is answered only after the commit that holds it is durable; a
//! later change of the same key in the same batch sees the earlier one (it
//! runs in the same transaction). A change refused by its own transition
//! (a conflict, the byte bound, a corrupt record) wrote nothing and is
//! answered with its error once the batch is decided. Any database error
//! (an I/O error at the commit, a panic inside redb) aborts the batch and
//! fails every change of it: none is answered as durable, and the store's
//! handling of the error applies (`reopen`). The queue is bounded
//! ([`QUEUE`] changes): callers wait for room when the disk falls behind.
//! Closing the store stops the queue and waits until every queued change is
//! committed and answered.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Durability, WriteTransaction};
use tokio::sync::mpsc::{self, error::TrySendError};

use super::super::backend::{Decide, Usage};
use super::super::error::StoreError;
use super::super::spend::LedgerChange;
use super::Shared;
use super::schema::{Index, Records};

/// Most changes in one commit.
pub const MAX_BATCH: usize = 256;
/// Most bytes (keys and responses) in one commit.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Most changes waiting for the committer.
pub const QUEUE: usize = 4096;

/// A change (of a record, or of the spend ledger) waiting for its commit.
pub(crate) trait Queued: Send + 'static {
    /// Bytes it carries, for the batch bound.
    fn size(&self) -> usize;
    /// Applies it inside the batch's transaction (earlier changes of the
    /// batch are visible); returns whether it wrote anything. An error of
    /// the database fails the batch; any other is the change's own refusal
    /// and must leave nothing written.
    fn apply(&mut self, batch: &mut Batch<'_, '_>) -> Result<bool, StoreError>;
    /// Answers the caller: `Ok` once the change is durable (or refused by
    /// its own transition, then `Err` with the refusal).
    fn answer(self: Box<Self>, result: Result<(), StoreError>, location: &str);
}

/// The open transaction of a batch, as its changes see it.
pub(crate) struct Batch<'a, 'txn> {
    shared: &'a Shared,
    txn: &'txn WriteTransaction,
    records: Records<'txn>,
    index: Index<'txn>,
    next: Usage,
    evicted: u64,
}

impl Batch<'_, '_> {
    /// Where the store is, for messages.
    pub(crate) fn location(&self) -> &str {
        &self.shared.location
    }

    /// Applies one change of `key`'s record (see `transactions`).
    pub(crate) fn record(
        &mut self,
        key: &str,
        op: &'static str,
        decide: &mut Decide<'_>,
    ) -> Result<bool, StoreError> {
        let records = &mut self.records;
        let index = &mut self.index;
        let (wrote, evicted) =
            self.shared
                .apply(records, index, &mut self.next, key, op, decide)?;
        self.evicted += evicted;
        Ok(wrote)
    }

    /// The batch's transaction, for a change of another concept kept in
    /// the file (the allocation inventory).
    pub(crate) fn txn(&self) -> &WriteTransaction {
        self.txn
    }

    /// Applies one change of the spend ledger (see `ledger`).
    pub(crate) fn ledger(
        &mut self,
        op: &'static str,
        change: &mut LedgerChange<'_>,
    ) -> Result<bool, StoreError> {
        self.shared.ledger_in(self.txn, op, change)
    }
}

/// A write of another concept kept in the file (`RedbHandle::write_queued`)
/// waiting for its commit, with its blocking caller.
pub(super) struct QueuedWrite<T, F> {
    pub(super) op: &'static str,
    pub(super) change: Option<F>,
    pub(super) out: Option<T>,
    pub(super) reply: std::sync::mpsc::SyncSender<Result<T, StoreError>>,
}

impl<T, F> Queued for QueuedWrite<T, F>
where
    T: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static,
{
    fn size(&self) -> usize {
        1024
    }

    fn apply(&mut self, batch: &mut Batch<'_, '_>) -> Result<bool, StoreError> {
        let Some(change) = self.change.take() else {
            return Ok(false);
        };
        let (out, wrote) = change(batch.txn())?;
        self.out = Some(out);
        Ok(wrote)
    }

    fn answer(self: Box<Self>, result: Result<(), StoreError>, location: &str) {
        let QueuedWrite { op, out, reply, .. } = *self;
        let result = result.and_then(|()| {
            out.ok_or_else(|| StoreError::Unavailable {
                location: location.to_owned(),
                reason: format!("{op} was not applied"),
            })
        });
        let _ = reply.send(result);
    }
}

/// The queue's sending end.
type Sender = mpsc::Sender<Box<dyn Queued>>;

/// The queue's sending end and the committer thread.
pub(crate) struct Committer {
    location: String,
    state: Mutex<Option<(Sender, JoinHandle<()>)>>,
}

impl Committer {
    /// Starts the committer thread of `shared`.
    pub(super) fn start(shared: &Arc<Shared>) -> Result<Committer, StoreError> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let worker = Arc::clone(shared);
        let thread = std::thread::Builder::new()
            .name("ipalloc-store-commit".to_owned())
            .spawn(move || worker.commit_loop(receiver))
            .map_err(|e| StoreError::Unavailable {
                location: shared.location.clone(),
                reason: format!("cannot start the committer thread: {e}"),
            })?;
        Ok(Committer {
            location: shared.location.clone(),
            state: Mutex::new(Some((sender, thread))),
        })
    }

    fn sender(&self) -> Option<Sender> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.as_ref().map(|(sender, _)| sender.clone())
    }

    /// Queues `change`, waiting for room; a closed store answers it
    /// [`StoreError::Closed`] at once.
    pub(crate) async fn send(&self, change: Box<dyn Queued>) {
        let location = self.location.as_str();
        match self.sender() {
            Some(sender) => {
                if let Err(mpsc::error::SendError(change)) = sender.send(change).await {
                    change.answer(Err(closed(location)), location);
                }
            }
            None => change.answer(Err(closed(location)), location),
        }
    }

    /// [`Committer::send`] for a blocking caller (any thread).
    pub(crate) fn send_blocking(&self, change: Box<dyn Queued>) {
        let location = self.location.as_str();
        let Some(sender) = self.sender() else {
            return change.answer(Err(closed(location)), location);
        };
        let mut change = change;
        loop {
            match sender.try_send(change) {
                Ok(()) => return,
                Err(TrySendError::Closed(back)) => {
                    return back.answer(Err(closed(location)), location);
                }
                Err(TrySendError::Full(back)) => {
                    change = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Stops taking changes and waits until the queued ones are committed
    /// and answered.
    pub(super) fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((sender, thread)) = state.take() {
            drop(sender);
            // The thread ends once every sender is gone and the queue is
            // empty; held under the lock so a second close waits too.
            if thread.join().is_err() {
                tracing::error!("the idempotency store's committer thread panicked");
            }
        }
    }
}

fn closed(location: &str) -> StoreError {
    StoreError::Closed {
        location: location.to_owned(),
    }
}

/// The error of a failed batch, for each of its changes.
fn batch_error(error: &StoreError, location: &str) -> StoreError {
    match error {
        StoreError::Closed { location } => StoreError::Closed {
            location: location.clone(),
        },
        StoreError::Damaged { location, reason } => StoreError::Damaged {
            location: location.clone(),
            reason: reason.clone(),
        },
        StoreError::Unavailable { location, reason } => StoreError::Unavailable {
            location: location.clone(),
            reason: reason.clone(),
        },
        other => StoreError::Unavailable {
            location: location.to_owned(),
            reason: format!("the commit failed: {other}"),
        },
    }
}

/// Whether an error of one change is the database's (the batch fails) and
/// not the change's own refusal.
pub(crate) fn is_fatal(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Database { .. }
            | StoreError::Unavailable { .. }
            | StoreError::Damaged { .. }
            | StoreError::Closed { .. }
            | StoreError::Open { .. }
            | StoreError::Invalid { .. }
    )
}

impl Shared {
    fn commit_loop(self: Arc<Self>, mut receiver: mpsc::Receiver<Box<dyn Queued>>) {
        let mut carried: Option<Box<dyn Queued>> = None;
        loop {
            let first = match carried.take() {
                Some(change) => change,
                None => match receiver.blocking_recv() {
                    Some(change) => change,
                    None => break,
                },
            };
            let mut bytes = first.size();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                let Ok(next) = receiver.try_recv() else {
                    break;
                };
                bytes += next.size();
                if bytes > MAX_BATCH_BYTES {
                    carried = Some(next);
                    break;
                }
                batch.push(next);
            }
            self.commit_batch(batch);
        }
    }

    /// Applies `batch` in one durable transaction and answers each change.
    fn commit_batch(self: &Arc<Self>, mut batch: Vec<Box<dyn Queued>>) {
        let op = "commit";
        let mut refused: Vec<Option<StoreError>> = batch.iter().map(|_| None).collect();
        let outcome = self.with_db(|db| {
            let mut usage = self.lock_usage();
            let mut txn = db.begin_write().map_err(|e| self.db_error(op, e))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| self.db_error(op, e))?;
            let (next, evicted, writes) = {
                let (records, index) = self.tables(&txn, op)?;
                let mut tables = Batch {
                    shared: self,
                    txn: &txn,
                    records,
                    index,
                    next: *usage,
                    evicted: 0,
                };
                let mut writes = 0u64;
                for (change, refusal) in batch.iter_mut().zip(refused.iter_mut()) {
                    match change.apply(&mut tables) {
                        Ok(wrote) => writes += u64::from(wrote),
                        Err(e) if is_fatal(&e) => return Err(e),
                        Err(e) => *refusal = Some(e),
                    }
                }
                (tables.next, tables.evicted, writes)
            };
            if writes > 0 {
                txn.commit().map_err(|e| self.db_error(op, e))?;
                self.set_usage(&mut usage, next);
                self.evicted.fetch_add(evicted, Ordering::Relaxed);
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.committed_changes.fetch_add(writes, Ordering::Relaxed);
            } else {
                txn.abort().map_err(|e| self.db_error(op, e))?;
            }
            Ok(())
        });
        let location = self.location.as_str();
        match outcome {
            Ok(()) => {
                for (change, refusal) in batch.into_iter().zip(refused) {
                    change.answer(refusal.map_or(Ok(()), Err), location);
                }
            }
            Err(error) => {
                for change in batch {
                    change.answer(Err(batch_error(&error, location)), location);
                }
            }
        }
    }
}
