//! ReleaseAllocation on Alibaba: the static public IP of an instance is
//! given back with `ModifyInstanceNetworkSpec` (`InstanceId`,
//! `InternetMaxBandwidthOut=0`, `ClientToken`).
//!
//! Why this operation: the ECS user guide ("Static public IP addresses")
//! says the system reclaims a static public IP when the instance's public
//! bandwidth is changed to 0 Mbit/s, and `ModifyInstanceNetworkSpec` is the
//! API that changes it (its page: "assignment or unassignment of a static
//! public IP address"). It works for VPC and classic-network instances,
//! takes a `ClientToken` (Alibaba performs a repeated token once, so a
//! re-send after a lost answer is harmless; the official SDKs retry it only
//! because of the token), and is the operation Alibaba recommends for
//! static public IPs. `ReleasePublicIpAddress` is marked deprecated (page
//! updated Apr 2026), refuses every VPC instance (`OperationDenied`: "your
//! instance is in VPC"), needs the address as well as the instance, has no
//! `ClientToken`, and caps how often an instance may give an IP back
//! (`OperationTimesOverLimit`).
//!
//! The request is the one both official SDKs send for this operation
//! (`aliyun-python-sdk-ecs` `ModifyInstanceNetworkSpecRequest`,
//! `alibabacloud_ecs20140526` `modify_instance_network_spec_with_options`):
//! those three query parameters and no `RegionId` (the regional endpoint
//! selects the region). The token is derived from the caller's idempotency
//! key ([`super::client_token`]).
//!
//! The steps:
//! 1. `DescribeInstanceAttribute`: an unknown instance is Alibaba's
//!    `InvalidInstanceId.NotFound`; an instance without a static public IP
//!    was released already, and nothing is sent.
//! 2. `ModifyInstanceNetworkSpec`. A definite refusal (locked, wrong
//!    status, unpaid order, ...) is returned with its table row.
//! 3. After an ambiguous outcome (a timeout after sending, a lost
//!    connection, a 5xx that may have been performed), the instance is read
//!    back: without a static public IP the release happened; otherwise, or
//!    when the read fails, the original error is returned unchanged.
//!
//! Bandwidth 0 also turns off the instance's public bandwidth: raising it
//! later (`ModifyInstanceNetworkSpec` with a bandwidth and
//! `AllocatePublicIp=true`) is what gives it a static public IP again.

use super::client::AliyunProvider;
use super::{allocation, client_token, wire};
use crate::provider::CallContext;
use crate::provider::error::ProviderError;
use crate::provider::model::{Allocation, AllocationState, Operation, ReleaseResult, ReleaseSpec};

/// `ModifyInstanceNetworkSpec`: changes an instance's public bandwidth;
/// to 0 it reclaims the static public IP.
pub const MODIFY_INSTANCE_NETWORK_SPEC: Operation = Operation {
    name: "ModifyInstanceNetworkSpec",
    mutating: true,
};

/// The parameters of the release of `instance_id` with `token`.
pub fn release_params(instance_id: &str, token: String) -> Vec<(&'static str, String)> {
    vec![
        ("InstanceId", instance_id.to_owned()),
        ("InternetMaxBandwidthOut", "0".to_owned()),
        ("ClientToken", token),
    ]
}

/// `allocation` after the release: `Released`, still naming the address
/// given back (when one was).
fn released(mut allocation: Allocation, ip: Option<String>) -> Allocation {
    allocation.state = AllocationState::Released;
    allocation.ip_address = ip;
    allocation
}

impl AliyunProvider {
    /// Gives the static public IP of instance `spec.id` back; see the
    /// module documentation.
    pub(super) async fn release_public_ip(
        &self,
        spec: &ReleaseSpec,
        ctx: &CallContext,
    ) -> Result<ReleaseResult, ProviderError> {
        let region = self.region(spec.region_id.as_deref())?;
        let instance_id = spec.id.as_str();
        let before = self.describe_attribute(instance_id, region, ctx).await?;
        let current = allocation::from_instance(&before, instance_id, region);
        let Some(ip) = current.ip_address.clone() else {
            tracing::debug!(
                provider = %self.name(),
                instance_id,
                "aliyun instance has no static public ip: already released"
            );
            return Ok(ReleaseResult {
                provider_request_id: String::new(),
                allocation: current,
                already_released: true,
                purged: false,
            });
        };

        let op = MODIFY_INSTANCE_NETWORK_SPEC;
        let token = client_token::release_token(instance_id, ctx.idempotency_key.as_deref());
        let params = release_params(instance_id, token);
        match self.call(op, region, params, ctx).await {
            Ok(response) => {
                let body = wire::parse_modify_instance_network_spec(op, &response)?;
                tracing::info!(
                    provider = %self.name(),
                    action = op.name,
                    instance_id,
                    request_id = %body.request_id,
                    order_id = %body.order_id,
                    ip_address = %ip,
                    "aliyun released a static public ip"
                );
                Ok(ReleaseResult {
                    provider_request_id: body.request_id,
                    allocation: released(current, Some(ip)),
                    already_released: false,
                    purged: false,
                })
            }
            Err(error) if error.outcome_unknown() => {
                self.reconcile_release(instance_id, region, ip, error, ctx)
                    .await
            }
            Err(error) => Err(error),
        }
    }

    /// After `error` left the release's outcome unknown: the instance read
    /// back without a static public IP means it happened; anything else
    /// returns `error` unchanged.
    async fn reconcile_release(
        &self,
        instance_id: &str,
        region: &str,
        ip: String,
        error: ProviderError,
        ctx: &CallContext,
    ) -> Result<ReleaseResult, ProviderError> {
        let after = match self.describe_attribute(instance_id, region, ctx).await {
            Ok(after) => after,
            Err(read) => {
                tracing::warn!(
                    provider = %self.name(),
                    instance_id,
                    error = %error,
                    read_error = %read,
                    "aliyun release outcome unknown and the instance cannot be read back"
                );
                return Err(error);
            }
        };
        let now = allocation::from_instance(&after, instance_id, region);
        if now.ip_address.is_some() {
            tracing::warn!(
                provider = %self.name(),
                instance_id,
                error = %error,
                "aliyun release outcome unknown; the instance still holds its static public ip"
            );
            return Err(error);
        }
        tracing::info!(
            provider = %self.name(),
            instance_id,
            error = %error,
            ip_address = %ip,
            "aliyun release reconciled: the static public ip is gone"
        );
        Ok(ReleaseResult {
            provider_request_id: String::new(),
            allocation: released(now, Some(ip)),
            already_released: false,
            purged: false,
        })
    }
}
