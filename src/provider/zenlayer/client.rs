//! (in progress: replaced by the real adapter)
use crate::provider::*;
use async_trait::async_trait;
pub struct ZenlayerProvider {
    d: ProviderDescription,
}
impl ZenlayerProvider {
    pub fn new(s: super::ZenlayerSettings) -> Result<Self, ProviderError> {
        Ok(Self {
            d: ProviderDescription {
                name: s.name,
                kind: ProviderKind::Zenlayer,
                region: None,
                endpoint: String::new(),
                capabilities: Capabilities {
                    max_allocations_per_request: 1,
                    asynchronous: false,
                    requires_instance: false,
                    requires_instance_restart: false,
                    charge_types: vec![],
                    api_version: String::new(),
                    signature: String::new(),
                },
            },
        })
    }
}
#[async_trait]
impl Provider for ZenlayerProvider {
    fn description(&self) -> &ProviderDescription {
        &self.d
    }
    async fn allocate(&self, _: &AllocateSpec) -> Result<AllocateResult, ProviderError> {
        Err(ProviderError::Internal("stub".into()))
    }
    async fn get_allocation(&self, _: &AllocationLookup) -> Result<Allocation, ProviderError> {
        Err(ProviderError::Internal("stub".into()))
    }
}
