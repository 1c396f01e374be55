//! A stateful emulator of the Zenlayer Cloud BMC API 2.0 (`POST
//! /api/v2/bmc`): `AllocateEipAddresses`, `DescribeEipAddresses`,
//! `TerminateEipAddress`, `ReleaseEipAddresses` and
//! `DescribeEipAvailableResources`, with the real ZC2-HMAC-SHA256 signature check and
//! the documented error codes, so that our tests, the `--sandbox` mode and
//! users' own integration tests (including the official Python SDK pointed
//! at it with `Config(scheme="http", domain="127.0.0.1:PORT")`) run without
//! a Zenlayer account.
//!
//! EIP creation is asynchronous as on Zenlayer: CREATING for the creation
//! delay (2 s by default), then AVAILABLE (or CREATE_FAILED in zone SIN-A);
//! a terminated EIP is RECYCLING for the recycling delay (none by default),
//! then RECYCLE.
//! Faults and counters come from the shared core (`crate`);
//! [`inventory_markdown`] documents zones and how to reproduce each error.
//!
//! Files, the same in both emulators: `api` (the HTTP handler),
//! `verify` and `signature` (authentication), `params` and `strict`
//! (reading parameters), `actions/` (one file per action), `errors` and
//! `response` (answers), `eip` and `state` (what the account holds and its
//! rules), `seed` (the zones and resource groups it starts with),
//! `inventory` (README's table of it), `admin` (extra admin routes); here
//! also `pool` (a zone's address pool).

pub mod actions;
pub mod admin;
pub mod api;
pub mod eip;
pub mod errors;
pub mod inventory;
pub mod params;
pub mod pool;
pub mod response;
pub mod seed;
pub mod signature;
pub mod state;
pub mod strict;
pub mod verify;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::post;

use crate::ApiReading;
use crate::faults::{FaultConfig, Faults};
use crate::serve::RunningEmulator;

pub use eip::{ChargeType, EipStatus, EipView, TagView, TagsView};
pub use inventory::inventory_markdown;

/// The access key id of the sandbox account.
pub const SANDBOX_ACCESS_KEY_ID: &str = "ZLSANDBOXKEY00000001";
/// The access key password of the sandbox account (public by design).
pub const SANDBOX_ACCESS_KEY_PASSWORD: &str = "sandbox-zenlayer-password";
/// The path every action is posted to.
pub const API_PATH: &str = "/api/v2/bmc";
/// `X-ZC-Service` of the BMC API.
pub const SERVICE: &str = "bmc";
/// How long EIPs stay CREATING by default.
pub const DEFAULT_CREATION_DELAY: Duration = Duration::from_secs(2);
/// The longest creation delay accepted (longer ones are clamped).
pub const MAX_CREATION_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);

/// How to start an emulator.
#[derive(Clone)]
pub struct ZenlayerEmulatorConfig {
    /// Accepted key pairs: (access key id, access key password).
    pub credentials: Vec<(String, String)>,
    /// How long new EIPs stay CREATING.
    pub creation_delay: Duration,
    /// How long a terminated EIP stays RECYCLING before it is RECYCLE (and
    /// ReleaseEipAddresses accepts it); zero by default.
    pub recycling_delay: Duration,
    pub faults: FaultConfig,
    /// How requests are read where the docs leave a choice.
    pub reading: ApiReading,
}

impl Default for ZenlayerEmulatorConfig {
    /// The sandbox key pair, a 2 s creation delay, no recycling delay, no
    /// faults, the strict reading.
    fn default() -> Self {
        ZenlayerEmulatorConfig {
            credentials: vec![(
                SANDBOX_ACCESS_KEY_ID.to_owned(),
                SANDBOX_ACCESS_KEY_PASSWORD.to_owned(),
            )],
            creation_delay: DEFAULT_CREATION_DELAY,
            recycling_delay: Duration::ZERO,
            faults: FaultConfig::default(),
            reading: ApiReading::Strict,
        }
    }
}

impl std::fmt::Debug for ZenlayerEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.credentials.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("ZenlayerEmulatorConfig")
            .field("access_key_ids", &ids)
            .field("creation_delay", &self.creation_delay)
            .field("recycling_delay", &self.recycling_delay)
            .field("faults", &self.faults)
            .field("reading", &self.reading)
            .finish_non_exhaustive()
    }
}

/// The shared state of one emulator: accepted keys, faults and counters,
/// the creation delay, the EIPs and IP pools.
pub struct ZenlayerEmulator {
    credentials: Vec<verify::KeyPair>,
    faults: Arc<Faults>,
    creation_delay: Mutex<Duration>,
    recycling_delay: Mutex<Duration>,
    store: Mutex<state::Store>,
    reading: ApiReading,
}

impl std::fmt::Debug for ZenlayerEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .credentials
            .iter()
            .map(|key| key.access_key_id.as_str())
            .collect();
        f.debug_struct("ZenlayerEmulator")
            .field("access_key_ids", &ids)
            .field("creation_delay", &self.creation_delay())
            .field("reading", &self.reading)
            .finish_non_exhaustive()
    }
}

impl ZenlayerEmulator {
    /// A fresh account with no EIPs. Key ids and passwords are trimmed, as
    /// the official SDKs trim them.
    pub fn new(config: ZenlayerEmulatorConfig) -> ZenlayerEmulator {
        ZenlayerEmulator {
            credentials: config
                .credentials
                .into_iter()
                .map(|(id, password)| verify::KeyPair::new(&id, &password))
                .collect(),
            faults: Arc::new(Faults::new(config.faults)),
            creation_delay: Mutex::new(config.creation_delay.min(MAX_CREATION_DELAY)),
            recycling_delay: Mutex::new(config.recycling_delay.min(MAX_CREATION_DELAY)),
            store: Mutex::new(state::Store::default()),
            reading: config.reading,
        }
    }

    /// How this emulator reads requests where the docs leave a choice.
    pub fn reading(&self) -> ApiReading {
        self.reading
    }

    /// Faults and counters (the same the admin endpoint reads and sets).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// How long EIPs allocated from now on stay CREATING.
    pub fn creation_delay(&self) -> Duration {
        *lock(&self.creation_delay)
    }

    /// Sets the creation delay for EIPs allocated from now on (EIPs already
    /// allocated keep theirs); clamped to [`MAX_CREATION_DELAY`].
    pub fn set_creation_delay(&self, delay: Duration) {
        *lock(&self.creation_delay) = delay.min(MAX_CREATION_DELAY);
    }

    /// How long EIPs terminated from now on stay RECYCLING.
    pub fn recycling_delay(&self) -> Duration {
        *lock(&self.recycling_delay)
    }

    /// Sets the recycling delay for EIPs terminated from now on; clamped to
    /// [`MAX_CREATION_DELAY`].
    pub fn set_recycling_delay(&self, delay: Duration) {
        *lock(&self.recycling_delay) = delay.min(MAX_CREATION_DELAY);
    }

    /// One EIP as DescribeEipAddresses would show it now.
    pub fn eip(&self, eip_id: &str) -> Option<EipView> {
        self.store().get(eip_id, std::time::Instant::now())
    }

    /// Every EIP, newest first.
    pub fn eips(&self) -> Vec<EipView> {
        self.store().all(std::time::Instant::now())
    }

    /// Addresses not reserved in a zone's pool (0 for zones without one).
    pub fn free_addresses(&self, zone_id: &str) -> usize {
        self.store().free_addresses(zone_id)
    }

    fn store(&self) -> MutexGuard<'_, state::Store> {
        lock(&self.store)
    }
}

/// The API at `POST /api/v2/bmc` plus the admin routes (shared and
/// Zenlayer-specific).
pub fn router(emulator: Arc<ZenlayerEmulator>) -> Router {
    let faults = Arc::clone(&emulator.faults);
    Router::new()
        .route(API_PATH, post(api::handle))
        .with_state(Arc::clone(&emulator))
        .merge(admin::router(emulator))
        .merge(crate::admin::router(faults))
}

/// Starts an emulator on `listener` in the background.
pub async fn start(
    listener: tokio::net::TcpListener,
    config: ZenlayerEmulatorConfig,
) -> std::io::Result<(RunningEmulator, Arc<ZenlayerEmulator>)> {
    config
        .faults
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let emulator = Arc::new(ZenlayerEmulator::new(config));
    let running = RunningEmulator::spawn(listener, router(Arc::clone(&emulator)))?;
    tracing::info!(addr = %running.addr, "zenlayer emulator listening");
    Ok((running, emulator))
}

/// A poisoned lock only means a request panicked mid-update; the state is
/// still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
