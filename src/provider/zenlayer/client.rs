//! The Zenlayer BMC provider: `AllocateEipAddresses` to create EIPs (an
//! asynchronous operation: EIPs start CREATING) and `DescribeEipAddresses`
//! to read them back; the release (`super::release`), the availability
//! check (`super::availability`) and the account's pages (`super::account`)
//! are in their own files and call through [`ZenlayerProvider::call`].
//!
//! Every call is a `POST <endpoint>/api/v2/bmc` whose body is serialized once
//! to bytes; those bytes are hashed, signed (ZC2-HMAC-SHA256, see
//! [`signer`], which decides every header) and sent unchanged. The action
//! travels in `X-ZC-Action`, the API version in `X-ZC-Version`; neither is
//! signed. One HTTP client per provider is built at construction and reused.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tower::ServiceExt;

pub use super::eip::{allocation_from_eip, state_from_status};
use super::signer::{self, SERVICE, SignableRequest, SigningParams};
use super::wire::{
    self, AllocateEipAddressesRequest, AllocateEipAddressesResponse, DescribeEipAddressesRequest,
    DescribeEipAddressesResponse, EipAddress, EipChargeType, HasRequestId, Success, TagSet,
    TerminateEipAddressRequest, TerminateEipAddressResponse, WireTag,
};
use super::{IDEMPOTENCY_TAG_KEY, ZenlayerCredentials, ZenlayerSettings};
use crate::config::secret::Secret;
use crate::middleware::FleetRate;
use crate::provider::CallContext;
use crate::provider::attempt::{self, Attempt, Sender, Stack};
use crate::provider::error::ProviderError;
use crate::provider::http::{self, HttpResponse};
use crate::provider::model::{
    AccountPage, AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    Availability, AvailabilitySpec, Capabilities, ChargeType, ChargeTypeName, Operation,
    ProviderDescription, ProviderKind, ReleaseResult, ReleaseSpec, ZenlayerAllocate,
};
use crate::provider::signing::{EndpointError, parse_base_url};

/// `AllocateEipAddresses`: creates EIPs (and may cost money).
pub const ALLOCATE_EIP_ADDRESSES: Operation = Operation {
    name: "AllocateEipAddresses",
    mutating: true,
};

/// `DescribeEipAddresses`: reads EIPs.
pub const DESCRIBE_EIP_ADDRESSES: Operation = Operation {
    name: "DescribeEipAddresses",
    mutating: false,
};

/// `TerminateEipAddress`: returns an EIP (refunded in full when it is
/// CREATE_FAILED).
pub const TERMINATE_EIP_ADDRESS: Operation = Operation {
    name: "TerminateEipAddress",
    mutating: true,
};

/// `ReleaseEipAddresses`: deletes EIPs from the recycle bin for good.
pub const RELEASE_EIP_ADDRESSES: Operation = Operation {
    name: "ReleaseEipAddresses",
    mutating: true,
};

/// `DescribeEipAvailableResources`: whether EIPs are for sale, per zone
/// and netmask.
pub const DESCRIBE_EIP_AVAILABLE_RESOURCES: Operation = Operation {
    name: "DescribeEipAvailableResources",
    mutating: false,
};

/// The most EIP ids one DescribeEipAddresses call may filter on.
pub const MAX_DESCRIBE_IDS: usize = 100;

/// The path every action is posted to, after the endpoint.
pub const API_PATH: &str = "/api/v2/bmc";

/// The most EIPs one AllocateEipAddresses call creates.
pub const MAX_EIPS_PER_REQUEST: u32 = 100;

/// A configured Zenlayer BMC account.
pub struct ZenlayerProvider {
    description: ProviderDescription,
    follow: crate::provider::FollowSettings,
    /// Every attempt goes through this stack (retry, rate limit, concurrency
    /// cap, per-attempt timeout) down to [`Shared::send`], which signs it
    /// afresh. An attempt carries the body, serialized once per call; each
    /// attempt re-signs those same bytes with a fresh timestamp.
    stack: Stack<Bytes>,
    shared: Arc<Shared>,
}

/// What the innermost service (signing and sending exactly one attempt; `Ok`
/// only for HTTP 200) needs.
struct Shared {
    client: reqwest::Client,
    /// `<endpoint>/api/v2/bmc`, parsed once.
    url: Url,
    /// `X-ZC-Version`, checked to be a valid header value.
    api_version: String,
    access_key_id: String,
    access_key_password: Secret,
}

impl std::fmt::Debug for ZenlayerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenlayerProvider")
            .field("name", &self.description.name)
            .field("url", &self.shared.url.as_str())
            .field("api_version", &self.shared.api_version)
            .field("access_key_id", &self.shared.access_key_id)
            .field("access_key_password", &self.shared.access_key_password)
            .finish_non_exhaustive()
    }
}

impl ZenlayerProvider {
    /// Validates the settings, parses the URL and builds the HTTP client.
    pub fn new(settings: ZenlayerSettings) -> Result<Self, ProviderError> {
        Self::with_fleet(settings, None)
    }

    /// Like [`ZenlayerProvider::new`]; in fleet mode (`fleet`), the account's
    /// rate limit is the one shared by every gateway, under the provider's
    /// configured name.
    pub fn with_fleet(
        settings: ZenlayerSettings,
        fleet: Option<&FleetRate>,
    ) -> Result<Self, ProviderError> {
        let name = settings.name;
        let invalid =
            |what: &str| ProviderError::Internal(format!("zenlayer provider {name:?}: {what}"));
        let url = api_url(&settings.endpoint).map_err(|e| invalid(&e.to_string()))?;
        let api_version = settings.api_version.trim().to_owned();
        if api_version.is_empty() || HeaderValue::from_str(&api_version).is_err() {
            return Err(invalid("api_version is empty or not a valid header value"));
        }
        let ZenlayerCredentials {
            access_key_id,
            access_key_password,
        } = settings.credentials;
        // The official SDKs trim both, so a pasted newline does not break signing.
        let access_key_id = access_key_id.trim().to_owned();
        if access_key_id.is_empty()
            || !access_key_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b',')
        {
            return Err(invalid(
                "access key id is empty or contains characters not allowed in a header",
            ));
        }
        let password = access_key_password.expose().trim();
        if password.is_empty() {
            return Err(invalid("access key password is empty"));
        }
        let access_key_password = if password.len() == access_key_password.expose().len() {
            access_key_password
        } else {
            Secret::new(password)
        };
        let client = http::build_client(&settings.http)?;
        let description = ProviderDescription {
            kind: ProviderKind::Zenlayer,
            region: None,
            endpoint: settings.endpoint,
            capabilities: Capabilities {
                max_allocations_per_request: MAX_EIPS_PER_REQUEST,
                asynchronous: true,
                requires_instance: false,
                requires_instance_restart: false,
                charge_types: vec![ChargeTypeName::Prepaid, ChargeTypeName::Postpaid],
                api_version: format!("{SERVICE}/{api_version}"),
                signature: signer::ALGORITHM.to_owned(),
            },
            name,
        };
        let shared = Arc::new(Shared {
            client,
            url,
            api_version,
            access_key_id,
            access_key_password,
        });
        let stack = attempt::stack(
            Arc::clone(&shared),
            &settings.resilience,
            &description.name,
            fleet,
        );
        Ok(ZenlayerProvider {
            description,
            follow: settings.follow,
            stack,
            shared,
        })
    }

    /// Serializes `body` once, pushes it through the resilience stack (each
    /// attempt signed afresh), and decodes the answer.
    pub(super) async fn call<B, T>(
        &self,
        op: Operation,
        body: &B,
        ctx: &CallContext,
    ) -> Result<Success<T>, ProviderError>
    where
        B: Serialize,
        T: DeserializeOwned + HasRequestId,
    {
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::Internal(format!("serializing the {} request: {e}", op.name))
        })?;
        let attempt = Attempt::new(op, Bytes::from(body), ctx);
        let response = self.stack.clone().oneshot(attempt).await?;
        let decoded = wire::decode::<T>(op, &response);
        let request_id = match &decoded {
            Ok(success) => success.request_id.as_deref(),
            Err(error) => error.request_id(),
        };
        tracing::debug!(
            provider = %self.description.name,
            action = op.name,
            request_id = request_id.unwrap_or(""),
            status = response.status,
            ok = decoded.is_ok(),
            "zenlayer response"
        );
        decoded
    }

    fn own_spec<'a>(&self, spec: &'a AllocateSpec) -> Result<&'a ZenlayerAllocate, ProviderError> {
        match spec {
            AllocateSpec::Zenlayer(spec) => Ok(spec),
            other => Err(ProviderError::Internal(format!(
                "zenlayer provider {:?} was given {} allocation parameters",
                self.description.name,
                other.kind()
            ))),
        }
    }
}

impl Sender for Shared {
    type Payload = Bytes;

    /// Signs the attempt's bytes with a fresh timestamp and sends them once.
    async fn send(&self, attempt: Attempt<Bytes>) -> Result<HttpResponse, ProviderError> {
        let Attempt { op, payload, .. } = attempt;
        let signed = signer::sign(
            &SignableRequest {
                url: &self.url,
                action: op.name,
                body: &payload,
            },
            &SigningParams {
                access_key_id: &self.access_key_id,
                access_key_password: self.access_key_password.expose(),
                api_version: &self.api_version,
                time: OffsetDateTime::now_utc(),
            },
        )?;
        let mut url = self.url.clone();
        let mut headers = HeaderMap::with_capacity(7);
        signed.into_output().apply_to(&mut url, &mut headers);
        tracing::debug!(
            action = op.name,
            bytes = payload.len(),
            "sending zenlayer request"
        );
        let request = http::request(reqwest::Method::POST, url, headers, Some(payload.into()));
        let response = http::send(op, &self.client, request).await?;
        if response.status == 200 {
            Ok(response)
        } else {
            Err(wire::error_from_response(op, &response))
        }
    }
}

#[async_trait::async_trait]
impl crate::provider::Provider for ZenlayerProvider {
    fn description(&self) -> &ProviderDescription {
        &self.description
    }

    fn follow(&self) -> &crate::provider::FollowSettings {
        &self.follow
    }

    async fn allocate(
        &self,
        spec: &AllocateSpec,
        ctx: &CallContext,
    ) -> Result<AllocateResult, ProviderError> {
        let spec = self.own_spec(spec)?;
        let op = ALLOCATE_EIP_ADDRESSES;
        let mut request = AllocateEipAddressesRequest::from(spec);
        if let Some(key) = &ctx.idempotency_key {
            // Recorded on every EIP so an ambiguous call can be found again.
            request
                .tags
                .get_or_insert_with(TagSet::default)
                .tags
                .push(WireTag {
                    key: IDEMPOTENCY_TAG_KEY.to_owned(),
                    value: key.clone(),
                });
        }
        let Success {
            request_id,
            response,
        } = self
            .call::<_, AllocateEipAddressesResponse>(op, &request, ctx)
            .await?;
        let ids: Vec<String> = response
            .eip_id_set
            .into_iter()
            .filter(|id| !id.is_empty())
            .collect();
        if ids.is_empty() {
            return Err(ProviderError::MalformedResponse {
                op,
                http_status: 200,
                detail: "the response has no eipIdSet".to_owned(),
                request_id,
            });
        }
        if ids.len() != spec.amount as usize {
            tracing::warn!(
                action = op.name,
                request_id = request_id.as_deref().unwrap_or(""),
                requested = spec.amount,
                returned = ids.len(),
                "zenlayer returned a different number of eip ids than requested"
            );
        }
        let allocations = ids
            .into_iter()
            .map(|id| Allocation {
                id,
                ip_address: None,
                state: AllocationState::Pending,
                provider_status: "CREATING".to_owned(),
                zone_id: Some(spec.zone_id.clone()),
                region_id: None,
                requires_instance_restart: false,
                instance_id: None,
                failure_reason: None,
                netmask: Some(spec.netmask),
            })
            .collect();
        Ok(AllocateResult {
            provider_request_id: request_id.unwrap_or_default(),
            order_number: response.order_number.filter(|n| !n.is_empty()),
            allocations,
        })
    }

    async fn get_allocation(
        &self,
        lookup: &AllocationLookup,
        ctx: &CallContext,
    ) -> Result<Allocation, ProviderError> {
        let op = DESCRIBE_EIP_ADDRESSES;
        let request = DescribeEipAddressesRequest {
            eip_ids: Some(vec![lookup.id.clone()]),
            ..Default::default()
        };
        let Success {
            request_id,
            response,
        } = self
            .call::<_, DescribeEipAddressesResponse>(op, &request, ctx)
            .await?;
        if response.data_set.is_empty() {
            return Err(ProviderError::NotFound {
                op,
                reason: "ALLOCATION_NOT_FOUND",
                message: format!("EIP {} not found", lookup.id),
                request_id,
            });
        }
        let returned = response.data_set.len();
        match response
            .data_set
            .into_iter()
            .find(|eip| eip.eip_id == lookup.id)
        {
            Some(eip) => Ok(allocation_from_eip(eip)),
            None => Err(ProviderError::MalformedResponse {
                op,
                http_status: 200,
                detail: format!(
                    "the eipIds filter was not applied: {returned} EIPs returned, none is {}",
                    lookup.id
                ),
                request_id,
            }),
        }
    }

    async fn get_allocations(
        &self,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_DESCRIBE_IDS) {
            let request = DescribeEipAddressesRequest {
                eip_ids: Some(chunk.to_vec()),
                page_size: Some(MAX_DESCRIBE_IDS as u32),
                ..Default::default()
            };
            let Success { response, .. } = self
                .call::<_, DescribeEipAddressesResponse>(DESCRIBE_EIP_ADDRESSES, &request, ctx)
                .await?;
            found.extend(
                response
                    .data_set
                    .into_iter()
                    .filter(|eip| chunk.contains(&eip.eip_id))
                    .map(allocation_from_eip),
            );
        }
        Ok(found)
    }

    async fn reconcile(
        &self,
        spec: &AllocateSpec,
        key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, ProviderError> {
        let spec = self.own_spec(spec)?;
        let request = reconcile_request(spec, key);
        let Success {
            request_id,
            response,
        } = self
            .call::<_, DescribeEipAddressesResponse>(DESCRIBE_EIP_ADDRESSES, &request, ctx)
            .await?;
        if response.data_set.is_empty() {
            return Ok(None);
        }
        // A provider that ignored a filter must not make other keys' EIPs
        // look like this key's, nor (its answer being a page of something
        // else) look like a definite "nothing exists".
        if let Some(stray) = response
            .data_set
            .iter()
            .find(|eip| !is_reconciled_eip(eip, spec, key))
        {
            return Err(ProviderError::MalformedResponse {
                op: DESCRIBE_EIP_ADDRESSES,
                http_status: 200,
                detail: format!(
                    "the reconciliation filters were not applied: EIP {} is not tagged with this idempotency key in zone {}",
                    stray.eip_id, spec.zone_id
                ),
                request_id,
            });
        }
        let mut allocations: Vec<Allocation> = response
            .data_set
            .into_iter()
            .map(allocation_from_eip)
            .collect();
        allocations.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some(AllocateResult {
            provider_request_id: request_id.unwrap_or_default(),
            order_number: None,
            allocations,
        }))
    }

    async fn release_failed(&self, id: &str, ctx: &CallContext) -> Result<bool, ProviderError> {
        let request = TerminateEipAddressRequest {
            eip_id: id.to_owned(),
        };
        self.call::<_, TerminateEipAddressResponse>(TERMINATE_EIP_ADDRESS, &request, ctx)
            .await?;
        Ok(true)
    }

    async fn release(
        &self,
        spec: &ReleaseSpec,
        ctx: &CallContext,
    ) -> Result<ReleaseResult, ProviderError> {
        super::release::release(self, spec, ctx).await
    }

    async fn check_availability(
        &self,
        spec: &AvailabilitySpec,
        ctx: &CallContext,
    ) -> Result<Availability, ProviderError> {
        super::availability::check(self, spec, ctx).await
    }

    async fn account_page(
        &self,
        page: u32,
        page_size: u32,
        ctx: &CallContext,
    ) -> Result<AccountPage, ProviderError> {
        super::account::page(self, page, page_size, ctx).await
    }
}

/// The reconciliation query for an idempotency key: every filter of
/// DescribeEipAddresses that the allocation fixed (its zone, its charge
/// type, its resource group when one was named, and the idempotency tag),
/// with a page large enough for the most EIPs one call creates. Nothing
/// else: an unset filter is left out, as the official SDK leaves it out.
pub fn reconcile_request(spec: &ZenlayerAllocate, key: &str) -> DescribeEipAddressesRequest {
    DescribeEipAddressesRequest {
        zone_id: Some(spec.zone_id.clone()),
        eip_charge_type: Some(match spec.charge {
            ChargeType::Prepaid { .. } => EipChargeType::Prepaid,
            ChargeType::Postpaid => EipChargeType::Postpaid,
        }),
        resource_group_id: spec.resource_group_id.clone(),
        tags: Some(vec![WireTag {
            key: IDEMPOTENCY_TAG_KEY.to_owned(),
            value: key.to_owned(),
        }]),
        page_size: Some(MAX_EIPS_PER_REQUEST),
        ..Default::default()
    }
}

/// True unless the EIP visibly contradicts a filter of
/// [`reconcile_request`] (a field the answer leaves out cannot be checked).
fn is_reconciled_eip(eip: &EipAddress, spec: &ZenlayerAllocate, key: &str) -> bool {
    let zone_ok = eip.zone_id.as_deref().is_none_or(|z| z == spec.zone_id);
    let tag_ok = eip.tags.as_ref().is_none_or(|set| {
        set.tags
            .iter()
            .any(|t| t.key == IDEMPOTENCY_TAG_KEY && t.value == key)
    });
    let group_ok = match (&spec.resource_group_id, &eip.resource_group_id) {
        (Some(wanted), Some(got)) => wanted == got,
        _ => true,
    };
    zone_ok && tag_ok && group_ok
}

/// `<endpoint without trailing slash>/api/v2/bmc`.
fn api_url(endpoint: &str) -> Result<Url, EndpointError> {
    let base = endpoint.trim().trim_end_matches('/');
    // Validate the endpoint on its own first: appending to a host-less
    // `https://` would yield a URL whose host is `api`.
    let parsed = parse_base_url(base)?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(EndpointError::QueryOrFragment);
    }
    let url = Url::parse(&format!("{base}{API_PATH}"))
        .map_err(|e| EndpointError::NotAUrl(e.to_string()))?;
    if url.host_str() != parsed.host_str() || url.port() != parsed.port() {
        return Err(EndpointError::NotABase);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::signing::host_header;

    /// The API URL for `endpoint` and the `host` signed for it.
    fn api_url_and_host(endpoint: &str) -> Result<(Url, String), EndpointError> {
        let url = api_url(endpoint)?;
        let host = host_header(&url).unwrap();
        Ok((url, host))
    }

    #[test]
    fn url_and_signing_host() {
        let (url, host) = api_url_and_host("https://console.zenlayer.com").unwrap();
        assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
        assert_eq!(host, "console.zenlayer.com");
        let (url, host) = api_url_and_host("https://console.zenlayer.com/").unwrap();
        assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
        assert_eq!(host, "console.zenlayer.com");
        // The default port is not part of the Host header.
        let (_, host) = api_url_and_host("https://Console.Zenlayer.com:443").unwrap();
        assert_eq!(host, "console.zenlayer.com");
        let (url, host) = api_url_and_host("http://127.0.0.1:8080/emu/").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/emu/api/v2/bmc");
        assert_eq!(host, "127.0.0.1:8080");
        let (_, host) = api_url_and_host("http://[::1]:9000").unwrap();
        assert_eq!(host, "[::1]:9000");
        for bad in [
            "",
            "console.zenlayer.com",
            "ftp://console.zenlayer.com",
            "https://console.zenlayer.com?x=1",
            "https://user:pw@console.zenlayer.com",
            "https://",
            "https:///",
            "http:",
        ] {
            assert!(api_url_and_host(bad).is_err(), "{bad:?}");
        }
    }
}
