"""The official SDK clients the emulator scripts use (sdk_fidelity.py,
sdk_lifecycle.py), pointed at the emulators over plain HTTP with the sandbox
credentials from the environment (ALIYUN_AK_ID, ALIYUN_AK_SECRET,
ZENLAYER_AK_ID, ZENLAYER_AK_PASSWORD): no retries (the emulators' counters
must see each request once) and bounded waits.
"""

import os

from aliyunsdkcore.client import AcsClient
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.utils_models import Config as TeaConfig
from darabonba.runtime import RuntimeOptions
from zenlayercloud.bmc.v20260201 import bmc_client
from zenlayercloud.common.config import Config
from zenlayercloud.common.credential import Credential

# The V3 SDK's timeouts, passed with every call.
V3_RUNTIME = RuntimeOptions(read_timeout=10000, connect_timeout=5000)


def aliyun_legacy(secret=None):
    """The legacy SDK's client (signature V1), with `secret` if given."""
    if secret is None:
        secret = os.environ["ALIYUN_AK_SECRET"]
    return AcsClient(
        os.environ["ALIYUN_AK_ID"],
        secret,
        "cn-hangzhou",
        auto_retry=False,
        connect_timeout=5,
        timeout=10,
    )


def aliyun_legacy_request(request, endpoint):
    """`request` sent to the emulator at `endpoint`, asking for JSON."""
    request.set_endpoint(endpoint)
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return request


def aliyun_v3(endpoint):
    """The V3 SDK's client (ACS3-HMAC-SHA256) for the emulator at `endpoint`."""
    return EcsClient(
        TeaConfig(
            access_key_id=os.environ["ALIYUN_AK_ID"],
            access_key_secret=os.environ["ALIYUN_AK_SECRET"],
            endpoint=endpoint,
            protocol="http",
            region_id="cn-hangzhou",
        )
    )


def zenlayer(domain, password=None):
    """Zenlayer's BMC client for the emulator at `domain`, with `password` if given."""
    if password is None:
        password = os.environ["ZENLAYER_AK_PASSWORD"]
    config = Config(scheme="http", domain=domain, request_timeout=10, rate_limit_max_retries=0)
    return bmc_client.BmcClient(Credential(os.environ["ZENLAYER_AK_ID"], password), config)
