//! The gateway's requests are what the official SDKs send for the same
//! operations.
//!
//! For every action the gateway sends, in every form it can take, the
//! gateway is driven through a real tonic client against scripted provider
//! servers on loopback, which record each request exactly as it arrives.
//! Then `tests/python/sdk_requests.py` builds the same operation with the
//! official Python SDK (Zenlayer: `zenlayercloud-sdk-python`; Alibaba V1:
//! `aliyun-python-sdk-core` + `aliyun-python-sdk-ecs`; Alibaba V3:
//! `alibabacloud-ecs20140526`, the SDK that signs V3; versions pinned in
//! `tools::PYTHON_SDKS`) and sends it to
//! capture servers of the same kind. Each pair is compared by
//! [`compare`]: the same parameters with the same JSON types and values,
//! nothing the SDK leaves out, nothing missing; volatile fields by format,
//! each signature recomputed by [`common::signatures`].
//!
//! The lifecycle RPCs' requests (ReleaseAllocation, CheckAvailability,
//! ListAllocations' refresh and its `include_unmanaged` pages) are the
//! cases of [`lifecycle`].
//!
//! The SDK side of each case is written from the operation's inputs (what
//! an SDK user would set), never copied from the gateway's request; the
//! exceptions are values only the gateway knows: the idempotency key it
//! generates for an allocation without one, and the `ClientToken` (a fresh
//! UUID) of an Alibaba release without one, each checked for its format.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "sdk_equivalence/compare.rs"]
mod compare;
#[path = "sdk_equivalence/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::*;
use compare::Credentials;
use ipalloc_gateway::pb;
use serde_json::{Value, json};

/// Bounds the whole Python run (every SDK request has a 10 s timeout).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

const TAG_KEY: &str = "ipalloc-idempotency-key";

/// Which SDK builds the other side of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdk {
    Zenlayer,
    AliyunV1,
    AliyunV3,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::Zenlayer => "zenlayer",
            Sdk::AliyunV1 => "aliyun-v1",
            Sdk::AliyunV3 => "aliyun-v3",
        }
    }
}

/// One operation: what the gateway sent, and how to build it with the SDK.
struct Case {
    id: String,
    sdk: Sdk,
    action: &'static str,
    /// The SDK request's fields (Zenlayer: the model's JSON shape; Alibaba:
    /// the request class's parameter names).
    params: Value,
    credentials: Credentials,
    /// The SDK client's region (Alibaba).
    region: &'static str,
    gateway: Recorded,
}

/// A configured Alibaba account of the gateway and the SDK it matches.
struct AliyunVariant {
    provider: &'static str,
    sdk: Sdk,
    sts: bool,
}

const VARIANTS: [AliyunVariant; 4] = [
    AliyunVariant {
        provider: "ali-v1",
        sdk: Sdk::AliyunV1,
        sts: false,
    },
    AliyunVariant {
        provider: "ali-v1-sts",
        sdk: Sdk::AliyunV1,
        sts: true,
    },
    AliyunVariant {
        provider: "ali-v3",
        sdk: Sdk::AliyunV3,
        sts: false,
    },
    AliyunVariant {
        provider: "ali-v3-sts",
        sdk: Sdk::AliyunV3,
        sts: true,
    },
];

fn zenlayer_credentials() -> Credentials {
    Credentials {
        id: ZL_AK_ID.to_owned(),
        secret: ZL_PASSWORD.to_owned(),
        token: None,
    }
}

fn aliyun_credentials(sts: bool) -> Credentials {
    Credentials {
        id: ALIYUN_AK_ID.to_owned(),
        secret: ALIYUN_SECRET.to_owned(),
        token: sts.then(|| ALIYUN_STS.to_owned()),
    }
}

/// The action a recorded request names.
fn action_of(r: &Recorded) -> String {
    r.header("x-zc-action")
        .or_else(|| r.header("x-acs-action"))
        .map(str::to_owned)
        .or_else(|| r.param("Action"))
        .unwrap_or_default()
}

/// The gateway, its scripted providers, and the cases collected.
struct Run {
    client: pb::ip_allocation_client::IpAllocationClient<tonic::transport::Channel>,
    zenlayer: Scripted,
    aliyun: Scripted,
    cases: Vec<Case>,
}

impl Run {
    /// The requests `server` received since `before`, with their actions
    /// checked against `expected`.
    fn new_requests(
        server: &Scripted,
        before: usize,
        expected: &[&str],
        what: &str,
    ) -> Vec<Recorded> {
        let requests: Vec<Recorded> = server.requests().split_off(before);
        let actions: Vec<String> = requests.iter().map(action_of).collect();
        assert_eq!(actions, expected, "{what}: the gateway's provider requests");
        requests
    }

    fn push(
        &mut self,
        id: &str,
        sdk: Sdk,
        params: Value,
        credentials: Credentials,
        region: &'static str,
        gateway: Recorded,
    ) {
        let action = match action_of(&gateway).as_str() {
            "AllocateEipAddresses" => "AllocateEipAddresses",
            "DescribeEipAddresses" => "DescribeEipAddresses",
            "TerminateEipAddress" => "TerminateEipAddress",
            "ReleaseEipAddresses" => "ReleaseEipAddresses",
            "DescribeEipAvailableResources" => "DescribeEipAvailableResources",
            "AllocatePublicIpAddress" => "AllocatePublicIpAddress",
            "DescribeInstanceAttribute" => "DescribeInstanceAttribute",
            "DescribeInstances" => "DescribeInstances",
            "ModifyInstanceNetworkSpec" => "ModifyInstanceNetworkSpec",
            other => panic!("{id}: unexpected action {other:?}"),
        };
        self.cases.push(Case {
            id: id.to_owned(),
            sdk,
            action,
            params,
            credentials,
            region,
            gateway,
        });
    }

    fn zl_case(&mut self, id: &str, params: Value, gateway: Recorded) {
        self.push(
            id,
            Sdk::Zenlayer,
            params,
            zenlayer_credentials(),
            "",
            gateway,
        );
    }

    async fn allocate(
        &mut self,
        request: pb::AllocateIpRequest,
    ) -> Result<pb::AllocateIpResponse, tonic::Status> {
        self.client
            .allocate_ip(request)
            .await
            .map(|r| r.into_inner())
    }
}

fn zl_request(key: &str, wait: bool, params: pb::ZenlayerAllocateParams) -> pb::AllocateIpRequest {
    pb::AllocateIpRequest {
        wait,
        ..requests::keyed(key, requests::zenlayer("zl", params))
    }
}

fn tag(key: &str, value: &str) -> pb::Tag {
    pb::Tag {
        key: key.into(),
        value: value.into(),
    }
}

fn zl_ok(response: Value) -> Reply {
    let mut response = response;
    response["requestId"] = json!("T-EQ-1");
    Reply::json(200, json!({"requestId": "T-EQ-1", "response": response}))
}

fn eip(id: &str, zone: &str, status: &str, extra: Value) -> Value {
    let mut eip = json!({"eipId": id, "zoneId": zone, "eipStatus": status, "netmask": 32});
    if status != "CREATING" && status != "CREATE_FAILED" {
        eip["ipAddress"] = json!("128.1.32.9");
    }
    if let (Value::Object(eip), Value::Object(extra)) = (&mut eip, extra) {
        eip.extend(extra);
    }
    eip
}

/// Scripts `server` with `replies`, awaits `call`, and returns its outcome
/// with the provider requests it made, whose actions must be `expected`.
async fn exchange<T, const N: usize>(
    server: &Scripted,
    replies: Vec<Reply>,
    expected: [&str; N],
    what: &str,
    call: impl Future<Output = T>,
) -> (T, [Recorded; N]) {
    server.set_replies(replies);
    let before = server.requests().len();
    let outcome = call.await;
    let requests = Run::new_requests(server, before, &expected, what);
    (outcome, <[Recorded; N]>::try_from(requests).unwrap())
}

/// Every Zenlayer operation the gateway sends.
async fn zenlayer_cases(run: &mut Run) {
    let server = run.zenlayer.clone();

    // Allocations answered at once: (case, key, parameters, the answer, the
    // SDK request's fields).
    let allocations = [
        // Minimal: the provider's defaults apply.
        (
            "zl-allocate-minimal",
            "eq-z-minimal",
            requests::postpaid("SEL-A"),
            json!({"eipIdSet": ["eip-m1"], "orderNumber": ""}),
            json!({
                "zoneId": "SEL-A", "eipChargeType": "POSTPAID",
                "tags": {"tags": [{"key": TAG_KEY, "value": "eq-z-minimal"}]}
            }),
        ),
        // Every optional parameter of a POSTPAID allocation.
        (
            "zl-allocate-postpaid-every-field",
            "eq-z-full",
            pb::ZenlayerAllocateParams {
                resource_group_id: "rg-team-a".into(),
                amount: Some(3),
                netmask: Some(30),
                discount_code: "WELCOME 10%".into(),
                use_poc_voucher: true,
                tags: vec![tag("env", "prod"), tag("owner", "运维 team \"a\"")],
                ..requests::postpaid("SEL-A")
            },
            json!({"eipIdSet": ["eip-f1", "eip-f2", "eip-f3"], "orderNumber": ""}),
            json!({
                "zoneId": "SEL-A", "eipChargeType": "POSTPAID", "resourceGroupId": "rg-team-a",
                "amount": 3, "netmask": 30,
                "marketingOptions": {"discountCode": "WELCOME 10%", "usePocVoucher": true},
                "tags": {"tags": [
                    {"key": "env", "value": "prod"},
                    {"key": "owner", "value": "运维 team \"a\""},
                    {"key": TAG_KEY, "value": "eq-z-full"}
                ]}
            }),
        ),
        // PREPAID with a period; amount and netmask given explicitly (so
        // sent, even at their default values); a discount code alone.
        (
            "zl-allocate-prepaid",
            "eq-z-prepaid",
            pb::ZenlayerAllocateParams {
                zone_id: "HKG-A".into(),
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: Some(12),
                amount: Some(1),
                netmask: Some(32),
                discount_code: "D1".into(),
                ..Default::default()
            },
            json!({"eipIdSet": ["eip-p1"], "orderNumber": "2026120100000001"}),
            json!({
                "zoneId": "HKG-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 12},
                "amount": 1, "netmask": 32, "marketingOptions": {"discountCode": "D1"},
                "tags": {"tags": [{"key": TAG_KEY, "value": "eq-z-prepaid"}]}
            }),
        ),
    ];
    for (case, key, params, answer, sdk) in allocations {
        let (outcome, [r]) = exchange(
            &server,
            vec![zl_ok(answer)],
            ["AllocateEipAddresses"],
            case,
            run.allocate(zl_request(key, false, params)),
        )
        .await;
        outcome.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        run.zl_case(case, sdk, r);
    }

    // The POC voucher alone; no caller key (the gateway generates one).
    let (outcome, [r]) = exchange(
        &server,
        vec![zl_ok(json!({"eipIdSet": ["eip-v1"], "orderNumber": ""}))],
        ["AllocateEipAddresses"],
        "voucher",
        run.allocate(zl_request(
            "",
            false,
            pb::ZenlayerAllocateParams {
                use_poc_voucher: true,
                tags: vec![tag("team", "edge")],
                ..requests::postpaid("FRA-A")
            },
        )),
    )
    .await;
    outcome.expect("voucher allocation");
    let generated = r.body_json()["tags"]["tags"][1]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        generated.starts_with("gw-"),
        "a generated key: {generated:?}"
    );
    run.zl_case("zl-allocate-voucher-generated-key", json!({
        "zoneId": "FRA-A", "eipChargeType": "POSTPAID",
        "marketingOptions": {"usePocVoucher": true},
        "tags": {"tags": [{"key": "team", "value": "edge"}, {"key": TAG_KEY, "value": generated}]}
    }), r);

    // DescribeEipAddresses by id: GetAllocation.
    let (outcome, [r]) = exchange(
        &server,
        vec![zl_ok(
            json!({"totalCount": 1, "dataSet": [eip("eip-get1", "SEL-A", "AVAILABLE", json!({}))]}),
        )],
        ["DescribeEipAddresses"],
        "get",
        run.client
            .get_allocation(requests::lookup("zl", "eip-get1")),
    )
    .await;
    outcome.expect("get allocation");
    run.zl_case(
        "zl-describe-get-allocation",
        json!({"eipIds": ["eip-get1"]}),
        r,
    );

    // WatchAllocation polls by id.
    let before = server.requests().len();
    server.set_replies(vec![zl_ok(
        json!({"totalCount": 1, "dataSet": [eip("eip-watch1", "SEL-A", "AVAILABLE", json!({}))]}),
    )]);
    let mut stream = run
        .client
        .watch_allocation(pb::WatchAllocationRequest {
            provider: "zl".into(),
            id: "eip-watch1".into(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a first state within 10 s")
        .expect("watch stream")
        .expect("one state");
    assert_eq!(first.state, pb::AllocationState::Ready as i32);
    drop(stream);
    let requests = server.requests().split_off(before);
    let r = requests.into_iter().next().expect("the watch polled");
    assert_eq!(action_of(&r), "DescribeEipAddresses");
    run.zl_case("zl-describe-watch", json!({"eipIds": ["eip-watch1"]}), r);

    // wait: polling the batch by ids, then terminating the one that failed.
    let ids = ["eip-w1", "eip-w2", "eip-w3"];
    let replies = vec![
        zl_ok(json!({"eipIdSet": ids, "orderNumber": ""})),
        zl_ok(json!({"totalCount": 3, "dataSet": [
            eip("eip-w1", "SEL-A", "AVAILABLE", json!({})),
            eip("eip-w2", "SEL-A", "CREATE_FAILED", json!({})),
            eip("eip-w3", "SEL-A", "AVAILABLE", json!({}))
        ]})),
        zl_ok(json!({})),
    ];
    let (outcome, [allocate, poll, terminate]) = exchange(
        &server,
        replies,
        [
            "AllocateEipAddresses",
            "DescribeEipAddresses",
            "TerminateEipAddress",
        ],
        "wait",
        run.allocate(zl_request(
            "eq-z-wait",
            true,
            pb::ZenlayerAllocateParams {
                amount: Some(3),
                ..requests::postpaid("SEL-A")
            },
        )),
    )
    .await;
    let response = outcome.expect("allocation with wait");
    assert_eq!(response.allocations.len(), 3);
    run.zl_case(
        "zl-allocate-for-wait",
        json!({
            "zoneId": "SEL-A", "eipChargeType": "POSTPAID", "amount": 3,
            "tags": {"tags": [{"key": TAG_KEY, "value": "eq-z-wait"}]}
        }),
        allocate,
    );
    run.zl_case(
        "zl-describe-wait-batch",
        json!({"eipIds": ids, "pageSize": 100}),
        poll,
    );
    run.zl_case("zl-terminate-failed", json!({"eipId": "eip-w2"}), terminate);

    // Reconciliation after an ambiguous allocation: by every filter that
    // identifies the key (zone, charge type, resource group, tag).
    let key = "eq-z-reconcile";
    let tags = json!({"tags": [{"key": "env", "value": "prod"}, {"key": TAG_KEY, "value": key}]});
    let replies = vec![
        Reply::Drop,
        zl_ok(
            json!({"totalCount": 1, "dataSet": [eip("eip-r1", "HKG-A", "CREATING",
            json!({"resourceGroupId": "rg-team-a", "eipChargeType": "PREPAID", "tags": tags}))]}),
        ),
    ];
    let (outcome, [allocate, reconcile]) = exchange(
        &server,
        replies,
        ["AllocateEipAddresses", "DescribeEipAddresses"],
        "reconcile",
        run.allocate(zl_request(
            key,
            false,
            pb::ZenlayerAllocateParams {
                zone_id: "HKG-A".into(),
                charge_type: pb::ChargeType::Prepaid as i32,
                prepaid_period_months: Some(1),
                resource_group_id: "rg-team-a".into(),
                tags: vec![tag("env", "prod")],
                ..Default::default()
            },
        )),
    )
    .await;
    let response = outcome.expect("the reconciliation finds the EIP");
    assert_eq!(response.allocations[0].id, "eip-r1");
    run.zl_case(
        "zl-allocate-before-reconcile",
        json!({
            "zoneId": "HKG-A", "eipChargeType": "PREPAID", "eipChargePrepaid": {"period": 1},
            "resourceGroupId": "rg-team-a", "tags": tags
        }),
        allocate,
    );
    run.zl_case(
        "zl-describe-reconcile-resource-group",
        json!({
            "zoneId": "HKG-A", "eipChargeType": "PREPAID", "resourceGroupId": "rg-team-a",
            "tags": [{"key": TAG_KEY, "value": key}], "pageSize": 100
        }),
        reconcile,
    );

    // The same without a resource group: nothing found.
    let (outcome, [_, reconcile]) = exchange(
        &server,
        vec![Reply::Drop, zl_ok(json!({"totalCount": 0, "dataSet": []}))],
        ["AllocateEipAddresses", "DescribeEipAddresses"],
        "reconcile 2",
        run.allocate(zl_request(
            "eq-z-reconcile-2",
            false,
            requests::postpaid("SEL-A"),
        )),
    )
    .await;
    let status = outcome.expect_err("an unknown outcome");
    assert_eq!(
        error_info(&status).0,
        "PROVIDER_OUTCOME_UNKNOWN",
        "{status:?}"
    );
    run.zl_case(
        "zl-describe-reconcile",
        json!({
            "zoneId": "SEL-A", "eipChargeType": "POSTPAID",
            "tags": [{"key": TAG_KEY, "value": "eq-z-reconcile-2"}], "pageSize": 100
        }),
        reconcile,
    );
}

fn ali_allocated() -> Reply {
    Reply::json(
        200,
        json!({"RequestId": "R-EQ-1", "IpAddress": "47.96.0.9"}),
    )
}

fn ali_described(instance: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "RequestId": "R-EQ-2", "InstanceId": instance, "RegionId": "cn-hangzhou",
            "ZoneId": "cn-hangzhou-h", "Status": "Running",
            "PublicIpAddress": {"IpAddress": ["47.96.0.9"]},
            "EipAddress": {"IpAddress": "", "AllocationId": ""},
            "OperationLocks": {"LockReason": []}
        }),
    )
}

fn ali_request(
    provider: &str,
    key: &str,
    params: pb::AliyunAllocateParams,
) -> pb::AllocateIpRequest {
    requests::keyed(key, requests::aliyun(provider, params))
}

/// Every Alibaba operation the gateway sends, for one signing variant.
async fn aliyun_cases(run: &mut Run, variant: &AliyunVariant) {
    let server = run.aliyun.clone();
    let p = variant.provider;
    let credentials = aliyun_credentials(variant.sts);
    let allocations: [(&str, pb::AliyunAllocateParams, Value, &'static str); 3] = [
        (
            "allocate",
            requests::instance("i-eqplain01"),
            json!({"InstanceId": "i-eqplain01"}),
            "cn-hangzhou",
        ),
        (
            "allocate-ip-vlan",
            pb::AliyunAllocateParams {
                ip_address: "47.96.1.1".into(),
                vlan_id: "100".into(),
                ..requests::instance("i-eqvlan01")
            },
            json!({"InstanceId": "i-eqvlan01", "IpAddress": "47.96.1.1", "VlanId": "100"}),
            "cn-hangzhou",
        ),
        (
            "allocate-region",
            pb::AliyunAllocateParams {
                region_id: "cn-beijing".into(),
                ..requests::instance("i-eqregion01")
            },
            json!({"InstanceId": "i-eqregion01"}),
            "cn-beijing",
        ),
    ];
    for (name, params, sdk, region) in allocations {
        let (outcome, [r]) = exchange(
            &server,
            vec![ali_allocated()],
            ["AllocatePublicIpAddress"],
            name,
            run.allocate(ali_request(p, &format!("eq-{p}-{name}"), params)),
        )
        .await;
        outcome.unwrap_or_else(|e| panic!("{p} {name}: {e:?}"));
        run.push(
            &format!("{p}-{name}"),
            variant.sdk,
            sdk,
            credentials.clone(),
            region,
            r,
        );
    }

    for (name, region_id, region) in [
        ("get", "", "cn-hangzhou"),
        ("get-region", "cn-shanghai", "cn-shanghai"),
    ] {
        let lookup = pb::GetAllocationRequest {
            region_id: region_id.into(),
            ..requests::lookup(p, "i-eqget01")
        };
        let (outcome, [r]) = exchange(
            &server,
            vec![ali_described("i-eqget01")],
            ["DescribeInstanceAttribute"],
            name,
            run.client.get_allocation(lookup),
        )
        .await;
        outcome.unwrap_or_else(|e| panic!("{p} {name}: {e:?}"));
        run.push(
            &format!("{p}-{name}"),
            variant.sdk,
            json!({"InstanceId": "i-eqget01"}),
            credentials.clone(),
            region,
            r,
        );
    }

    // Reconciliation after an ambiguous allocation.
    let (outcome, [allocate, describe]) = exchange(
        &server,
        vec![Reply::Drop, ali_described("i-eqrec01")],
        ["AllocatePublicIpAddress", "DescribeInstanceAttribute"],
        "reconcile",
        run.allocate(ali_request(
            p,
            &format!("eq-{p}-reconcile"),
            requests::instance("i-eqrec01"),
        )),
    )
    .await;
    let response = outcome.unwrap_or_else(|e| panic!("{p} reconcile: {e:?}"));
    assert_eq!(response.allocations[0].ip_address, "47.96.0.9");
    let sdk = json!({"InstanceId": "i-eqrec01"});
    run.push(
        &format!("{p}-allocate-before-reconcile"),
        variant.sdk,
        sdk.clone(),
        credentials.clone(),
        "cn-hangzhou",
        allocate,
    );
    run.push(
        &format!("{p}-describe-reconcile"),
        variant.sdk,
        sdk,
        credentials,
        "cn-hangzhou",
        describe,
    );
}

fn gateway_config(zenlayer: &Scripted, aliyun: &Scripted) -> String {
    let mut config = zenlayer_provider(
        "zl",
        &zenlayer.url(),
        "max_attempts = 1\npoll_initial_ms = 10\npoll_max_ms = 50\nterminate_failed = true",
    );
    // An account the gateway allocates nothing on (ListAllocations'
    // include_unmanaged lists only the account's own EIPs there).
    config.push_str(&zenlayer_provider(
        "zl-bare",
        &zenlayer.url(),
        "max_attempts = 1",
    ));
    for variant in VARIANTS {
        let signature = if variant.sdk == Sdk::AliyunV3 {
            "v3"
        } else {
            "v1"
        };
        let mut extra = format!("max_attempts = 1\nsignature_version = \"{signature}\"");
        if variant.sts {
            extra.push_str(&format!("\nsecurity_token = \"{ALIYUN_STS}\""));
        }
        config.push_str(&aliyun_provider(variant.provider, &aliyun.url(), &extra));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_requests_equal_the_official_sdks_requests() {
    let gw_zenlayer = Scripted::start(vec![]).await;
    let gw_aliyun = Scripted::start(vec![]).await;
    let sdk_zenlayer = Scripted::start(vec![zl_ok(json!({
        "eipIdSet": ["eip-sdk"], "orderNumber": "", "totalCount": 0, "dataSet": []
    }))])
    .await;
    let sdk_aliyun = Scripted::start(vec![Reply::json(
        200,
        json!({
            "RequestId": "R-SDK", "IpAddress": "47.96.0.9", "InstanceId": "i-sdk"
        }),
    )])
    .await;
    let gateway = start_gateway(&gateway_config(&gw_zenlayer, &gw_aliyun)).await;
    let mut run = Run {
        client: gateway.client.clone(),
        zenlayer: gw_zenlayer.clone(),
        aliyun: gw_aliyun.clone(),
        cases: Vec::new(),
    };
    zenlayer_cases(&mut run).await;
    lifecycle::zenlayer_cases(&mut run).await;
    for variant in &VARIANTS {
        aliyun_cases(&mut run, variant).await;
        lifecycle::aliyun_cases(&mut run, variant).await;
    }

    // The SDK side, in one Python run.
    let spec = json!({
        "zenlayer": sdk_zenlayer.addr.to_string(),
        "aliyun": sdk_aliyun.addr.to_string(),
        "cases": run.cases.iter().map(|c| json!({
            "id": c.id, "sdk": c.sdk.name(), "action": c.action, "params": c.params,
            "region": c.region,
            "credentials": {"id": c.credentials.id, "secret": c.credentials.secret, "token": c.credentials.token},
        })).collect::<Vec<_>>(),
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), spec.to_string()).unwrap();
    let path = file.path().to_owned();
    let finished = tokio::task::spawn_blocking(move || {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_requests.py");
        tools::run_with_timeout(
            tools::python(&tools::python_sdks(), script).arg(&path),
            SCRIPT_TIMEOUT,
        )
    })
    .await
    .unwrap();
    let report = finished.report();
    assert!(finished.succeeded(), "sdk_requests.py failed:\n{report}");
    let outcome: Value = serde_json::from_str(finished.stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{report}"));
    assert_eq!(outcome["sent"], run.cases.len(), "{report}");
    assert_eq!(
        outcome["errors"],
        json!([]),
        "every SDK call was answered:\n{report}"
    );

    let mut sdk_zenlayer_requests = sdk_zenlayer.requests().into_iter();
    let mut sdk_aliyun_requests = sdk_aliyun.requests().into_iter();
    let mut differences = Vec::new();
    let mut compared = 0;
    for case in &run.cases {
        let sdk = match case.sdk {
            Sdk::Zenlayer => sdk_zenlayer_requests.next(),
            Sdk::AliyunV1 | Sdk::AliyunV3 => sdk_aliyun_requests.next(),
        }
        .unwrap_or_else(|| panic!("{}: the SDK sent nothing", case.id));
        assert_eq!(
            action_of(&sdk),
            case.action,
            "{}: the SDK request's action",
            case.id
        );
        let diffs = match case.sdk {
            Sdk::Zenlayer => compare::zenlayer(&case.gateway, &sdk, &case.credentials),
            Sdk::AliyunV1 => compare::aliyun_v1(&case.gateway, &sdk, &case.credentials),
            Sdk::AliyunV3 => compare::aliyun_v3(&case.gateway, &sdk, &case.credentials),
        };
        compared += 1;
        differences.extend(
            diffs
                .into_iter()
                .map(|d| format!("{} ({}): {d}", case.id, case.action)),
        );
    }
    assert!(
        sdk_zenlayer_requests.next().is_none() && sdk_aliyun_requests.next().is_none(),
        "extra SDK requests"
    );
    println!("compared {compared} gateway requests with the official SDKs' requests");
    assert!(
        differences.is_empty(),
        "{} differences between the gateway's and the SDKs' requests:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
