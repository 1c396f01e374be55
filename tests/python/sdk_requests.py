"""The official SDKs' requests for the operations the gateway sends.

Run by tests/sdk_equivalence with capture servers on loopback: for every
case it builds the operation the way an SDK user would (request models set
field by field, the client configured with the case's credentials and
region) and lets the SDK send it to the capture server, which records the
request exactly as it arrives. Nothing reaches a cloud. The Rust test then
compares each recorded request with the one the gateway sent.

Operations: Zenlayer AllocateEipAddresses, DescribeEipAddresses,
TerminateEipAddress, ReleaseEipAddresses, DescribeEipAvailableResources;
Alibaba AllocatePublicIpAddress, DescribeInstanceAttribute,
DescribeInstances, ReleasePublicIpAddress, ModifyInstanceNetworkSpec (V1 and
V3).

SDKs: zenlayercloud-sdk-python (BmcClient, AbstractModel serialization);
aliyun-python-sdk-core + aliyun-python-sdk-ecs (RPC signature V1, the
legacy SDK most Python users run); alibabacloud-ecs20140526 on
alibabacloud-tea-openapi (signature V3, the only official SDK that signs
V3; aliyun-python-sdk-core has no V3 signer).

Argument: a JSON file {"zenlayer": "HOST:PORT", "aliyun": "HOST:PORT",
"cases": [{"id", "sdk": "zenlayer" | "aliyun-v1" | "aliyun-v3", "action",
"params", "credentials": {"id", "secret", "token"?}, "region"?}]}.
Prints {"sent": N, "errors": [...]} (an error is an SDK exception: the
capture server answers every request with a success body).
"""

import json
import sys

from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.AllocatePublicIpAddressRequest import (
    AllocatePublicIpAddressRequest as LegacyAllocate,
)
from aliyunsdkecs.request.v20140526.DescribeInstanceAttributeRequest import (
    DescribeInstanceAttributeRequest as LegacyDescribe,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import (
    DescribeInstancesRequest as LegacyDescribeInstances,
)
from aliyunsdkecs.request.v20140526.ModifyInstanceNetworkSpecRequest import (
    ModifyInstanceNetworkSpecRequest as LegacyModifyNetworkSpec,
)
from aliyunsdkecs.request.v20140526.ReleasePublicIpAddressRequest import (
    ReleasePublicIpAddressRequest as LegacyReleasePublicIp,
)
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.utils_models import Config as TeaConfig
from darabonba.runtime import RuntimeOptions
from zenlayercloud.bmc.v20260201 import bmc_client, models
from zenlayercloud.common.config import Config as ZenlayerConfig
from zenlayercloud.common.credential import Credential

with open(sys.argv[1], encoding="utf-8") as f:
    spec = json.load(f)


def set_fields(model, params, nested):
    """Sets each field like an SDK user: `model.field = value`; `nested`
    maps a field to a function building its model. Only fields the model
    defines (a typo in a case is an error, not a silent extra field)."""
    for name, value in params.items():
        if name not in vars(model):
            raise KeyError("%s has no field %s" % (type(model).__name__, name))
        setattr(model, name, nested[name](value) if name in nested else value)
    return model


def tag(params):
    return set_fields(models.Tag(), params, {})


def tag_list(items):
    return [tag(item) for item in items]


ZENLAYER_REQUESTS = {
    "AllocateEipAddresses": (
        models.AllocateEipAddressesRequest,
        {
            "eipChargePrepaid": lambda p: set_fields(models.ChargePrepaid(), p, {}),
            "marketingOptions": lambda p: set_fields(models.MarketingInfo(), p, {}),
            "tags": lambda p: set_fields(models.TagAssociation(), p, {"tags": tag_list}),
        },
    ),
    "DescribeEipAddresses": (models.DescribeEipAddressesRequest, {"tags": tag_list}),
    "TerminateEipAddress": (models.TerminateEipAddressRequest, {}),
    "ReleaseEipAddresses": (models.ReleaseEipAddressesRequest, {}),
    "DescribeEipAvailableResources": (models.DescribeEipAvailableResourcesRequest, {}),
}


def zenlayer(case):
    config = ZenlayerConfig(
        scheme="http", domain=spec["zenlayer"], request_timeout=10, rate_limit_max_retries=0
    )
    credentials = case["credentials"]
    client = bmc_client.BmcClient(Credential(credentials["id"], credentials["secret"]), config)
    model, nested = ZENLAYER_REQUESTS[case["action"]]
    request = set_fields(model(), case["params"], nested)
    getattr(client, case["action"])(request)


LEGACY_REQUESTS = {
    "AllocatePublicIpAddress": LegacyAllocate,
    "DescribeInstanceAttribute": LegacyDescribe,
    "DescribeInstances": LegacyDescribeInstances,
    "ReleasePublicIpAddress": LegacyReleasePublicIp,
    "ModifyInstanceNetworkSpec": LegacyModifyNetworkSpec,
}


def aliyun_v1(case):
    credentials = case["credentials"]
    if credentials.get("token"):
        credential = StsTokenCredential(
            credentials["id"], credentials["secret"], credentials["token"]
        )
    else:
        credential = AccessKeyCredential(credentials["id"], credentials["secret"])
    client = AcsClient(
        region_id=case["region"],
        credential=credential,
        auto_retry=False,
        connect_timeout=5,
        timeout=10,
    )
    request = LEGACY_REQUESTS[case["action"]]()
    # Each parameter through its setter, as an SDK user writes it (values
    # keep their Python type: the SDK sends True as "True", 0 as "0").
    for name, value in case["params"].items():
        getattr(request, "set_" + name)(value)
    request.set_endpoint(spec["aliyun"])
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    client.do_action_with_exception(request)


SNAKE = {
    "InstanceId": "instance_id",
    "IpAddress": "ip_address",
    "VlanId": "vlan_id",
    "RegionId": "region_id",
    "PublicIpAddress": "public_ip_address",
    "DryRun": "dry_run",
    "InternetMaxBandwidthOut": "internet_max_bandwidth_out",
    "InternetMaxBandwidthIn": "internet_max_bandwidth_in",
    "NetworkChargeType": "network_charge_type",
    "AllocatePublicIp": "allocate_public_ip",
    "AutoPay": "auto_pay",
    "ClientToken": "client_token",
    "InstanceIds": "instance_ids",
    "PageSize": "page_size",
}

# action -> (request model, client method) of the V3 SDK.
V3_REQUESTS = {
    "AllocatePublicIpAddress": (
        ecs_models.AllocatePublicIpAddressRequest,
        "allocate_public_ip_address_with_options",
    ),
    "DescribeInstanceAttribute": (
        ecs_models.DescribeInstanceAttributeRequest,
        "describe_instance_attribute_with_options",
    ),
    "DescribeInstances": (
        ecs_models.DescribeInstancesRequest,
        "describe_instances_with_options",
    ),
    "ReleasePublicIpAddress": (
        ecs_models.ReleasePublicIpAddressRequest,
        "release_public_ip_address_with_options",
    ),
    "ModifyInstanceNetworkSpec": (
        ecs_models.ModifyInstanceNetworkSpecRequest,
        "modify_instance_network_spec_with_options",
    ),
}


def aliyun_v3(case):
    credentials = case["credentials"]
    config = TeaConfig(
        access_key_id=credentials["id"],
        access_key_secret=credentials["secret"],
        security_token=credentials.get("token"),
        endpoint=spec["aliyun"],
        protocol="http",
        region_id=case["region"],
    )
    client = EcsClient(config)
    fields = {SNAKE[name]: value for name, value in case["params"].items()}
    runtime = RuntimeOptions(read_timeout=10000, connect_timeout=5000)
    model, method = V3_REQUESTS[case["action"]]
    getattr(client, method)(model(**fields), runtime)


SDKS = {"zenlayer": zenlayer, "aliyun-v1": aliyun_v1, "aliyun-v3": aliyun_v3}

sent = 0
errors = []
for case in spec["cases"]:
    try:
        SDKS[case["sdk"]](case)
    except Exception as e:  # reported, asserted on by the Rust test
        errors.append({"id": case["id"], "error": "%s: %s" % (type(e).__name__, e)})
    sent += 1
print(json.dumps({"sent": sent, "errors": errors}, ensure_ascii=False))
