//! The stored form of an inventory entry (redb file) and of an allocation's
//! state (the `allocation` column of the fleet table): JSON objects with a
//! version field `v`, so a later gateway can change the form and still read
//! this one. Decoding never panics: anything unexpected (bad JSON, a
//! missing field, an unknown version, state or provider kind) is an error
//! saying what, which the backends report naming the entry.
//!
//! Version 1 of an entry:
//!
//! ```json
//! {"v":1,"account":"zl","id":"eip-1","kind":"zenlayer","key":"job-7",
//!  "caller":"ci","tags":[{"key":"team","value":"a"}],"created_ms":1700000000000,
//!  "allocation":{"v":1,"id":"eip-1","ip_address":"198.51.100.7","state":"ready",
//!    "provider_status":"AVAILABLE","zone_id":"SEL-A","region_id":null,
//!    "requires_instance_restart":false,"instance_id":null,"failure_reason":null,
//!    "netmask":32},
//!  "state_ns":1700000000000000000,"released_ns":null}
//! ```
//!
//! Times: `created_ms` in ms since the epoch (the order key's precision),
//! `state_ns` and `released_ns` in ns since the epoch (what the caller gave,
//! exactly). The `allocation` object is also what the fleet table stores.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Entry, from_millis, millis};
use crate::provider::{Allocation, AllocationState, ProviderKind, Tag};

/// The version this gateway writes and reads.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    v: u32,
    account: String,
    id: String,
    kind: String,
    key: String,
    caller: Option<String>,
    tags: Vec<StoredTag>,
    created_ms: u64,
    allocation: StoredAllocation,
    state_ns: u64,
    released_ns: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct StoredTag {
    key: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct StoredAllocation {
    v: u32,
    id: String,
    ip_address: Option<String>,
    state: String,
    provider_status: String,
    zone_id: Option<String>,
    region_id: Option<String>,
    requires_instance_restart: bool,
    instance_id: Option<String>,
    failure_reason: Option<String>,
    netmask: Option<u32>,
}

/// Nanoseconds since the epoch (0 before it, saturating far after).
pub fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The time `ns` nanoseconds after the epoch (saturating).
pub fn from_nanos(ns: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_nanos(ns))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The stored name of a provider kind.
pub fn kind_name(kind: ProviderKind) -> &'static str {
    kind.as_str()
}

/// The provider kind of a stored name.
pub fn kind_of(name: &str) -> Result<ProviderKind, String> {
    match name {
        "aliyun" => Ok(ProviderKind::Aliyun),
        "zenlayer" => Ok(ProviderKind::Zenlayer),
        other => Err(format!("unknown provider kind {other:?}")),
    }
}

fn state_name(state: AllocationState) -> &'static str {
    match state {
        AllocationState::Pending => "pending",
        AllocationState::Ready => "ready",
        AllocationState::Failed => "failed",
        AllocationState::Released => "released",
    }
}

fn state_of(name: &str) -> Result<AllocationState, String> {
    match name {
        "pending" => Ok(AllocationState::Pending),
        "ready" => Ok(AllocationState::Ready),
        "failed" => Ok(AllocationState::Failed),
        "released" => Ok(AllocationState::Released),
        other => Err(format!("unknown allocation state {other:?}")),
    }
}

fn stored_allocation(a: &Allocation) -> StoredAllocation {
    StoredAllocation {
        v: VERSION,
        id: a.id.clone(),
        ip_address: a.ip_address.clone(),
        state: state_name(a.state).to_owned(),
        provider_status: a.provider_status.clone(),
        zone_id: a.zone_id.clone(),
        region_id: a.region_id.clone(),
        requires_instance_restart: a.requires_instance_restart,
        instance_id: a.instance_id.clone(),
        failure_reason: a.failure_reason.clone(),
        netmask: a.netmask,
    }
}

fn allocation_of(s: StoredAllocation) -> Result<Allocation, String> {
    if s.v != VERSION {
        return Err(format!(
            "allocation form version {} is not known to this gateway (it reads {VERSION})",
            s.v
        ));
    }
    Ok(Allocation {
        id: s.id,
        ip_address: s.ip_address,
        state: state_of(&s.state)?,
        provider_status: s.provider_status,
        zone_id: s.zone_id,
        region_id: s.region_id,
        requires_instance_restart: s.requires_instance_restart,
        instance_id: s.instance_id,
        failure_reason: s.failure_reason,
        netmask: s.netmask,
    })
}

/// An allocation's state in its stored form.
pub fn encode_allocation(a: &Allocation) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&stored_allocation(a)).map_err(|e| e.to_string())
}

/// An allocation's state from its stored form.
pub fn decode_allocation(bytes: &[u8]) -> Result<Allocation, String> {
    let stored: StoredAllocation = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    allocation_of(stored)
}

/// Tags as the fleet table's `tags` column holds them (a JSON array of
/// `{"key", "value"}` objects, which `@>` matches exactly).
pub fn encode_tags(tags: &[Tag]) -> Result<String, String> {
    let stored: Vec<StoredTag> = tags
        .iter()
        .map(|t| StoredTag {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| e.to_string())
}

/// Tags from the fleet table's `tags` column.
pub fn decode_tags(text: &str) -> Result<Vec<Tag>, String> {
    let stored: Vec<StoredTag> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(stored
        .into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect())
}

/// An entry in its stored form.
pub fn encode_entry(e: &Entry) -> Result<Vec<u8>, String> {
    let stored = StoredEntry {
        v: VERSION,
        account: e.account.clone(),
        id: e.id.clone(),
        kind: kind_name(e.kind).to_owned(),
        key: e.idempotency_key.clone(),
        caller: e.caller.clone(),
        tags: e
            .tags
            .iter()
            .map(|t| StoredTag {
                key: t.key.clone(),
                value: t.value.clone(),
            })
            .collect(),
        created_ms: millis(e.created),
        allocation: stored_allocation(&e.allocation),
        state_ns: nanos(e.state_time),
        released_ns: e.released.map(nanos),
    };
    serde_json::to_vec(&stored).map_err(|e| e.to_string())
}

/// An entry from its stored form.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, String> {
    let s: StoredEntry = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if s.v != VERSION {
        return Err(format!(
            "entry form version {} is not known to this gateway (it reads {VERSION})",
            s.v
        ));
    }
    Ok(Entry {
        account: s.account,
        id: s.id,
        kind: kind_of(&s.kind)?,
        idempotency_key: s.key,
        caller: s.caller,
        tags: s
            .tags
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect(),
        created: from_millis(s.created_ms),
        allocation: allocation_of(s.allocation)?,
        state_time: from_nanos(s.state_ns),
        released: s.released_ns.map(from_nanos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            account: "zl".to_owned(),
            id: "eip-1".to_owned(),
            kind: ProviderKind::Zenlayer,
            idempotency_key: "job-7".to_owned(),
            caller: Some("ci".to_owned()),
            tags: vec![Tag {
                key: "team".to_owned(),
                value: "a".to_owned(),
            }],
            created: from_millis(1_700_000_000_000),
            allocation: Allocation {
                id: "eip-1".to_owned(),
                ip_address: Some("198.51.100.7".to_owned()),
                state: AllocationState::Released,
                provider_status: "RECYCLED".to_owned(),
                zone_id: Some("SEL-A".to_owned()),
                region_id: None,
                requires_instance_restart: false,
                instance_id: None,
                failure_reason: None,
                netmask: Some(32),
            },
            state_time: from_nanos(1_700_000_000_123_456_789),
            released: Some(from_nanos(1_700_000_000_123_456_789)),
        }
    }

    #[test]
    fn an_entry_round_trips_exactly() {
        let e = entry();
        let bytes = encode_entry(&e).unwrap();
        assert!(bytes.starts_with(b"{\"v\":1,"));
        assert_eq!(decode_entry(&bytes).unwrap(), e);
        let a = encode_allocation(&e.allocation).unwrap();
        assert_eq!(decode_allocation(&a).unwrap(), e.allocation);
    }

    #[test]
    fn bad_forms_are_errors_saying_what() {
        let good = String::from_utf8(encode_entry(&entry()).unwrap()).unwrap();
        assert!(decode_entry(b"\xff\x00").is_err());
        assert!(decode_entry(b"").is_err());
        let newer = good.replacen("\"v\":1", "\"v\":2", 1);
        assert!(
            decode_entry(newer.as_bytes())
                .unwrap_err()
                .contains("version 2")
        );
        let kind = good.replace("\"zenlayer\"", "\"gcp\"");
        assert!(decode_entry(kind.as_bytes()).unwrap_err().contains("gcp"));
        let state = good.replace("\"released\"", "\"gone\"");
        assert!(decode_entry(state.as_bytes()).unwrap_err().contains("gone"));
        let cut = &good[..good.len() / 2];
        assert!(decode_entry(cut.as_bytes()).is_err());
        assert!(decode_allocation(b"{\"v\":1}").is_err());
    }
}
