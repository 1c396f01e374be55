//! The in-process provider emulators: behind the gateway (as in
//! `--sandbox`), configured through TOML so tests can set any provider knob;
//! or one alone, for tests that drive a provider adapter or the emulator's
//! HTTP API directly; and the emulators' admin endpoint (faults, counters).

use std::sync::Arc;
use std::time::Duration;

use ipalloc_gateway::emulator::aliyun::{AliyunEmulator, AliyunEmulatorConfig};
use ipalloc_gateway::emulator::zenlayer::{ZenlayerEmulator, ZenlayerEmulatorConfig};
use ipalloc_gateway::emulator::{CounterSnapshot, FaultConfig, RunningEmulator};
use ipalloc_gateway::emulator::{aliyun, zenlayer};
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators, start_emulators};
use serde_json::Value;

use super::{TestGateway, start_gateway};

/// A gateway with providers `aliyun` and `zenlayer` on live emulators.
pub struct EmulatedGateway {
    pub gateway: TestGateway,
    pub emulators: Emulators,
    pub aliyun_url: String,
    pub zenlayer_url: String,
}

/// Starts both emulators and a gateway whose providers carry the extra TOML
/// lines (`max_attempts = 1`, `rate_per_second = 5`, ...). `top` is
/// prepended to the file (`[idempotency]` and `[server]` tables).
pub async fn start(
    options: EmulatorOptions,
    top: &str,
    aliyun_extra: &str,
    zenlayer_extra: &str,
) -> EmulatedGateway {
    let (emulators, aliyun_url, zenlayer_url) = both(&options).await;
    let config = format!(
        "{top}\n{}",
        providers_toml(&aliyun_url, &zenlayer_url, aliyun_extra, zenlayer_extra)
    );
    let gateway = start_gateway(&config).await;
    EmulatedGateway {
        gateway,
        emulators,
        aliyun_url,
        zenlayer_url,
    }
}

/// Both emulators, and their URLs (Alibaba's, Zenlayer's).
pub async fn both(options: &EmulatorOptions) -> (Emulators, String, String) {
    let emulators = start_emulators(options).await.expect("emulators start");
    let aliyun_url = emulators
        .aliyun
        .as_ref()
        .map(|(running, _)| running.url())
        .expect("aliyun emulator");
    let zenlayer_url = emulators
        .zenlayer
        .as_ref()
        .map(|(running, _)| running.url())
        .expect("zenlayer emulator");
    (emulators, aliyun_url, zenlayer_url)
}

/// `[providers.aliyun]` and `[providers.zenlayer]` on the emulators at
/// these URLs, with the sandbox credentials and the extra TOML lines.
pub fn providers_toml(
    aliyun_url: &str,
    zenlayer_url: &str,
    aliyun_extra: &str,
    zenlayer_extra: &str,
) -> String {
    format!(
        "[providers.aliyun]\nkind = \"aliyun\"\nregion = \"{region}\"\nendpoint = \"{aliyun_url}\"\n\
         access_key_id = \"{aid}\"\naccess_key_secret = \"{asecret}\"\n{aliyun_extra}\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{zenlayer_url}\"\n\
         access_key_id = \"{zid}\"\naccess_key_password = \"{zpw}\"\n{zenlayer_extra}\n",
        region = aliyun::DEFAULT_REGION,
        aid = aliyun::SANDBOX_ACCESS_KEY_ID,
        asecret = aliyun::SANDBOX_ACCESS_KEY_SECRET,
        zid = zenlayer::SANDBOX_ACCESS_KEY_ID,
        zpw = zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    )
}

/// One emulator alone on 127.0.0.1:<ephemeral>, with no gateway in front.
pub struct Alone<E> {
    pub running: RunningEmulator,
    pub emulator: Arc<E>,
    /// A client for the emulator's API and admin routes (10 s timeout).
    pub http: reqwest::Client,
}

/// The Alibaba emulator alone.
pub async fn aliyun_alone(config: AliyunEmulatorConfig) -> Alone<AliyunEmulator> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = aliyun::start(listener, config).await.unwrap();
    Alone::new(running, emulator)
}

/// The Zenlayer emulator alone.
pub async fn zenlayer_alone(config: ZenlayerEmulatorConfig) -> Alone<ZenlayerEmulator> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (running, emulator) = zenlayer::start(listener, config).await.unwrap();
    Alone::new(running, emulator)
}

impl<E> Alone<E> {
    fn new(running: RunningEmulator, emulator: Arc<E>) -> Alone<E> {
        Alone {
            running,
            emulator,
            http: admin_client_with(reqwest::Client::builder().timeout(Duration::from_secs(10))),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// `GET <emulator><path>`: answered 200, with JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// [`set_faults`] on this emulator.
    pub async fn set_faults(&self, faults: &FaultConfig) {
        set_faults(&self.url(), faults).await;
    }

    /// [`counters`] of this emulator.
    pub async fn counters(&self) -> CounterSnapshot {
        counters(&self.url()).await
    }
}

/// An HTTP client for the admin endpoint (reqwest is built without a bundled
/// crypto provider; the gateway installs ring, so do the same here).
fn admin_client() -> reqwest::Client {
    admin_client_with(reqwest::Client::builder())
}

fn admin_client_with(builder: reqwest::ClientBuilder) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    builder.build().expect("an HTTP client")
}

/// `PUT <emulator>/_admin/faults`.
pub async fn set_faults(emulator_url: &str, faults: &FaultConfig) {
    let response = admin_client()
        .put(format!("{emulator_url}/_admin/faults"))
        .json(faults)
        .send()
        .await
        .expect("admin endpoint answers");
    assert_eq!(response.status(), 200, "{response:?}");
}

/// `GET <emulator>/_admin/counters`.
pub async fn counters(emulator_url: &str) -> CounterSnapshot {
    admin_client()
        .get(format!("{emulator_url}/_admin/counters"))
        .send()
        .await
        .expect("admin endpoint answers")
        .json()
        .await
        .expect("counters are JSON")
}

/// `POST <emulator>/_admin/counters/reset`.
pub async fn reset_counters(emulator_url: &str) {
    admin_client()
        .post(format!("{emulator_url}/_admin/counters/reset"))
        .send()
        .await
        .expect("admin endpoint answers");
}
