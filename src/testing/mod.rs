//! Fixtures shared by the crate's unit tests (compiled only for tests):
//! configuration text loaded with a provider and an environment, the
//! resilience settings tests start from, a provider description and a
//! Zenlayer allocation to call a fake provider with, and readers of the
//! error details of a status. The tower test doubles and provider errors
//! are in `middleware::testing`; integration tests have their own harness
//! in `tests/common`.

pub mod config;
pub mod provider;
pub mod settings;
pub mod status;
