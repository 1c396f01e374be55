//! Several allocations read at once (ListAllocations' refresh, and
//! `get_allocations`): `DescribeInstances` with `RegionId`, `InstanceIds`
//! (a JSON array of at most 100 ids) and `PageSize=100`, so one page holds
//! every instance asked for; more ids are sent in chunks of 100, one call
//! each. `RegionId` is required by `DescribeInstances` (FACTS.md §3), so
//! it is sent, the provider's configured region when none is asked.
//!
//! An instance holding a static public IP is a `Ready` allocation, as
//! `get_allocation` builds it; one holding none is `Released` (no address,
//! `provider_status` its instance status); an id Alibaba does not return
//! is left out.

use super::client::AliyunProvider;
use super::{allocation, wire};
use crate::provider::CallContext;
use crate::provider::error::ProviderError;
use crate::provider::model::{Allocation, Operation};

/// `DescribeInstances`: reads the instances of one region (safe to retry).
pub const DESCRIBE_INSTANCES: Operation = Operation {
    name: "DescribeInstances",
    mutating: false,
};

/// The most ids one `InstanceIds` array may hold, and the largest
/// `PageSize`.
pub const MAX_IDS_PER_CALL: usize = 100;

/// The parameters of one `DescribeInstances` for `ids` (at most
/// [`MAX_IDS_PER_CALL`]), in the order the official SDK puts them.
pub fn describe_params(region: &str, ids: &[String]) -> Vec<(&'static str, String)> {
    // A Vec<String> always serialises; the fallback is never used.
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    vec![
        ("InstanceIds", list),
        ("PageSize", MAX_IDS_PER_CALL.to_string()),
        ("RegionId", region.to_owned()),
    ]
}

impl AliyunProvider {
    /// The allocations of `ids` in `region_id` (the configured region when
    /// `None`), 100 ids per call.
    pub(super) async fn describe_instances(
        &self,
        region_id: Option<&str>,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        let region = self.region(region_id)?;
        let op = DESCRIBE_INSTANCES;
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_IDS_PER_CALL) {
            let response = self
                .call(op, region, describe_params(region, chunk), ctx)
                .await?;
            let body = wire::parse_describe_instances(op, &response)?;
            tracing::debug!(
                provider = %self.name(),
                action = op.name,
                region,
                asked = chunk.len(),
                returned = body.instances.instance.len(),
                request_id = %body.request_id,
                "aliyun described instances"
            );
            for instance in &body.instances.instance {
                // Only the instances asked for (a filter Alibaba ignored
                // must not add others).
                if let Some(id) = chunk.iter().find(|id| **id == instance.instance_id) {
                    found.push(allocation::from_instance(instance, id, region));
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ids_go_as_a_json_array_with_a_page_of_100() {
        let ids = vec!["i-a".to_owned(), "i-b".to_owned()];
        assert_eq!(
            describe_params("cn-hangzhou", &ids),
            vec![
                ("InstanceIds", r#"["i-a","i-b"]"#.to_owned()),
                ("PageSize", "100".to_owned()),
                ("RegionId", "cn-hangzhou".to_owned()),
            ]
        );
    }
}
