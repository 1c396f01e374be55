//! The async runtime the gateway runs on: tokio's multi-threaded scheduler
//! with a fixed number of worker threads (`--worker-threads`,
//! `IPALLOC_WORKER_THREADS`), one by default.
//!
//! Why one: the gateway's work per call is a few tens of microseconds of CPU
//! in front of a provider that answers in milliseconds and admits tens of
//! requests a second per account. One worker serves more than ten thousand
//! calls a second (`examples/bench`), so a second one adds no throughput a
//! provider would accept; it adds cost: with two workers, a task woken on
//! one thread is often run on the other, and each such hand-over is a futex
//! wake-up, a context switch and cold caches. On the 2-core benchmark host
//! the gateway took about a third less CPU per new-key AllocateIp with one
//! worker than with tokio's default of one per core (README, "Performance").
//! A shared service answering many reads (GetAllocation, ListAllocations)
//! from many callers may raise it.
//!
//! Blocking work never runs on the workers whatever their number: the file
//! store commits on a thread of its own, the file inventory and the
//! store's purge on tokio's blocking pool.

use std::num::NonZeroUsize;

/// Worker threads when nothing else is said.
pub const DEFAULT_WORKER_THREADS: NonZeroUsize = NonZeroUsize::MIN;

/// Most worker threads `--worker-threads` accepts (each has a stack of its
/// own; more than the host's cores only adds hand-overs).
pub const MAX_WORKER_THREADS: usize = 256;

/// Builds the runtime: `worker_threads` workers (at most
/// [`MAX_WORKER_THREADS`]), I/O and timers enabled. Its threads, the
/// workers and the blocking pool's, are named `ipalloc-runtime`.
pub fn build(worker_threads: NonZeroUsize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.get().min(MAX_WORKER_THREADS))
        .thread_name("ipalloc-runtime")
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
    }

    #[test]
    fn the_runtime_has_the_workers_it_was_asked_for() {
        for n in [1, 2, 3] {
            let runtime = build(threads(n)).unwrap();
            assert_eq!(runtime.metrics().num_workers(), n);
        }
    }

    #[test]
    fn more_workers_than_the_bound_are_cut_to_it() {
        let runtime = build(threads(MAX_WORKER_THREADS + 1000)).unwrap();
        assert_eq!(runtime.metrics().num_workers(), MAX_WORKER_THREADS);
    }

    #[test]
    fn one_worker_runs_spawned_tasks_and_blocking_work_side_by_side() {
        let runtime = build(threads(1)).unwrap();
        let answer = runtime.block_on(async {
            // A blocking task waits for a spawned one: both must progress.
            let (tx, rx) = std::sync::mpsc::channel::<u32>();
            let blocking = tokio::task::spawn_blocking(move || rx.recv());
            let spawned = tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                tx.send(42)
            });
            let sent = spawned.await;
            (sent.is_ok(), blocking.await)
        });
        assert!(answer.0);
        assert_eq!(answer.1.unwrap(), Ok(42));
    }
}
