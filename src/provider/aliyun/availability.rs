//! CheckAvailability on Alibaba: whether an instance can take a static
//! public IP now, from one `DescribeInstanceAttribute`, as the conditions
//! `AllocatePublicIpAddress` checks (its API page and FACTS.md §3), each
//! named with the code that call returns when it fails (a row of
//! [`super::errors::TABLE`]):
//!
//! | condition | satisfied when | code when not |
//! |---|---|---|
//! | `instance_status` | `Status` is `Running` or `Stopped`, and no `recycling` lock | `IncorrectInstanceStatus` |
//! | `security_lock` | no `OperationLocks` entry `security` | `InstanceLockedForSecurity` |
//! | `financial_lock` | no `OperationLocks` entry `financial` | `InstanceExpiredOrInArrears` |
//! | `public_bandwidth` | `InternetMaxBandwidthOut` > 0 | `AllocateIpInvalidInstanceBandwidth` |
//! | `no_eip` | no EIP bound (`EipAddress.AllocationId` empty) | `OperationDenied` ("your instance is in VPC") |
//! | `no_public_ip` | `PublicIpAddress` empty | `AllocatedAlready` |
//!
//! `available` is true when every condition is satisfied. Nothing is
//! allocated. An unknown instance is Alibaba's `InvalidInstanceId.NotFound`.

use super::client::AliyunProvider;
use super::wire::DescribeInstanceAttributeResponse;
use crate::provider::CallContext;
use crate::provider::error::ProviderError;
use crate::provider::model::{Availability, AvailabilitySpec, Condition};

/// Every condition's name, in the order they are reported.
pub const CONDITIONS: [&str; 6] = [
    "instance_status",
    "security_lock",
    "financial_lock",
    "public_bandwidth",
    "no_eip",
    "no_public_ip",
];

/// The conditions `instance` meets or not, in [`CONDITIONS`] order.
pub fn conditions(instance: &DescribeInstanceAttributeResponse) -> Vec<Condition> {
    let locks: Vec<&str> = instance.lock_reasons().collect();
    let locked = |reason: &str| locks.iter().any(|l| l.eq_ignore_ascii_case(reason));
    let locks_text = if locks.is_empty() {
        "none".to_owned()
    } else {
        locks.join(",")
    };
    let status_ok =
        matches!(instance.status.as_str(), "Running" | "Stopped") && !locked("recycling");
    let bandwidth = instance.internet_max_bandwidth_out.unwrap_or(0);
    let eip = instance.eip_address.allocation_id.trim();
    let public_ips: Vec<&str> = instance
        .public_ip_address
        .ip_address
        .iter()
        .map(|ip| ip.trim())
        .filter(|ip| !ip.is_empty())
        .collect();
    let condition = |name, satisfied: bool, description, observed: String, code| Condition {
        name,
        satisfied,
        description,
        observed,
        error_code: (!satisfied).then_some(code),
        error_message: "",
    };
    vec![
        condition(
            "instance_status",
            status_ok,
            "the instance is Running or Stopped (and not being recycled)",
            if locked("recycling") {
                format!("Status={}, OperationLocks={locks_text}", instance.status)
            } else {
                format!("Status={}", instance.status)
            },
            "IncorrectInstanceStatus",
        ),
        condition(
            "security_lock",
            !locked("security"),
            "the instance is not locked for security reasons",
            format!("OperationLocks={locks_text}"),
            "InstanceLockedForSecurity",
        ),
        condition(
            "financial_lock",
            !locked("financial"),
            "the instance is not locked for an expired subscription or arrears",
            format!("OperationLocks={locks_text}"),
            "InstanceExpiredOrInArrears",
        ),
        condition(
            "public_bandwidth",
            bandwidth > 0,
            "the instance's public bandwidth (InternetMaxBandwidthOut) is above 0",
            format!("InternetMaxBandwidthOut={bandwidth}"),
            "AllocateIpInvalidInstanceBandwidth",
        ),
        condition(
            "no_eip",
            eip.is_empty(),
            "no EIP is bound to the instance",
            if eip.is_empty() {
                "EipAddress=none".to_owned()
            } else {
                format!(
                    "EipAddress={} ({eip})",
                    instance.eip_address.ip_address.trim()
                )
            },
            "OperationDenied",
        )
        .with_message(VPC_EIP_MESSAGE),
        condition(
            "no_public_ip",
            public_ips.is_empty(),
            "the instance holds no static public IP yet",
            if public_ips.is_empty() {
                "PublicIpAddress=none".to_owned()
            } else {
                format!("PublicIpAddress={}", public_ips.join(","))
            },
            "AllocatedAlready",
        ),
    ]
}

/// What AllocatePublicIpAddress answers, with `OperationDenied`, for a VPC
/// instance that has an EIP bound (its page).
const VPC_EIP_MESSAGE: &str = "Specified operation is denied as your instance is in VPC.";

/// A condition with the documented message of its code.
trait WithMessage {
    fn with_message(self, message: &'static str) -> Self;
}

impl WithMessage for Condition {
    fn with_message(mut self, message: &'static str) -> Self {
        self.error_message = message;
        self
    }
}

impl AliyunProvider {
    /// Whether the instance of `spec` can take a static public IP now.
    pub(super) async fn check_instance(
        &self,
        spec: &AvailabilitySpec,
        ctx: &CallContext,
    ) -> Result<Availability, ProviderError> {
        let AvailabilitySpec::Aliyun {
            instance_id,
            region_id,
        } = spec
        else {
            return Err(ProviderError::Internal(format!(
                "aliyun provider {:?} received a {} availability check",
                self.name(),
                spec.kind()
            )));
        };
        let region = self.region(region_id.as_deref())?;
        let instance = self.describe_attribute(instance_id, region, ctx).await?;
        let conditions = conditions(&instance);
        let available = conditions.iter().all(|c| c.satisfied);
        tracing::debug!(
            provider = %self.name(),
            instance_id = %instance_id,
            available,
            failed = ?conditions.iter().filter(|c| !c.satisfied).map(|c| c.name).collect::<Vec<_>>(),
            "aliyun checked an instance"
        );
        Ok(Availability {
            provider_request_id: instance.request_id,
            available,
            zones: Vec::new(),
            conditions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aliyun::errors::TABLE;
    use crate::provider::aliyun::wire::{EipAddress, IpAddressList, LockReason, OperationLocks};

    fn good() -> DescribeInstanceAttributeResponse {
        DescribeInstanceAttributeResponse {
            instance_id: "i-a".into(),
            status: "Running".into(),
            internet_max_bandwidth_out: Some(5),
            ..Default::default()
        }
    }

    fn failed(instance: &DescribeInstanceAttributeResponse) -> Vec<(&'static str, &'static str)> {
        conditions(instance)
            .into_iter()
            .filter(|c| !c.satisfied)
            .map(|c| (c.name, c.error_code.unwrap()))
            .collect()
    }

    #[test]
    fn a_good_instance_meets_every_condition() {
        let all = conditions(&good());
        assert_eq!(all.iter().map(|c| c.name).collect::<Vec<_>>(), CONDITIONS);
        assert!(all.iter().all(|c| c.satisfied && c.error_code.is_none()));
        let stopped = DescribeInstanceAttributeResponse {
            status: "Stopped".into(),
            ..good()
        };
        assert!(failed(&stopped).is_empty());
    }

    #[test]
    fn each_failure_names_its_allocate_code() {
        let lock = |reason: &str| OperationLocks {
            lock_reason: vec![LockReason {
                lock_reason: reason.into(),
            }],
        };
        let cases = [
            (
                DescribeInstanceAttributeResponse {
                    status: "Starting".into(),
                    ..good()
                },
                vec![("instance_status", "IncorrectInstanceStatus")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    operation_locks: lock("recycling"),
                    ..good()
                },
                vec![("instance_status", "IncorrectInstanceStatus")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    operation_locks: lock("security"),
                    ..good()
                },
                vec![("security_lock", "InstanceLockedForSecurity")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    operation_locks: lock("financial"),
                    ..good()
                },
                vec![("financial_lock", "InstanceExpiredOrInArrears")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    internet_max_bandwidth_out: Some(0),
                    ..good()
                },
                vec![("public_bandwidth", "AllocateIpInvalidInstanceBandwidth")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    eip_address: EipAddress {
                        ip_address: "121.40.10.1".into(),
                        allocation_id: "eip-1".into(),
                    },
                    ..good()
                },
                vec![("no_eip", "OperationDenied")],
            ),
            (
                DescribeInstanceAttributeResponse {
                    public_ip_address: IpAddressList {
                        ip_address: vec!["47.96.0.10".into()],
                    },
                    ..good()
                },
                vec![("no_public_ip", "AllocatedAlready")],
            ),
        ];
        for (instance, expected) in cases {
            assert_eq!(failed(&instance), expected, "{instance:?}");
        }
    }

    /// Every code named is a row of the table (not a fallback), so the
    /// gateway can say what status the allocation would get.
    #[test]
    fn every_code_is_a_table_row() {
        for code in [
            "IncorrectInstanceStatus",
            "InstanceLockedForSecurity",
            "InstanceExpiredOrInArrears",
            "AllocateIpInvalidInstanceBandwidth",
            "OperationDenied",
            "AllocatedAlready",
        ] {
            assert!(TABLE.lookup(code, "").is_some(), "{code}");
        }
        // With AllocatePublicIpAddress's message, OperationDenied is the
        // VPC row.
        assert_eq!(
            TABLE
                .lookup(
                    "OperationDenied",
                    "Specified operation is denied as your instance is in VPC."
                )
                .unwrap()
                .reason,
            "INSTANCE_IN_VPC"
        );
    }
}
