//! The RPCs of `ipalloc.v1.IpAllocation` as data: what each does, in one
//! line, and which provider calls it makes. README's API table is
//! generated from [`RPCS`] (`cargo run -- api-table`); a test holds the
//! table to the compiled proto (every method, its request and response
//! types) and to [`crate::auth::Rpc`] (what callers may be allowed).

use crate::auth::Rpc;

/// One RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcRow {
    pub rpc: Rpc,
    pub request: &'static str,
    pub response: &'static str,
    /// The response is a server stream.
    pub streaming: bool,
    pub does: &'static str,
}

/// Every RPC, in README order.
pub static RPCS: [RpcRow; 7] = [
    RpcRow {
        rpc: Rpc::AllocateIp,
        request: "AllocateIpRequest",
        response: "AllocateIpResponse",
        streaming: false,
        does: "Allocates through a named provider account (or the only one of the requested \
               kind); with `wait`, follows Zenlayer EIPs until they are AVAILABLE or \
               CREATE_FAILED; with `validate_only`, checks everything (limits, availability) and \
               allocates nothing.",
    },
    RpcRow {
        rpc: Rpc::GetAllocation,
        request: "GetAllocationRequest",
        response: "Allocation",
        streaming: false,
        does: "Current state: Zenlayer `DescribeEipAddresses` by EIP id; Aliyun the instance's \
               public IP via `DescribeInstanceAttribute`; `RELEASED` for what the gateway made \
               and the provider no longer shows.",
    },
    RpcRow {
        rpc: Rpc::ListProviders,
        request: "ListProvidersRequest",
        response: "ListProvidersResponse",
        streaming: false,
        does: "Configured accounts, their kind, region, endpoint and capabilities.",
    },
    RpcRow {
        rpc: Rpc::WatchAllocation,
        request: "WatchAllocationRequest",
        response: "Allocation",
        streaming: true,
        does: "The current state, then every change, until terminal, the call's deadline, or \
               `server.watch_max_lifetime_ms` (default 1 h; then `UNAVAILABLE` \
               `WATCH_LIFETIME_ENDED`: watch again).",
    },
    RpcRow {
        rpc: Rpc::ReleaseAllocation,
        request: "ReleaseAllocationRequest",
        response: "ReleaseAllocationResponse",
        streaming: false,
        does: "Gives an allocation back: Zenlayer `TerminateEipAddress` (with `purge`, then \
               `ReleaseEipAddresses`); Aliyun `ModifyInstanceNetworkSpec` with \
               `InternetMaxBandwidthOut=0`. Idempotent: already released answers OK with \
               `already_released`.",
    },
    RpcRow {
        rpc: Rpc::ListAllocations,
        request: "ListAllocationsRequest",
        response: "ListAllocationsResponse",
        streaming: false,
        does: "The allocations this gateway made, states refreshed in batches of 100, filtered \
               by provider, state, tags and key prefix, paged (AIP-158); with \
               `include_unmanaged`, also the Zenlayer account's other EIPs.",
    },
    RpcRow {
        rpc: Rpc::CheckAvailability,
        request: "CheckAvailabilityRequest",
        response: "CheckAvailabilityResponse",
        streaming: false,
        does: "Whether an allocation could be made now: Zenlayer \
               `DescribeEipAvailableResources` per zone and netmask; Aliyun each condition of \
               `AllocatePublicIpAddress` from `DescribeInstanceAttribute`, with the error code \
               it would return.",
    },
];

/// [`RPCS`] as a Markdown table, as published in README.md.
pub fn to_markdown() -> String {
    let mut out = String::from("| RPC | What it does |\n|---|---|\n");
    for row in &RPCS {
        let stream = if row.streaming { "stream " } else { "" };
        out.push_str(&format!(
            "| `{}({}) -> {stream}{}` | {} |\n",
            row.rpc.name(),
            row.request,
            row.response,
            row.does
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn the_table_is_the_compiled_service() {
        let set = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor");
        let service = set
            .file
            .iter()
            .flat_map(|f| &f.service)
            .find(|s| s.name() == "IpAllocation")
            .expect("the IpAllocation service");
        let methods: Vec<(String, String, String, bool)> = service
            .method
            .iter()
            .map(|m| {
                (
                    m.name().to_owned(),
                    m.input_type().trim_start_matches(".ipalloc.v1.").to_owned(),
                    m.output_type()
                        .trim_start_matches(".ipalloc.v1.")
                        .to_owned(),
                    m.server_streaming(),
                )
            })
            .collect();
        let rows: Vec<(String, String, String, bool)> = RPCS
            .iter()
            .map(|r| {
                (
                    r.rpc.name().to_owned(),
                    r.request.to_owned(),
                    r.response.to_owned(),
                    r.streaming,
                )
            })
            .collect();
        let mut sorted_methods = methods.clone();
        sorted_methods.sort();
        let mut sorted_rows = rows.clone();
        sorted_rows.sort();
        assert_eq!(sorted_rows, sorted_methods);
        let rpcs: Vec<Rpc> = RPCS.iter().map(|r| r.rpc).collect();
        assert_eq!(rpcs, Rpc::ALL);
    }
}
