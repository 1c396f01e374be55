//! CheckAvailability, and the availability part of AllocateIp's
//! `validate_only` (AIP-163): whether an allocation could be made now,
//! asked with a Describe call (on the account's read share), nothing
//! allocated.
//!
//! For `validate_only` an answer that says the allocation would fail
//! becomes the status the allocation itself would get: a condition's
//! Alibaba error code, or Zenlayer's `INVALID_EIP_TYPE_ZONE_NO_SELL` for a
//! zone or netmask not sold, each through its provider's error table (so
//! the code and reason are the table's); a SOLD_OUT zone, which Zenlayer
//! would accept and then fail, is the gateway's `ZONE_SOLD_OUT`.

use std::sync::Arc;

use tokio::time::Instant;
use tonic::Status;

use super::allocate::with_deadline;
use super::error;
use crate::pb;
use crate::provider::error::ApiError;
use crate::provider::error_table::code_name;
use crate::provider::{
    AllocateSpec, Availability, AvailabilitySpec, CallContext, Condition, Lane, Operation,
    Provider, ProviderDescription, ProviderError, ProviderKind, SaleStatus, ZoneAvailability,
};

/// Zenlayer's code for a zone (or netmask) that sells no EIPs.
pub const ZONE_NO_SELL: &str = "INVALID_EIP_TYPE_ZONE_NO_SELL";

/// Asks `provider` whether `spec` could be allocated now.
pub async fn check(
    provider: &Arc<dyn Provider>,
    spec: &AvailabilitySpec,
    deadline: Option<Instant>,
) -> Result<(Availability, pb::CheckAvailabilityResponse), Status> {
    let description = provider.description();
    let ctx = CallContext {
        deadline,
        idempotency_key: None,
        lane: Lane::Read,
    };
    let availability = with_deadline(&ctx, provider.check_availability(spec, &ctx))
        .await
        .map_err(|e| {
            let status = error::provider_status(description, &e);
            tracing::info!(
                provider = %description.name,
                code = ?status.code(),
                error = %e,
                "availability check failed"
            );
            status
        })?;
    let response = response(description, &availability);
    Ok((availability, response))
}

/// The status an allocation of `spec` would get, given `availability`;
/// `None` when it would be accepted.
pub fn refusal(
    description: &ProviderDescription,
    spec: &AllocateSpec,
    availability: &Availability,
) -> Option<Status> {
    match spec {
        AllocateSpec::Aliyun(_) => {
            let failed = availability
                .conditions
                .iter()
                .find(|c| !c.satisfied && c.error_code.is_some())?;
            let code = failed.error_code?;
            let text = if failed.error_message.is_empty() {
                format!(
                    "{}: {} ({})",
                    failed.name, failed.description, failed.observed
                )
            } else {
                format!("{} ({})", failed.error_message, failed.observed)
            };
            Some(would_fail(description, ALIYUN_ALLOCATE, code, &text))
        }
        AllocateSpec::Zenlayer(z) => {
            let rows: Vec<&ZoneAvailability> = availability
                .zones
                .iter()
                .filter(|r| r.zone_id == z.zone_id && r.netmask == z.netmask)
                .collect();
            if rows.is_empty() {
                let text = format!(
                    "EIPs of netmask {} are not sold in zone {}",
                    z.netmask, z.zone_id
                );
                return Some(would_fail(
                    description,
                    ZENLAYER_ALLOCATE,
                    ZONE_NO_SELL,
                    &text,
                ));
            }
            rows.iter()
                .all(|r| r.status == SaleStatus::SoldOut)
                .then(|| error::zone_sold_out(description, &z.zone_id, z.netmask))
        }
    }
}

const ALIYUN_ALLOCATE: Operation = Operation {
    name: "AllocatePublicIpAddress",
    mutating: true,
};

const ZENLAYER_ALLOCATE: Operation = Operation {
    name: "AllocateEipAddresses",
    mutating: true,
};

/// The status the provider's `code` for `op` maps to, worded as what would
/// happen (nothing was sent).
fn would_fail(description: &ProviderDescription, op: Operation, code: &str, text: &str) -> Status {
    let table = description.kind.error_table();
    let http = table
        .lookup(code, text)
        .and_then(|rule| rule.http_status)
        .unwrap_or(400);
    let api = ApiError::new(table, op, http, code.to_owned(), text.to_owned());
    let status = error::provider_status(description, &ProviderError::from(api));
    let message = format!(
        "validate_only: {} would fail with {code}: {text}; nothing was allocated",
        op.name
    );
    Status::with_details(status.code(), message, status.details().to_vec().into())
}

/// What the allocation of `spec` would make, for a `validate_only` answer.
pub fn would_allocate(
    description: &ProviderDescription,
    spec: &AllocateSpec,
    availability: pb::CheckAvailabilityResponse,
) -> pb::AllocateIpResponse {
    let kind = super::convert::provider_kind(description.kind) as i32;
    let allocations = match spec {
        AllocateSpec::Aliyun(a) => {
            let region = a
                .region_id
                .clone()
                .or_else(|| description.region.clone())
                .unwrap_or_default();
            vec![pb::Allocation {
                id: a.instance_id.clone(),
                provider: description.name.clone(),
                provider_kind: kind,
                region_id: region,
                requires_instance_restart: true,
                instance_id: a.instance_id.clone(),
                ..Default::default()
            }]
        }
        AllocateSpec::Zenlayer(z) => (0..z.amount)
            .map(|_| pb::Allocation {
                provider: description.name.clone(),
                provider_kind: kind,
                zone_id: z.zone_id.clone(),
                netmask: z.netmask,
                ..Default::default()
            })
            .collect(),
    };
    pb::AllocateIpResponse {
        provider: description.name.clone(),
        provider_request_id: availability.provider_request_id.clone(),
        order_number: String::new(),
        allocations,
        validated_only: true,
        availability: Some(availability),
    }
}

fn response(
    description: &ProviderDescription,
    availability: &Availability,
) -> pb::CheckAvailabilityResponse {
    let table = description.kind.error_table();
    pb::CheckAvailabilityResponse {
        provider: description.name.clone(),
        provider_request_id: availability.provider_request_id.clone(),
        available: availability.available,
        zones: availability
            .zones
            .iter()
            .map(|z| pb::ZoneAvailability {
                zone_id: z.zone_id.clone(),
                netmask: z.netmask,
                status: sale_status(z.status) as i32,
                provider_status: z.provider_status.clone(),
            })
            .collect(),
        conditions: availability
            .conditions
            .iter()
            .map(|c| condition(table, description.kind, c))
            .collect(),
    }
}

fn condition(
    table: &'static crate::provider::error_table::ErrorTable,
    kind: ProviderKind,
    c: &Condition,
) -> pb::AvailabilityCondition {
    let rule = c
        .error_code
        .filter(|_| !c.satisfied)
        .and_then(|code| table.lookup(code, c.error_message));
    if c.error_code.is_some() && !c.satisfied && rule.is_none() {
        tracing::warn!(
            provider_kind = %kind,
            code = c.error_code.unwrap_or_default(),
            "an availability condition names a code its error table does not have"
        );
    }
    pb::AvailabilityCondition {
        name: c.name.to_owned(),
        satisfied: c.satisfied,
        description: c.description.to_owned(),
        observed: c.observed.clone(),
        error_code: if c.satisfied {
            String::new()
        } else {
            c.error_code.unwrap_or_default().to_owned()
        },
        reason: rule.map(|r| r.reason.to_owned()).unwrap_or_default(),
        grpc_code: rule
            .map(|r| code_name(r.grpc).to_owned())
            .unwrap_or_default(),
    }
}

fn sale_status(status: SaleStatus) -> pb::SaleStatus {
    match status {
        SaleStatus::Sell => pb::SaleStatus::Sell,
        SaleStatus::Shortage => pb::SaleStatus::Shortage,
        SaleStatus::SoldOut => pb::SaleStatus::SoldOut,
        SaleStatus::Unknown => pb::SaleStatus::Unspecified,
    }
}
