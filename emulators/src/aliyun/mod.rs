//! The Alibaba Cloud ECS emulator: a stateful stand-in for the ECS RPC API
//! (`2014-05-26`) that checks signatures like the real gateway, for our
//! tests, the `--sandbox` mode and users' own integration tests.
//!
//! It serves `GET /` and `POST /` with:
//!
//! - signature V1 (HMAC-SHA1; parameters in the URL query and/or an
//!   `application/x-www-form-urlencoded` body, signed as one set) and V3
//!   (`ACS3-HMAC-SHA256`), nonce replay and timestamp checks, STS tokens
//!   ([`verify`]);
//! - `AllocatePublicIpAddress`, `DescribeInstanceAttribute`,
//!   `DescribeInstances`, `ModifyInstanceNetworkSpec`,
//!   `ReleasePublicIpAddress` ([`actions`]) over a seeded inventory
//!   ([`seed`], [`state`]) in which every error of their API pages is
//!   reachable ([`inventory`]);
//! - answers in JSON or XML, with Alibaba's shapes ([`response`]);
//! - the strict or lenient reading of parameters the documents leave open
//!   ([`strict`], [`crate::ApiReading`]) and the rule for a
//!   repeated allocation ([`RepeatAllocation`]);
//! - the shared fault injection and counters
//!   ([`crate::faults`]), and admin routes under `/_admin`
//!   ([`crate::admin`], [`admin`]).
//!
//! Files, the same in both emulators: `api` (the HTTP handler),
//! `verify` and `signature` (authentication), `params` and `strict`
//! (reading parameters), `actions/` (one file per action), `errors` and
//! `response` (answers), `instance` and `state` (what the region holds and
//! its rules), `seed` (the region it starts with), `inventory` (README's
//! table of it), `admin` (extra admin routes); here also `nonce` (the
//! replay cache).

pub mod actions;
pub mod admin;
pub mod api;
pub mod client_token;
pub mod errors;
pub mod instance;
pub mod inventory;
pub mod nonce;
pub mod params;
pub mod refusals;
pub mod response;
pub mod seed;
pub mod signature;
pub mod state;
pub mod strict;
pub mod verify;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

use crate::ApiReading;
use crate::faults::{FaultConfig, Faults};
use crate::serve::RunningEmulator;

pub use errors::EcsError;
pub use instance::{Eip, ForcedError, Instance, InstanceStatus, LockReason, NetworkType};
pub use inventory::{NETWORK_SPEC, Outcome, RELEASE, SEEDED, SeedRow, TABLES, inventory_markdown};
pub use response::Format;
pub use state::{Allocated, Inventory, InventoryError, RepeatAllocation};
pub use verify::EmulatorCredential;

use client_token::ClientTokens;
use nonce::NonceCache;

/// The ECS API version served.
pub const API_VERSION: &str = "2014-05-26";
/// The AccessKey id of the sandbox credential.
pub const SANDBOX_ACCESS_KEY_ID: &str = "LTAI5tSandboxAccessKey01";
/// The AccessKey secret of the sandbox credential.
pub const SANDBOX_ACCESS_KEY_SECRET: &str = "sandbox-aliyun-secret";
/// The default region.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct AliyunEmulatorConfig {
    /// The region served (`RegionId` of every instance; zones are
    /// `<region>-h` and `<region>-k`).
    pub region: String,
    /// The keys accepted.
    pub credentials: Vec<EmulatorCredential>,
    pub faults: FaultConfig,
    /// How parameters are read where the docs leave a choice.
    pub reading: ApiReading,
    /// What a repeated allocation on an instance that has a public IP
    /// answers.
    pub repeat_allocation: RepeatAllocation,
}

impl Default for AliyunEmulatorConfig {
    /// Region `cn-hangzhou`, the sandbox key pair, no faults, the strict
    /// reading, `AllocatedAlready` for a repeated allocation.
    fn default() -> Self {
        AliyunEmulatorConfig {
            region: DEFAULT_REGION.to_owned(),
            credentials: vec![EmulatorCredential::sandbox()],
            faults: FaultConfig::default(),
            reading: ApiReading::Strict,
            repeat_allocation: RepeatAllocation::AllocatedAlready,
        }
    }
}

/// One emulated region: instances, address pools, the nonce cache, faults.
pub struct AliyunEmulator {
    region: String,
    host_id: String,
    credentials: Vec<EmulatorCredential>,
    inventory: Mutex<Inventory>,
    nonces: NonceCache,
    faults: Arc<Faults>,
    reading: ApiReading,
    repeat_allocation: RepeatAllocation,
    /// Each instance's last public IP change (for `describe_lag_ms`).
    recent: Mutex<HashMap<String, (Instant, IpChange)>>,
    /// The answers given to `ClientToken`s (ModifyInstanceNetworkSpec).
    client_tokens: ClientTokens,
}

/// A change of an instance's static public IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpChange {
    Allocated,
    /// The address it held.
    Released(std::net::Ipv4Addr),
}

impl fmt::Debug for AliyunEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunEmulator")
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field("reading", &self.reading)
            .field("repeat_allocation", &self.repeat_allocation)
            .finish_non_exhaustive()
    }
}

impl AliyunEmulator {
    /// A seeded emulator. (The fault configuration is not validated here;
    /// [`start`] does.)
    pub fn new(config: AliyunEmulatorConfig) -> AliyunEmulator {
        AliyunEmulator {
            host_id: format!("ecs.{}.aliyuncs.com", config.region),
            inventory: Mutex::new(seed::inventory(&config.region)),
            region: config.region,
            credentials: config.credentials,
            nonces: NonceCache::default(),
            faults: Arc::new(Faults::new(config.faults)),
            reading: config.reading,
            repeat_allocation: config.repeat_allocation,
            recent: Mutex::new(HashMap::new()),
            client_tokens: ClientTokens::default(),
        }
    }

    /// Notes that `instance_id` just got a public IP.
    fn note_allocation(&self, instance_id: &str) {
        self.note_change(instance_id, IpChange::Allocated);
    }

    /// Notes that `instance_id` just gave `ip` back.
    fn note_release(&self, instance_id: &str, ip: std::net::Ipv4Addr) {
        self.note_change(instance_id, IpChange::Released(ip));
    }

    fn note_change(&self, instance_id: &str, change: IpChange) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Bounded: entries older than the longest lag asked for are useless.
        let lag = Duration::from_millis(self.faults.config().describe_lag_ms);
        recent.retain(|_, (at, _)| now.duration_since(*at) < lag);
        recent.insert(instance_id.to_owned(), (now, change));
    }

    /// `instance` as a Describe call shows it now: an IP allocated less
    /// than `describe_lag_ms` ago is not visible yet, and one released less
    /// than that ago still is.
    fn as_described(&self, mut instance: Instance) -> Instance {
        let lag = Duration::from_millis(self.faults.config().describe_lag_ms);
        if lag.is_zero() {
            return instance;
        }
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        match recent.get(&instance.instance_id) {
            Some((at, IpChange::Allocated)) if at.elapsed() < lag => instance.public_ip = None,
            Some((at, IpChange::Released(ip))) if at.elapsed() < lag => {
                instance.public_ip = instance.public_ip.or(Some(*ip));
            }
            _ => {}
        }
        instance
    }

    /// How this emulator reads parameters where the docs leave a choice.
    pub fn reading(&self) -> ApiReading {
        self.reading
    }

    /// What a repeated allocation answers.
    pub fn repeat_allocation(&self) -> RepeatAllocation {
        self.repeat_allocation
    }

    /// Fault configuration and counters (also under `/_admin`).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The `HostId` of every answer: `ecs.<region>.aliyuncs.com`.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// A copy of one instance.
    pub fn instance(&self, instance_id: &str) -> Option<Instance> {
        self.with_inventory(|inventory| inventory.get(instance_id).cloned())
    }

    /// A copy of every instance, by id.
    pub fn instances(&self) -> Vec<Instance> {
        self.with_inventory(|inventory| inventory.instances().cloned().collect())
    }

    /// Adds or replaces an instance; returns it as stored (defaults filled)
    /// and the one it replaced.
    pub fn upsert_instance(
        &self,
        instance: Instance,
    ) -> Result<(Instance, Option<Instance>), InventoryError> {
        self.with_inventory(|inventory| inventory.upsert(instance))
    }

    /// Removes an instance (its public IP returns to its pool).
    pub fn remove_instance(&self, instance_id: &str) -> Option<Instance> {
        self.with_inventory(|inventory| inventory.remove(instance_id))
    }

    /// Runs `f` with the inventory locked. Keep `f` short; it must not block.
    pub fn with_inventory<R>(&self, f: impl FnOnce(&mut Inventory) -> R) -> R {
        let mut inventory = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inventory)
    }
}

/// The emulator's HTTP routes: the API at `/` (GET and POST), its admin
/// routes and the shared `/_admin/faults` and `/_admin/counters`.
pub fn router(emulator: Arc<AliyunEmulator>) -> Router {
    let faults = Arc::clone(&emulator.faults);
    Router::new()
        .route(
            "/",
            get(api::api)
                .post(api::api)
                .fallback(api::unsupported_method),
        )
        .merge(admin::routes())
        .fallback(api::unknown_path)
        .with_state(emulator)
        .merge(crate::admin::router(faults))
}

/// Starts a seeded emulator on `listener` in the background.
pub async fn start(
    listener: tokio::net::TcpListener,
    config: AliyunEmulatorConfig,
) -> std::io::Result<(RunningEmulator, Arc<AliyunEmulator>)> {
    config
        .faults
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let emulator = Arc::new(AliyunEmulator::new(config));
    let running = RunningEmulator::spawn(listener, router(Arc::clone(&emulator)))?;
    tracing::info!(
        addr = %running.addr,
        region = %emulator.region,
        "aliyun ECS emulator listening"
    );
    Ok((running, emulator))
}
