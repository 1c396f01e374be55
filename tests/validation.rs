//! Bad requests get INVALID_ARGUMENT with one BadRequest field violation per
//! bad field (all of them), and no provider is called.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::requests::{aliyun, keyed, postpaid, zenlayer};
use common::*;
use ipalloc_gateway::pb;
use tonic::Code;

struct Fixture {
    gateway: TestGateway,
    aliyun: Scripted,
    zenlayer: Scripted,
}

async fn fixture() -> Fixture {
    let aliyun = Scripted::start(vec![Reply::raw(500, "text/plain", "must not be called")]).await;
    let zenlayer = Scripted::start(vec![Reply::raw(500, "text/plain", "must not be called")]).await;
    let config = format!(
        "{}{}{}",
        aliyun_provider("ali", &aliyun.url(), ""),
        zenlayer_provider("zl", &zenlayer.url(), ""),
        zenlayer_provider("zl-2", &zenlayer.url(), ""),
    );
    Fixture {
        gateway: start_gateway(&config).await,
        aliyun,
        zenlayer,
    }
}

impl Fixture {
    /// Sends the request, expects INVALID_ARGUMENT naming exactly `fields`.
    async fn rejects(&self, request: pb::AllocateIpRequest, fields: &[&str]) {
        let status = self
            .gateway
            .client
            .clone()
            .allocate_ip(request.clone())
            .await
            .expect_err("request must be rejected");
        assert_invalid(&status, fields, &format!("{request:?}"));
    }

    fn assert_no_provider_called(&self) {
        assert_eq!(self.aliyun.requests().len(), 0, "aliyun was called");
        assert_eq!(self.zenlayer.requests().len(), 0, "zenlayer was called");
    }
}

fn assert_invalid(status: &tonic::Status, fields: &[&str], context: &str) {
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{context}: {status:?}"
    );
    let mut got = violated_fields(status);
    got.sort();
    let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "{context}: {}", status.message());
    let (reason, domain, metadata) = error_info(status);
    assert_eq!(reason, "INVALID_REQUEST");
    assert_eq!(domain, "ipalloc-gateway");
    assert!(metadata.contains_key("fields"));
}

fn tag(key: &str, value: &str) -> pb::Tag {
    pb::Tag {
        key: key.into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn every_bad_aliyun_field_is_reported() {
    let f = fixture().await;
    f.rejects(aliyun("ali", Default::default()), &["aliyun.instance_id"])
        .await;
    f.rejects(
        aliyun(
            "ali",
            pb::AliyunAllocateParams {
                instance_id: "instance-1".into(),
                ip_address: "300.1.1.1".into(),
                vlan_id: "0".into(),
                region_id: "Hangzhou".into(),
            },
        ),
        &[
            "aliyun.instance_id",
            "aliyun.ip_address",
            "aliyun.vlan_id",
            "aliyun.region_id",
        ],
    )
    .await;
    for bad_id in ["i-", "i-UPPER", "i-has space", "x-abc", "i-abc;rm"] {
        f.rejects(
            aliyun(
                "ali",
                pb::AliyunAllocateParams {
                    instance_id: bad_id.into(),
                    ..Default::default()
                },
            ),
            &["aliyun.instance_id"],
        )
        .await;
    }
    for bad_vlan in ["4095", "-1", "12a", "00001"] {
        f.rejects(
            aliyun(
                "ali",
                pb::AliyunAllocateParams {
                    instance_id: "i-bp1abc".into(),
                    vlan_id: bad_vlan.into(),
                    ..Default::default()
                },
            ),
            &["aliyun.vlan_id"],
        )
        .await;
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn every_bad_zenlayer_field_is_reported() {
    let f = fixture().await;
    let long = "k".repeat(129);
    f.rejects(
        zenlayer(
            "zl",
            pb::ZenlayerAllocateParams {
                zone_id: String::new(),
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: None,
                amount: Some(0),
                netmask: Some(33),
                resource_group_id: "bad group".into(),
                discount_code: "x".repeat(129),
                use_poc_voucher: false,
                tags: vec![
                    tag("env", "prod"),
                    tag("env", "dup"),
                    tag(&long, "v"),
                    tag("empty", ""),
                ],
            },
        ),
        &[
            "zenlayer.zone_id",
            "zenlayer.prepaid_period_months",
            "zenlayer.amount",
            "zenlayer.netmask",
            "zenlayer.resource_group_id",
            "zenlayer.discount_code",
            "zenlayer.tags[1].key",
            "zenlayer.tags[2].key",
            "zenlayer.tags[3].value",
        ],
    )
    .await;
    // One bad field each on otherwise good parameters: (parameters, field).
    let one_bad: Vec<(pb::ZenlayerAllocateParams, &str)> = vec![
        (
            pb::ZenlayerAllocateParams {
                amount: Some(101),
                ..postpaid("SEL-A")
            },
            "zenlayer.amount",
        ),
        (
            pb::ZenlayerAllocateParams {
                netmask: Some(0),
                ..postpaid("SEL-A")
            },
            "zenlayer.netmask",
        ),
        (
            pb::ZenlayerAllocateParams {
                prepaid_period_months: Some(1),
                ..postpaid("SEL-A")
            },
            "zenlayer.prepaid_period_months",
        ),
        (
            pb::ZenlayerAllocateParams {
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: Some(0),
                ..postpaid("SEL-A")
            },
            "zenlayer.prepaid_period_months",
        ),
        (
            pb::ZenlayerAllocateParams {
                charge_type: 0,
                ..postpaid("SEL-A")
            },
            "zenlayer.charge_type",
        ),
        (
            pb::ZenlayerAllocateParams {
                charge_type: 7,
                ..postpaid("SEL-A")
            },
            "zenlayer.charge_type",
        ),
        // 128 characters (not bytes) is the limit: 128 multi-byte characters
        // pass validation, so only the other bad field is reported.
        (
            pb::ZenlayerAllocateParams {
                amount: Some(0),
                tags: vec![tag(&"运".repeat(128), &"维".repeat(128))],
                ..postpaid("SEL-A")
            },
            "zenlayer.amount",
        ),
        (
            pb::ZenlayerAllocateParams {
                tags: (0..51).map(|i| tag(&format!("k{i}"), "v")).collect(),
                ..postpaid("SEL-A")
            },
            "zenlayer.tags",
        ),
    ];
    for (params, field) in one_bad {
        f.rejects(zenlayer("zl", params), &[field]).await;
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn provider_choice_is_validated() {
    let f = fixture().await;
    let good_aliyun = pb::AliyunAllocateParams {
        instance_id: "i-bp1abc".into(),
        ..Default::default()
    };
    // Unknown name.
    f.rejects(aliyun("nope", good_aliyun.clone()), &["provider"])
        .await;
    // A oneof kind that doesn't match the named provider.
    f.rejects(zenlayer("ali", postpaid("SEL-A")), &["provider"])
        .await;
    f.rejects(aliyun("zl", good_aliyun.clone()), &["provider"])
        .await;
    // Omitted while two zenlayer providers are configured.
    let status = f
        .gateway
        .client
        .clone()
        .allocate_ip(zenlayer("", postpaid("SEL-A")))
        .await
        .unwrap_err();
    assert_invalid(&status, &["provider"], "ambiguous");
    assert!(
        status.message().contains("zl, zl-2"),
        "{}",
        status.message()
    );
    // No params at all; the provider error and the params error both show.
    f.rejects(
        pb::AllocateIpRequest {
            provider: "nope".into(),
            ..Default::default()
        },
        &["provider", "params"],
    )
    .await;
    // Bad idempotency key, reported with the other bad fields.
    f.rejects(
        keyed("has space/slash", aliyun("ali", Default::default())),
        &["idempotency_key", "aliyun.instance_id"],
    )
    .await;
    f.rejects(
        keyed(&"k".repeat(129), aliyun("ali", good_aliyun)),
        &["idempotency_key"],
    )
    .await;
    f.assert_no_provider_called();
}

#[tokio::test]
async fn get_allocation_is_validated() {
    let f = fixture().await;
    let mut client = f.gateway.client.clone();
    // (provider, id, region_id, the fields named)
    let cases: [(&str, &str, &str, &[&str]); 4] = [
        ("ali", "", "", &["id"]),
        ("ali", "eip-123", "nowhere", &["id", "region_id"]),
        ("zl", "eip 1", "cn-hangzhou", &["id", "region_id"]),
        ("", "eip-1", "", &["provider"]),
    ];
    for (provider, id, region_id, fields) in cases {
        let request = pb::GetAllocationRequest {
            region_id: region_id.into(),
            ..requests::lookup(provider, id)
        };
        let status = client.get_allocation(request.clone()).await.unwrap_err();
        assert_invalid(&status, fields, &format!("{request:?}"));
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn release_allocation_is_validated() {
    let f = fixture().await;
    let mut client = f.gateway.client.clone();
    let release = |provider: &str, id: &str, key: &str, purge: bool| pb::ReleaseAllocationRequest {
        provider: provider.into(),
        id: id.into(),
        idempotency_key: key.into(),
        purge,
        ..Default::default()
    };
    let cases: [(pb::ReleaseAllocationRequest, &[&str]); 6] = [
        (release("zl", "", "", false), &["id"]),
        // Every bad field at once: the lookup's and the key's.
        (
            release("zl", "eip 1", "bad key!", false),
            &["id", "idempotency_key"],
        ),
        (release("ali", "i-emuready001", "", true), &["purge"]),
        (release("", "eip-1", "", false), &["provider"]),
        (
            release("nope", "eip-1", &"k".repeat(129), false),
            &["provider", "idempotency_key"],
        ),
        (
            pb::ReleaseAllocationRequest {
                region_id: "x".repeat(100),
                ..release("ali", &"i".repeat(10_000), "", false)
            },
            &["id", "region_id"],
        ),
    ];
    for (request, fields) in cases {
        let status = client
            .release_allocation(request.clone())
            .await
            .unwrap_err();
        assert_invalid(&status, fields, &format!("{request:?}"));
        assert!(status.message().len() < 2048, "{}", status.message());
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn list_allocations_is_validated() {
    let f = fixture().await;
    let mut client = f.gateway.client.clone();
    let many_tags: Vec<pb::Tag> = (0..11).map(|i| tag(&format!("k{i}"), "v")).collect();
    let cases: [(pb::ListAllocationsRequest, &[&str]); 7] = [
        (
            pb::ListAllocationsRequest {
                page_size: -1,
                ..Default::default()
            },
            &["page_size"],
        ),
        (
            pb::ListAllocationsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            &["page_token"],
        ),
        (
            pb::ListAllocationsRequest {
                page_token: "A".repeat(100_000),
                ..Default::default()
            },
            &["page_token"],
        ),
        (
            pb::ListAllocationsRequest {
                tags: many_tags,
                ..Default::default()
            },
            &["tags"],
        ),
        (
            pb::ListAllocationsRequest {
                tags: vec![tag("", "v"), tag("k", &"v".repeat(129))],
                idempotency_key_prefix: "no spaces".into(),
                ..Default::default()
            },
            &["tags[0].key", "tags[1].value", "idempotency_key_prefix"],
        ),
        (
            pb::ListAllocationsRequest {
                provider: "ali".into(),
                include_unmanaged: true,
                state: 99,
                ..Default::default()
            },
            &["include_unmanaged", "state"],
        ),
        (
            pb::ListAllocationsRequest {
                provider: "nope".into(),
                ..Default::default()
            },
            &["provider"],
        ),
    ];
    for (request, fields) in cases {
        let status = client.list_allocations(request.clone()).await.unwrap_err();
        assert_invalid(&status, fields, "ListAllocationsRequest");
        assert!(status.message().len() < 2048, "{}", status.message());
    }
    // Page sizes: 0 is the default and a huge one is capped, not refused;
    // nothing allocated yet, so the list is empty and complete.
    for page_size in [0, 10_000] {
        let page = client
            .list_allocations(pb::ListAllocationsRequest {
                page_size,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.allocations.is_empty());
        assert_eq!(page.next_page_token, "");
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn check_availability_is_validated() {
    use pb::check_availability_request::Params;
    let f = fixture().await;
    let mut client = f.gateway.client.clone();
    let zenlayer = |zone: &str, netmask: Option<u32>, charge: i32| pb::CheckAvailabilityRequest {
        provider: "zl".into(),
        params: Some(Params::Zenlayer(pb::ZenlayerAvailabilityParams {
            zone_id: zone.into(),
            netmask,
            charge_type: charge,
        })),
    };
    let cases: [(pb::CheckAvailabilityRequest, &[&str]); 5] = [
        (
            pb::CheckAvailabilityRequest {
                provider: "zl".into(),
                params: None,
            },
            &["params"],
        ),
        (
            zenlayer("SEL A", Some(33), 7),
            &[
                "zenlayer.zone_id",
                "zenlayer.netmask",
                "zenlayer.charge_type",
            ],
        ),
        (zenlayer(&"Z".repeat(1000), None, 0), &["zenlayer.zone_id"]),
        (
            pb::CheckAvailabilityRequest {
                provider: "ali".into(),
                params: Some(Params::Aliyun(pb::AliyunAvailabilityParams {
                    instance_id: "eip-1".into(),
                    region_id: "nowhere".into(),
                })),
            },
            &["aliyun.id", "aliyun.region_id"],
        ),
        (
            pb::CheckAvailabilityRequest {
                provider: "zl".into(),
                params: Some(Params::Aliyun(pb::AliyunAvailabilityParams {
                    instance_id: String::new(),
                    region_id: String::new(),
                })),
            },
            &["provider", "aliyun.instance_id"],
        ),
    ];
    for (request, fields) in cases {
        let status = client
            .check_availability(request.clone())
            .await
            .unwrap_err();
        assert_invalid(&status, fields, &format!("{request:?}"));
    }
    f.assert_no_provider_called();
}

#[tokio::test]
async fn an_invalid_validate_only_request_is_refused_like_any_other() {
    let f = fixture().await;
    let mut request = keyed(
        "v-1",
        zenlayer(
            "zl",
            pb::ZenlayerAllocateParams {
                zone_id: String::new(),
                ..postpaid("SEL-A")
            },
        ),
    );
    request.validate_only = true;
    f.rejects(request, &["zenlayer.zone_id"]).await;
    f.assert_no_provider_called();
}
