//! The emulated ECS actions and their answer bodies:
//!
//! - `AllocatePublicIpAddress` (`InstanceId`, optional `IpAddress`,
//!   `VlanId`): `{"IpAddress"}`; the rules live in [`super::state`].
//! - `DescribeInstanceAttribute` (`InstanceId`): one instance's fields.
//! - `DescribeInstances` (`RegionId`; optional `InstanceIds` and
//!   `PublicIpAddresses` as JSON arrays of at most 100, `ZoneId`, `Status`,
//!   `InstanceNetworkType`, `PageNumber` >= 1, `PageSize` 1..=100, default
//!   10): `{"TotalCount","PageNumber","PageSize","Instances":{"Instance":[..]}}`.
//!   A `RegionId` other than the emulator's matches no instance.
//!
//! Instance fields follow the SDK models of both Describe calls
//! (FACTS.md §6): `PublicIpAddress.IpAddress[]`, `EipAddress`,
//! `OperationLocks.LockReason[]`, `VpcAttributes`, `InnerIpAddress`, ...

use serde_json::{Map, Value, json};

use super::AliyunEmulator;
use super::errors::EcsError;
use super::params::ApiRequest;
use super::state::{AllocateRequest, Instance, NetworkType};

pub const ALLOCATE_PUBLIC_IP_ADDRESS: &str = "AllocatePublicIpAddress";
pub const DESCRIBE_INSTANCE_ATTRIBUTE: &str = "DescribeInstanceAttribute";
pub const DESCRIBE_INSTANCES: &str = "DescribeInstances";

/// Every action the emulator serves.
pub const ACTIONS: [&str; 3] = [
    ALLOCATE_PUBLIC_IP_ADDRESS,
    DESCRIBE_INSTANCE_ATTRIBUTE,
    DESCRIBE_INSTANCES,
];

/// The most ids an `InstanceIds` (or `PublicIpAddresses`) array may hold.
pub const MAX_FILTER_IDS: usize = 100;
/// The largest `PageSize`.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 10;

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// The result of a performed action.
#[derive(Debug)]
pub struct Performed {
    /// The answer's fields (the response adds `RequestId`).
    pub fields: Map<String, Value>,
    /// True when an address was allocated (fault injection may then drop
    /// the connection); false for an existing IP returned by
    /// [`super::RepeatAllocation::ReturnExisting`].
    pub allocated: bool,
}

/// Performs `action` (one of [`ACTIONS`]) for an authenticated request.
pub fn perform(
    emulator: &AliyunEmulator,
    action: &str,
    request: &ApiRequest,
) -> Result<Performed, EcsError> {
    if emulator.reading().is_strict() {
        super::strict::check(request, action, emulator.region())?;
    }
    match action {
        ALLOCATE_PUBLIC_IP_ADDRESS => allocate_public_ip_address(emulator, request),
        DESCRIBE_INSTANCE_ATTRIBUTE => describe_instance_attribute(emulator, request),
        DESCRIBE_INSTANCES => describe_instances(emulator, request),
        _ => Err(EcsError::api_not_found()),
    }
}

fn allocate_public_ip_address(
    emulator: &AliyunEmulator,
    request: &ApiRequest,
) -> Result<Performed, EcsError> {
    let instance_id = request
        .non_empty("InstanceId")
        .ok_or_else(|| EcsError::missing_parameter("InstanceId"))?;
    let allocate = AllocateRequest {
        instance_id,
        ip_address: request.non_empty("IpAddress"),
        vlan_id: request.non_empty("VlanId"),
        repeat: emulator.repeat_allocation(),
    };
    let allocated = emulator.with_inventory(|inventory| inventory.allocate(allocate))?;
    if allocated.new {
        emulator.note_allocation(instance_id);
    }
    let mut fields = Map::new();
    fields.insert(
        "IpAddress".to_owned(),
        Value::String(allocated.ip.to_string()),
    );
    Ok(Performed {
        fields,
        allocated: allocated.new,
    })
}

fn describe_instance_attribute(
    emulator: &AliyunEmulator,
    request: &ApiRequest,
) -> Result<Performed, EcsError> {
    let instance_id = request
        .non_empty("InstanceId")
        .ok_or_else(|| EcsError::missing_parameter("InstanceId"))?;
    let instance = emulator
        .instance(instance_id)
        .map(|instance| emulator.as_described(instance))
        .ok_or_else(EcsError::instance_not_found)?;
    Ok(Performed {
        fields: instance_fields(&instance, emulator.region(), false),
        allocated: false,
    })
}

fn describe_instances(
    emulator: &AliyunEmulator,
    request: &ApiRequest,
) -> Result<Performed, EcsError> {
    let region = request
        .non_empty("RegionId")
        .ok_or_else(|| EcsError::missing_parameter("RegionId"))?;
    let page_number = number(request, "PageNumber", 1, 1, u32::MAX)?;
    let page_size = number(request, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
    let ids = json_list(request, "InstanceIds")?;
    let public_ips = json_list(request, "PublicIpAddresses")?;
    let zone = request.non_empty("ZoneId");
    let status = request.non_empty("Status");
    let network = request.non_empty("InstanceNetworkType");

    let matches = |instance: &Instance| {
        ids.as_ref()
            .is_none_or(|ids| ids.contains(&instance.instance_id))
            && public_ips.as_ref().is_none_or(|ips| {
                instance
                    .public_ip
                    .is_some_and(|ip| ips.iter().any(|wanted| *wanted == ip.to_string()))
            })
            && zone.is_none_or(|zone| zone == instance.zone_id)
            && status.is_none_or(|status| status == instance.status.as_str())
            && network.is_none_or(|network| network == instance.network.as_str())
    };
    let skip = (u64::from(page_number) - 1) * u64::from(page_size);
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let (total, page) = if region == emulator.region() {
        emulator.with_inventory(|inventory| {
            let mut total = 0usize;
            let mut page = Vec::new();
            for instance in inventory.instances().filter(|i| matches(i)) {
                if total >= skip && page.len() < page_size as usize {
                    page.push(instance.clone());
                }
                total += 1;
            }
            (total, page)
        })
    } else {
        (0, Vec::new())
    };
    let instances: Vec<Value> = page
        .into_iter()
        .map(|instance| {
            let instance = emulator.as_described(instance);
            Value::Object(instance_fields(&instance, emulator.region(), true))
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("TotalCount".to_owned(), json!(total));
    fields.insert("PageNumber".to_owned(), json!(page_number));
    fields.insert("PageSize".to_owned(), json!(page_size));
    fields.insert("NextToken".to_owned(), json!(""));
    fields.insert("Instances".to_owned(), json!({ "Instance": instances }));
    Ok(Performed {
        fields,
        allocated: false,
    })
}

/// An optional integer parameter within `min..=max`.
fn number(
    request: &ApiRequest,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, EcsError> {
    match request.non_empty(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| EcsError::invalid_parameter(name)),
    }
}

/// An optional JSON array of strings (`["i-a","i-b"]`), at most
/// [`MAX_FILTER_IDS`] long.
fn json_list(request: &ApiRequest, name: &str) -> Result<Option<Vec<String>>, EcsError> {
    let Some(text) = request.non_empty(name) else {
        return Ok(None);
    };
    match serde_json::from_str::<Vec<String>>(text) {
        Ok(list) if list.len() <= MAX_FILTER_IDS => Ok(Some(list)),
        _ => Err(EcsError::invalid_parameter(name)),
    }
}

/// One instance as both Describe calls show it (`in_list` adds the fields
/// only `DescribeInstances` has).
pub fn instance_fields(instance: &Instance, region: &str, in_list: bool) -> Map<String, Value> {
    let private_ip = instance
        .private_ip
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let public_ips: Vec<String> = instance.public_ip.iter().map(|ip| ip.to_string()).collect();
    let suffix = instance
        .instance_id
        .strip_prefix("i-")
        .unwrap_or(&instance.instance_id);
    let (inner_ips, vpc) = match instance.network {
        NetworkType::Classic => (
            vec![private_ip.clone()],
            json!({"VpcId": "", "VSwitchId": "", "PrivateIpAddress": {"IpAddress": []}, "NatIpAddress": ""}),
        ),
        NetworkType::Vpc => (
            Vec::new(),
            json!({
                "VpcId": format!("vpc-emu{}", zone_tag(&instance.zone_id)),
                "VSwitchId": format!("vsw-emu{}", zone_tag(&instance.zone_id)),
                "PrivateIpAddress": {"IpAddress": [private_ip]},
                "NatIpAddress": "",
            }),
        ),
    };
    let mut eip = match &instance.eip {
        Some(eip) => json!({
            "IpAddress": eip.ip_address,
            "AllocationId": eip.allocation_id,
            "Bandwidth": instance.internet_max_bandwidth_out,
            "InternetChargeType": "PayByTraffic",
        }),
        None => {
            json!({"IpAddress": "", "AllocationId": "", "Bandwidth": 0, "InternetChargeType": ""})
        }
    };
    if in_list && let Value::Object(eip) = &mut eip {
        eip.insert("IsSupportUnassociate".to_owned(), json!(true));
    }
    let locks: Vec<Value> = instance
        .locks
        .iter()
        .map(|lock| json!({"LockReason": lock.as_str(), "LockMsg": ""}))
        .collect();
    let value = json!({
        "InstanceId": instance.instance_id,
        "InstanceName": instance.instance_name,
        "HostName": format!("emu-{suffix}"),
        "Description": "",
        "RegionId": region,
        "ZoneId": instance.zone_id,
        "Status": instance.status.as_str(),
        "InstanceType": "ecs.g7.large",
        "InstanceTypeFamily": "ecs.g7",
        "Cpu": 2,
        "Memory": 8192,
        "ImageId": "aliyun_3_x64_20G_alibase_20240528.vhd",
        "OSName": "Alibaba Cloud Linux 3",
        "InstanceNetworkType": instance.network.as_str(),
        "InternetChargeType": "PayByTraffic",
        "InternetMaxBandwidthIn": 100,
        "InternetMaxBandwidthOut": instance.internet_max_bandwidth_out,
        "InstanceChargeType": "PostPaid",
        "CreationTime": "2024-05-01T08:00Z",
        "ExpiredTime": "2099-12-31T15:59Z",
        "StoppedMode": "Not-applicable",
        "SerialNumber": format!("emu-{suffix}"),
        "VlanId": "",
        "ClusterId": "",
        "IoOptimized": "optimized",
        "PublicIpAddress": {"IpAddress": public_ips},
        "InnerIpAddress": {"IpAddress": inner_ips},
        "EipAddress": eip,
        "OperationLocks": {"LockReason": locks},
        "VpcAttributes": vpc,
        "SecurityGroupIds": {"SecurityGroupId": ["sg-emu00000001"]},
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A short tag of a zone id for generated VPC and vSwitch ids.
fn zone_tag(zone: &str) -> String {
    zone.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::aliyun::state::{Eip, LockReason};

    #[test]
    fn instance_fields_shape() {
        let instance = Instance {
            zone_id: "cn-hangzhou-h".into(),
            public_ip: Some("47.96.0.1".parse().unwrap()),
            private_ip: Some("172.16.0.9".parse().unwrap()),
            locks: vec![LockReason::Security],
            eip: Some(Eip {
                ip_address: "121.40.10.1".into(),
                allocation_id: "eip-1".into(),
            }),
            ..Instance::new("i-abc")
        };
        let fields = Value::Object(instance_fields(&instance, "cn-hangzhou", false));
        assert_eq!(fields["InstanceId"], "i-abc");
        assert_eq!(fields["RegionId"], "cn-hangzhou");
        assert_eq!(fields["Status"], "Running");
        assert_eq!(fields["InstanceNetworkType"], "vpc");
        assert_eq!(fields["InternetMaxBandwidthOut"], 5);
        assert_eq!(fields["PublicIpAddress"]["IpAddress"], json!(["47.96.0.1"]));
        assert_eq!(fields["EipAddress"]["IpAddress"], "121.40.10.1");
        assert_eq!(fields["EipAddress"]["AllocationId"], "eip-1");
        assert!(fields["EipAddress"].get("IsSupportUnassociate").is_none());
        assert_eq!(
            fields["OperationLocks"]["LockReason"][0]["LockReason"],
            "security"
        );
        assert_eq!(
            fields["VpcAttributes"]["PrivateIpAddress"]["IpAddress"],
            json!(["172.16.0.9"])
        );
        assert_eq!(fields["VpcAttributes"]["VpcId"], "vpc-emucnhangzhouh");
        assert_eq!(fields["InnerIpAddress"]["IpAddress"], json!([]));

        let classic = Instance {
            network: NetworkType::Classic,
            private_ip: Some("10.0.0.1".parse().unwrap()),
            ..Instance::new("i-c")
        };
        let fields = Value::Object(instance_fields(&classic, "r", true));
        assert_eq!(fields["InnerIpAddress"]["IpAddress"], json!(["10.0.0.1"]));
        assert_eq!(fields["VpcAttributes"]["VpcId"], "");
        assert_eq!(fields["PublicIpAddress"]["IpAddress"], json!([]));
        assert_eq!(fields["EipAddress"]["IsSupportUnassociate"], true);
    }

    #[test]
    fn wire_model_reads_the_fields() {
        // The gateway's own parser reads what the emulator writes.
        let instance = Instance {
            public_ip: Some("47.96.0.1".parse().unwrap()),
            locks: vec![LockReason::Financial],
            ..Instance::new("i-abc")
        };
        let mut fields = instance_fields(&instance, "cn-hangzhou", false);
        fields.insert("RequestId".into(), "R".into());
        let parsed: crate::provider::aliyun::wire::DescribeInstanceAttributeResponse =
            serde_json::from_value(Value::Object(fields)).unwrap();
        assert_eq!(parsed.public_ip(), Some("47.96.0.1"));
        assert_eq!(parsed.eip(), None);
        assert_eq!(parsed.lock_reasons().collect::<Vec<_>>(), ["financial"]);
        assert_eq!(parsed.internet_max_bandwidth_out, Some(5));
        assert_eq!(parsed.instance_network_type, "vpc");
    }
}
