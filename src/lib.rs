//! ipalloc-gateway: one gRPC API for allocating public IP addresses on
//! Alibaba Cloud ECS and Zenlayer Cloud BMC.
//!
//! - `api`: the `IpAllocation` service, validation, the allocation flow,
//!   error-to-status mapping.
//! - `provider`: the provider trait and one adapter per cloud.
//! - `middleware`: the tower layers around every provider attempt (retry,
//!   rate limit, concurrency cap, per-attempt timeout).
//! - `config`: the TOML configuration and credentials.
//! - `auth`: caller identity and authorization (`[callers.NAME]`).
//! - `spend`: spend limits per caller and provider account.
//! - `audit`: the audit trail, one JSON line per allocation outcome.
//! - `idempotency`: the idempotency record store (redb) and in-flight registry.
//! - `emulator`: the `ipalloc-emulators` crate (`emulators/`), stateful
//!   emulators of both provider APIs sharing no code with the gateway;
//!   `sandbox` wires them up.
//! - `server`: wiring, serving, connection limits and shutdown.
//! - `logging`: the log subscriber and the access log.
//! - `admin`: the admin listener (`/metrics`, `/live`, `/ready`) and the
//!   metrics every part of the gateway records.
//! - `bounded`: bounded, escaped text for answers and logs.
//! - `runtime`: the async runtime (one worker thread unless told otherwise).

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bounded;
pub mod cluster;
pub mod config;
pub use ipalloc_emulators as emulator;
pub mod idempotency;
pub mod inventory;
pub mod logging;
pub mod middleware;
pub mod provider;
pub mod runtime;
pub mod sandbox;
pub mod server;
pub mod spend;
#[cfg(test)]
mod testing;

/// Code generated from `proto/ipalloc/v1/ip_allocation.proto`.
pub mod pb {
    #![allow(clippy::all)]
    tonic::include_proto!("ipalloc.v1");

    /// Encoded file descriptor set of the API, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("ipalloc_descriptor");
}

/// Every error mapping table as Markdown, as published in README.md.
pub fn error_tables_markdown() -> String {
    use provider::ProviderKind;
    let mut out = String::new();
    for kind in [ProviderKind::Aliyun, ProviderKind::Zenlayer] {
        let table = kind.error_table();
        out.push_str(&format!(
            "#### {} (ErrorInfo domain `{}`)\n\n{}\n",
            table.api,
            table.domain,
            table.to_markdown()
        ));
    }
    out.push_str(&format!(
        "#### Codes no table knows (by HTTP status; reason `PROVIDER_ERROR_UNRECOGNIZED`)\n\n{}",
        provider::error_table::fallback_markdown()
    ));
    out
}

/// The gateway's own decisions (statuses it answers without a provider
/// error) as Markdown, as published in README.md.
pub fn gateway_decisions_markdown() -> String {
    api::gateway_errors::to_markdown()
}

/// The RPCs of the API as Markdown, as published in README.md.
pub fn api_table_markdown() -> String {
    api::rpcs::to_markdown()
}

/// The emulators' seeded inventories as Markdown, as published in README.md:
/// which instance, zone or parameter produces which answer.
pub fn emulator_inventory_markdown() -> String {
    emulator::inventory_markdown()
}
