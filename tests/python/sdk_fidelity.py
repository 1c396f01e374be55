"""Proof of fidelity: the official Python SDKs against our emulators.

Run by tests/sdk_fidelity.rs with the emulators on loopback. Uses only the
SDKs' public APIs (plus urllib for one hand-tampered request), so the
emulators' signature checks are tested independently of the gateway's
signers. Prints one JSON object with what happened; the Rust test asserts.

The emulators read requests strictly (the default): these runs also show
that the strict reading accepts everything the official SDKs send (the
legacy SDK's RegionId and SignatureType=, the V3 SDK's signed accept and
user-agent headers, the Zenlayer SDK's bodies).

Arguments: ALIYUN_HOST:PORT ZENLAYER_HOST:PORT ALIYUN_INSTANCE_ID ALIYUN_V3_INSTANCE_ID
Environment: ALIYUN_AK_ID, ALIYUN_AK_SECRET, ZENLAYER_AK_ID, ZENLAYER_AK_PASSWORD
"""

import json
import os
import sys
import urllib.error
import urllib.request

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.AllocatePublicIpAddressRequest import (
    AllocatePublicIpAddressRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstanceAttributeRequest import (
    DescribeInstanceAttributeRequest,
)
from alibabacloud_ecs20140526 import models as ecs_models
from zenlayercloud.bmc.v20260201 import models
from zenlayercloud.common.excpetion.zenlayer_cloud_sdk_exception import (
    ZenlayerCloudSdkException,
)

import sandbox_clients

aliyun_endpoint, zenlayer_domain, instance_id, v3_instance_id = sys.argv[1:5]
result = {}


def aliyun_request(request):
    return sandbox_clients.aliyun_legacy_request(request, aliyun_endpoint)


# 1. AllocatePublicIpAddress with the legacy SDK (what most Python users run).
client = sandbox_clients.aliyun_legacy()
allocate = aliyun_request(AllocatePublicIpAddressRequest())
allocate.set_InstanceId(instance_id)
response = json.loads(client.do_action_with_exception(allocate))
result["aliyun_allocate"] = response

describe = aliyun_request(DescribeInstanceAttributeRequest())
describe.set_InstanceId(instance_id)
result["aliyun_describe"] = json.loads(client.do_action_with_exception(describe))

# 2. A wrong secret: the emulator answers SignatureDoesNotMatch with its
# string-to-sign; the SDK compares it with its own and, when they are equal
# (the emulator canonicalised exactly as the SDK did), reports
# InvalidAccessKeySecret.
wrong = sandbox_clients.aliyun_legacy("not-the-secret")
again = aliyun_request(AllocatePublicIpAddressRequest())
again.set_InstanceId(instance_id)
try:
    wrong.do_action_with_exception(again)
    result["aliyun_wrong_secret"] = "accepted"
except ServerException as e:
    result["aliyun_wrong_secret"] = {
        "code": e.get_error_code(),
        "status": e.get_http_status(),
        "message": e.get_error_msg(),
    }

# 3. A hand-tampered signature on an otherwise SDK-signed URL.
tampered = aliyun_request(DescribeInstanceAttributeRequest())
tampered.set_InstanceId(instance_id)
url = tampered.get_url("cn-hangzhou", os.environ["ALIYUN_AK_ID"], os.environ["ALIYUN_AK_SECRET"])
head, signature = url.rsplit("Signature=", 1)
bad = head + "Signature=" + ("A" if signature[0] != "A" else "B") + signature[1:]
try:
    urllib.request.urlopen(
        urllib.request.Request("http://" + aliyun_endpoint + bad, method="POST"), timeout=10
    )
    result["aliyun_tampered"] = "accepted"
except urllib.error.HTTPError as e:
    body = json.loads(e.read() or b"{}")
    result["aliyun_tampered"] = {"status": e.code, "code": body.get("Code")}


# 3b. The V3 SDK (alibabacloud-ecs20140526, signature ACS3-HMAC-SHA256).
v3 = sandbox_clients.aliyun_v3(aliyun_endpoint)
runtime = sandbox_clients.V3_RUNTIME
v3_allocated = v3.allocate_public_ip_address_with_options(
    ecs_models.AllocatePublicIpAddressRequest(instance_id=v3_instance_id), runtime
)
result["aliyun_v3_allocate"] = v3_allocated.body.to_map()
v3_described = v3.describe_instance_attribute_with_options(
    ecs_models.DescribeInstanceAttributeRequest(instance_id=v3_instance_id), runtime
)
result["aliyun_v3_describe"] = v3_described.body.to_map()


# 4. Zenlayer: AllocateEipAddresses (POSTPAID with tags, PREPAID) and
# DescribeEipAddresses with the official client over plain HTTP.
def zenlayer_client(password):
    return sandbox_clients.zenlayer(zenlayer_domain, password)


zl = zenlayer_client(os.environ["ZENLAYER_AK_PASSWORD"])
req = models.AllocateEipAddressesRequest()
req.zoneId = "SEL-A"
req.eipChargeType = "POSTPAID"
req.amount = 2
tags = models.TagAssociation()
tags.tags = [models.Tag({"key": "env", "value": "sdk test"}), models.Tag({"key": "owner", "value": "运维"})]
req.tags = tags
postpaid = zl.AllocateEipAddresses(req)
result["zenlayer_postpaid"] = {"eipIdSet": postpaid.eipIdSet, "orderNumber": postpaid.orderNumber}

req = models.AllocateEipAddressesRequest()
req.zoneId = "HKG-A"
req.eipChargeType = "PREPAID"
prepaid = models.ChargePrepaid()
prepaid.period = 1
req.eipChargePrepaid = prepaid
prepaid_response = zl.AllocateEipAddresses(req)
result["zenlayer_prepaid"] = {
    "eipIdSet": prepaid_response.eipIdSet,
    "orderNumber": prepaid_response.orderNumber,
}

describe = models.DescribeEipAddressesRequest()
describe.eipIds = postpaid.eipIdSet
described = zl.DescribeEipAddresses(describe)
result["zenlayer_describe"] = {
    "totalCount": described.totalCount,
    "eips": [
        {
            "eipId": e.eipId,
            "eipStatus": e.eipStatus,
            "zoneId": e.zoneId,
            "eipChargeType": e.eipChargeType,
            "tags": [
                {"key": t.key, "value": t.value} for t in (getattr(e.tags, "tags", None) or [])
            ],
        }
        for e in described.dataSet
    ],
}

# 5. A wrong password is a signature failure.
try:
    zenlayer_client("not-the-password").DescribeEipAddresses(models.DescribeEipAddressesRequest())
    result["zenlayer_wrong_password"] = "accepted"
except ZenlayerCloudSdkException as e:
    result["zenlayer_wrong_password"] = {"code": e.code, "message": e.message}

print(json.dumps(result, ensure_ascii=False))
