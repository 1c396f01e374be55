//! Alibaba Cloud ECS (API 2014-05-26, RPC style): `AllocatePublicIpAddress`
//! and `DescribeInstanceAttribute`; for the lifecycle, `DescribeInstances`
//! (batch reads), `ModifyInstanceNetworkSpec` (release) and the
//! availability check; signed with RPC signature V1 (HMAC-SHA1) or, per
//! provider, V3 (ACS3-HMAC-SHA256).

pub mod allocation;
pub mod availability;
pub mod batch;
pub mod client;
pub mod client_token;
pub mod errors;
pub mod existing;
pub mod fingerprint;
pub mod region;
pub mod release;
pub mod signer;
pub mod validate;
pub mod wire;

pub use client::AliyunProvider;

use crate::config::secret::Secret;
use crate::middleware::ResilienceSettings;
use crate::provider::model::{FollowSettings, HttpSettings};

/// The ECS API version every call uses.
pub const API_VERSION: &str = "2014-05-26";

/// Which Alibaba request signature a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// RPC signature V1: HMAC-SHA1 over the sorted query (the default).
    #[default]
    V1,
    /// ACS3-HMAC-SHA256 over a canonical request with `x-acs-*` headers.
    V3,
}

/// Alibaba Cloud credentials: an AccessKey pair, plus an STS token when the
/// pair is temporary.
#[derive(Debug, Clone)]
pub struct AliyunCredentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
}

/// Everything an Aliyun provider needs, as parsed from configuration.
#[derive(Debug, Clone)]
pub struct AliyunSettings {
    /// The configured provider name.
    pub name: String,
    /// Default region, e.g. `cn-hangzhou`.
    pub region: String,
    /// Base URL overriding `https://ecs.<region>.aliyuncs.com/` for every
    /// region (tests and emulators use `http://127.0.0.1:PORT`).
    pub endpoint: Option<String>,
    pub signature: SignatureVersion,
    pub credentials: AliyunCredentials,
    pub http: HttpSettings,
    pub follow: FollowSettings,
    /// Retries, rate limit, concurrency cap and per-attempt timeout.
    pub resilience: ResilienceSettings,
}
