//! `Drain`: the gateway's shutdown state, shared by the server and the
//! allocation flow.
//!
//! Shutdown runs in two steps (see `server::serve`): first the gateway says
//! NOT_SERVING while still serving (the drain period), then it *stops*: no
//! new connections, streams and waits end with UNAVAILABLE, unary calls and
//! allocation tasks finish. `Drain` carries the second step to whoever must
//! react to it ([`Drain::stopping`]) and tracks the allocations the server
//! must wait for ([`Drain::finish`]), so an allocation whose caller has gone
//! still completes and records its outcome before the process exits.
//! The first step is marked too ([`Drain::begin_draining`]), for readiness.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::finishing::Finishing;

/// A cheap, cloneable handle on the shutdown state.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    draining: CancellationToken,
    stopping: CancellationToken,
    tasks: TaskTracker,
}

impl Drain {
    pub fn new() -> Self {
        Drain::default()
    }

    /// Completes once the gateway stops: streams and waits must end now
    /// (UNAVAILABLE, retry elsewhere). Pending forever until then.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await
    }

    /// [`Drain::stopping`] as an owned future (for bodies and streams that
    /// poll it by hand).
    pub fn stopping_owned(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.stopping.clone().cancelled_owned()
    }

    /// Marks the start of shutdown (the drain period: still serving, no
    /// longer ready).
    pub fn begin_draining(&self) {
        self.draining.cancel();
    }

    /// True from the start of shutdown on (the drain period, then the stop).
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled() || self.stopping.is_cancelled()
    }

    /// True once the gateway has stopped taking work.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Work the process must finish before it exits (an allocation whose
    /// outcome must be recorded): it runs in the task that awaits it and,
    /// if that task drops it, goes on as a task of its own (see
    /// [`Finishing`]); tracked either way.
    pub fn finish<F>(&self, work: F) -> Finishing<F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Finishing::new(work, self.tasks.token())
    }

    /// How many tracked tasks are still running.
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Starts the stop step: wakes every [`Drain::stopping`].
    pub fn stop(&self) {
        self.stopping.cancel();
    }

    /// Completes once all work run through [`Drain::finish`] has ended
    /// (tasks may still be spawned until [`Drain::stop`]; the tracker closes
    /// here, so this completes when the running ones end).
    pub async fn tasks_finished(&self) {
        self.tasks.close();
        self.tasks.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_wakes_waiters_and_tasks_are_awaited() {
        let drain = Drain::new();
        assert!(!drain.is_stopping());
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.stopping().await }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(drain.finish(async move {
            let _ = rx.await;
            7
        }));
        assert_eq!(drain.running_tasks(), 1);
        drain.stop();
        waiter.await.unwrap();
        assert!(drain.is_stopping());
        let finished = tokio::spawn({
            let drain = drain.clone();
            async move { drain.tasks_finished().await }
        });
        tx.send(()).unwrap();
        assert_eq!(task.await.unwrap(), 7);
        finished.await.unwrap();
        assert_eq!(drain.running_tasks(), 0);
    }

    #[tokio::test]
    async fn finished_work_runs_in_the_awaiting_task() {
        let drain = Drain::new();
        let here = tokio::task::try_id();
        let ran_in = drain.finish(async { tokio::task::try_id() }).await;
        assert_eq!(ran_in, here);
        assert_eq!(drain.running_tasks(), 0);
    }

    #[tokio::test]
    async fn dropped_work_goes_on_and_is_awaited_at_shutdown() {
        let drain = Drain::new();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let (done, finished_work) = tokio::sync::oneshot::channel::<u32>();
        let mut work = Box::pin(drain.finish(async move {
            let _ = wait.await;
            let _ = done.send(7);
        }));
        // Started (polled once, now waiting), then its caller goes away.
        assert!(futures_util::poll!(work.as_mut()).is_pending());
        drop(work);
        assert_eq!(drain.running_tasks(), 1, "the rest runs as a tracked task");
        let shutdown = tokio::spawn({
            let drain = drain.clone();
            async move { drain.tasks_finished().await }
        });
        tokio::task::yield_now().await;
        assert!(!shutdown.is_finished(), "shutdown waits for the work");
        go.send(()).unwrap();
        assert_eq!(finished_work.await.unwrap(), 7);
        shutdown.await.unwrap();
        assert_eq!(drain.running_tasks(), 0);
    }

    #[test]
    fn dropped_outside_a_runtime_is_dropped_quietly() {
        let drain = Drain::new();
        let work = drain.finish(async { 1 });
        assert_eq!(drain.running_tasks(), 1);
        drop(work);
        assert_eq!(drain.running_tasks(), 0);
    }
}
