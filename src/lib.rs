//! ipalloc-gateway: one gRPC API for allocating public IP addresses on
//! Alibaba Cloud ECS and Zenlayer Cloud BMC.

pub mod config;
pub mod provider;

/// Code generated from `proto/ipalloc/v1/ip_allocation.proto`.
pub mod pb {
    #![allow(clippy::all)]
    tonic::include_proto!("ipalloc.v1");

    /// Encoded file descriptor set of the API, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("ipalloc_descriptor");
}
