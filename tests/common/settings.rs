//! The one settings builder of the tests that drive a provider adapter
//! directly (against an emulator or the scripted server): an account's
//! settings with the given credentials, 2 s to connect, 5 s a request, and
//! one attempt per call (these tests count requests and map single
//! answers), and the allocation parameters they send. A test changes what
//! it needs with struct update syntax.

use std::time::Duration;

use ipalloc_gateway::config::secret::Secret;
use ipalloc_gateway::middleware::ResilienceSettings;
use ipalloc_gateway::provider::aliyun::{AliyunCredentials, AliyunSettings, SignatureVersion};
use ipalloc_gateway::provider::model::{ChargeType, HttpSettings, Tag, ZenlayerAllocate};
use ipalloc_gateway::provider::zenlayer::{
    DEFAULT_API_VERSION, ZenlayerCredentials, ZenlayerSettings,
};

/// Never retry, 5 s an attempt; otherwise the defaults.
pub fn one_attempt() -> ResilienceSettings {
    ResilienceSettings {
        max_attempts: 1,
        attempt_timeout: Duration::from_secs(5),
        ..ResilienceSettings::default()
    }
}

/// 2 s to connect.
pub fn http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
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
    let credentials = AliyunCredentials {
        access_key_id: access_key_id.to_owned(),
        access_key_secret: Secret::new(access_key_secret),
        security_token: security_token.map(Secret::new),
    };
    aliyun_account("aliyun-test", Some(endpoint), signature, credentials)
}

/// An Alibaba account `name` in cn-hangzhou, every region sent to
/// `endpoint` (`None`: to the regional URLs).
pub fn aliyun_account(
    name: &str,
    endpoint: Option<&str>,
    signature: SignatureVersion,
    credentials: AliyunCredentials,
) -> AliyunSettings {
    AliyunSettings {
        name: name.to_owned(),
        region: "cn-hangzhou".to_owned(),
        endpoint: endpoint.map(str::to_owned),
        signature,
        credentials,
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
    let credentials = ZenlayerCredentials {
        access_key_id: access_key_id.to_owned(),
        access_key_password: Secret::new(access_key_password),
    };
    zenlayer_account("zenlayer-test", endpoint, credentials)
}

/// A Zenlayer account `name` at `endpoint`, on the default API version.
pub fn zenlayer_account(
    name: &str,
    endpoint: &str,
    credentials: ZenlayerCredentials,
) -> ZenlayerSettings {
    ZenlayerSettings {
        name: name.to_owned(),
        endpoint: endpoint.to_owned(),
        api_version: DEFAULT_API_VERSION.to_owned(),
        credentials,
        http: http(),
        follow: Default::default(),
        resilience: one_attempt(),
    }
}

/// `amount` /32 EIPs in `zone`, tagged `env=test`.
pub fn zenlayer_allocate(zone: &str, charge: ChargeType, amount: u32) -> ZenlayerAllocate {
    ZenlayerAllocate {
        zone_id: zone.to_owned(),
        charge,
        resource_group_id: None,
        amount,
        netmask: 32,
        amount_set: true,
        netmask_set: true,
        discount_code: None,
        use_poc_voucher: false,
        tags: vec![Tag {
            key: "env".to_owned(),
            value: "test".to_owned(),
        }],
    }
}
