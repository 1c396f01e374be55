//! Request validation. Every field is checked before any provider is called,
//! and every bad field is reported (one `BadRequest` field violation each, up
//! to [`error::MAX_LISTED_VIOLATIONS`]; the rest are counted), not only the
//! first.
//!
//! Work and answers are bounded whatever the request: the size of every
//! string and repeated field is checked first, and a field over its size is
//! reported by its length alone, without being parsed, walked (tags) or
//! looked up (provider names). Values quoted back are short and escaped
//! ([`error::echo`]).
//!
//! This module checks what every request has (wait timeout, idempotency key,
//! provider name, lookup id sizes); each cloud checks its own parameters
//! (`provider::aliyun::validate`, `provider::zenlayer::validate`), picked by
//! the request's `params` oneof or by the resolved provider's kind.

use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use super::error;
use crate::pb;
use crate::provider::aliyun::{self, region::MAX_REGION_ID, validate::MAX_INSTANCE_ID};
use crate::provider::registry::ResolveError;
use crate::provider::validate::{Violations, optional, size_ok};
use crate::provider::zenlayer::{self, validate::MAX_ZENLAYER_TEXT};
use crate::provider::{AllocateSpec, AllocationLookup, Provider, ProviderKind, Registry};

/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;
/// Longest provider name (as configuration allows).
pub const MAX_PROVIDER_NAME: usize = 63;
/// Longest `wait_timeout` (a watch without a deadline also ends after it).
pub const MAX_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// `Ok(value)` when nothing was found, else INVALID_ARGUMENT.
pub(super) fn finish<T>(v: Violations, what: &str, value: Option<T>) -> Result<T, Status> {
    match value {
        Some(value) if v.is_empty() => Ok(value),
        _ => Err(error::invalid_argument(what, v)),
    }
}

/// A validated AllocateIp request.
pub struct ValidAllocate {
    pub provider: Arc<dyn Provider>,
    pub spec: AllocateSpec,
    pub idempotency_key: Option<String>,
}

/// Validates an AllocateIp request and picks its provider; also returns the
/// wait timeout, if one was given.
pub fn allocate(
    request: &pb::AllocateIpRequest,
    registry: &Registry,
) -> Result<(ValidAllocate, Option<Duration>), Status> {
    use pb::allocate_ip_request::Params;
    let mut v = Violations::default();
    let wait_timeout = match &request.wait_timeout {
        None => None,
        Some(d) => match Duration::try_from(*d) {
            Ok(d) if !d.is_zero() && d <= MAX_WAIT_TIMEOUT => Some(d),
            _ => {
                v.add(
                    "wait_timeout",
                    format!(
                        "must be a positive duration of at most {}s",
                        MAX_WAIT_TIMEOUT.as_secs()
                    ),
                );
                None
            }
        },
    };

    let idempotency_key = idempotency_key(&request.idempotency_key, &mut v);
    let kind = match &request.params {
        Some(Params::Aliyun(_)) => Some(ProviderKind::Aliyun),
        Some(Params::Zenlayer(_)) => Some(ProviderKind::Zenlayer),
        None => {
            v.add("params", "exactly one of aliyun or zenlayer is required");
            None
        }
    };
    let provider = resolve(registry, &request.provider, kind, &mut v);
    let spec = match &request.params {
        Some(Params::Aliyun(p)) => aliyun::validate::allocate(p, &mut v).map(AllocateSpec::Aliyun),
        Some(Params::Zenlayer(p)) => {
            zenlayer::validate::allocate(p, &mut v).map(AllocateSpec::Zenlayer)
        }
        None => None,
    };
    let valid = match (provider, spec) {
        (Some(provider), Some(spec)) => Some(ValidAllocate {
            provider,
            spec,
            idempotency_key,
        }),
        _ => None,
    };
    finish(
        v,
        "AllocateIpRequest",
        valid.map(|valid| (valid, wait_timeout)),
    )
}

/// Validates a GetAllocation or WatchAllocation request and picks its
/// provider.
pub fn get_allocation(
    provider: &str,
    id: &str,
    region_id: &str,
    registry: &Registry,
) -> Result<(Arc<dyn Provider>, AllocationLookup), Status> {
    let mut v = Violations::default();
    let lookup = lookup(provider, id, region_id, registry, &mut v);
    finish(v, "GetAllocationRequest", lookup)
}

/// The provider and lookup of a request naming one allocation (Get,
/// Watch, Release), adding what is wrong to `v`.
pub(super) fn lookup(
    provider: &str,
    id: &str,
    region_id: &str,
    registry: &Registry,
    v: &mut Violations,
) -> Option<(Arc<dyn Provider>, AllocationLookup)> {
    // Sizes first: nothing oversized is trimmed, parsed or looked up.
    let id_fits = size_ok(id, MAX_ZENLAYER_TEXT.max(MAX_INSTANCE_ID), "id", v);
    let region_fits = size_ok(region_id, MAX_REGION_ID, "region_id", v);
    let provider = resolve(registry, provider, None, v);
    let region_id = if region_fits {
        optional(region_id)
    } else {
        None
    };
    let id = if id_fits { id.trim() } else { "" };
    if id_fits && id.is_empty() {
        v.add("id", "required: a Zenlayer eipId or an Aliyun instance id");
    }
    if let Some(provider) = &provider {
        let kind = provider.description().kind;
        kind.check_lookup(id, region_id.as_deref(), v);
    }
    provider.map(|p| {
        (
            p,
            AllocationLookup {
                id: id.to_owned(),
                region_id,
            },
        )
    })
}

pub(super) fn resolve(
    registry: &Registry,
    name: &str,
    kind: Option<ProviderKind>,
    v: &mut Violations,
) -> Option<Arc<dyn Provider>> {
    // A name longer than any configured one is not looked up.
    if !size_ok(name, MAX_PROVIDER_NAME, "provider", v) {
        return None;
    }
    match registry.resolve(name, kind) {
        Ok(provider) => Some(Arc::clone(provider)),
        Err(e) => {
            let hint = match &e {
                ResolveError::Unknown { .. } | ResolveError::KindMismatch { .. } => "",
                _ => " (see ListProviders)",
            };
            v.add("provider", format!("{e}{hint}"));
            None
        }
    }
}

pub(super) fn idempotency_key(key: &str, v: &mut Violations) -> Option<String> {
    if key.is_empty() || !size_ok(key, MAX_IDEMPOTENCY_KEY, "idempotency_key", v) {
        return None;
    }
    let ok_chars = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if key.len() > MAX_IDEMPOTENCY_KEY || !ok_chars {
        v.add(
            "idempotency_key",
            format!("1 to {MAX_IDEMPOTENCY_KEY} characters of A-Z a-z 0-9 . _ : -"),
        );
        return None;
    }
    Some(key.to_owned())
}
