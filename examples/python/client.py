"""ipalloc-gateway from Python: allocate on both sandbox providers and show a
mapped error with its google.rpc details.

    pip install -r examples/python/requirements.txt
    python examples/python/client.py [ADDRESS]     # default 127.0.0.1:50051

Stubs are generated from proto/ at start (grpcio-tools), so nothing generated
is committed. Start the gateway first: `cargo run -- --sandbox`.
"""

import importlib
import pathlib
import sys
import tempfile
import time

import grpc
from grpc_status import rpc_status
from grpc_tools import protoc
from google.rpc import error_details_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_stubs():
    """Generates the message and service modules into a temporary directory
    and imports them (once imported they no longer need the files)."""
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    with tempfile.TemporaryDirectory(prefix="ipalloc-stubs-") as out:
        code = protoc.main([
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"-I{include}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            "ipalloc/v1/ip_allocation.proto",
        ])
        if code != 0:
            sys.exit(f"protoc failed with {code}")
        sys.path.insert(0, out)
        try:
            return (
                importlib.import_module("ipalloc.v1.ip_allocation_pb2"),
                importlib.import_module("ipalloc.v1.ip_allocation_pb2_grpc"),
            )
        finally:
            sys.path.remove(out)


def describe_error(error):
    """The status code and the ErrorInfo the gateway attaches to every error."""
    status = rpc_status.from_call(error)
    lines = [f"{error.code().name}: {error.details()}"]
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            lines.append(f"  reason={info.reason} domain={info.domain}")
            for key in sorted(info.metadata):
                lines.append(f"  {key}={info.metadata[key]}")
    return "\n".join(lines)


def main():
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    pb, rpc = load_stubs()
    with grpc.insecure_channel(address) as channel:
        stub = rpc.IpAllocationStub(channel)

        for p in stub.ListProviders(pb.ListProvidersRequest(), timeout=10).providers:
            print(f"provider {p.name}: {pb.ProviderKind.Name(p.kind)} at {p.endpoint}")

        try:
            aliyun = stub.AllocateIp(pb.AllocateIpRequest(
                provider="aliyun",
                aliyun=pb.AliyunAllocateParams(instance_id="i-emuready001"),
            ), timeout=10)
            a = aliyun.allocations[0]
            print(f"aliyun: {a.id} got {a.ip_address} "
                  f"({pb.AllocationState.Name(a.state)}, restart needed: {a.requires_instance_restart})")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            # A second run against the same sandbox: the instance kept its IP.
            a = stub.GetAllocation(pb.GetAllocationRequest(provider="aliyun", id="i-emuready001"), timeout=10)
            print(f"aliyun: {a.id} already has {a.ip_address} ({pb.AllocationState.Name(a.state)})")

        zenlayer = stub.AllocateIp(pb.AllocateIpRequest(
            provider="zenlayer",
            zenlayer=pb.ZenlayerAllocateParams(
                zone_id="SEL-A", charge_type=pb.CHARGE_TYPE_POSTPAID, amount=2,
                tags=[pb.Tag(key="team", value="python-example")],
            ),
        ), timeout=10)
        ids = [e.id for e in zenlayer.allocations]
        print(f"zenlayer: created {ids}, request {zenlayer.provider_request_id}")
        for eip_id in ids:
            deadline = time.monotonic() + 30
            while True:
                eip = stub.GetAllocation(pb.GetAllocationRequest(provider="zenlayer", id=eip_id), timeout=10)
                if eip.state != pb.ALLOCATION_STATE_PENDING or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            print(f"zenlayer: {eip.id} is {eip.provider_status} with {eip.ip_address or 'no IP yet'}")

        try:
            stub.AllocateIp(pb.AllocateIpRequest(
                provider="zenlayer",
                zenlayer=pb.ZenlayerAllocateParams(zone_id="TYO-A", charge_type=pb.CHARGE_TYPE_POSTPAID),
            ), timeout=10)
            sys.exit("expected an error for a zone that does not sell EIPs")
        except grpc.RpcError as error:
            print("mapped error:\n" + describe_error(error))


if __name__ == "__main__":
    main()
