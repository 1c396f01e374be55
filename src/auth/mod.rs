//! Caller identity and authorization (`[callers.NAME]` tables).
//!
//! With no `[callers]` table authorization is off: every call is served, as
//! a sidecar on loopback or a Unix socket of its own pod wants. Once any is
//! configured, every `IpAllocation` call must come from a caller (health
//! and reflection stay open):
//! - `identity`: who the call is from: its bearer token, else its mTLS
//!   client certificate's SANs, else its Unix socket peer's uid, else gid
//!   (the connection's facts come from `crate::server::peer::Peer`);
//! - `token`: bearer tokens, hashed and compared in constant time;
//! - [`Identified`] says what the caller may do: which RPCs (`rpcs`) and
//!   which provider accounts (`providers`); absent keys allow all.
//!
//! The statuses (UNAUTHENTICATED `CALLER_UNAUTHENTICATED`, PERMISSION_DENIED
//! `CALLER_NOT_ALLOWED`) are built in `crate::api::authorize`; nothing is
//! sent to a provider before both checks pass.

mod identity;
pub mod token;

use std::sync::Arc;

pub use identity::{Identified, Unauthenticated, Via};
pub use token::TokenHash;

use crate::config::callers::CallerConfig;

/// The RPCs of `ipalloc.v1.IpAllocation`, as `rpcs` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    AllocateIp,
    GetAllocation,
    ListProviders,
    WatchAllocation,
    ReleaseAllocation,
    ListAllocations,
    CheckAvailability,
}

impl Rpc {
    pub const ALL: [Rpc; 7] = [
        Rpc::AllocateIp,
        Rpc::GetAllocation,
        Rpc::ListProviders,
        Rpc::WatchAllocation,
        Rpc::ReleaseAllocation,
        Rpc::ListAllocations,
        Rpc::CheckAvailability,
    ];

    /// The method's name (`AllocateIp`).
    pub fn name(self) -> &'static str {
        match self {
            Rpc::AllocateIp => "AllocateIp",
            Rpc::GetAllocation => "GetAllocation",
            Rpc::ListProviders => "ListProviders",
            Rpc::WatchAllocation => "WatchAllocation",
            Rpc::ReleaseAllocation => "ReleaseAllocation",
            Rpc::ListAllocations => "ListAllocations",
            Rpc::CheckAvailability => "CheckAvailability",
        }
    }

    /// The gRPC path (`/ipalloc.v1.IpAllocation/AllocateIp`).
    pub fn path(self) -> String {
        format!("/ipalloc.v1.IpAllocation/{}", self.name())
    }

    /// The RPC named `name`.
    pub fn from_name(name: &str) -> Option<Rpc> {
        Rpc::ALL.into_iter().find(|rpc| rpc.name() == name)
    }
}

/// The configured callers; empty when authorization is off.
#[derive(Debug, Clone, Default)]
pub struct Callers {
    callers: Vec<Arc<CallerConfig>>,
}

impl Callers {
    pub fn new(configs: Vec<CallerConfig>) -> Self {
        Callers {
            callers: configs.into_iter().map(Arc::new).collect(),
        }
    }

    /// Whether any caller is configured (authorization is on).
    pub fn enabled(&self) -> bool {
        !self.callers.is_empty()
    }

    /// The configured callers.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<CallerConfig>> {
        self.callers.iter()
    }
}
