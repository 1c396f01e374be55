//! Provider adapters: the one async trait every cloud implements, the shared
//! domain model, errors and HTTP plumbing, and one folder per cloud (client,
//! signer, wire formats, error table).

pub mod aliyun;
pub mod error;
pub mod error_table;
pub mod http;
pub mod model;
pub mod registry;
pub mod zenlayer;

use async_trait::async_trait;

pub use error::ProviderError;
pub use model::*;
pub use registry::Registry;

use error_table::ErrorTable;

/// A configured provider account. The gRPC layer only dispatches to it; every
/// provider-specific detail lives behind this trait.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Name, kind, endpoint and capabilities, as ListProviders reports them.
    fn description(&self) -> &ProviderDescription;

    /// Performs one allocation call. `spec` is validated and its kind
    /// matches this provider's.
    async fn allocate(&self, spec: &AllocateSpec) -> Result<AllocateResult, ProviderError>;

    /// Reads the current state of one allocation.
    async fn get_allocation(&self, lookup: &AllocationLookup) -> Result<Allocation, ProviderError>;
}

impl ProviderKind {
    /// The error table that maps this cloud's error codes.
    pub fn error_table(self) -> &'static ErrorTable {
        match self {
            ProviderKind::Aliyun => &aliyun::errors::TABLE,
            ProviderKind::Zenlayer => &zenlayer::errors::TABLE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AIP-193: ErrorInfo reasons are UPPER_SNAKE_CASE, at most 63 characters.
    #[test]
    fn every_table_reason_is_upper_snake_and_short() {
        for kind in [ProviderKind::Aliyun, ProviderKind::Zenlayer] {
            for rule in kind.error_table().rules {
                let reason = rule.reason;
                assert!(!reason.is_empty() && reason.len() <= 63, "{reason}");
                assert!(
                    reason
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                    "{reason}"
                );
            }
        }
    }
}
