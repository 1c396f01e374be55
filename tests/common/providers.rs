//! What tests that drive a real adapter over loopback (against the
//! scripted server or an emulator) give it: provider settings with short
//! HTTP timeouts and one attempt per call, since these tests count requests
//! and map single answers (callers adjust them where a test needs more),
//! and allocation parameters.

use std::time::Duration;

use ipalloc_gateway::middleware::ResilienceSettings;
use ipalloc_gateway::provider::aliyun::{AliyunCredentials, AliyunSettings, SignatureVersion};
use ipalloc_gateway::provider::model::{ChargeType, HttpSettings, Tag, ZenlayerAllocate};
use ipalloc_gateway::provider::zenlayer::{
    DEFAULT_API_VERSION, ZenlayerCredentials, ZenlayerSettings,
};

/// An Alibaba account `name` in `cn-hangzhou`, every region sent to
/// `endpoint` (`None`: to the regional URLs).
pub fn aliyun(
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

/// A Zenlayer account `name` at `endpoint`, on the default API version.
pub fn zenlayer(name: &str, endpoint: &str, credentials: ZenlayerCredentials) -> ZenlayerSettings {
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

fn http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    }
}

fn one_attempt() -> ResilienceSettings {
    ResilienceSettings {
        max_attempts: 1,
        ..Default::default()
    }
}
