//! The gRPC face of the gateway: the `IpAllocation` service, request
//! validation, domain-to-protobuf conversion, and the one place where errors
//! become `tonic::Status`.

pub mod convert;
pub mod error;
pub mod service;
pub mod validate;

pub use service::IpAllocationService;
