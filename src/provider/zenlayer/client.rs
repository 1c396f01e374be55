//! The Zenlayer BMC provider: `AllocateEipAddresses` to create EIPs (an
//! asynchronous operation: EIPs start CREATING) and `DescribeEipAddresses`
//! to read one back.
//!
//! Every call is a `POST <endpoint>/api/v2/bmc` whose body is serialized once
//! to bytes; those bytes are hashed, signed (ZC2-HMAC-SHA256, see
//! [`signer`]) and sent unchanged. The action travels in `X-ZC-Action`, the
//! API version in `X-ZC-Version`; neither is signed. One HTTP client per
//! provider is built at construction and reused.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::signer::{self, SigningInput};
use super::wire::{
    self, AllocateEipAddressesRequest, AllocateEipAddressesResponse, DescribeEipAddressesRequest,
    DescribeEipAddressesResponse, EipAddress, EipChargeType, HasRequestId, Success, TagSet,
    TerminateEipAddressRequest, TerminateEipAddressResponse, WireTag,
};
use super::{IDEMPOTENCY_TAG_KEY, ZenlayerCredentials, ZenlayerSettings};
use crate::config::secret::Secret;
use crate::middleware::{self, AttemptRequest, ProviderLimits};
use crate::provider::error::ProviderError;
use crate::provider::http::{self, HttpResponse};
use crate::provider::model::{
    AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState, Capabilities,
    ChargeType, ChargeTypeName, Operation, ProviderDescription, ProviderKind, ZenlayerAllocate,
};
use crate::provider::{CallContext, Lane};

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

/// The most EIP ids one DescribeEipAddresses call may filter on.
pub const MAX_DESCRIBE_IDS: usize = 100;

/// The path every action is posted to, after the endpoint.
pub const API_PATH: &str = "/api/v2/bmc";

/// `X-ZC-Service`.
pub const SERVICE: &str = "bmc";

/// The one content type sent and signed.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// The most EIPs one AllocateEipAddresses call creates.
pub const MAX_EIPS_PER_REQUEST: u32 = 100;

const X_ZC_ACTION: HeaderName = HeaderName::from_static("x-zc-action");
const X_ZC_VERSION: HeaderName = HeaderName::from_static("x-zc-version");
const X_ZC_SERVICE: HeaderName = HeaderName::from_static("x-zc-service");
const X_ZC_TIMESTAMP: HeaderName = HeaderName::from_static("x-zc-timestamp");
const X_ZC_SIGNATURE_METHOD: HeaderName = HeaderName::from_static("x-zc-signature-method");
const CONTENT_TYPE_VALUE: HeaderValue = HeaderValue::from_static(CONTENT_TYPE_JSON);
const SERVICE_VALUE: HeaderValue = HeaderValue::from_static(SERVICE);
const SIGNATURE_METHOD_VALUE: HeaderValue = HeaderValue::from_static(signer::ALGORITHM);

/// A configured Zenlayer BMC account.
pub struct ZenlayerProvider {
    description: ProviderDescription,
    /// Every attempt goes through this stack (retry, rate limit, concurrency
    /// cap, per-attempt timeout) down to [`Sender`], which signs it afresh.
    stack: BoxCloneSyncService<Attempt, HttpResponse, ProviderError>,
    sender: Arc<Sender>,
}

/// One attempt of one call, as the resilience stack sees it: the body is
/// serialized once per call; each attempt re-signs those same bytes with a
/// fresh timestamp.
#[derive(Clone)]
pub struct Attempt {
    op: Operation,
    body: Bytes,
    deadline: Option<Instant>,
    lane: Lane,
}

impl AttemptRequest for Attempt {
    fn operation(&self) -> Operation {
        self.op
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn lane(&self) -> Lane {
        self.lane
    }
}

/// What the innermost service (signing and sending exactly one attempt; `Ok`
/// only for HTTP 200) needs.
struct Sender {
    client: reqwest::Client,
    /// `<endpoint>/api/v2/bmc`, parsed once.
    url: Url,
    /// The `host` value signed: the URL's host, plus `:port` when the URL
    /// names a non-default port (exactly the `Host` header reqwest sends).
    signing_host: String,
    api_version: HeaderValue,
    access_key_id: String,
    access_key_password: Secret,
}

impl std::fmt::Debug for ZenlayerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenlayerProvider")
            .field("name", &self.description.name)
            .field("signing_host", &self.sender.signing_host)
            .field("api_version", &self.sender.api_version)
            .field("access_key_id", &self.sender.access_key_id)
            .field("access_key_password", &self.sender.access_key_password)
            .finish_non_exhaustive()
    }
}

impl ZenlayerProvider {
    /// Validates the settings, parses the URL and builds the HTTP client.
    pub fn new(settings: ZenlayerSettings) -> Result<Self, ProviderError> {
        let name = settings.name;
        let invalid =
            |what: &str| ProviderError::Internal(format!("zenlayer provider {name:?}: {what}"));
        let (url, signing_host) = api_url(&settings.endpoint).map_err(|e| invalid(&e))?;
        let api_version = HeaderValue::from_str(settings.api_version.trim())
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("api_version is empty or not a valid header value"))?;
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
                api_version: format!("{SERVICE}/{}", settings.api_version.trim()),
                signature: signer::ALGORITHM.to_owned(),
            },
            name,
        };
        let sender = Arc::new(Sender {
            client,
            url,
            signing_host,
            api_version,
            access_key_id,
            access_key_password,
        });
        let limits = ProviderLimits::new(&settings.resilience);
        let innermost = Arc::clone(&sender);
        let send_one = tower::service_fn(move |attempt: Attempt| {
            let sender = Arc::clone(&innermost);
            async move { sender.send(attempt).await }
        });
        let stack = middleware::stack(send_one, &settings.resilience, &limits);
        Ok(ZenlayerProvider {
            description,
            stack,
            sender,
        })
    }

    /// Serializes `body` once, pushes it through the resilience stack (each
    /// attempt signed afresh), and decodes the answer.
    async fn call<B, T>(
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
        let attempt = Attempt {
            op,
            body: Bytes::from(body),
            deadline: ctx.deadline,
            lane: ctx.lane,
        };
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
}

impl Sender {
    /// Signs the attempt's bytes with a fresh timestamp and sends them once.
    async fn send(&self, attempt: Attempt) -> Result<HttpResponse, ProviderError> {
        let Attempt { op, body, .. } = attempt;
        let timestamp = unix_seconds()?;
        let authorization = signer::authorization(&SigningInput {
            access_key_id: &self.access_key_id,
            access_key_password: self.access_key_password.expose(),
            timestamp: &timestamp,
            content_type: CONTENT_TYPE_JSON,
            host: &self.signing_host,
            body: &body,
        });
        let headers = self.headers(op, &timestamp, &authorization)?;
        tracing::debug!(
            action = op.name,
            bytes = body.len(),
            "sending zenlayer request"
        );
        let request = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .body(body);
        let response = http::send(op, request).await?;
        if response.status == 200 {
            Ok(response)
        } else {
            Err(wire::error_from_response(op, &response))
        }
    }

    fn headers(
        &self,
        op: Operation,
        timestamp: &str,
        authorization: &str,
    ) -> Result<HeaderMap, ProviderError> {
        let header_value = |value: &str, what: &str| {
            HeaderValue::from_str(value)
                .map_err(|_| ProviderError::Internal(format!("{what} is not a valid header value")))
        };
        let mut headers = HeaderMap::with_capacity(7);
        headers.insert(CONTENT_TYPE, CONTENT_TYPE_VALUE);
        headers.insert(X_ZC_ACTION, header_value(op.name, "the action")?);
        headers.insert(X_ZC_VERSION, self.api_version.clone());
        headers.insert(X_ZC_SERVICE, SERVICE_VALUE);
        headers.insert(X_ZC_TIMESTAMP, header_value(timestamp, "the timestamp")?);
        headers.insert(X_ZC_SIGNATURE_METHOD, SIGNATURE_METHOD_VALUE);
        let mut authorization = header_value(authorization, "the Authorization header")?;
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        Ok(headers)
    }
}

#[async_trait::async_trait]
impl crate::provider::Provider for ZenlayerProvider {
    fn description(&self) -> &ProviderDescription {
        &self.description
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
}

impl ZenlayerProvider {
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

/// Maps an `eipStatus` to the common lifecycle state.
pub fn state_from_status(status: &str) -> AllocationState {
    match status {
        "CREATING" => AllocationState::Pending,
        "AVAILABLE" | "ASSOCIATED" | "ASSOCIATING" | "UNASSOCIATING" | "INUSE" => {
            AllocationState::Ready
        }
        "CREATE_FAILED" => AllocationState::Failed,
        "RECYCLING" | "RECYCLE" | "RELEASING" => AllocationState::Released,
        _ => AllocationState::Pending,
    }
}

/// Maps one DescribeEipAddresses entry to an [`Allocation`].
pub fn allocation_from_eip(eip: EipAddress) -> Allocation {
    let provider_status = eip.eip_status.unwrap_or_default();
    let state = state_from_status(&provider_status);
    if state == AllocationState::Pending && provider_status != "CREATING" {
        tracing::warn!(
            eip_id = %eip.eip_id,
            status = %provider_status,
            "unknown zenlayer eip status, reporting pending"
        );
    }
    let failure_reason =
        (state == AllocationState::Failed).then(|| "Zenlayer reported CREATE_FAILED".to_owned());
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    Allocation {
        id: eip.eip_id,
        ip_address: non_empty(eip.ip_address),
        state,
        provider_status,
        zone_id: non_empty(eip.zone_id),
        region_id: None,
        requires_instance_restart: false,
        instance_id: non_empty(eip.instance_id),
        failure_reason,
        netmask: eip.netmask,
    }
}

/// `<endpoint without trailing slash>/api/v2/bmc`, and the host to sign.
fn api_url(endpoint: &str) -> Result<(Url, String), String> {
    let base = endpoint.trim().trim_end_matches('/');
    // Validate the endpoint on its own first: appending to a host-less
    // `https://` would yield a URL whose host is `api`.
    let parsed = Url::parse(base).map_err(|e| format!("endpoint is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("endpoint must be an http:// or https:// URL".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("endpoint must not have a query or fragment".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("endpoint must not contain user information".to_owned());
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("endpoint has no host".to_owned());
    };
    let url = Url::parse(&format!("{base}{API_PATH}"))
        .map_err(|e| format!("endpoint is not a valid URL ({e})"))?;
    if url.host_str() != Some(host) || url.port() != parsed.port() {
        return Err("endpoint is not a valid base URL".to_owned());
    }
    // `Url::port` is None for the scheme's default port, which is also when
    // the Host header carries no port.
    let signing_host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((url, signing_host))
}

/// The current Unix time in seconds, as `X-ZC-Timestamp` carries it.
fn unix_seconds() -> Result<String, ProviderError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if now <= 0 {
        return Err(ProviderError::Internal(
            "the system clock is before 1970".to_owned(),
        ));
    }
    Ok(now.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;
    use crate::provider::model::AliyunAllocate;
    use crate::provider::model::{ChargeType, HttpSettings, Tag, ZenlayerAllocate};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const ID: &str = "AKIDZLTEST0000000001";
    const PASSWORD: &str = "zlTestPassw0rd/Example+Key=";

    fn settings(endpoint: &str) -> ZenlayerSettings {
        ZenlayerSettings {
            name: "zl-test".to_owned(),
            endpoint: endpoint.to_owned(),
            api_version: super::super::DEFAULT_API_VERSION.to_owned(),
            credentials: ZenlayerCredentials {
                access_key_id: ID.to_owned(),
                access_key_password: Secret::new(PASSWORD),
            },
            http: HttpSettings {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(5),
            },
            follow: Default::default(),
            // One attempt: these tests count requests and map single answers.
            resilience: crate::middleware::ResilienceSettings {
                max_attempts: 1,
                ..Default::default()
            },
        }
    }

    fn spec() -> ZenlayerAllocate {
        ZenlayerAllocate {
            zone_id: "SEL-A".to_owned(),
            charge: ChargeType::Postpaid,
            resource_group_id: None,
            amount: 2,
            netmask: 32,
            amount_set: true,
            netmask_set: true,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![Tag {
                key: "env".to_owned(),
                value: "test".to_owned(),
            }],
        }
    }

    /// One request as the test server received it.
    #[derive(Debug)]
    struct Captured {
        request_line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Captured {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// Verifies the signature the way the provider would.
        fn assert_signed(&self) {
            let host = self.header("host").unwrap();
            let timestamp = self.header("x-zc-timestamp").unwrap();
            let content_type = self.header("content-type").unwrap();
            let canonical =
                signer::canonical_request(content_type, host, &signer::hashed_payload(&self.body));
            let sts =
                signer::string_to_sign(timestamp, &signer::hashed_canonical_request(&canonical));
            let expected = signer::authorization_header(ID, &signer::signature(PASSWORD, &sts));
            assert_eq!(self.header("authorization"), Some(expected.as_str()));
        }
    }

    /// Serves one connection: captures the request, answers with `status`
    /// and `body` and the extra headers.
    async fn serve_once(
        status: u16,
        extra_headers: &'static str,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<Captured>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let header_end = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed before the headers ended");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
            };
            let head = String::from_utf8(buf[..header_end].to_vec()).unwrap();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap().to_owned();
            let headers: Vec<(String, String)> = lines
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once(':').unwrap();
                    (k.trim().to_owned(), v.trim().to_owned())
                })
                .collect();
            let length: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            while buf.len() < header_end + length {
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
            }
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
            Captured {
                request_line,
                headers,
                body: buf[header_end..header_end + length].to_vec(),
            }
        });
        (format!("http://127.0.0.1:{port}"), handle)
    }

    #[test]
    fn url_and_signing_host() {
        let (url, host) = api_url("https://console.zenlayer.com").unwrap();
        assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
        assert_eq!(host, "console.zenlayer.com");
        let (url, host) = api_url("https://console.zenlayer.com/").unwrap();
        assert_eq!(url.as_str(), "https://console.zenlayer.com/api/v2/bmc");
        assert_eq!(host, "console.zenlayer.com");
        // The default port is not part of the Host header.
        let (_, host) = api_url("https://Console.Zenlayer.com:443").unwrap();
        assert_eq!(host, "console.zenlayer.com");
        let (url, host) = api_url("http://127.0.0.1:8080/emu/").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/emu/api/v2/bmc");
        assert_eq!(host, "127.0.0.1:8080");
        let (_, host) = api_url("http://[::1]:9000").unwrap();
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
            assert!(api_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn new_validates_settings_without_leaking() {
        let err = ZenlayerProvider::new(settings("not a url")).unwrap_err();
        assert!(matches!(err, ProviderError::Internal(_)));
        assert!(err.to_string().contains("endpoint"), "{err}");
        assert!(!err.to_string().contains(PASSWORD));

        let mut s = settings("https://console.zenlayer.com");
        s.credentials.access_key_password = Secret::new("  ");
        assert!(ZenlayerProvider::new(s).is_err());
        let mut s = settings("https://console.zenlayer.com");
        s.credentials.access_key_id = "bad\nid".to_owned();
        assert!(ZenlayerProvider::new(s).is_err());
        let mut s = settings("https://console.zenlayer.com");
        s.api_version = "2026\n".to_owned() + "x";
        assert!(ZenlayerProvider::new(s).is_err());
    }

    #[test]
    fn description_and_debug() {
        let provider = ZenlayerProvider::new(settings("https://console.zenlayer.com")).unwrap();
        let d = provider.description();
        assert_eq!(d.name, "zl-test");
        assert_eq!(d.kind, ProviderKind::Zenlayer);
        assert_eq!(d.region, None);
        assert_eq!(d.endpoint, "https://console.zenlayer.com");
        assert_eq!(
            d.capabilities,
            Capabilities {
                max_allocations_per_request: 100,
                asynchronous: true,
                requires_instance: false,
                requires_instance_restart: false,
                charge_types: vec![ChargeTypeName::Prepaid, ChargeTypeName::Postpaid],
                api_version: "bmc/2026-02-01".to_owned(),
                signature: "ZC2-HMAC-SHA256".to_owned(),
            }
        );
        let debug = format!("{provider:?}");
        assert!(!debug.contains(PASSWORD), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn status_mapping() {
        use AllocationState::*;
        for (status, state) in [
            ("CREATING", Pending),
            ("AVAILABLE", Ready),
            ("ASSOCIATED", Ready),
            ("ASSOCIATING", Ready),
            ("UNASSOCIATING", Ready),
            ("INUSE", Ready),
            ("CREATE_FAILED", Failed),
            ("RECYCLING", Released),
            ("RECYCLE", Released),
            ("RELEASING", Released),
            ("SOMETHING_NEW", Pending),
            ("", Pending),
        ] {
            assert_eq!(state_from_status(status), state, "{status}");
        }
    }

    #[test]
    fn allocation_from_eip_maps_fields() {
        let a = allocation_from_eip(EipAddress {
            eip_id: "eip-1".to_owned(),
            zone_id: Some("SEL-A".to_owned()),
            ip_address: Some("203.0.113.7".to_owned()),
            netmask: Some(32),
            instance_id: Some(String::new()),
            eip_status: Some("AVAILABLE".to_owned()),
            ..Default::default()
        });
        assert_eq!(
            a,
            Allocation {
                id: "eip-1".to_owned(),
                ip_address: Some("203.0.113.7".to_owned()),
                state: AllocationState::Ready,
                provider_status: "AVAILABLE".to_owned(),
                zone_id: Some("SEL-A".to_owned()),
                region_id: None,
                requires_instance_restart: false,
                instance_id: None,
                failure_reason: None,
                netmask: Some(32),
            }
        );
        let failed = allocation_from_eip(EipAddress {
            eip_id: "eip-2".to_owned(),
            ip_address: Some(String::new()),
            instance_id: Some("inst-1".to_owned()),
            eip_status: Some("CREATE_FAILED".to_owned()),
            ..Default::default()
        });
        assert_eq!(failed.state, AllocationState::Failed);
        assert_eq!(
            failed.failure_reason.as_deref(),
            Some("Zenlayer reported CREATE_FAILED")
        );
        assert_eq!(failed.ip_address, None);
        assert_eq!(failed.instance_id.as_deref(), Some("inst-1"));
        let unknown = allocation_from_eip(EipAddress {
            eip_id: "eip-3".to_owned(),
            ..Default::default()
        });
        assert_eq!(unknown.state, AllocationState::Pending);
        assert_eq!(unknown.provider_status, "");
    }

    #[tokio::test]
    async fn allocate_sends_signed_exact_bytes() {
        let (endpoint, server) = serve_once(
            200,
            "content-type: application/json\r\n",
            r#"{"requestId":"T-1","response":{"requestId":"T-1","eipIdSet":["eip-1","eip-2"],"orderNumber":""}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let result = provider
            .allocate(
                &AllocateSpec::Zenlayer(spec()),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap();
        let captured = server.await.unwrap();

        assert_eq!(captured.request_line, "POST /api/v2/bmc HTTP/1.1");
        assert_eq!(
            captured.header("host"),
            Some(endpoint.trim_start_matches("http://"))
        );
        assert_eq!(captured.header("content-type"), Some("application/json"));
        assert_eq!(captured.header("x-zc-action"), Some("AllocateEipAddresses"));
        assert_eq!(captured.header("x-zc-version"), Some("2026-02-01"));
        assert_eq!(captured.header("x-zc-service"), Some("bmc"));
        assert_eq!(
            captured.header("x-zc-signature-method"),
            Some("ZC2-HMAC-SHA256")
        );
        let ts: i64 = captured.header("x-zc-timestamp").unwrap().parse().unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!((now - ts).abs() < 60, "timestamp {ts} vs now {now}");
        assert_eq!(
            std::str::from_utf8(&captured.body).unwrap(),
            r#"{"zoneId":"SEL-A","eipChargeType":"POSTPAID","amount":2,"netmask":32,"tags":{"tags":[{"key":"env","value":"test"}]}}"#
        );
        captured.assert_signed();

        assert_eq!(result.provider_request_id, "T-1");
        assert_eq!(result.order_number, None);
        assert_eq!(result.allocations.len(), 2);
        assert_eq!(
            result.allocations[1],
            Allocation {
                id: "eip-2".to_owned(),
                ip_address: None,
                state: AllocationState::Pending,
                provider_status: "CREATING".to_owned(),
                zone_id: Some("SEL-A".to_owned()),
                region_id: None,
                requires_instance_restart: false,
                instance_id: None,
                failure_reason: None,
                netmask: Some(32),
            }
        );
    }

    #[tokio::test]
    async fn allocate_prepaid_keeps_order_number_and_accepts_other_count() {
        let (endpoint, server) = serve_once(
            200,
            "",
            r#"{"requestId":"T-2","response":{"requestId":"T-2","eipIdSet":["eip-9"],"orderNumber":"ord-1"}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let mut s = spec();
        s.charge = ChargeType::Prepaid { period_months: 1 };
        let result = provider
            .allocate(
                &AllocateSpec::Zenlayer(s),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap();
        server.await.unwrap().assert_signed();
        assert_eq!(result.order_number.as_deref(), Some("ord-1"));
        assert_eq!(result.allocations.len(), 1);
    }

    #[tokio::test]
    async fn allocate_without_ids_is_malformed() {
        let (endpoint, server) = serve_once(
            200,
            "",
            r#"{"requestId":"T-3","response":{"requestId":"T-3","eipIdSet":[]}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .allocate(
                &AllocateSpec::Zenlayer(spec()),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(&err, ProviderError::MalformedResponse { op, request_id: Some(id), .. }
                if *op == ALLOCATE_EIP_ADDRESSES && id == "T-3"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn allocate_rejects_other_kinds() {
        let provider = ZenlayerProvider::new(settings("http://127.0.0.1:9")).unwrap();
        let err = provider
            .allocate(
                &AllocateSpec::Aliyun(AliyunAllocate {
                    instance_id: "i-1".to_owned(),
                    ip_address: None,
                    vlan_id: None,
                    region_id: None,
                }),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Internal(_)), "{err:?}");
    }

    #[tokio::test]
    async fn api_error_is_mapped() {
        let (endpoint, server) = serve_once(
            404,
            "content-type: application/json\r\n",
            r#"{"requestId":"T-4","code":"INVALID_ZONE_NOT_FOUND","message":"The specified zoneId `SEL--A` is not found"}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .allocate(
                &AllocateSpec::Zenlayer(spec()),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        let ProviderError::Api(e) = err else {
            panic!("{err:?}");
        };
        assert_eq!(e.code, "INVALID_ZONE_NOT_FOUND");
        assert_eq!(e.http_status, 404);
        assert_eq!(e.op, ALLOCATE_EIP_ADDRESSES);
        assert_eq!(e.request_id.as_deref(), Some("T-4"));
    }

    #[tokio::test]
    async fn cloudflare_challenge_through_the_client() {
        let (endpoint, server) = serve_once(
            403,
            "cf-mitigated: challenge\r\ncontent-type: text/html\r\n",
            "<!DOCTYPE html><html><title>Just a moment...</title></html>",
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .get_allocation(
                &AllocationLookup {
                    id: "eip-1".to_owned(),
                    region_id: None,
                },
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        let ProviderError::Api(e) = err else {
            panic!("{err:?}");
        };
        assert_eq!(e.code, "SECURITY_CHALLENGE");
        assert_eq!(e.op, DESCRIBE_EIP_ADDRESSES);
    }

    #[tokio::test]
    async fn get_allocation_reads_one_eip() {
        let (endpoint, server) = serve_once(
            200,
            "",
            r#"{"requestId":"T-5","response":{"requestId":"T-5","totalCount":1,"dataSet":[{"eipId":"eip-1","zoneId":"SEL-A","ipAddress":"203.0.113.7","netmask":32,"instanceId":null,"eipStatus":"AVAILABLE","eipChargeType":"POSTPAID","period":null}]}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let allocation = provider
            .get_allocation(
                &AllocationLookup {
                    id: "eip-1".to_owned(),
                    region_id: None,
                },
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap();
        let captured = server.await.unwrap();
        captured.assert_signed();
        assert_eq!(captured.header("x-zc-action"), Some("DescribeEipAddresses"));
        assert_eq!(
            std::str::from_utf8(&captured.body).unwrap(),
            r#"{"eipIds":["eip-1"]}"#
        );
        assert_eq!(allocation.state, AllocationState::Ready);
        assert_eq!(allocation.ip_address.as_deref(), Some("203.0.113.7"));
        assert_eq!(allocation.provider_status, "AVAILABLE");
    }

    #[tokio::test]
    async fn get_allocation_empty_data_set_is_not_found() {
        let (endpoint, server) = serve_once(
            200,
            "",
            r#"{"requestId":"T-6","response":{"requestId":"T-6","totalCount":0,"dataSet":[]}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .get_allocation(
                &AllocationLookup {
                    id: "eip-404".to_owned(),
                    region_id: None,
                },
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        assert_eq!(
            err,
            ProviderError::NotFound {
                op: DESCRIBE_EIP_ADDRESSES,
                reason: "ALLOCATION_NOT_FOUND",
                message: "EIP eip-404 not found".to_owned(),
                request_id: Some("T-6".to_owned()),
            }
        );
    }

    #[tokio::test]
    async fn get_allocation_other_eip_only_is_malformed() {
        let (endpoint, server) = serve_once(
            200,
            "",
            r#"{"requestId":"T-7","response":{"requestId":"T-7","totalCount":1,"dataSet":[{"eipId":"eip-other","eipStatus":"AVAILABLE"}]}}"#,
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .get_allocation(
                &AllocationLookup {
                    id: "eip-1".to_owned(),
                    region_id: None,
                },
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(err, ProviderError::MalformedResponse { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn reconcile_request_uses_every_identifying_filter() {
        let mut prepaid = spec();
        prepaid.charge = ChargeType::Prepaid { period_months: 3 };
        prepaid.resource_group_id = Some("rg-1".to_owned());
        assert_eq!(
            serde_json::to_string(&reconcile_request(&prepaid, "k-1")).unwrap(),
            r#"{"eipChargeType":"PREPAID","zoneId":"SEL-A","resourceGroupId":"rg-1","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-1"}]}"#
        );
        // No resource group named: none filtered on (the default group's id
        // is the provider's to know), and no empty filter either.
        assert_eq!(
            serde_json::to_string(&reconcile_request(&spec(), "k-2")).unwrap(),
            r#"{"eipChargeType":"POSTPAID","zoneId":"SEL-A","pageSize":100,"tags":[{"key":"ipalloc-idempotency-key","value":"k-2"}]}"#
        );
    }

    async fn reconcile_against(
        body: &'static str,
    ) -> Result<Option<AllocateResult>, ProviderError> {
        let (endpoint, server) = serve_once(200, "", body).await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let result = provider
            .reconcile(
                &AllocateSpec::Zenlayer(spec()),
                "k-1",
                &crate::provider::CallContext::default(),
            )
            .await;
        let captured = server.await.unwrap();
        captured.assert_signed();
        assert_eq!(captured.header("x-zc-action"), Some("DescribeEipAddresses"));
        result
    }

    #[tokio::test]
    async fn reconcile_keeps_the_keys_eips_and_refuses_an_unfiltered_answer() {
        let found = reconcile_against(
            r#"{"requestId":"T-R1","response":{"requestId":"T-R1","totalCount":2,"dataSet":[
            {"eipId":"eip-b","zoneId":"SEL-A","eipStatus":"AVAILABLE","ipAddress":"1.2.3.4","tags":{"tags":[{"key":"ipalloc-idempotency-key","value":"k-1"}]}},
            {"eipId":"eip-a","eipStatus":"CREATING"}]}}"#,
        )
        .await
        .unwrap()
        .unwrap();
        let ids: Vec<&str> = found.allocations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            ["eip-a", "eip-b"],
            "sorted; fields left out cannot contradict"
        );
        assert_eq!(found.provider_request_id, "T-R1");

        let nothing = reconcile_against(
            r#"{"requestId":"T-R2","response":{"requestId":"T-R2","totalCount":0,"dataSet":[]}}"#,
        )
        .await
        .unwrap();
        assert_eq!(nothing, None, "an empty answer is a definite nothing");

        // Another key's EIP, or one in another zone: the filters were not
        // applied, so the answer is neither this key's EIPs nor a definite
        // "nothing exists".
        for body in [
            r#"{"requestId":"T-R3","response":{"requestId":"T-R3","dataSet":[{"eipId":"eip-x","zoneId":"SEL-A","tags":{"tags":[{"key":"ipalloc-idempotency-key","value":"k-2"}]}}]}}"#,
            r#"{"requestId":"T-R4","response":{"requestId":"T-R4","dataSet":[{"eipId":"eip-y","zoneId":"HKG-A"}]}}"#,
        ] {
            let err = reconcile_against(body).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::MalformedResponse { .. }),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("filters were not applied"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn html_error_page_is_malformed_without_url_or_secret() {
        let (endpoint, server) = serve_once(
            502,
            "content-type: text/html\r\n",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
        .await;
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .allocate(
                &AllocateSpec::Zenlayer(spec()),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(
                err,
                ProviderError::MalformedResponse {
                    http_status: 502,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(PASSWORD) && !text.contains(&endpoint),
            "{text}"
        );
    }

    #[tokio::test]
    async fn connection_refused_is_transport_not_sent() {
        // Bind and drop to get a port nobody listens on.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let endpoint = format!("http://127.0.0.1:{port}");
        let provider = ZenlayerProvider::new(settings(&endpoint)).unwrap();
        let err = provider
            .allocate(
                &AllocateSpec::Zenlayer(spec()),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap_err();
        let ProviderError::Transport(t) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(t.phase, crate::provider::error::SendPhase::NotSent);
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(PASSWORD) && !text.contains(&endpoint),
            "{text}"
        );
    }
}
