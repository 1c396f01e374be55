//! Stateful emulators of the provider HTTP APIs (Alibaba Cloud ECS and
//! Zenlayer BMC), with real signature checks, for our tests, the `--sandbox`
//! mode, and users' own integration tests (`ipalloc-gateway emulate`).
//!
//! Shared here: fault injection and counters (`faults`), the admin endpoint
//! (`admin`), a server loop that can drop a connection mid-request
//! (`serve`), and [`ApiReading`], the switch between the strict reading of
//! the API documents (the default) and the lenient one.

pub mod admin;
pub mod aliyun;
pub mod faults;
pub mod serve;
pub mod zenlayer;

pub use aliyun::RepeatAllocation;
pub use faults::{CounterSnapshot, FaultConfig, Faults, Verdict};
pub use serve::{ConnectionDropper, RunningEmulator};

/// How an emulator reads requests where the API documents leave a choice.
///
/// `Strict` (the default) takes the reading that hurts a careless client
/// most: an empty list filter matches nothing, `null`, a float where an
/// integer is expected, an unknown or repeated field, or an empty value for
/// an optional parameter is refused (README, "Strict readings", lists every
/// case). `Lenient` is what the emulators did first: `null`, `""` and `[]`
/// read as absent, unknown fields are ignored. A client should be correct
/// under both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ApiReading {
    #[default]
    Strict,
    Lenient,
}

impl ApiReading {
    pub fn is_strict(self) -> bool {
        self == ApiReading::Strict
    }

    /// `strict` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiReading::Strict => "strict",
            ApiReading::Lenient => "lenient",
        }
    }
}

impl std::fmt::Display for ApiReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
