//! An instance as an allocation: the one the Describe calls report
//! (`DescribeInstanceAttribute`, or an item of `DescribeInstances`, which
//! have the same fields). An Alibaba allocation is the static public IP of
//! an instance, named by the instance id: `Ready` while the instance holds
//! one, `Released` when it holds none.

use super::wire::DescribeInstanceAttributeResponse;
use crate::provider::model::{Allocation, AllocationState};

/// `instance` as an allocation: `Ready` with its static public IP, or
/// `Released` (no address) when it has none. `id` is the id asked for
/// (used when the answer has no `InstanceId`), `region` the region asked
/// (used when it has no `RegionId`).
pub fn from_instance(
    instance: &DescribeInstanceAttributeResponse,
    id: &str,
    region: &str,
) -> Allocation {
    let non_empty = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    let ip = instance.public_ip().map(str::to_owned);
    Allocation {
        id: non_empty(&instance.instance_id).unwrap_or_else(|| id.to_owned()),
        state: if ip.is_some() {
            AllocationState::Ready
        } else {
            AllocationState::Released
        },
        ip_address: ip,
        provider_status: instance.status.clone(),
        zone_id: non_empty(&instance.zone_id),
        region_id: non_empty(&instance.region_id).or_else(|| Some(region.to_owned())),
        requires_instance_restart: true,
        instance_id: non_empty(&instance.instance_id).or_else(|| Some(id.to_owned())),
        failure_reason: None,
        netmask: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aliyun::wire::IpAddressList;

    #[test]
    fn ready_with_an_address_released_without() {
        let mut instance = DescribeInstanceAttributeResponse {
            instance_id: "i-a".into(),
            zone_id: "cn-hangzhou-h".into(),
            status: "Running".into(),
            public_ip_address: IpAddressList {
                ip_address: vec!["47.96.0.1".into()],
            },
            ..Default::default()
        };
        let ready = from_instance(&instance, "i-a", "cn-hangzhou");
        assert_eq!(ready.state, AllocationState::Ready);
        assert_eq!(ready.ip_address.as_deref(), Some("47.96.0.1"));
        assert_eq!(ready.region_id.as_deref(), Some("cn-hangzhou"));
        assert_eq!(ready.zone_id.as_deref(), Some("cn-hangzhou-h"));
        instance.public_ip_address.ip_address = vec![" ".into()];
        instance.instance_id.clear();
        let released = from_instance(&instance, "i-b", "cn-beijing");
        assert_eq!(released.state, AllocationState::Released);
        assert_eq!(released.ip_address, None);
        assert_eq!(released.provider_status, "Running");
        assert_eq!(released.id, "i-b");
        assert_eq!(released.instance_id.as_deref(), Some("i-b"));
    }
}
