//! The Alibaba Cloud ECS provider: `AllocatePublicIpAddress` to allocate,
//! `DescribeInstanceAttribute` to read an instance's static public IP; the
//! lifecycle lives beside it: [`super::release`] (ModifyInstanceNetworkSpec),
//! [`super::batch`] (DescribeInstances), [`super::availability`].
//!
//! Every call is `POST /` with all parameters in the URL query and an empty
//! body, signed afresh (new nonce, new timestamp) with RPC signature V1 or
//! V3 as configured. The [`signer`] decides every signed parameter and
//! header; this client applies its instructions, so the query goes on the
//! wire exactly as signed. The URL carries credentials (AccessKeyId,
//! Signature, SecurityToken), so it never appears in an error or a log line.

use std::fmt;
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use time::OffsetDateTime;
use tower::ServiceExt;
use uuid::Uuid;

use super::signer::{self, SignableRequest, SigningParams};
use super::{API_VERSION, AliyunSettings, SignatureVersion, wire};
use crate::middleware::FleetRate;
use crate::provider::CallContext;
use crate::provider::attempt::{self, Attempt, Sender, Stack};
use crate::provider::error::ProviderError;
use crate::provider::http::{self, HttpResponse};
use crate::provider::model::{
    AliyunAllocate, AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState,
    Availability, AvailabilitySpec, Capabilities, Operation, ProviderDescription, ProviderKind,
    ReleaseResult, ReleaseSpec,
};
use crate::provider::signing::parse_base_url;

/// `AllocatePublicIpAddress`: assigns a static public IP to an instance.
pub const ALLOCATE_PUBLIC_IP_ADDRESS: Operation = Operation {
    name: "AllocatePublicIpAddress",
    mutating: true,
};

/// `DescribeInstanceAttribute`: reads one instance (safe to retry).
pub const DESCRIBE_INSTANCE_ATTRIBUTE: Operation = Operation {
    name: "DescribeInstanceAttribute",
    mutating: false,
};

/// The `reason` of [`ProviderError::NotFound`] when an instance exists but
/// has no static public IP.
pub const PUBLIC_IP_NOT_ALLOCATED: &str = "PUBLIC_IP_NOT_ALLOCATED";

/// Every request is a POST (as the official SDKs send these actions).
const METHOD: &str = "POST";

/// One configured Alibaba Cloud account.
pub struct AliyunProvider {
    description: ProviderDescription,
    /// Every attempt goes through this stack (retry, rate limit, concurrency
    /// cap, per-attempt timeout) down to [`Shared::send`], which signs it afresh.
    stack: Stack<Call>,
    shared: Arc<Shared>,
}

/// What an attempt of one call carries: the region it goes to and the
/// action's own parameters, signed afresh (new nonce and timestamp) every
/// time it reaches [`Shared::send`].
#[derive(Clone)]
struct Call {
    region: String,
    params: Vec<(&'static str, String)>,
}

/// What signing and sending need, shared by the provider and its sender.
struct Shared {
    settings: AliyunSettings,
    /// The one HTTP client, reused for every call.
    client: reqwest::Client,
    /// The URL of the configured region (or of the endpoint override).
    default_base: Url,
}

impl fmt::Debug for AliyunProvider {
    // Written out so that no credential can ever show, whatever is added to
    // the settings later.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunProvider")
            .field("name", &self.shared.settings.name)
            .field("region", &self.shared.settings.region)
            .field("endpoint", &self.description.endpoint)
            .field("signature", &self.shared.settings.signature)
            .field(
                "access_key_id",
                &self.shared.settings.credentials.access_key_id,
            )
            .field(
                "sts",
                &self.shared.settings.credentials.security_token.is_some(),
            )
            .finish_non_exhaustive()
    }
}

impl AliyunProvider {
    /// Validates the settings and builds the provider's HTTP client.
    pub fn new(settings: AliyunSettings) -> Result<Self, ProviderError> {
        Self::with_fleet(settings, None)
    }

    /// Like [`AliyunProvider::new`]; in fleet mode (`fleet`), the account's
    /// rate limit is the one shared by every gateway, under the provider's
    /// configured name.
    pub fn with_fleet(
        settings: AliyunSettings,
        fleet: Option<&FleetRate>,
    ) -> Result<Self, ProviderError> {
        let name = &settings.name;
        if !super::region::is_valid(&settings.region) {
            return Err(ProviderError::Internal(format!(
                "aliyun provider {name:?}: invalid region id {:?}",
                settings.region
            )));
        }
        if settings.credentials.access_key_id.trim().is_empty()
            || settings.credentials.access_key_secret.is_empty()
        {
            return Err(ProviderError::Internal(format!(
                "aliyun provider {name:?}: the AccessKey id and secret must not be empty"
            )));
        }
        let (default_base, endpoint) = match &settings.endpoint {
            Some(endpoint) => (parse_endpoint(name, endpoint)?, endpoint.clone()),
            None => {
                let url = regional_url(&settings.region)?;
                let endpoint = url.to_string();
                (url, endpoint)
            }
        };
        let client = http::build_client(&settings.http)?;
        let description = ProviderDescription {
            name: settings.name.clone(),
            kind: ProviderKind::Aliyun,
            region: Some(settings.region.clone()),
            endpoint,
            capabilities: Capabilities {
                max_allocations_per_request: 1,
                asynchronous: false,
                requires_instance: true,
                requires_instance_restart: true,
                charge_types: Vec::new(),
                api_version: format!("ecs/{API_VERSION}"),
                signature: match settings.signature {
                    SignatureVersion::V1 => "HMAC-SHA1 (RPC signature V1)",
                    SignatureVersion::V3 => "ACS3-HMAC-SHA256 (signature V3)",
                }
                .to_owned(),
            },
        };
        let resilience = settings.resilience.clone();
        let shared = Arc::new(Shared {
            settings,
            client,
            default_base,
        });
        let stack = attempt::stack(Arc::clone(&shared), &resilience, &description.name, fleet);
        Ok(AliyunProvider {
            description,
            stack,
            shared,
        })
    }

    /// Pushes one call through the resilience stack; a non-2xx answer
    /// becomes an error.
    pub(super) async fn call(
        &self,
        op: Operation,
        region: &str,
        params: Vec<(&'static str, String)>,
        ctx: &CallContext,
    ) -> Result<HttpResponse, ProviderError> {
        let call = Call {
            region: region.to_owned(),
            params,
        };
        let attempt = Attempt::new(op, call, ctx);
        self.stack.clone().oneshot(attempt).await
    }

    /// The request region: `requested`, or the configured one.
    pub(super) fn region<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<&'a str, ProviderError> {
        self.shared.region(requested)
    }

    /// `DescribeInstanceAttribute` of `instance_id` in `region`.
    pub(super) async fn describe_attribute(
        &self,
        instance_id: &str,
        region: &str,
        ctx: &CallContext,
    ) -> Result<wire::DescribeInstanceAttributeResponse, ProviderError> {
        let op = DESCRIBE_INSTANCE_ATTRIBUTE;
        let params = vec![("InstanceId", instance_id.to_owned())];
        let response = self.call(op, region, params, ctx).await?;
        wire::parse_describe_instance_attribute(op, &response)
    }

    /// The configured provider name (for logs and messages).
    pub(super) fn name(&self) -> &str {
        &self.shared.settings.name
    }

    /// `spec` as this provider's own; `what` names the call for the error.
    fn own_spec<'a>(
        &self,
        spec: &'a AllocateSpec,
        what: &str,
    ) -> Result<&'a AliyunAllocate, ProviderError> {
        match spec {
            AllocateSpec::Aliyun(spec) => Ok(spec),
            other => Err(ProviderError::Internal(format!(
                "aliyun provider {:?} received a {} {what}",
                self.shared.settings.name,
                other.kind()
            ))),
        }
    }
}

impl Sender for Shared {
    type Payload = Call;

    /// The innermost service of the stack: signs one attempt afresh and
    /// sends it; a non-2xx answer becomes an error.
    async fn send(&self, attempt: Attempt<Call>) -> Result<HttpResponse, ProviderError> {
        let Attempt { op, payload, .. } = attempt;
        let region = payload.region.as_str();
        let instance_id = payload
            .params
            .iter()
            .find(|(name, _)| *name == "InstanceId")
            .map_or("", |(_, value)| value.as_str());
        let request = self.build_request(op, &payload)?;
        tracing::debug!(
            provider = %self.settings.name,
            action = op.name,
            instance_id,
            region,
            "sending aliyun request"
        );
        let response = match http::send(op, &self.client, request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(
                    provider = %self.settings.name,
                    action = op.name,
                    instance_id,
                    error = %error,
                    "aliyun request failed"
                );
                return Err(error);
            }
        };
        if response.is_success() {
            return Ok(response);
        }
        let error = wire::error_from_response(op, &response);
        tracing::debug!(
            provider = %self.settings.name,
            action = op.name,
            instance_id,
            http_status = response.status,
            request_id = error.request_id().unwrap_or_default(),
            code = match &error {
                ProviderError::Api(api) => api.code.as_str(),
                _ => "",
            },
            "aliyun returned an error"
        );
        Err(error)
    }
}

impl Shared {
    /// The URL for `region`: the endpoint override, or
    /// `https://ecs.<region>.aliyuncs.com/`.
    fn base_url(&self, region: &str) -> Result<Url, ProviderError> {
        if self.settings.endpoint.is_some() || region == self.settings.region {
            Ok(self.default_base.clone())
        } else {
            regional_url(region)
        }
    }

    /// The request region: the request's own, or the configured one.
    fn region<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, ProviderError> {
        match requested.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(&self.settings.region),
            Some(region) if super::region::is_valid(region) => Ok(region),
            Some(region) => Err(ProviderError::Internal(format!(
                "invalid region id {region:?}"
            ))),
        }
    }

    /// A request for `op` signed afresh (a new nonce, the current time),
    /// ready to send.
    fn build_request(&self, op: Operation, call: &Call) -> Result<reqwest::Request, ProviderError> {
        let mut url = self.base_url(&call.region)?;
        let signed = signer::sign(
            &SignableRequest {
                method: METHOD,
                url: &url,
                action: op.name,
                params: &call.params,
            },
            &SigningParams {
                version: self.settings.signature,
                credentials: &self.settings.credentials,
                region: &call.region,
                time: OffsetDateTime::now_utc(),
                nonce: Uuid::new_v4(),
            },
        )?;
        let mut headers = HeaderMap::with_capacity(10);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        signed.into_output().apply_to(&mut url, &mut headers);
        Ok(http::request(reqwest::Method::POST, url, headers, None))
    }
}

#[async_trait::async_trait]
impl crate::provider::Provider for AliyunProvider {
    fn description(&self) -> &ProviderDescription {
        &self.description
    }

    fn follow(&self) -> &crate::provider::FollowSettings {
        &self.shared.settings.follow
    }

    async fn allocate(
        &self,
        spec: &AllocateSpec,
        ctx: &CallContext,
    ) -> Result<AllocateResult, ProviderError> {
        let spec = self.own_spec(spec, "allocation request")?;
        let op = ALLOCATE_PUBLIC_IP_ADDRESS;
        let region = self.shared.region(spec.region_id.as_deref())?;
        let mut params = Vec::with_capacity(3);
        params.push(("InstanceId", spec.instance_id.clone()));
        if let Some(ip) = &spec.ip_address {
            params.push(("IpAddress", ip.clone()));
        }
        if let Some(vlan) = &spec.vlan_id {
            params.push(("VlanId", vlan.clone()));
        }

        let response = self.call(op, region, params, ctx).await?;
        let body = wire::parse_allocate(op, &response)?;
        tracing::debug!(
            provider = %self.shared.settings.name,
            action = op.name,
            instance_id = %spec.instance_id,
            request_id = %body.request_id,
            http_status = response.status,
            ip_address = %body.ip_address,
            "aliyun allocated a public ip"
        );
        Ok(AllocateResult {
            provider_request_id: body.request_id,
            order_number: None,
            allocations: vec![Allocation {
                id: spec.instance_id.clone(),
                ip_address: Some(body.ip_address),
                state: AllocationState::Ready,
                // AllocatePublicIpAddress answers with no status.
                provider_status: String::new(),
                zone_id: None,
                region_id: Some(region.to_owned()),
                requires_instance_restart: true,
                instance_id: Some(spec.instance_id.clone()),
                failure_reason: None,
                netmask: None,
            }],
        })
    }

    async fn get_allocation(
        &self,
        lookup: &AllocationLookup,
        ctx: &CallContext,
    ) -> Result<Allocation, ProviderError> {
        let op = DESCRIBE_INSTANCE_ATTRIBUTE;
        let region = self.shared.region(lookup.region_id.as_deref())?;
        let instance_id = lookup.id.as_str();
        let params = vec![("InstanceId", lookup.id.clone())];
        let response = self.call(op, region, params, ctx).await?;
        let body = wire::parse_describe_instance_attribute(op, &response)?;
        tracing::debug!(
            provider = %self.shared.settings.name,
            action = op.name,
            instance_id,
            request_id = %body.request_id,
            http_status = response.status,
            status = %body.status,
            has_public_ip = body.public_ip().is_some(),
            "aliyun described an instance"
        );
        let request_id = Some(body.request_id.clone()).filter(|id| !id.is_empty());
        if body.public_ip().is_none() {
            let message = match body.eip() {
                Some(eip) => format!(
                    "instance {instance_id} has no static public IP (EIP {eip} is bound to it)"
                ),
                None => format!("instance {instance_id} has no static public IP"),
            };
            return Err(ProviderError::NotFound {
                op,
                reason: PUBLIC_IP_NOT_ALLOCATED,
                message,
                request_id,
            });
        }
        Ok(super::allocation::from_instance(&body, &lookup.id, region))
    }

    /// The instances of the configured region, 100 per `DescribeInstances`
    /// ([`super::batch`]); an instance without a static public IP
    /// has no allocation and is left out, like one Alibaba does not know.
    async fn get_allocations(
        &self,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        let mut found = self.describe_instances(None, ids, ctx).await?;
        found.retain(|allocation| allocation.state == AllocationState::Ready);
        Ok(found)
    }

    /// The instance now has a static public IP: the allocation happened (an
    /// instance holds at most one, so it is the one asked for).
    async fn reconcile(
        &self,
        spec: &AllocateSpec,
        _key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, ProviderError> {
        let spec = self.own_spec(spec, "reconciliation")?;
        let lookup = AllocationLookup {
            id: spec.instance_id.clone(),
            region_id: spec.region_id.clone(),
        };
        match self.get_allocation(&lookup, ctx).await {
            Ok(allocation) => Ok(Some(AllocateResult {
                provider_request_id: String::new(),
                order_number: None,
                allocations: vec![allocation],
            })),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Alibaba allocations never end FAILED: nothing to release.
    async fn release_failed(&self, _id: &str, _ctx: &CallContext) -> Result<bool, ProviderError> {
        Ok(false)
    }

    /// See [`super::release`].
    async fn release(
        &self,
        spec: &ReleaseSpec,
        ctx: &CallContext,
    ) -> Result<ReleaseResult, ProviderError> {
        self.release_public_ip(spec, ctx).await
    }

    /// See [`super::batch`].
    async fn describe_batch(
        &self,
        region_id: Option<&str>,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        self.describe_instances(region_id, ids, ctx).await
    }

    /// See [`super::availability`].
    async fn check_availability(
        &self,
        spec: &AvailabilitySpec,
        ctx: &CallContext,
    ) -> Result<Availability, ProviderError> {
        self.check_instance(spec, ctx).await
    }
}

/// `https://ecs.<region>.aliyuncs.com/` (the region must be valid).
fn regional_url(region: &str) -> Result<Url, ProviderError> {
    Url::parse(&format!("https://ecs.{region}.aliyuncs.com/"))
        .map_err(|_| ProviderError::Internal(format!("invalid region id {region:?}")))
}

/// The endpoint override: an `http(s)` base URL without credentials; the
/// path is always `/` (a query or fragment is dropped).
fn parse_endpoint(name: &str, endpoint: &str) -> Result<Url, ProviderError> {
    let mut url = parse_base_url(endpoint)
        .map_err(|e| ProviderError::Internal(format!("aliyun provider {name:?}: {e}")))?;
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
