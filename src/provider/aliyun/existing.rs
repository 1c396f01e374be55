//! The Alibaba answer that says an allocation already exists:
//! `AllocatedAlready` ("There is an IpAddress allocated already for the
//! specified instance"). An instance holds at most one static public IP, so
//! when the re-send of an attempt whose outcome was unknown meets it, the
//! earlier attempt landed: the allocation is read back, not failed.

use crate::provider::ProviderError;

/// The error code of an instance that already has its public IP.
pub const ALLOCATED_ALREADY: &str = "AllocatedAlready";

/// True when `e` says the instance already has its public IP.
pub fn is_allocated_already(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Api(api) if api.code == ALLOCATED_ALREADY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aliyun::client::ALLOCATE_PUBLIC_IP_ADDRESS;
    use crate::provider::aliyun::wire;
    use crate::provider::http::HttpResponse;

    /// The error the adapter makes of Alibaba's answer with `code`.
    fn answer(code: &str) -> ProviderError {
        let body = format!(r#"{{"RequestId":"R-1","Code":"{code}","Message":"m"}}"#);
        let response = HttpResponse {
            status: 403,
            headers: Default::default(),
            body: body.into(),
        };
        wire::error_from_response(ALLOCATE_PUBLIC_IP_ADDRESS, &response)
    }

    #[test]
    fn only_allocated_already_means_the_allocation_exists() {
        assert!(is_allocated_already(&answer("AllocatedAlready")));
        assert!(!is_allocated_already(&answer("IpInUse")));
        assert!(!is_allocated_already(&answer("allocatedalready")));
        assert!(!is_allocated_already(&ProviderError::Internal(
            "AllocatedAlready".into()
        )));
    }
}
