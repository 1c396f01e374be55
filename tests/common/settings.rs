//! The one settings builder of the tests that drive a provider adapter
//! directly (against an emulator or the scripted server): an account's
//! settings with the given credentials, 2 s to connect, 5 s a request, and
//! one attempt per call (these tests count requests and map single
//! answers). A test changes what it needs with struct update syntax.

use std::time::Duration;

use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::middleware::ResilienceSettings;
use ipalloc_gateway::provider::aliyun::{AliyunCredentials, AliyunSettings, SignatureVersion};
use ipalloc_gateway::provider::model::HttpSettings;
use ipalloc_gateway::provider::zenlayer::{
    DEFAULT_API_VERSION, ZenlayerCredentials, ZenlayerSettings,
};

/// Never retry; otherwise the defaults.
pub fn one_attempt() -> ResilienceSettings {
    ResilienceSettings {
        max_attempts: 1,
        ..ResilienceSettings::default()
    }
}

/// 2 s to connect, 5 s for a whole request.
pub fn http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    }
}

/// Alibaba account `aliyun-test` in cn-hangzhou at `endpoint`.
pub fn aliyun(
    endpoint: &str,
    signature: SignatureVersion,
    access_key_id: &str,
    access_key_secret: &str,
    security_token: Option<&str>,
) -> AliyunSettings {
    AliyunSettings {
        name: "aliyun-test".to_owned(),
        region: "cn-hangzhou".to_owned(),
        endpoint: Some(endpoint.to_owned()),
        signature,
        credentials: AliyunCredentials {
            access_key_id: access_key_id.to_owned(),
            access_key_secret: Secret::new(access_key_secret),
            security_token: security_token.map(Secret::new),
        },
        http: http(),
        follow: Default::default(),
        resilience: one_attempt(),
    }
}

/// Zenlayer account `zenlayer-test` at `endpoint`, the default API version.
pub fn zenlayer(
    endpoint: &str,
    access_key_id: &str,
    access_key_password: &str,
) -> ZenlayerSettings {
    ZenlayerSettings {
        name: "zenlayer-test".to_owned(),
        endpoint: endpoint.to_owned(),
        api_version: DEFAULT_API_VERSION.to_owned(),
        credentials: ZenlayerCredentials {
            access_key_id: access_key_id.to_owned(),
            access_key_password: Secret::new(access_key_password),
        },
        http: http(),
        follow: Default::default(),
        resilience: one_attempt(),
    }
}
