//! Stateful emulators of the provider HTTP APIs (Alibaba Cloud ECS and
//! Zenlayer BMC), with real signature checks, for our tests, the `--sandbox`
//! mode, and users' own integration tests (`ipalloc-gateway emulate`).
//!
//! Shared here: fault injection and counters (`faults`), the admin endpoint
//! (`admin`), and a server loop that can drop a connection mid-request
//! (`serve`).

pub mod admin;
pub mod aliyun;
pub mod faults;
pub mod serve;
pub mod zenlayer;

pub use faults::{CounterSnapshot, FaultConfig, Faults, Verdict};
pub use serve::{ConnectionDropper, RunningEmulator};
