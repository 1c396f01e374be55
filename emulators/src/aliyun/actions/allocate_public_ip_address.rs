//! `AllocatePublicIpAddress` (`InstanceId`, optional `IpAddress`, `VlanId`):
//! `{"IpAddress"}`. The order of checks and every error of the API page
//! live in [`crate::aliyun::state::Inventory::allocate`].

use serde_json::{Map, Value};

use super::{Effect, Performed};
use crate::aliyun::AliyunEmulator;
use crate::aliyun::errors::EcsError;
use crate::aliyun::params::ApiRequest;
use crate::aliyun::state::AllocateRequest;

pub fn perform(emulator: &AliyunEmulator, request: &ApiRequest) -> Result<Performed, EcsError> {
    let instance_id = request.required("InstanceId")?;
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
        effect: if allocated.new {
            Effect::Allocated(1)
        } else {
            Effect::None
        },
    })
}
