//! Gateway configuration.
pub mod secret;
