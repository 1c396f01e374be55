//! The gRPC face of the gateway: the `IpAllocation` service, request
//! validation, the allocation flow (idempotency, reconciliation, waiting),
//! deadlines and load shedding, domain-to-protobuf conversion, and the one
//! place where errors become `tonic::Status`.

pub mod allocate;
pub mod codec;
pub mod convert;
pub mod deadline;
pub mod error;
pub mod follow;
pub mod grpc_guard;
pub mod service;
pub mod shed;
pub mod validate;

pub use service::IpAllocationService;
