//! The gRPC face of the gateway: the `IpAllocation` service, caller
//! authorization, request validation, the allocation flow (idempotency,
//! reconciliation, spend limits, waiting), deadlines and load shedding,
//! domain-to-protobuf conversion, and the one place where errors become
//! `tonic::Status`.

pub mod allocate;
mod authorize;
pub mod availability;
pub mod catch_panic;
pub mod codec;
pub mod convert;
pub mod deadline;
pub mod error;
pub mod follow;
pub mod gateway_errors;
pub mod grpc_guard;
mod lifecycle;
pub mod list;
pub mod page_token;
pub mod release;
pub mod rpcs;
pub mod service;
pub mod shed;
pub mod validate;
pub mod validate_lifecycle;

pub use service::IpAllocationService;
