//! `DescribeInstanceAttribute` (`InstanceId`): one instance's fields, and
//! [`instance_fields`], the instance as both Describe calls show it.
//!
//! Instance fields follow the SDK models of both Describe calls
//! (FACTS.md §6): `PublicIpAddress.IpAddress[]`, `EipAddress`,
//! `OperationLocks.LockReason[]`, `VpcAttributes`, `InnerIpAddress`,
//! `InternetMaxBandwidthOut`, `Status`, ...: everything a "can this
//! instance take a static public IP now" check reads.

use serde_json::{Map, Value, json};

use super::Performed;
use crate::aliyun::AliyunEmulator;
use crate::aliyun::errors::EcsError;
use crate::aliyun::instance::{Instance, NetworkType};
use crate::aliyun::params::ApiRequest;

pub fn perform(emulator: &AliyunEmulator, request: &ApiRequest) -> Result<Performed, EcsError> {
    let instance_id = request.required("InstanceId")?;
    let instance = emulator
        .instance(instance_id)
        .map(|instance| emulator.as_described(instance))
        .ok_or_else(EcsError::instance_not_found)?;
    Ok(Performed::read(instance_fields(
        &instance,
        emulator.region(),
        false,
    )))
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
        "InternetChargeType": instance.internet_charge_type.as_str(),
        "InternetMaxBandwidthIn": instance.internet_max_bandwidth_in,
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
    use crate::aliyun::instance::{Eip, LockReason};

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
}
