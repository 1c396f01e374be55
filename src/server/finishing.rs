//! `Finishing`: work that runs in its caller's task and, if the caller's
//! future is dropped before it ends (the client went away, the call's
//! `grpc-timeout` passed), goes on as a task of its own: an allocation whose
//! caller has gone still completes and records its outcome.
//!
//! Running it in the caller's task instead of spawning it up front saves
//! what a task costs on every call (the task's allocation, a move of the
//! whole future into it, a wake-up of another worker thread and the join);
//! a task is spawned only on the rare drop. Either way the work holds a
//! token of the drain's tracker, so shutdown waits for it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::task::task_tracker::TaskTrackerToken;

/// A future that finishes even if it is dropped (see the module docs).
/// Made by [`super::Drain::finish`].
#[must_use = "a Finishing does nothing until it is awaited or dropped"]
pub struct Finishing<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// `None` once it has ended.
    work: Option<Pin<Box<F>>>,
    /// Counts as a running task of the drain until the work ends.
    token: Option<TaskTrackerToken>,
}

impl<F> Finishing<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    pub(super) fn new(work: F, token: TaskTrackerToken) -> Self {
        Finishing {
            work: Some(Box::pin(work)),
            token: Some(token),
        }
    }
}

impl<F> Future for Finishing<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Every field is Unpin (the work is boxed).
        let this = self.get_mut();
        let Some(work) = this.work.as_mut() else {
            // Polled again after it ended: nothing more will come.
            return Poll::Pending;
        };
        let output = std::task::ready!(work.as_mut().poll(cx));
        this.work = None;
        this.token = None;
        Poll::Ready(output)
    }
}

impl<F> Drop for Finishing<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        let token = self.token.take();
        // Dropped outside a runtime (the runtime itself is being torn
        // down): there is nothing left to run it on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _token = token;
                work.await;
            });
        }
    }
}
