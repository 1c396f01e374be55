//! Unit tests of the Zenlayer client: the endpoint URL and the host it
//! signs, settings validation, description and `Debug`, the status and EIP
//! mappings, the reconciliation query. The adapter against a scripted
//! server: `tests/zenlayer_client.rs`.

use super::*;
use crate::provider::Provider;
use crate::provider::model::AliyunAllocate;
use crate::provider::model::{HttpSettings, Tag};
use crate::provider::signing::host_header;
use std::time::Duration;

const ID: &str = "AKIDZLTEST0000000001";
const PASSWORD: &str = "zlTestPassw0rd/Example+Key=";

fn settings(endpoint: &str) -> ZenlayerSettings {
    ZenlayerSettings {
        name: "zl-test".to_owned(),
        endpoint: endpoint.to_owned(),
        api_version: super::super::DEFAULT_API_VERSION.to_owned(),
        credentials: ZenlayerCredentials {
            access_key_id: ID.to_owned(),
            access_key_password: Secret::new(PASSWORD),
        },
        http: HttpSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        },
        follow: Default::default(),
        // One attempt: these tests count requests and map single answers.
        resilience: crate::middleware::ResilienceSettings {
            max_attempts: 1,
            ..Default::default()
        },
    }
}

fn spec() -> ZenlayerAllocate {
    ZenlayerAllocate {
        zone_id: "SEL-A".to_owned(),
        charge: ChargeType::Postpaid,
        resource_group_id: None,
        amount: 2,
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

/// The API URL for `endpoint` and the `host` signed for it.
fn api_url_and_host(endpoint: &str) -> Result<(Url, String), EndpointError> {
    let url = api_url(endpoint)?;
    let host = host_header(&url).unwrap();
    Ok((url, host))
}

#[test]
fn url_and_signing_host() {
    let (url, host) = api_url_and_host("https://console.zenlayer.com").unwrap();
    assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
    assert_eq!(host, "console.zenlayer.com");
    let (url, host) = api_url_and_host("https://console.zenlayer.com/").unwrap();
    assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
    assert_eq!(host, "console.zenlayer.com");
    // The default port is not part of the Host header.
    let (_, host) = api_url_and_host("https://Console.Zenlayer.com:443").unwrap();
    assert_eq!(host, "console.zenlayer.com");
    let (url, host) = api_url_and_host("http://127.0.0.1:8080/emu/").unwrap();
    assert_eq!(url.as_str(), "http://127.0.0.1:8080/emu/api/v2/bmc");
    assert_eq!(host, "127.0.0.1:8080");
    let (_, host) = api_url_and_host("http://[::1]:9000").unwrap();
    assert_eq!(host, "[::1]:9000");
    for bad in [
        "",
        "console.zenlayer.com",
        "ftp://console.zenlayer.com",
        "https://console.zenlayer.com?x=1",
        "https://user:pw@console.zenlayer.com",
        "https://",
        "https:///",
        "http:",
    ] {
        assert!(api_url_and_host(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn new_validates_settings_without_leaking() {
    let err = ZenlayerProvider::new(settings("not a url")).unwrap_err();
    assert!(matches!(err, ProviderError::Internal(_)));
    assert!(err.to_string().contains("endpoint"), "{err}");
    assert!(!err.to_string().contains(PASSWORD));

    let mut s = settings("https://console.zenlayer.com");
    s.credentials.access_key_password = Secret::new("  ");
    assert!(ZenlayerProvider::new(s).is_err());
    let mut s = settings("https://console.zenlayer.com");
    s.credentials.access_key_id = "bad\nid".to_owned();
    assert!(ZenlayerProvider::new(s).is_err());
    let mut s = settings("https://console.zenlayer.com");
    s.api_version = "2026\n".to_owned() + "x";
    assert!(ZenlayerProvider::new(s).is_err());
}

#[test]
fn description_and_debug() {
    let provider = ZenlayerProvider::new(settings("https://console.zenlayer.com")).unwrap();
    let d = provider.description();
    assert_eq!(d.name, "zl-test");
    assert_eq!(d.kind, ProviderKind::Zenlayer);
    assert_eq!(d.region, None);
    assert_eq!(d.endpoint, "https://console.zenlayer.com");
    assert_eq!(
        d.capabilities,
        Capabilities {
            max_allocations_per_request: 100,
            asynchronous: true,
            requires_instance: false,
            requires_instance_restart: false,
            charge_types: vec![ChargeTypeName::Prepaid, ChargeTypeName::Postpaid],
            api_version: "bmc/2026-02-01".to_owned(),
            signature: "ZC2-HMAC-SHA256".to_owned(),
        }
    );
    let debug = format!("{provider:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("***"), "{debug}");
}

#[test]
fn status_mapping() {
    use AllocationState::*;
    for (status, state) in [
        ("CREATING", Pending),
        ("AVAILABLE", Ready),
        ("ASSOCIATED", Ready),
        ("ASSOCIATING", Ready),
        ("UNASSOCIATING", Ready),
        ("INUSE", Ready),
        ("CREATE_FAILED", Failed),
        ("RECYCLING", Released),
        ("RECYCLE", Released),
        ("RELEASING", Released),
        ("SOMETHING_NEW", Pending),
        ("", Pending),
    ] {
        assert_eq!(state_from_status(status), state, "{status}");
    }
}

#[test]
fn allocation_from_eip_maps_fields() {
    let a = allocation_from_eip(EipAddress {
        eip_id: "eip-1".to_owned(),
        zone_id: Some("SEL-A".to_owned()),
        ip_address: Some("203.0.113.7".to_owned()),
        netmask: Some(32),
        instance_id: Some(String::new()),
        eip_status: Some("AVAILABLE".to_owned()),
        ..Default::default()
    });
    assert_eq!(
        a,
        Allocation {
            id: "eip-1".to_owned(),
            ip_address: Some("203.0.113.7".to_owned()),
            state: AllocationState::Ready,
            provider_status: "AVAILABLE".to_owned(),
            zone_id: Some("SEL-A".to_owned()),
            region_id: None,
            requires_instance_restart: false,
            instance_id: None,
            failure_reason: None,
            netmask: Some(32),
        }
    );
    let failed = allocation_from_eip(EipAddress {
        eip_id: "eip-2".to_owned(),
        ip_address: Some(String::new()),
        instance_id: Some("inst-1".to_owned()),
        eip_status: Some("CREATE_FAILED".to_owned()),
        ..Default::default()
    });
    assert_eq!(failed.state, AllocationState::Failed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("Zenlayer reported CREATE_FAILED")
    );
    assert_eq!(failed.ip_address, None);
    assert_eq!(failed.instance_id.as_deref(), Some("inst-1"));
    let unknown = allocation_from_eip(EipAddress {
        eip_id: "eip-3".to_owned(),
        ..Default::default()
    });
    assert_eq!(unknown.state, AllocationState::Pending);
    assert_eq!(unknown.provider_status, "");
}

#[tokio::test]
async fn allocate_rejects_other_kinds() {
    let provider = ZenlayerProvider::new(settings("http://127.0.0.1:9")).unwrap();
    let err = provider
        .allocate(
            &AllocateSpec::Aliyun(AliyunAllocate {
                instance_id: "i-1".to_owned(),
                ip_address: None,
                vlan_id: None,
                region_id: None,
            }),
            &crate::provider::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Internal(_)), "{err:?}");
}

#[test]
fn reconcile_request_uses_every_identifying_filter() {
    let mut prepaid = spec();
    prepaid.charge = ChargeType::Prepaid { period_months: 3 };
    prepaid.resource_group_id = Some("rg-1".to_owned());
    assert_eq!(
        serde_json::to_string(&reconcile_request(&prepaid, "k-1")).unwrap(),
        r#"{"eipChargeType":"PREPAID","zoneId":"SEL-A","resourceGroupId":"rg-1","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-1"}]}"#
    );
    // No resource group named: none filtered on (the default group's id
    // is the provider's to know), and no empty filter either.
    assert_eq!(
        serde_json::to_string(&reconcile_request(&spec(), "k-2")).unwrap(),
        r#"{"eipChargeType":"POSTPAID","zoneId":"SEL-A","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-2"}]}"#
    );
}
