//! Idempotency of `AllocateIp` (AIP-155 request ids, Stripe-style keys): the
//! same key with the same parameters yields the original result and never a
//! second allocation, also across a gateway restart; the same key with other
//! parameters is an error naming what differs.
//!
//! - [`IdempotencyStore`] (`store`): records per key, in memory or durable
//!   in a file, each change one atomic transaction, bounded in bytes; its
//!   errors ([`StoreError`], `error`).
//! - [`Record`] (`record`): `InFlight`, `Unknown` or `Completed`, and its
//!   stored encoding (`compact`, `legacy`).
//! - [`Fingerprint`] (`fingerprint`): a hash and a summary of the canonical
//!   request parameters.
//! - [`InFlightRegistry`] (`inflight`): duplicates that arrive while the first
//!   request runs in this process wait for it instead of racing it.
//!
//! # Using it in the gRPC layer
//!
//! 1. Build the [`Fingerprint`] from the provider name and the canonical
//!    allocation parameters (no credentials).
//! 2. `registry.claim(key)`: a [`Claim::Follower`] waits with
//!    [`Waiter::wait_until`] (the request's deadline) and then claims again;
//!    `TimedOut` ends the request (e.g. `ABORTED`/`UNAVAILABLE`, retry later).
//! 3. As [`Claim::Owner`] (keep the guard until done), `store.begin(..)`:
//!    - [`Begin::Started`]: call the provider, then `complete` with the
//!      encoded response, `release` on a definite failure (nothing
//!      allocated), or `mark_unknown` when the outcome is not known.
//!    - [`Begin::Completed`]: replay the stored response.
//!    - [`Begin::Mismatch`]: error naming `stored.differences(&fingerprint)`.
//!    - [`Begin::Unknown`], and [`Begin::InFlight`] seen by an owner (no
//!      request in this process runs it, so its process died or its request
//!      was cancelled): reconcile with the provider; `complete` if the
//!      allocation exists, else `mark_attempt` and send again.
//!
//! Run the provider call so that a cancelled gRPC request does not abandon it
//! halfway (e.g. in a spawned task that owns the guard), or accept that a
//! cancelled request leaves an `InFlight` record that the next retry
//! reconciles. Call `purge_expired` periodically; `begin` also replaces
//! expired records on its own.
//!
//! # Backends
//!
//! The state machine (`machine`, the table in `store`) runs on one of two
//! backends behind the `backend::Backend` trait, whose one primitive is an
//! atomic read-decide-write of one key (a shared database, e.g. PostgreSQL
//! for several gateways, would be a third):
//!
//! - `memory` (no `[idempotency] path`): a `HashMap` of encoded records
//!   behind a mutex, with exact accounting of its heap bytes;
//! - `file`: a [redb](https://www.redb.org) 4.1 database (the newest release
//!   whose MSRV, 1.89, fits this crate): pure Rust with no C toolchain, ACID
//!   transactions on copy-on-write B-trees, crash-safe by default (a commit
//!   is durable when it returns, a crash rolls back to the last commit), one
//!   file locked against a second writer process, actively maintained. Its
//!   single writer makes `begin`'s check-and-insert atomic without any
//!   locking of ours.
//!
//! Not chosen for the file: sled (the 1.0 line is an alpha, the stable 0.34
//! is unmaintained, and its docs warn about on-disk format changes),
//! rusqlite (needs a C compiler to build the bundled SQLite, and SQL is more
//! than a key-to-record map needs), fjall (an LSM tree with background
//! compaction threads and a directory of files: built for write-heavy large
//! data sets; its current 3.x needs Rust 1.90).
//!
//! Both count the bytes their records take and keep them under
//! `max_bytes` (refusing new keys, or evicting the oldest completed records
//! when allowed); records are stored in a compact binary form (`compact`,
//! about 300 bytes for a one-address allocation), and the JSON records of
//! earlier gateways are still read (`legacy`).
//!
//! # Durability and time
//!
//! Each call is one short local change (see `store`): on a file, changes
//! are group-committed by one thread (`file::committer`) and a call returns
//! once its change is fsync'd, except `purge_expired`. Callers pass
//! `now`, so tests need no sleeping; a record expires once `now` is more
//! than the retention after its last activity (its latest attempt or
//! completion).

mod backend;
mod change;
mod compact;
mod error;
mod faults;
mod file;
mod fingerprint;
mod inflight;
mod legacy;
mod machine;
mod memory;
mod record;
mod records;
mod run;
mod spend;
mod spend_change;
mod store;

#[cfg(test)]
mod tests;

pub use backend::{Limits, Usage};
pub(crate) use change::AlsoInTransaction;
pub use error::StoreError;
pub use faults::IoFaults;
pub use file::REOPEN_EVERY;
pub(crate) use file::{INVENTORY_ENTRIES, INVENTORY_IDS, INVENTORY_RELEASED, RedbHandle};
pub use fingerprint::{Fingerprint, HASH_BYTES as FINGERPRINT_HASH_BYTES};
pub use inflight::{Claim, InFlightRegistry, OwnerGuard, WaitResult, Waiter};
pub(crate) use memory::heap_bytes;
pub use record::Record;
pub use records::{Completed, Records};
pub use store::{
    Begin, DEFAULT_MAX_BYTES, FULL_LOG_EVERY, IdempotencyStore, StoreOptions, StoreStats,
};
