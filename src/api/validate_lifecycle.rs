//! Validation of the lifecycle requests (ReleaseAllocation,
//! ListAllocations, CheckAvailability) and of AllocateIp's `validate_only`
//! part: the same rules as `validate.rs` (sizes first, every bad field
//! reported, bounded), before any provider is called.

use std::sync::Arc;

use tonic::Status;

use super::page_token::{self, Binding, MAX_PAGE_TOKEN, Position};
use super::validate::{MAX_IDEMPOTENCY_KEY, finish, idempotency_key, lookup, resolve};
use crate::pb;
use crate::provider::aliyun::region::MAX_REGION_ID;
use crate::provider::aliyun::validate::MAX_INSTANCE_ID;
use crate::provider::validate::{Violations, is_token, optional, size_ok};
use crate::provider::zenlayer::validate::{MAX_ZONE_ID, check_tag_text};
use crate::provider::{
    AllocationState, AvailabilitySpec, ChargeTypeName, Provider, ProviderKind, Registry,
    ReleaseSpec, Tag,
};

/// Most tags a ListAllocations filter may name.
pub const MAX_FILTER_TAGS: usize = 10;
/// Default and largest ListAllocations page.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 500;

/// A validated ReleaseAllocation request.
pub struct ValidRelease {
    pub provider: Arc<dyn Provider>,
    pub spec: ReleaseSpec,
    pub idempotency_key: Option<String>,
}

pub fn release(
    request: &pb::ReleaseAllocationRequest,
    registry: &Registry,
) -> Result<ValidRelease, Status> {
    let mut v = Violations::default();
    // The lookup rules (sizes, provider, id, region) are GetAllocation's.
    let lookup = lookup(
        &request.provider,
        &request.id,
        &request.region_id,
        registry,
        &mut v,
    );
    let key = idempotency_key(&request.idempotency_key, &mut v);
    if let Some((provider, _)) = &lookup
        && request.purge
        && provider.description().kind != ProviderKind::Zenlayer
    {
        v.add(
            "purge",
            "only Zenlayer EIPs have a recycle bin; an Alibaba IP is gone once released",
        );
    }
    let valid = lookup.map(|(provider, lookup)| ValidRelease {
        provider,
        spec: ReleaseSpec {
            id: lookup.id,
            region_id: lookup.region_id,
            purge: request.purge,
        },
        idempotency_key: key,
    });
    finish(v, "ReleaseAllocationRequest", valid)
}

/// A validated ListAllocations request.
pub struct ValidList {
    /// The accounts listed, by name order: the one named, or every one the
    /// caller may use.
    pub providers: Vec<Arc<dyn Provider>>,
    pub state: Option<AllocationState>,
    pub tags: Vec<Tag>,
    pub key_prefix: String,
    pub page_size: usize,
    pub include_unmanaged: bool,
    /// Where the page starts (`None`: the first page).
    pub position: Option<Position>,
    /// What this request's tokens are bound to.
    pub binding: Binding,
}

/// Validates a ListAllocations request of `caller` (its name, empty when
/// authorization is off), who may use the accounts `may_use` accepts.
pub fn list(
    request: &pb::ListAllocationsRequest,
    registry: &Registry,
    caller: &str,
    may_use: impl Fn(&str) -> bool,
) -> Result<ValidList, Status> {
    let mut v = Violations::default();
    let providers: Vec<Arc<dyn Provider>> = if request.provider.is_empty() {
        registry
            .iter()
            .filter(|p| may_use(&p.description().name))
            .map(Arc::clone)
            .collect()
    } else {
        resolve(registry, &request.provider, None, &mut v)
            .into_iter()
            .collect()
    };
    let state = match pb::AllocationState::try_from(request.state) {
        Ok(pb::AllocationState::Unspecified) => None,
        Ok(pb::AllocationState::Pending) => Some(AllocationState::Pending),
        Ok(pb::AllocationState::Ready) => Some(AllocationState::Ready),
        Ok(pb::AllocationState::Failed) => Some(AllocationState::Failed),
        Ok(pb::AllocationState::Released) => Some(AllocationState::Released),
        Err(_) => {
            v.add(
                "state",
                format!("{} is not an AllocationState", request.state),
            );
            None
        }
    };
    let tags = filter_tags(&request.tags, &mut v);
    let prefix = &request.idempotency_key_prefix;
    if size_ok(
        prefix,
        MAX_IDEMPOTENCY_KEY,
        "idempotency_key_prefix",
        &mut v,
    ) && !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        v.add(
            "idempotency_key_prefix",
            "characters of idempotency keys only: A-Z a-z 0-9 . _ : -",
        );
    }
    let page_size = match usize::try_from(request.page_size) {
        Ok(0) => DEFAULT_PAGE_SIZE,
        Ok(n) => n.min(MAX_PAGE_SIZE),
        Err(_) => {
            v.add("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        }
    };
    if request.include_unmanaged
        && !request.provider.is_empty()
        && providers
            .iter()
            .any(|p| p.description().kind != ProviderKind::Zenlayer)
    {
        v.add(
            "include_unmanaged",
            "only Zenlayer accounts can be listed beyond this gateway's allocations",
        );
    }
    let binding = binding(request, caller);
    let position = if request.page_token.is_empty() {
        None
    } else if size_ok(&request.page_token, MAX_PAGE_TOKEN, "page_token", &mut v) {
        match page_token::decode(&request.page_token, binding) {
            Ok(position) => Some(position),
            Err(e) => {
                v.add("page_token", e.to_string());
                None
            }
        }
    } else {
        None
    };
    let valid = ValidList {
        providers,
        state,
        tags,
        key_prefix: prefix.clone(),
        page_size,
        include_unmanaged: request.include_unmanaged,
        position,
        binding,
    };
    finish(v, "ListAllocationsRequest", Some(valid))
}

/// The filters (and the caller) a page token is bound to; the page size
/// may change between pages (AIP-158).
fn binding(request: &pb::ListAllocationsRequest, caller: &str) -> Binding {
    let state = request.state.to_string();
    let unmanaged = if request.include_unmanaged { "1" } else { "0" };
    let mut parts = vec![
        caller,
        request.provider.as_str(),
        state.as_str(),
        request.idempotency_key_prefix.as_str(),
        unmanaged,
    ];
    for tag in request.tags.iter().take(MAX_FILTER_TAGS) {
        parts.push(&tag.key);
        parts.push(&tag.value);
    }
    Binding::of(&parts)
}

/// At most [`MAX_FILTER_TAGS`] tags, each key and value as an
/// allocation's tags (1 to 128 characters, no control characters).
fn filter_tags(tags: &[pb::Tag], v: &mut Violations) -> Vec<Tag> {
    if tags.len() > MAX_FILTER_TAGS {
        v.add(
            "tags",
            format!("{} tags; at most {MAX_FILTER_TAGS}", tags.len()),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let key = check_tag_text(&tag.key, &format!("tags[{i}].key"), v);
        let value = check_tag_text(&tag.value, &format!("tags[{i}].value"), v);
        if key && value {
            out.push(Tag {
                key: tag.key.clone(),
                value: tag.value.clone(),
            });
        }
    }
    out
}

/// Validates a CheckAvailability request and picks its provider.
pub fn check(
    request: &pb::CheckAvailabilityRequest,
    registry: &Registry,
) -> Result<(Arc<dyn Provider>, AvailabilitySpec), Status> {
    use pb::check_availability_request::Params;
    let mut v = Violations::default();
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
        Some(Params::Aliyun(p)) => aliyun_check(p, &mut v),
        Some(Params::Zenlayer(p)) => zenlayer_check(p, &mut v),
        None => None,
    };
    let valid = provider.zip(spec);
    finish(v, "CheckAvailabilityRequest", valid)
}

fn aliyun_check(p: &pb::AliyunAvailabilityParams, v: &mut Violations) -> Option<AvailabilitySpec> {
    let before = v.total();
    let id_fits = size_ok(&p.instance_id, MAX_INSTANCE_ID, "aliyun.instance_id", v);
    let region_fits = size_ok(&p.region_id, MAX_REGION_ID, "aliyun.region_id", v);
    let id = if id_fits { p.instance_id.trim() } else { "" };
    if id_fits && id.is_empty() {
        v.add(
            "aliyun.instance_id",
            "required, e.g. \"i-bp1abcdefghijk123456\"",
        );
    }
    let region_id = if region_fits {
        optional(&p.region_id)
    } else {
        None
    };
    if !id.is_empty() || region_id.is_some() {
        // The lookup rules name `id` / `region_id`; check into a scratch
        // list and report under this request's field names.
        let mut scratch = Violations::default();
        ProviderKind::Aliyun.check_lookup(id, region_id.as_deref(), &mut scratch);
        for (field, description) in scratch.listed() {
            v.add(format!("aliyun.{field}"), description.clone());
        }
    }
    (v.total() == before).then(|| AvailabilitySpec::Aliyun {
        instance_id: id.to_owned(),
        region_id,
    })
}

fn zenlayer_check(
    p: &pb::ZenlayerAvailabilityParams,
    v: &mut Violations,
) -> Option<AvailabilitySpec> {
    let before = v.total();
    let zone_id = if p.zone_id.is_empty() {
        None
    } else if size_ok(&p.zone_id, MAX_ZONE_ID, "zenlayer.zone_id", v) {
        if !is_token(&p.zone_id, MAX_ZONE_ID) {
            v.add(
                "zenlayer.zone_id",
                format!("not a zone id: 1 to {MAX_ZONE_ID} characters of A-Z a-z 0-9 - _ ."),
            );
        }
        Some(p.zone_id.clone())
    } else {
        None
    };
    if let Some(netmask) = p.netmask
        && !(1..=32).contains(&netmask)
    {
        v.add("zenlayer.netmask", format!("{netmask} is outside 1..=32"));
    }
    let charge = match pb::ChargeType::try_from(p.charge_type) {
        Ok(pb::ChargeType::Unspecified | pb::ChargeType::Postpaid) => ChargeTypeName::Postpaid,
        Ok(pb::ChargeType::Prepaid) => ChargeTypeName::Prepaid,
        Err(_) => {
            v.add(
                "zenlayer.charge_type",
                format!("{} is not a ChargeType", p.charge_type),
            );
            ChargeTypeName::Postpaid
        }
    };
    (v.total() == before).then_some(AvailabilitySpec::Zenlayer {
        zone_id,
        netmask: p.netmask,
        charge,
    })
}
