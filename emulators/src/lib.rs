//! Stateful emulators of the provider HTTP APIs (Alibaba Cloud ECS and
//! Zenlayer BMC), with real signature checks, for ipalloc-gateway's tests,
//! its `--sandbox` mode, and users' own integration tests
//! (`ipalloc-gateway emulate`).
//!
//! This crate shares no code with the gateway: it verifies signatures,
//! reads parameters and writes answers with its own implementation of the
//! providers' documents, so the gateway agreeing with it is evidence, not
//! an echo. The official Python SDKs run against it in the gateway's test
//! suite.
//!
//! The two emulators have one shape (`aliyun/` and `zenlayer/`: `api`,
//! `verify`, `signature`, `params`, `strict`, `actions/` with one file per
//! action, `errors`, `response`, `state`, `seed`, `inventory`, `admin`,
//! `tests/`). Shared here: fault injection and counters ([`faults`]), the
//! admin endpoint ([`admin`]), a server loop that can drop a connection
//! mid-request ([`serve`]), and [`ApiReading`].

pub mod admin;
pub mod aliyun;
pub mod faults;
pub mod performed;
pub mod reading;
pub mod serve;
pub mod zenlayer;

pub use aliyun::RepeatAllocation;
pub use faults::{CounterSnapshot, Effect, FaultConfig, Faults, Verdict};
pub use performed::Performed;
pub use reading::ApiReading;
pub use serve::{ConnectionDropper, RunningEmulator};

/// Both emulators' seeded inventories as Markdown, as README publishes
/// them: which instance, zone or parameter produces which answer.
pub fn inventory_markdown() -> String {
    format!(
        "#### Alibaba Cloud ECS emulator: seeded instances\n\n{}\n{}",
        aliyun::inventory_markdown(),
        zenlayer::inventory_markdown()
    )
}
