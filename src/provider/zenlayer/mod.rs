//! Zenlayer Cloud BMC (API 2.0, `POST /api/v2/bmc`): `AllocateEipAddresses`
//! and `DescribeEipAddresses` (`client`), `TerminateEipAddress` and
//! `ReleaseEipAddresses` (`release`), `DescribeEipAvailableResources`
//! (`availability`) and the account's pages (`account`), signed with
//! ZC2-HMAC-SHA256 over the exact body bytes sent.

mod account;
mod availability;
pub mod client;
mod eip;
pub mod errors;
pub mod fingerprint;
mod release;
pub mod signer;
pub mod validate;
pub mod wire;

pub use client::ZenlayerProvider;

use crate::config::secret::Secret;
use crate::middleware::ResilienceSettings;
use crate::provider::model::{FollowSettings, HttpSettings};

/// Default `X-ZC-Version` for the bmc service (the current one; EIP request
/// and response shapes are the same in 2022-11-20).
pub const DEFAULT_API_VERSION: &str = "2026-02-01";

/// The tag key under which an idempotency key is recorded on every EIP an
/// AllocateIp call with a key creates; reconciliation searches for it.
pub const IDEMPOTENCY_TAG_KEY: &str = "ipalloc-idempotency-key";

/// Default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://console.zenlayer.com";

/// A Zenlayer API key pair.
#[derive(Debug, Clone)]
pub struct ZenlayerCredentials {
    pub access_key_id: String,
    pub access_key_password: Secret,
}

/// Everything a Zenlayer provider needs, as parsed from configuration.
#[derive(Debug, Clone)]
pub struct ZenlayerSettings {
    /// The configured provider name.
    pub name: String,
    /// Base URL; the adapter appends `/api/v2/bmc`.
    pub endpoint: String,
    /// `X-ZC-Version`.
    pub api_version: String,
    pub credentials: ZenlayerCredentials,
    pub http: HttpSettings,
    pub follow: FollowSettings,
    /// Retries, rate limit, concurrency cap and per-attempt timeout.
    pub resilience: ResilienceSettings,
}
