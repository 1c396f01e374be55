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
//!   `DescribeInstances` ([`actions`]) over a seeded inventory ([`seed`],
//!   [`state`]) in which every error of the API page is reachable;
//! - answers in JSON or XML, with Alibaba's shapes ([`response`]);
//! - the strict or lenient reading of parameters the documents leave open
//!   ([`strict`], [`crate::emulator::ApiReading`]) and the rule for a
//!   repeated allocation ([`RepeatAllocation`]);
//! - the shared fault injection and counters
//!   ([`crate::emulator::faults`]), and admin routes under `/_admin`
//!   ([`crate::emulator::admin`], [`admin`]).
//!
//! Order of handling: the body is read (at most 1 MiB); faults are applied
//! (`Throttling` / `ServiceUnavailable`); an invalid `Format` is refused;
//! `Action`/`Version` must be present and known; authentication (failures
//! are counted); then the action. After a performed allocation the fault
//! configuration may drop the connection without an answer.

pub mod actions;
pub mod admin;
pub mod errors;
pub mod nonce;
pub mod params;
pub mod response;
pub mod seed;
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
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use time::OffsetDateTime;

use super::ApiReading;
use super::faults::{FaultConfig, Faults, Verdict};
use super::serve::{ConnectionDropper, RunningEmulator};
use crate::provider::aliyun::API_VERSION;

pub use errors::EcsError;
pub use response::Format;
pub use seed::{Outcome, SEEDED, SeedRow, inventory_markdown};
pub use state::{
    Allocated, Eip, ForcedError, Instance, InstanceStatus, Inventory, InventoryError, LockReason,
    NetworkType, RepeatAllocation,
};

use nonce::NonceCache;
use params::{ApiRequest, MAX_BODY_BYTES, format_from_query};
use response::Reply;
use verify::Verifier;

/// The AccessKey id of the sandbox credential.
pub const SANDBOX_ACCESS_KEY_ID: &str = "LTAI5tSandboxAccessKey01";
/// The AccessKey secret of the sandbox credential.
pub const SANDBOX_ACCESS_KEY_SECRET: &str = "sandbox-aliyun-secret";
/// The default region.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// An AccessKey the emulator accepts. With a `security_token` it is an STS
/// key: every request must carry exactly that token. `Debug` hides the
/// secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct EmulatorCredential {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
}

impl EmulatorCredential {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        EmulatorCredential {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
        }
    }

    /// Makes this an STS key requiring `token`.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The sandbox key pair ([`SANDBOX_ACCESS_KEY_ID`],
    /// [`SANDBOX_ACCESS_KEY_SECRET`]).
    pub fn sandbox() -> Self {
        EmulatorCredential::new(SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET)
    }
}

impl fmt::Debug for EmulatorCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorCredential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field("sts", &self.security_token.is_some())
            .finish()
    }
}

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
    /// When each instance last got a public IP (for `describe_lag_ms`).
    allocated_at: Mutex<HashMap<String, Instant>>,
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
            allocated_at: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `instance_id` just got a public IP.
    fn note_allocation(&self, instance_id: &str) {
        let mut recent = self.allocated_at.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Bounded: entries older than the longest lag asked for are useless.
        let lag = Duration::from_millis(self.faults.config().describe_lag_ms);
        recent.retain(|_, at| now.duration_since(*at) < lag);
        recent.insert(instance_id.to_owned(), now);
    }

    /// `instance` as a Describe call shows it now: an IP allocated less
    /// than `describe_lag_ms` ago is not visible yet.
    fn as_described(&self, mut instance: Instance) -> Instance {
        let lag = Duration::from_millis(self.faults.config().describe_lag_ms);
        if lag.is_zero() {
            return instance;
        }
        let recent = self.allocated_at.lock().unwrap_or_else(|e| e.into_inner());
        if recent
            .get(&instance.instance_id)
            .is_some_and(|at| at.elapsed() < lag)
        {
            instance.public_ip = None;
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

    /// Checks and performs one API request (no I/O, no waiting): returns
    /// the action performed and its result.
    fn handle(&self, request: &ApiRequest) -> Result<(String, actions::Performed), EcsError> {
        let (action, version) = verify::api_name(request)?;
        if !actions::is_known(&action) {
            return Err(EcsError::api_not_found());
        }
        if version != API_VERSION {
            return Err(EcsError::invalid_version());
        }
        let verifier = Verifier {
            credentials: &self.credentials,
            nonces: &self.nonces,
            now_utc: OffsetDateTime::now_utc(),
            now: Instant::now(),
        };
        let access_key_id = verifier.authenticate(request).inspect_err(|error| {
            self.faults.auth_failed();
            tracing::debug!(action, code = %error.code, "aliyun emulator rejected a request's authentication");
        })?;
        let performed = actions::perform(self, &action, request).inspect_err(|error| {
            tracing::debug!(action, access_key_id, code = %error.code, "aliyun emulator answered an error");
        })?;
        tracing::debug!(action, access_key_id, "aliyun emulator performed a request");
        Ok((action, performed))
    }
}

/// The emulator's HTTP routes: the API at `/` (GET and POST), its admin
/// routes and the shared `/_admin/faults` and `/_admin/counters`.
pub fn router(emulator: Arc<AliyunEmulator>) -> Router {
    let faults = Arc::clone(&emulator.faults);
    Router::new()
        .route("/", get(api).post(api).fallback(unsupported_method))
        .merge(admin::routes())
        .fallback(unknown_path)
        .with_state(emulator)
        .merge(super::admin::router(faults))
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

async fn api(State(emulator): State<Arc<AliyunEmulator>>, request: Request) -> Response {
    let dropper = request.extensions().get::<ConnectionDropper>().cloned();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let format = format_from_query(parts.uri.query());
            return Reply::new(emulator.host_id(), format).error(&EcsError::body_too_large());
        }
    };
    let request = ApiRequest::new(&parts, body);
    let (format, format_error) = match request.format() {
        Ok(format) => (format, None),
        Err(error) => (Format::Xml, Some(error)),
    };
    let reply = Reply::new(emulator.host_id(), format);
    match emulator.faults.admit().await {
        Verdict::Proceed => {}
        Verdict::Throttle => return reply.error(&EcsError::throttling()),
        Verdict::ServerError => return reply.error(&EcsError::service_unavailable()),
    }
    if let Some(error) = format_error {
        return reply.error(&error);
    }
    match emulator.handle(&request) {
        Ok((action, performed)) => {
            if performed.allocated && emulator.faults.allocated(1) {
                tracing::debug!(
                    action,
                    "aliyun emulator drops the connection after allocating"
                );
                if let Some(dropper) = dropper {
                    dropper.drop_connection();
                }
                std::future::pending::<()>().await;
            }
            reply.success(&action, performed.fields)
        }
        Err(error) => reply.error(&error),
    }
}

async fn unsupported_method(State(emulator): State<Arc<AliyunEmulator>>, uri: Uri) -> Response {
    Reply::new(emulator.host_id(), format_from_query(uri.query()))
        .error(&EcsError::unsupported_http_method())
}

async fn unknown_path(State(emulator): State<Arc<AliyunEmulator>>, uri: Uri) -> Response {
    Reply::new(emulator.host_id(), format_from_query(uri.query())).error(&EcsError::api_not_found())
}
