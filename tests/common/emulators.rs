//! The gateway in front of the in-process provider emulators (as in
//! `--sandbox`), configured through TOML so tests can set any provider knob,
//! and the emulators' admin endpoint (faults, counters).

use ipalloc_gateway::emulator::{CounterSnapshot, FaultConfig};
use ipalloc_gateway::emulator::{aliyun, zenlayer};
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators, start_emulators};

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
    let emulators = start_emulators(&options).await.expect("emulators start");
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
    let config = format!(
        "{top}\n[providers.aliyun]\nkind = \"aliyun\"\nregion = \"{region}\"\nendpoint = \"{aliyun_url}\"\n\
         access_key_id = \"{aid}\"\naccess_key_secret = \"{asecret}\"\n{aliyun_extra}\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{zenlayer_url}\"\n\
         access_key_id = \"{zid}\"\naccess_key_password = \"{zpw}\"\n{zenlayer_extra}\n",
        region = aliyun::DEFAULT_REGION,
        aid = aliyun::SANDBOX_ACCESS_KEY_ID,
        asecret = aliyun::SANDBOX_ACCESS_KEY_SECRET,
        zid = zenlayer::SANDBOX_ACCESS_KEY_ID,
        zpw = zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    );
    let gateway = start_gateway(&config).await;
    EmulatedGateway {
        gateway,
        emulators,
        aliyun_url,
        zenlayer_url,
    }
}

/// An HTTP client for the admin endpoint (reqwest is built without a bundled
/// crypto provider; the gateway installs ring, so do the same here).
fn admin_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `PUT <emulator>/_admin/faults`.
pub async fn set_faults(emulator_url: &str, faults: &FaultConfig) {
    let response = admin_client()
        .put(format!("{emulator_url}/_admin/faults"))
        .json(faults)
        .send()
        .await
        .expect("admin endpoint answers");
    assert!(response.status().is_success(), "{response:?}");
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
