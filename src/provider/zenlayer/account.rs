//! The account's EIPs page by page (ListAllocations with
//! `include_unmanaged`): `DescribeEipAddresses {pageSize, pageNum}` with no
//! filter, as the official SDK sends it, each EIP with its tags.

use super::client::{DESCRIBE_EIP_ADDRESSES, ZenlayerProvider, allocation_from_eip};
use super::wire::{DescribeEipAddressesRequest, DescribeEipAddressesResponse, Success};
use crate::provider::CallContext;
use crate::provider::error::ProviderError;
use crate::provider::model::{AccountPage, Tag};

/// Page `page` (1-based) of `page_size` EIPs. The provider checks both
/// (`pageSize` at most 1000); `total` is its `totalCount`, or the number
/// returned when it leaves that out.
pub(super) async fn page(
    provider: &ZenlayerProvider,
    page: u32,
    page_size: u32,
    ctx: &CallContext,
) -> Result<AccountPage, ProviderError> {
    let request = DescribeEipAddressesRequest {
        page_size: Some(page_size),
        page_num: Some(page),
        ..Default::default()
    };
    let Success { response, .. } = provider
        .call::<_, DescribeEipAddressesResponse>(DESCRIBE_EIP_ADDRESSES, &request, ctx)
        .await?;
    let returned = response.data_set.len() as u64;
    let allocations = response
        .data_set
        .into_iter()
        .map(|mut eip| {
            let tags = eip
                .tags
                .take()
                .map(|set| {
                    set.tags
                        .into_iter()
                        .map(|t| Tag {
                            key: t.key,
                            value: t.value,
                        })
                        .collect()
                })
                .unwrap_or_default();
            (allocation_from_eip(eip), tags)
        })
        .collect();
    Ok(AccountPage {
        allocations,
        total: response.total_count.unwrap_or(returned),
    })
}
