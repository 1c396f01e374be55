//! One audit line of an allocation: when, who (the caller's configured name
//! and how it was identified, the peer address), which provider account,
//! what was asked (the canonical parameters and the number of addresses),
//! the idempotency key, whether it was a replay, and the outcome (gRPC code,
//! ErrorInfo reason, the provider's request ids, every EIP's id, address and
//! state). Every text field is bounded; nothing in it is a secret.

use std::collections::BTreeMap;

use serde::Serialize;
use tonic::Status;
use tonic_types::StatusExt;

use crate::bounded::truncate;
use crate::pb;
use crate::provider::error_table::code_name;

/// Longest text field, in bytes (longer ones are cut, marked `...`).
pub const MAX_FIELD_BYTES: usize = 256;
/// Most EIPs listed in one line (one AllocateIp makes at most 100).
pub const MAX_EIPS: usize = 100;

/// One line of the audit trail for an `AllocateIp` outcome.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AllocationEntry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// `allocate`, `validate_only` (an AllocateIp that allocated nothing)
    /// or `release`.
    pub action: &'static str,
    /// The caller's configured name; empty when authorization is off or the
    /// call had no caller.
    pub caller: String,
    /// How it was identified: `token`, `tls_san`, `unix_uid`, `unix_gid`.
    pub caller_via: &'static str,
    /// The connection's peer address, when known.
    pub peer: String,
    /// The provider account (as the request named it, when it was refused
    /// before the account was resolved).
    pub provider: String,
    pub provider_kind: &'static str,
    /// The request's canonical parameters (those the idempotency
    /// fingerprint keeps).
    pub params: BTreeMap<&'static str, String>,
    /// Addresses asked for.
    pub addresses: u64,
    pub idempotency_key: String,
    /// Answered from the idempotency record (nothing sent to allocate).
    pub replay: bool,
    /// The gRPC code name (`OK`, `RESOURCE_EXHAUSTED`, ...).
    pub code: &'static str,
    /// The ErrorInfo reason of an error.
    pub reason: String,
    pub provider_request_ids: Vec<String>,
    pub eips: Vec<EipEntry>,
}

/// One allocated address.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct EipEntry {
    pub id: String,
    pub address: String,
    /// `PENDING`, `READY`, `FAILED`, `RELEASED`.
    pub state: &'static str,
}

impl EipEntry {
    fn of(a: &pb::Allocation) -> EipEntry {
        EipEntry {
            id: field(&a.id),
            address: field(&a.ip_address),
            state: state_name(a.state()),
        }
    }
}

/// `text`, at most [`MAX_FIELD_BYTES`], control characters replaced.
pub(crate) fn field(text: &str) -> String {
    let cut = truncate(text, MAX_FIELD_BYTES);
    // Printable ASCII (nearly every field) is kept as it is, without
    // decoding and re-encoding it a character at a time.
    if cut.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return cut.into_owned();
    }
    cut.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Now, as the audit trail writes times.
fn now() -> String {
    crate::logging::clock::utc_millis(std::time::SystemTime::now())
}

impl AllocationEntry {
    /// An `allocate` line stamped now; the rest is filled in by the caller
    /// and [`AllocationEntry::outcome`].
    pub fn allocate() -> Self {
        AllocationEntry {
            time: now(),
            action: "allocate",
            ..AllocationEntry::default()
        }
    }

    /// The outcome of the call: its code, and the EIPs and request id of a
    /// success or the reason and request id of an error.
    pub fn outcome(mut self, result: &Result<pb::AllocateIpResponse, Status>) -> Self {
        match result {
            Ok(response) => {
                self.code = code_name(tonic::Code::Ok);
                if !response.provider_request_id.is_empty() {
                    self.provider_request_ids = vec![field(&response.provider_request_id)];
                }
                self.eips = response
                    .allocations
                    .iter()
                    .take(MAX_EIPS)
                    .map(EipEntry::of)
                    .collect();
            }
            Err(status) => self.failed(status),
        }
        self
    }

    /// A `release` line stamped now.
    pub fn release() -> Self {
        AllocationEntry {
            time: now(),
            action: "release",
            ..AllocationEntry::default()
        }
    }

    /// The outcome of a release: the released allocation and the request
    /// id, or the error.
    pub fn released(mut self, result: &Result<pb::ReleaseAllocationResponse, Status>) -> Self {
        match result {
            Ok(response) => {
                self.code = code_name(tonic::Code::Ok);
                if !response.provider_request_id.is_empty() {
                    self.provider_request_ids = vec![field(&response.provider_request_id)];
                }
                self.eips = response.allocation.iter().map(EipEntry::of).collect();
            }
            Err(status) => self.failed(status),
        }
        self
    }

    fn failed(&mut self, status: &Status) {
        self.code = code_name(status.code());
        let details = status.get_error_details();
        if let Some(info) = details.error_info() {
            self.reason = field(&info.reason);
            if let Some(id) = info
                .metadata
                .get("providerRequestId")
                .filter(|id| !id.is_empty())
            {
                self.provider_request_ids = vec![field(id)];
            }
        }
    }
}

fn state_name(state: pb::AllocationState) -> &'static str {
    match state {
        pb::AllocationState::Unspecified => "UNSPECIFIED",
        pb::AllocationState::Pending => "PENDING",
        pb::AllocationState::Ready => "READY",
        pb::AllocationState::Failed => "FAILED",
        pb::AllocationState::Released => "RELEASED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_lists_its_eips_and_an_error_its_reason() {
        let response = pb::AllocateIpResponse {
            provider: "zl".into(),
            provider_request_id: "req-1".into(),
            allocations: vec![pb::Allocation {
                id: "eip-1".into(),
                ip_address: "203.0.113.7".into(),
                state: pb::AllocationState::Ready as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let ok = AllocationEntry::allocate().outcome(&Ok(response));
        assert_eq!(ok.code, "OK");
        assert_eq!(ok.provider_request_ids, ["req-1"]);
        assert_eq!(
            ok.eips,
            [EipEntry {
                id: "eip-1".into(),
                address: "203.0.113.7".into(),
                state: "READY",
            }]
        );
        assert!(ok.time.ends_with('Z') && ok.time.len() == 24, "{}", ok.time);
        let refused = crate::api::error::overloaded(3);
        let err = AllocationEntry::allocate().outcome(&Err(refused));
        assert_eq!(err.code, "UNAVAILABLE");
        assert_eq!(err.reason, "GATEWAY_OVERLOADED");
        assert!(err.eips.is_empty() && err.provider_request_ids.is_empty());
        assert_eq!(field(&"x\n".repeat(1000)).len(), MAX_FIELD_BYTES);
        assert_eq!(field("eip-1 ~"), "eip-1 ~");
        assert_eq!(field("a\u{7f}b\u{85}c\u{1b}d é"), "a?b?c?d é");
    }
}
