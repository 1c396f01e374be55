"""The official Python SDKs give addresses back and ask what is for sale,
against our emulators (strict reading).

Run by tests/sdk_fidelity.rs with fresh emulators on loopback (EIPs are
AVAILABLE at once). Uses only the SDKs' public APIs; each call's outcome is
recorded as {"ok": <answer>} or {"error": <code>}, and the script prints one
JSON object for the Rust test to assert on.

Zenlayer (zenlayercloud-sdk-python): TerminateEipAddress (POSTPAID, then the
same again, a PREPAID one), ReleaseEipAddresses (the terminated one, then
again), DescribeEipAvailableResources (all zones, LAX-A, an unknown zone).
Alibaba legacy SDK (signature V1): ModifyInstanceNetworkSpec to bandwidth 0
with a ClientToken (and the same call again), on an instance with an unpaid
order; ReleasePublicIpAddress with DryRun, for real, on a VPC instance.
Alibaba V3 SDK: ModifyInstanceNetworkSpec, ReleasePublicIpAddress on a
Stopping instance.

Arguments: ALIYUN_HOST:PORT ZENLAYER_HOST:PORT
Environment: ALIYUN_AK_ID, ALIYUN_AK_SECRET, ZENLAYER_AK_ID, ZENLAYER_AK_PASSWORD
"""

import json
import sys

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.DescribeInstanceAttributeRequest import (
    DescribeInstanceAttributeRequest,
)
from aliyunsdkecs.request.v20140526.ModifyInstanceNetworkSpecRequest import (
    ModifyInstanceNetworkSpecRequest,
)
from aliyunsdkecs.request.v20140526.ReleasePublicIpAddressRequest import (
    ReleasePublicIpAddressRequest,
)
from alibabacloud_ecs20140526 import models as ecs_models
from zenlayercloud.bmc.v20260201 import models
from zenlayercloud.common.excpetion.zenlayer_cloud_sdk_exception import (
    ZenlayerCloudSdkException,
)

import sandbox_clients

aliyun_endpoint, zenlayer_domain = sys.argv[1:3]
result = {}


def outcome(call):
    """{"ok": answer} or {"error": code} of one SDK call."""
    try:
        return {"ok": call()}
    except ZenlayerCloudSdkException as e:
        return {"error": e.code}
    except ServerException as e:
        return {"error": e.get_error_code(), "status": e.get_http_status()}
    except Exception as e:  # the V3 SDK's TeaException carries .code
        code = getattr(e, "code", None)
        if code is None:
            raise
        return {"error": code}


# --- Zenlayer
zl = sandbox_clients.zenlayer(zenlayer_domain)


def allocate(charge):
    req = models.AllocateEipAddressesRequest()
    req.zoneId = "SEL-A"
    req.eipChargeType = charge
    if charge == "PREPAID":
        prepaid = models.ChargePrepaid()
        prepaid.period = 1
        req.eipChargePrepaid = prepaid
    return zl.AllocateEipAddresses(req).eipIdSet[0]


def terminate(eip_id):
    req = models.TerminateEipAddressRequest()
    req.eipId = eip_id
    return zl.TerminateEipAddress(req).requestId


def release(eip_ids):
    req = models.ReleaseEipAddressesRequest()
    req.eipIds = eip_ids
    return zl.ReleaseEipAddresses(req).requestId


def available(zone_id=None):
    req = models.DescribeEipAvailableResourcesRequest()
    req.eipChargeType = "POSTPAID"
    if zone_id is not None:
        req.zoneId = zone_id
    rows = zl.DescribeEipAvailableResources(req).eipResources or []
    return [{"zoneId": r.zoneId, "status": r.status, "netmask": r.netmask} for r in rows]


postpaid = allocate("POSTPAID")
prepaid = allocate("PREPAID")
result["zenlayer_eips"] = {"postpaid": postpaid, "prepaid": prepaid}
result["zenlayer_terminate"] = outcome(lambda: terminate(postpaid))
result["zenlayer_terminate_again"] = outcome(lambda: terminate(postpaid))
result["zenlayer_terminate_prepaid"] = outcome(lambda: terminate(prepaid))
result["zenlayer_release"] = outcome(lambda: release([postpaid]))
result["zenlayer_release_again"] = outcome(lambda: release([postpaid]))
result["zenlayer_available"] = outcome(available)
result["zenlayer_available_lax"] = outcome(lambda: available("LAX-A"))
result["zenlayer_available_unknown"] = outcome(lambda: available("XXX-A"))

# --- Alibaba, legacy SDK (signature V1)
client = sandbox_clients.aliyun_legacy()


def legacy(request):
    request = sandbox_clients.aliyun_legacy_request(request, aliyun_endpoint)
    return json.loads(client.do_action_with_exception(request))


def modify(instance_id, token=None):
    request = ModifyInstanceNetworkSpecRequest()
    request.set_InstanceId(instance_id)
    request.set_InternetMaxBandwidthOut(0)
    if token is not None:
        request.set_ClientToken(token)
    return legacy(request)


def release_ip(instance_id, address, dry_run=None):
    request = ReleasePublicIpAddressRequest()
    request.set_InstanceId(instance_id)
    request.set_PublicIpAddress(address)
    if dry_run is not None:
        request.set_DryRun(dry_run)
    return legacy(request)


def public_ips(instance_id):
    request = DescribeInstanceAttributeRequest()
    request.set_InstanceId(instance_id)
    return legacy(request)["PublicIpAddress"]["IpAddress"]


result["aliyun_modify"] = outcome(lambda: modify("i-emuhasip001", "sdk-release-1"))
result["aliyun_modify_again"] = outcome(lambda: modify("i-emuhasip001", "sdk-release-1"))
result["aliyun_modify_described"] = public_ips("i-emuhasip001")
result["aliyun_modify_unpaid"] = outcome(lambda: modify("i-emuunpaid01"))
result["aliyun_release_dry_run"] = outcome(
    lambda: release_ip("i-emuclrel01", "47.101.0.1", dry_run=True)
)
result["aliyun_release"] = outcome(lambda: release_ip("i-emuclrel01", "47.101.0.1"))
result["aliyun_release_described"] = public_ips("i-emuclrel01")
result["aliyun_release_vpc"] = outcome(lambda: release_ip("i-emurelvpc01", "47.101.0.5"))

# --- Alibaba, V3 SDK (ACS3-HMAC-SHA256)
v3 = sandbox_clients.aliyun_v3(aliyun_endpoint)
runtime = sandbox_clients.V3_RUNTIME
result["aliyun_v3_modify"] = outcome(
    lambda: v3.modify_instance_network_spec_with_options(
        ecs_models.ModifyInstanceNetworkSpecRequest(
            instance_id="i-emurelvpc01", internet_max_bandwidth_out=0
        ),
        runtime,
    ).body.to_map()
)
result["aliyun_v3_release_stopping"] = outcome(
    lambda: v3.release_public_ip_address_with_options(
        ecs_models.ReleasePublicIpAddressRequest(
            instance_id="i-emuclstop01", public_ip_address="47.101.0.2", region_id="cn-hangzhou"
        ),
        runtime,
    ).body.to_map()
)

print(json.dumps(result, ensure_ascii=False))
