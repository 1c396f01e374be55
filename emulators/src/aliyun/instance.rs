//! One ECS instance as the emulator holds it: status, network type,
//! operation locks, the EIP bound to it, bandwidth, its static public IP,
//! and the failure it is designated to answer with. As JSON (the admin
//! endpoint) every field but `instance_id` is optional.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::errors::EcsError;

/// An ECS instance status (`Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    Pending,
    Running,
    Starting,
    Stopping,
    Stopped,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Pending => "Pending",
            InstanceStatus::Running => "Running",
            InstanceStatus::Starting => "Starting",
            InstanceStatus::Stopping => "Stopping",
            InstanceStatus::Stopped => "Stopped",
        }
    }
}

/// `InstanceNetworkType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkType {
    Vpc,
    Classic,
}

impl NetworkType {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Vpc => "vpc",
            NetworkType::Classic => "classic",
        }
    }
}

/// An `OperationLocks` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockReason {
    Security,
    Financial,
    Recycling,
}

impl LockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::Security => "security",
            LockReason::Financial => "financial",
            LockReason::Recycling => "recycling",
        }
    }
}

/// A failure an instance always answers `AllocatePublicIpAddress` with
/// (errors that no state explains), named by its Alibaba code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForcedError {
    /// 500 `InternalError`.
    InternalError,
    /// 403 `NAT_PUBLIC_IP_BINDING_FAILED`.
    #[serde(rename = "NAT_PUBLIC_IP_BINDING_FAILED")]
    NatPublicIpBindingFailed,
    /// 403 `NAT_PUBLIC_IP_ALLOCATE_FAILED`.
    #[serde(rename = "NAT_PUBLIC_IP_ALLOCATE_FAILED")]
    NatPublicIpAllocateFailed,
}

impl ForcedError {
    pub fn error(self) -> EcsError {
        match self {
            ForcedError::InternalError => EcsError::internal_error(),
            ForcedError::NatPublicIpBindingFailed => EcsError::nat_binding_failed(),
            ForcedError::NatPublicIpAllocateFailed => EcsError::nat_allocate_failed(),
        }
    }
}

/// An EIP bound to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eip {
    pub ip_address: String,
    #[serde(default)]
    pub allocation_id: String,
}

fn default_status() -> InstanceStatus {
    InstanceStatus::Running
}

fn default_network() -> NetworkType {
    NetworkType::Vpc
}

fn default_bandwidth() -> u32 {
    5
}

fn default_bandwidth_in() -> u32 {
    100
}

/// `InternetChargeType` (ModifyInstanceNetworkSpec's `NetworkChargeType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InternetChargeType {
    #[default]
    PayByTraffic,
    PayByBandwidth,
}

impl InternetChargeType {
    pub fn as_str(self) -> &'static str {
        match self {
            InternetChargeType::PayByTraffic => "PayByTraffic",
            InternetChargeType::PayByBandwidth => "PayByBandwidth",
        }
    }

    pub fn parse(text: &str) -> Option<InternetChargeType> {
        match text {
            "PayByTraffic" => Some(InternetChargeType::PayByTraffic),
            "PayByBandwidth" => Some(InternetChargeType::PayByBandwidth),
            _ => None,
        }
    }
}

/// One instance. As JSON (admin endpoint) every field but `instance_id` is
/// optional: Running, VPC, 5 Mbit/s out and 100 in, pay by traffic, the
/// default zone, no IP, no lock, no release made, no unpaid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// `i-` then letters, digits, `-` or `_` (at most 64 characters).
    pub instance_id: String,
    /// Defaults to the instance id.
    #[serde(default)]
    pub instance_name: String,
    /// Defaults to the region's default zone.
    #[serde(default)]
    pub zone_id: String,
    #[serde(default = "default_status")]
    pub status: InstanceStatus,
    #[serde(default = "default_network")]
    pub network: NetworkType,
    #[serde(default = "default_bandwidth")]
    pub internet_max_bandwidth_out: u32,
    #[serde(default = "default_bandwidth_in")]
    pub internet_max_bandwidth_in: u32,
    #[serde(default)]
    pub internet_charge_type: InternetChargeType,
    /// The static public IP (`PublicIpAddress.IpAddress[0]`).
    #[serde(default)]
    pub public_ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub eip: Option<Eip>,
    #[serde(default)]
    pub locks: Vec<LockReason>,
    #[serde(default)]
    pub forced_error: Option<ForcedError>,
    /// Defaults to a generated 172.16.x.y address.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    /// How many times ReleasePublicIpAddress gave this instance's IP back
    /// (at [`MAX_PUBLIC_IP_RELEASES`] it answers `OperationTimesOverLimit`).
    #[serde(default)]
    pub public_ip_releases: u32,
    /// An order waits for payment: ModifyInstanceNetworkSpec answers
    /// `InvalidInstance.UnPaidOrder`.
    #[serde(default)]
    pub unpaid_order: bool,
}

/// How many times ReleasePublicIpAddress may give one instance's IP back.
/// *Emulator-specific*: the API page names the error
/// (`OperationTimesOverLimit`), not the limit.
pub const MAX_PUBLIC_IP_RELEASES: u32 = 3;

impl Instance {
    /// A Running VPC instance with 5 Mbit/s and nothing else set.
    pub fn new(instance_id: &str) -> Instance {
        Instance {
            instance_id: instance_id.to_owned(),
            instance_name: String::new(),
            zone_id: String::new(),
            status: default_status(),
            network: default_network(),
            internet_max_bandwidth_out: default_bandwidth(),
            internet_max_bandwidth_in: default_bandwidth_in(),
            internet_charge_type: InternetChargeType::default(),
            public_ip: None,
            eip: None,
            locks: Vec::new(),
            forced_error: None,
            private_ip: None,
            public_ip_releases: 0,
            unpaid_order: false,
        }
    }
}

impl Instance {
    /// Status Running or Stopped, the only ones in which the public IP
    /// can be changed.
    pub fn is_running_or_stopped(&self) -> bool {
        matches!(
            self.status,
            InstanceStatus::Running | InstanceStatus::Stopped
        )
    }
}

/// `i-` then 1 to 62 ASCII letters, digits, `-` or `_`.
pub fn is_valid_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 62
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_json_defaults() {
        let instance: Instance = serde_json::from_str(r#"{"instance_id":"i-x"}"#).unwrap();
        assert_eq!(instance, Instance::new("i-x"));
        let full: Instance = serde_json::from_str(
            r#"{"instance_id":"i-y","status":"Stopped","network":"classic","internet_max_bandwidth_out":0,
                "public_ip":"47.1.2.3","eip":{"ip_address":"8.8.8.8"},"locks":["security"],
                "forced_error":"NAT_PUBLIC_IP_BINDING_FAILED","zone_id":"z"}"#,
        )
        .unwrap();
        assert_eq!(full.status, InstanceStatus::Stopped);
        assert_eq!(
            full.forced_error,
            Some(ForcedError::NatPublicIpBindingFailed)
        );
        assert!(serde_json::from_str::<Instance>(r#"{"instance_id":"i-x","bogus":1}"#).is_err());
        assert!(
            serde_json::from_str::<Instance>(r#"{"instance_id":"i-x","status":"Exploded"}"#)
                .is_err()
        );
    }
}
