//! The Alibaba emulator's own admin routes, beside the shared ones
//! (`/_admin/faults`, `/_admin/counters`), so that tests can read and set
//! up state. Not signed, not counted, not subject to faults.
//!
//! - `GET    /_admin/instances`        -> every instance (JSON array)
//! - `GET    /_admin/instances/{id}`   -> one instance, 404 if unknown
//! - `POST   /_admin/instances`        <- one instance (JSON; every field but
//!   `instance_id` optional), added or replaced -> the stored instance
//!   (201 added, 200 replaced; 400 invalid id, 409 address held elsewhere)
//! - `DELETE /_admin/instances/{id}`   -> the removed instance, 404 if unknown
//! - `GET    /_admin/pools`            -> the pools: total, free count, free
//!   addresses, per zone and per VLAN
//! - `POST   /_admin/pools`            <- `{"zone_id": "..", "ips": [..]}` or
//!   `{"vlan_id": "..", "ips": [..]}`: adds addresses (creating the pool)
//!
//! Instance JSON: `{"instance_id": "i-x", "instance_name": "", "zone_id":
//! "", "status": "Running", "network": "vpc", "internet_max_bandwidth_out":
//! 5, "internet_max_bandwidth_in": 100, "internet_charge_type":
//! "PayByTraffic" | "PayByBandwidth", "public_ip": null, "eip":
//! {"ip_address": "..", "allocation_id": ".."}, "locks": ["security" |
//! "financial" | "recycling"], "forced_error": "InternalError" |
//! "NAT_PUBLIC_IP_BINDING_FAILED" | "NAT_PUBLIC_IP_ALLOCATE_FAILED",
//! "private_ip": null, "public_ip_releases": 0, "unpaid_order": false}`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AliyunEmulator;
use super::instance::Instance;
use super::state::{InventoryError, Pool};

/// The instance and pool routes over `emulator` (state added by the caller).
pub fn routes() -> Router<Arc<AliyunEmulator>> {
    Router::new()
        .route("/_admin/instances", get(list_instances).post(put_instance))
        .route(
            "/_admin/instances/{id}",
            get(get_instance).delete(delete_instance),
        )
        .route("/_admin/pools", get(get_pools).post(add_to_pool))
}

async fn list_instances(State(emulator): State<Arc<AliyunEmulator>>) -> Json<Vec<Instance>> {
    Json(emulator.instances())
}

async fn get_instance(
    State(emulator): State<Arc<AliyunEmulator>>,
    Path(id): Path<String>,
) -> Response {
    match emulator.instance(&id) {
        Some(instance) => Json(instance).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no instance {id:?}")).into_response(),
    }
}

async fn put_instance(
    State(emulator): State<Arc<AliyunEmulator>>,
    Json(instance): Json<Instance>,
) -> Response {
    match emulator.upsert_instance(instance) {
        Ok((stored, replaced)) => {
            let status = if replaced.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (status, Json(stored)).into_response()
        }
        Err(error @ InventoryError::InvalidInstanceId(_)) => {
            (StatusCode::BAD_REQUEST, error.to_string()).into_response()
        }
        Err(error @ InventoryError::IpHeld { .. }) => {
            (StatusCode::CONFLICT, error.to_string()).into_response()
        }
    }
}

async fn delete_instance(
    State(emulator): State<Arc<AliyunEmulator>>,
    Path(id): Path<String>,
) -> Response {
    match emulator.remove_instance(&id) {
        Some(instance) => Json(instance).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no instance {id:?}")).into_response(),
    }
}

/// One pool as the admin endpoint shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolView {
    pub total: usize,
    pub free: usize,
    pub free_ips: Vec<Ipv4Addr>,
}

/// Every pool.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolsView {
    pub zones: BTreeMap<String, PoolView>,
    pub vlans: BTreeMap<String, PoolView>,
}

fn view(pools: &BTreeMap<String, Pool>) -> BTreeMap<String, PoolView> {
    pools
        .iter()
        .map(|(name, pool)| {
            (
                name.clone(),
                PoolView {
                    total: pool.members.len(),
                    free: pool.free.len(),
                    free_ips: pool.free.iter().copied().collect(),
                },
            )
        })
        .collect()
}

async fn get_pools(State(emulator): State<Arc<AliyunEmulator>>) -> Json<PoolsView> {
    Json(emulator.with_inventory(|inventory| PoolsView {
        zones: view(inventory.zone_pools()),
        vlans: view(inventory.vlan_pools()),
    }))
}

/// `POST /_admin/pools`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddToPool {
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub vlan_id: Option<String>,
    #[serde(default)]
    pub ips: Vec<Ipv4Addr>,
}

/// The most addresses one `POST /_admin/pools` may add.
const MAX_IPS_PER_CALL: usize = 65_536;

async fn add_to_pool(
    State(emulator): State<Arc<AliyunEmulator>>,
    Json(body): Json<AddToPool>,
) -> Response {
    if body.ips.len() > MAX_IPS_PER_CALL {
        let message = format!("at most {MAX_IPS_PER_CALL} addresses per call");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    let valid = |name: &str| !name.is_empty() && name.len() <= 64;
    match (body.zone_id, body.vlan_id) {
        (Some(zone), None) if valid(&zone) => {
            emulator.with_inventory(|inventory| inventory.add_zone_pool(&zone, body.ips));
        }
        (None, Some(vlan)) if valid(&vlan) => {
            emulator.with_inventory(|inventory| inventory.add_vlan_pool(&vlan, body.ips));
        }
        _ => {
            let message = "give exactly one of zone_id and vlan_id (1 to 64 characters)";
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    }
    get_pools(State(emulator)).await.into_response()
}
