//! The Alibaba Cloud ECS provider: `AllocatePublicIpAddress` to allocate,
//! `DescribeInstanceAttribute` to read an instance's static public IP.
//!
//! Every call is `POST /` with all parameters in the URL query and an empty
//! body, signed afresh (new nonce, new timestamp) with RPC signature V1 or
//! V3 as configured. The query string is built here, with the signer's
//! encoder, so that it goes on the wire exactly as signed. The URL carries
//! credentials (AccessKeyId, Signature, SecurityToken), so it never appears
//! in an error or a log line.

use std::fmt;
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;
use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use uuid::Uuid;

use super::signer::{self, EMPTY_BODY_SHA256, SignError, V3Request};
use super::{API_VERSION, AliyunSettings, SignatureVersion, wire};
use crate::middleware::{self, AttemptRequest, ProviderLimits};
use crate::provider::error::ProviderError;
use crate::provider::http::{self, HttpResponse};
use crate::provider::model::{
    AllocateResult, AllocateSpec, Allocation, AllocationLookup, AllocationState, Capabilities,
    Operation, ProviderDescription, ProviderKind,
};
use crate::provider::{CallContext, Lane};

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
    /// cap, per-attempt timeout) down to [`Shared::send_attempt`], which signs it afresh.
    stack: BoxCloneSyncService<Attempt, HttpResponse, ProviderError>,
    shared: Arc<Shared>,
}

/// One attempt of one call: the action's parameters, signed afresh (new
/// nonce and timestamp) every time it reaches [`Shared::send_attempt`].
#[derive(Clone)]
pub struct Attempt {
    op: Operation,
    region: String,
    params: Vec<(&'static str, String)>,
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
        let name = &settings.name;
        if !is_valid_region(&settings.region) {
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
        let limits = ProviderLimits::new(&settings.resilience);
        let resilience = settings.resilience.clone();
        let shared = Arc::new(Shared {
            settings,
            client,
            default_base,
        });
        let innermost = Arc::clone(&shared);
        let send_one = tower::service_fn(move |attempt: Attempt| {
            let shared = Arc::clone(&innermost);
            async move { shared.send_attempt(attempt).await }
        });
        let stack = middleware::stack(send_one, &resilience, &limits);
        Ok(AliyunProvider {
            description,
            stack,
            shared,
        })
    }

    /// Pushes one call through the resilience stack; a non-2xx answer
    /// becomes an error.
    async fn call(
        &self,
        op: Operation,
        region: &str,
        params: &[(&'static str, &str)],
        ctx: &CallContext,
    ) -> Result<HttpResponse, ProviderError> {
        let attempt = Attempt {
            op,
            region: region.to_owned(),
            params: params
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned()))
                .collect(),
            deadline: ctx.deadline,
            lane: ctx.lane,
        };
        self.stack.clone().oneshot(attempt).await
    }

    fn region<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str, ProviderError> {
        self.shared.region(requested)
    }

    #[cfg(test)]
    fn build_request(
        &self,
        op: Operation,
        region: &str,
        params: &[(&'static str, &str)],
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        self.shared.build_request(op, region, params)
    }
}

impl Shared {
    /// The innermost service of the stack: signs one attempt afresh and
    /// sends it.
    async fn send_attempt(&self, attempt: Attempt) -> Result<HttpResponse, ProviderError> {
        let params: Vec<(&'static str, &str)> = attempt
            .params
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        self.send_once(attempt.op, &attempt.region, &params).await
    }

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
            Some(region) if is_valid_region(region) => Ok(region),
            Some(region) => Err(ProviderError::Internal(format!(
                "invalid region id {region:?}"
            ))),
        }
    }

    /// A signed request for `op` with `params` (the action's own
    /// parameters), ready to send.
    fn build_request(
        &self,
        op: Operation,
        region: &str,
        params: &[(&'static str, &str)],
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let mut url = self.base_url(region)?;
        let timestamp = format_timestamp(OffsetDateTime::now_utc());
        let credentials = &self.settings.credentials;
        let secret = credentials.access_key_secret.expose();
        let mut headers = HeaderMap::with_capacity(10);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

        match self.settings.signature {
            SignatureVersion::V1 => {
                // As aliyun-python-sdk-core sends V1: 32 hex digits of nonce,
                // the client's region injected as RegionId, an empty (signed)
                // SignatureType, and the action and version repeated in
                // x-acs-* headers.
                let nonce = Uuid::new_v4().simple().to_string();
                let mut signed: Vec<(&str, &str)> = Vec::with_capacity(11 + params.len());
                signed.extend_from_slice(&[
                    ("Action", op.name),
                    ("Version", API_VERSION),
                    ("Format", "JSON"),
                    ("AccessKeyId", credentials.access_key_id.as_str()),
                    ("SignatureMethod", signer::V1_SIGNATURE_METHOD),
                    ("SignatureType", ""),
                    ("SignatureVersion", signer::V1_SIGNATURE_VERSION),
                    ("SignatureNonce", nonce.as_str()),
                    ("Timestamp", timestamp.as_str()),
                    ("RegionId", region),
                ]);
                if let Some(token) = &credentials.security_token {
                    signed.push(("SecurityToken", token.expose()));
                }
                signed.extend_from_slice(params);
                let query = signer::sign_v1(METHOD, &signed, secret)
                    .map_err(sign_error)?
                    .into_query();
                url.set_query(Some(&query));
                headers.insert(
                    HeaderName::from_static("x-acs-action"),
                    header_value("x-acs-action", op.name, false)?,
                );
                headers.insert(
                    HeaderName::from_static("x-acs-version"),
                    HeaderValue::from_static(API_VERSION),
                );
            }
            SignatureVersion::V3 => {
                // As alibabacloud-ecs20140526 sends V3: only the action's own
                // parameters in the query (no RegionId: the endpoint names
                // the region).
                let nonce = Uuid::new_v4().simple().to_string();
                let host = host_header(&url)?;
                let query: &[(&str, &str)] = params;
                let mut signed_headers: Vec<(&'static str, &str)> = Vec::with_capacity(8);
                signed_headers.extend_from_slice(&[
                    ("host", host.as_str()),
                    ("x-acs-action", op.name),
                    ("x-acs-version", API_VERSION),
                    ("x-acs-date", timestamp.as_str()),
                    ("x-acs-signature-nonce", nonce.as_str()),
                    ("x-acs-content-sha256", EMPTY_BODY_SHA256),
                ]);
                if let Some(token) = &credentials.security_token {
                    signed_headers.push(("x-acs-accesskey-id", credentials.access_key_id.as_str()));
                    signed_headers.push(("x-acs-security-token", token.expose()));
                }
                let signature = signer::sign_v3(
                    &V3Request {
                        method: METHOD,
                        query,
                        headers: &signed_headers,
                        hashed_payload: EMPTY_BODY_SHA256,
                    },
                    &credentials.access_key_id,
                    secret,
                )
                .map_err(sign_error)?;
                url.set_query(Some(&signature.canonical_query));
                for &(name, value) in &signed_headers {
                    let sensitive = name == "x-acs-security-token";
                    headers.insert(
                        HeaderName::from_static(name),
                        header_value(name, value, sensitive)?,
                    );
                }
                headers.insert(
                    AUTHORIZATION,
                    header_value("authorization", &signature.authorization, true)?,
                );
            }
        }
        Ok(self.client.post(url).headers(headers))
    }

    /// Signs and sends one attempt; a non-2xx answer becomes an error.
    async fn send_once(
        &self,
        op: Operation,
        region: &str,
        params: &[(&'static str, &str)],
    ) -> Result<HttpResponse, ProviderError> {
        let instance_id = params
            .iter()
            .find(|(name, _)| *name == "InstanceId")
            .map_or("", |(_, value)| *value);
        let request = self.build_request(op, region, params)?;
        tracing::debug!(
            provider = %self.settings.name,
            action = op.name,
            instance_id,
            region,
            "sending aliyun request"
        );
        let response = match http::send(op, request).await {
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

#[async_trait::async_trait]
impl crate::provider::Provider for AliyunProvider {
    fn description(&self) -> &ProviderDescription {
        &self.description
    }

    async fn allocate(
        &self,
        spec: &AllocateSpec,
        ctx: &CallContext,
    ) -> Result<AllocateResult, ProviderError> {
        let AllocateSpec::Aliyun(spec) = spec else {
            return Err(ProviderError::Internal(format!(
                "aliyun provider {:?} received a {} allocation request",
                self.shared.settings.name,
                spec.kind()
            )));
        };
        let op = ALLOCATE_PUBLIC_IP_ADDRESS;
        let region = self.region(spec.region_id.as_deref())?;
        let mut params: Vec<(&'static str, &str)> = Vec::with_capacity(3);
        params.push(("InstanceId", spec.instance_id.as_str()));
        if let Some(ip) = &spec.ip_address {
            params.push(("IpAddress", ip.as_str()));
        }
        if let Some(vlan) = &spec.vlan_id {
            params.push(("VlanId", vlan.as_str()));
        }

        let response = self.call(op, region, &params, ctx).await?;
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
        let region = self.region(lookup.region_id.as_deref())?;
        let instance_id = lookup.id.as_str();
        let response = self
            .call(op, region, &[("InstanceId", instance_id)], ctx)
            .await?;
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
        let Some(ip) = body.public_ip() else {
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
        };
        let non_empty = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
        Ok(Allocation {
            id: lookup.id.clone(),
            ip_address: Some(ip.to_owned()),
            state: AllocationState::Ready,
            provider_status: body.status.clone(),
            zone_id: non_empty(&body.zone_id),
            region_id: non_empty(&body.region_id).or_else(|| Some(region.to_owned())),
            requires_instance_restart: true,
            instance_id: non_empty(&body.instance_id).or_else(|| Some(lookup.id.clone())),
            failure_reason: None,
            netmask: None,
        })
    }

    /// One instance per allocation: ids are looked up one by one.
    async fn get_allocations(
        &self,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let lookup = AllocationLookup {
                id: id.clone(),
                region_id: None,
            };
            match self.get_allocation(&lookup, ctx).await {
                Ok(allocation) => found.push(allocation),
                Err(ProviderError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
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
        let AllocateSpec::Aliyun(spec) = spec else {
            return Err(ProviderError::Internal(format!(
                "aliyun provider {:?} received a {} reconciliation",
                self.shared.settings.name,
                spec.kind()
            )));
        };
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
}

/// A region id safe to put into a host name: ASCII letters, digits, `-`.
fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `https://ecs.<region>.aliyuncs.com/` (the region must be valid).
fn regional_url(region: &str) -> Result<Url, ProviderError> {
    Url::parse(&format!("https://ecs.{region}.aliyuncs.com/"))
        .map_err(|_| ProviderError::Internal(format!("invalid region id {region:?}")))
}

/// The endpoint override: an `http(s)` base URL without credentials; the
/// path is always `/`.
fn parse_endpoint(name: &str, endpoint: &str) -> Result<Url, ProviderError> {
    let invalid =
        |why: &str| ProviderError::Internal(format!("aliyun provider {name:?}: endpoint {why}"));
    let mut url =
        Url::parse(endpoint.trim()).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The `host` header V3 signs: the URL's host, plus `:port` when the URL
/// names a non-default port (what the HTTP client would send).
fn host_header(url: &Url) -> Result<String, ProviderError> {
    let host = url
        .host_str()
        .ok_or_else(|| ProviderError::Internal("the endpoint URL has no host".to_owned()))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// UTC ISO 8601 as Alibaba wants it: `%Y-%m-%dT%H:%M:%SZ`.
fn format_timestamp(now: OffsetDateTime) -> String {
    let utc = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

fn header_value(name: &str, value: &str, sensitive: bool) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        // Never echo the value: it may be the STS token.
        ProviderError::Internal(format!("the {name} header value is not valid HTTP"))
    })?;
    value.set_sensitive(sensitive);
    Ok(value)
}

fn sign_error(error: SignError) -> ProviderError {
    ProviderError::Internal(format!("signing the request: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::Secret;
    use crate::provider::Provider;
    use crate::provider::aliyun::AliyunCredentials;
    use crate::provider::model::{AliyunAllocate, HttpSettings, ZenlayerAllocate};
    use percent_encoding::percent_decode_str;
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    const SECRET: &str = "TopSecret/Value+=-7f3e";
    const TOKEN: &str = "CAIS+sts/token==value";

    fn settings(
        signature: SignatureVersion,
        sts: bool,
        endpoint: Option<String>,
    ) -> AliyunSettings {
        AliyunSettings {
            name: "ali-test".into(),
            region: "cn-hangzhou".into(),
            endpoint,
            signature,
            credentials: AliyunCredentials {
                access_key_id: "LTAI5tExampleAkId0001".into(),
                access_key_secret: Secret::new(SECRET),
                security_token: sts.then(|| Secret::new(TOKEN)),
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

    fn provider(signature: SignatureVersion, sts: bool) -> AliyunProvider {
        AliyunProvider::new(settings(signature, sts, None)).unwrap()
    }

    fn decode(text: &str) -> String {
        percent_decode_str(text).decode_utf8().unwrap().into_owned()
    }

    /// The query of a built request, decoded, in wire order.
    fn query_pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect()
    }

    /// Recomputes the V1 signature of a wire query and checks it.
    fn assert_v1_query_verifies(method: &str, query: &str, secret: &str) {
        let pairs = query_pairs(query);
        let (last_name, signature) = pairs.last().unwrap();
        assert_eq!(last_name, "Signature", "Signature comes last");
        let signed: Vec<(&str, &str)> = pairs[..pairs.len() - 1]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let expected = signer::sign_v1(method, &signed, secret).unwrap();
        assert_eq!(&expected.signature, signature);
        // Sent exactly as signed.
        assert!(query.starts_with(&expected.canonical_query));
    }

    /// Recomputes the V3 signature from the request as built.
    fn assert_v3_request_verifies(request: &reqwest::Request, secret: &str) {
        let authorization = request.headers()[AUTHORIZATION].to_str().unwrap();
        let signed_names = authorization
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let headers: Vec<(&str, &str)> = signed_names
            .split(';')
            .map(|name| (name, request.headers()[name].to_str().unwrap()))
            .collect();
        let query = query_pairs(request.url().query().unwrap());
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let credential = authorization
            .split("Credential=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let expected = signer::sign_v3(
            &V3Request {
                method: request.method().as_str(),
                query: &query,
                headers: &headers,
                hashed_payload: request.headers()["x-acs-content-sha256"].to_str().unwrap(),
            },
            credential,
            secret,
        )
        .unwrap();
        assert_eq!(expected.authorization, authorization);
        assert_eq!(request.url().query().unwrap(), expected.canonical_query);
    }

    // ----- request building -----

    #[test]
    fn v1_request_carries_every_parameter_signed() {
        for sts in [false, true] {
            let provider = provider(SignatureVersion::V1, sts);
            let request = provider
                .build_request(
                    ALLOCATE_PUBLIC_IP_ADDRESS,
                    "cn-beijing",
                    &[
                        ("InstanceId", "i-2ze0example0000002"),
                        ("IpAddress", "47.95.10.20"),
                        ("VlanId", "100 *~"),
                    ],
                )
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(request.method(), "POST");
            assert!(request.body().is_none_or(|b| b.as_bytes() == Some(&[][..])));
            assert_eq!(request.url().scheme(), "https");
            assert_eq!(
                request.url().host_str(),
                Some("ecs.cn-beijing.aliyuncs.com")
            );
            assert_eq!(request.url().path(), "/");
            let query = request.url().query().unwrap();
            assert!(!query.contains('+') && !query.contains(' '), "{query}");
            let params: BTreeMap<String, String> = query_pairs(query).into_iter().collect();
            assert_eq!(params["Action"], "AllocatePublicIpAddress");
            assert_eq!(params["Version"], "2014-05-26");
            assert_eq!(params["Format"], "JSON");
            assert_eq!(params["AccessKeyId"], "LTAI5tExampleAkId0001");
            assert_eq!(params["SignatureMethod"], "HMAC-SHA1");
            assert_eq!(params["SignatureVersion"], "1.0");
            assert_eq!(params["RegionId"], "cn-beijing");
            assert_eq!(params["InstanceId"], "i-2ze0example0000002");
            assert_eq!(params["IpAddress"], "47.95.10.20");
            assert_eq!(params["VlanId"], "100 *~");
            // 32 lowercase hex digits, as both official SDKs send.
            let nonce = &params["SignatureNonce"];
            assert_eq!(nonce.len(), 32, "{nonce}");
            assert!(
                nonce
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            // The legacy SDK's empty, signed SignatureType.
            assert_eq!(params["SignatureType"], "");
            let ts = &params["Timestamp"];
            assert!(
                time::PrimitiveDateTime::parse(
                    ts.trim_end_matches('Z'),
                    &time::format_description::well_known::Iso8601::DEFAULT
                )
                .is_ok(),
                "{ts}"
            );
            assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
            assert_eq!(
                params.get("SecurityToken").map(String::as_str),
                sts.then_some(TOKEN)
            );
            assert_eq!(params.len(), 14 + usize::from(sts));
            assert_v1_query_verifies("POST", query, SECRET);
            assert!(!query.contains(SECRET));
            // No signing headers in V1; the action and version repeated as
            // the SDKs repeat them.
            assert!(request.headers().get(AUTHORIZATION).is_none());
            assert_eq!(request.headers()["x-acs-action"], "AllocatePublicIpAddress");
            assert_eq!(request.headers()["x-acs-version"], "2014-05-26");
        }
    }

    #[test]
    fn every_call_is_signed_afresh() {
        for signature in [SignatureVersion::V1, SignatureVersion::V3] {
            let provider = provider(signature, false);
            let build = || {
                provider
                    .build_request(
                        DESCRIBE_INSTANCE_ATTRIBUTE,
                        "cn-hangzhou",
                        &[("InstanceId", "i-1")],
                    )
                    .unwrap()
                    .build()
                    .unwrap()
            };
            let (a, b) = (build(), build());
            match signature {
                // The nonce (and so the signature) is in the query.
                SignatureVersion::V1 => assert_ne!(a.url().query(), b.url().query()),
                SignatureVersion::V3 => {
                    assert_ne!(
                        a.headers()["x-acs-signature-nonce"],
                        b.headers()["x-acs-signature-nonce"]
                    );
                    assert_ne!(a.headers()[AUTHORIZATION], b.headers()[AUTHORIZATION]);
                }
            }
        }
    }

    #[test]
    fn v3_request_headers_and_query() {
        for sts in [false, true] {
            let provider = provider(SignatureVersion::V3, sts);
            let request = provider
                .build_request(
                    ALLOCATE_PUBLIC_IP_ADDRESS,
                    "cn-hangzhou",
                    &[("InstanceId", "i-bp1abcdefghijk123456"), ("VlanId", "a b")],
                )
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(request.method(), "POST");
            assert_eq!(
                request.url().query(),
                Some("InstanceId=i-bp1abcdefghijk123456&VlanId=a%20b")
            );
            let headers = request.headers();
            assert_eq!(headers["host"], "ecs.cn-hangzhou.aliyuncs.com");
            assert_eq!(headers["x-acs-action"], "AllocatePublicIpAddress");
            assert_eq!(headers["x-acs-version"], "2014-05-26");
            assert_eq!(headers["x-acs-content-sha256"], EMPTY_BODY_SHA256);
            let nonce = headers["x-acs-signature-nonce"].to_str().unwrap();
            assert_eq!(nonce.len(), 32);
            assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(headers["x-acs-date"].to_str().unwrap().len(), 20);
            assert_eq!(headers[ACCEPT], "application/json");
            let authorization = headers[AUTHORIZATION].to_str().unwrap();
            assert!(headers[AUTHORIZATION].is_sensitive());
            if sts {
                assert_eq!(headers["x-acs-security-token"], TOKEN);
                assert!(headers["x-acs-security-token"].is_sensitive());
                assert_eq!(headers["x-acs-accesskey-id"], "LTAI5tExampleAkId0001");
                assert!(authorization.contains(
                    "SignedHeaders=host;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
                ));
            } else {
                assert!(headers.get("x-acs-security-token").is_none());
                assert!(headers.get("x-acs-accesskey-id").is_none());
                assert!(authorization.contains(
                    "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
                ));
            }
            assert!(
                authorization.starts_with("ACS3-HMAC-SHA256 Credential=LTAI5tExampleAkId0001,")
            );
            assert_v3_request_verifies(&request, SECRET);
        }
    }

    #[test]
    fn v3_host_header_includes_an_explicit_port() {
        let endpoint = Some("http://127.0.0.1:8081".to_owned());
        let provider =
            AliyunProvider::new(settings(SignatureVersion::V3, false, endpoint)).unwrap();
        let request = provider
            .build_request(
                ALLOCATE_PUBLIC_IP_ADDRESS,
                "cn-beijing",
                &[("InstanceId", "i-1")],
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(request.headers()["host"], "127.0.0.1:8081");
        assert_eq!(
            request.url().as_str().split('?').next(),
            Some("http://127.0.0.1:8081/")
        );
        assert_v3_request_verifies(&request, SECRET);

        let url = Url::parse("https://ecs.cn-hangzhou.aliyuncs.com:443/").unwrap();
        assert_eq!(host_header(&url).unwrap(), "ecs.cn-hangzhou.aliyuncs.com");
        let url = Url::parse("http://[::1]:9000/").unwrap();
        assert_eq!(host_header(&url).unwrap(), "[::1]:9000");
    }

    #[test]
    fn endpoint_resolution() {
        let provider = provider(SignatureVersion::V1, false);
        assert_eq!(
            provider.shared.base_url("cn-hangzhou").unwrap().as_str(),
            "https://ecs.cn-hangzhou.aliyuncs.com/"
        );
        assert_eq!(
            provider.shared.base_url("ap-southeast-1").unwrap().as_str(),
            "https://ecs.ap-southeast-1.aliyuncs.com/"
        );
        assert_eq!(provider.region(None).unwrap(), "cn-hangzhou");
        assert_eq!(provider.region(Some("")).unwrap(), "cn-hangzhou");
        assert_eq!(provider.region(Some("us-west-1")).unwrap(), "us-west-1");
        for bad in ["evil.com/x?", "a b", "cn-hangzhou.attacker", "-x", "ü"] {
            assert!(provider.region(Some(bad)).is_err(), "{bad}");
        }

        let endpoint = Some("http://127.0.0.1:9/some/path?x=1#f".to_owned());
        let provider =
            AliyunProvider::new(settings(SignatureVersion::V1, false, endpoint)).unwrap();
        assert_eq!(
            provider.shared.base_url("eu-central-1").unwrap().as_str(),
            "http://127.0.0.1:9/"
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let mut bad_region = settings(SignatureVersion::V1, false, None);
        bad_region.region = "cn-hangzhou/evil".into();
        assert!(AliyunProvider::new(bad_region).is_err());

        for endpoint in [
            "not a url",
            "ftp://host/",
            "http://user:pw@host/",
            "file:///tmp",
        ] {
            let result = AliyunProvider::new(settings(
                SignatureVersion::V1,
                false,
                Some(endpoint.to_owned()),
            ));
            let error = result.unwrap_err().to_string();
            assert!(!error.contains("pw@"), "{error}");
        }

        let mut no_secret = settings(SignatureVersion::V1, false, None);
        no_secret.credentials.access_key_secret = Secret::new("");
        assert!(AliyunProvider::new(no_secret).is_err());
    }

    #[test]
    fn description_per_signature() {
        let v1 = provider(SignatureVersion::V1, false);
        let d = v1.description();
        assert_eq!(d.name, "ali-test");
        assert_eq!(d.kind, ProviderKind::Aliyun);
        assert_eq!(d.region.as_deref(), Some("cn-hangzhou"));
        assert_eq!(d.endpoint, "https://ecs.cn-hangzhou.aliyuncs.com/");
        assert_eq!(
            d.capabilities,
            Capabilities {
                max_allocations_per_request: 1,
                asynchronous: false,
                requires_instance: true,
                requires_instance_restart: true,
                charge_types: vec![],
                api_version: "ecs/2014-05-26".into(),
                signature: "HMAC-SHA1 (RPC signature V1)".into(),
            }
        );
        let endpoint = Some("http://127.0.0.1:8081".to_owned());
        let v3 = AliyunProvider::new(settings(SignatureVersion::V3, true, endpoint)).unwrap();
        assert_eq!(v3.description().endpoint, "http://127.0.0.1:8081");
        assert_eq!(
            v3.description().capabilities.signature,
            "ACS3-HMAC-SHA256 (signature V3)"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let provider = provider(SignatureVersion::V3, true);
        let debug = format!("{provider:?} {provider:#?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("ali-test"));
    }

    #[test]
    fn timestamp_format() {
        let t = time::macros::datetime!(2024-05-01 08:30:00 UTC);
        assert_eq!(format_timestamp(t), "2024-05-01T08:30:00Z");
        let t = time::macros::datetime!(2024-01-02 03:04:05.999 +08:00);
        assert_eq!(format_timestamp(t), "2024-01-01T19:04:05Z");
    }

    #[test]
    fn invalid_header_values_are_internal_errors_without_the_value() {
        let error = header_value("x-acs-security-token", "bad\nvalue-secret", true).unwrap_err();
        assert!(matches!(error, ProviderError::Internal(_)));
        assert!(!error.to_string().contains("value-secret"));
    }

    // ----- end to end against a local HTTP server -----

    struct Canned {
        status: u16,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
    }

    /// Serves one canned response per connection, in order, and returns the
    /// raw request heads it received.
    fn serve(responses: Vec<Canned>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for canned in responses {
                let (mut socket, _) = listener.accept().unwrap();
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut chunk).unwrap();
                    assert!(n > 0, "connection closed before the request head");
                    buffer.extend_from_slice(&chunk[..n]);
                }
                heads.push(String::from_utf8(buffer).unwrap());
                let mut response = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    canned.status,
                    canned.body.len()
                );
                for (name, value) in canned.headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(canned.body);
                socket.write_all(response.as_bytes()).unwrap();
                socket.flush().unwrap();
            }
            heads
        });
        (base, handle)
    }

    fn local_provider(signature: SignatureVersion, sts: bool, base: &str) -> AliyunProvider {
        AliyunProvider::new(settings(signature, sts, Some(base.to_owned()))).unwrap()
    }

    fn aliyun_spec(region: Option<&str>) -> AllocateSpec {
        AllocateSpec::Aliyun(AliyunAllocate {
            instance_id: "i-bp1abcdefghijk123456".into(),
            ip_address: None,
            vlan_id: None,
            region_id: region.map(str::to_owned),
        })
    }

    /// The request target's query and the lowercase headers of a raw head.
    fn parse_head(head: &str) -> (String, String, BTreeMap<String, String>) {
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap().to_owned();
        let target = parts.next().unwrap();
        let (path, query) = target.split_once('?').unwrap();
        assert_eq!(path, "/");
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        (method, query.to_owned(), headers)
    }

    #[tokio::test]
    async fn allocate_success_v1_end_to_end() {
        let (base, server) = serve(vec![Canned {
            status: 200,
            headers: &[("content-type", "application/json;charset=utf-8")],
            body: r#"{"RequestId":"F2EF6A3B-E345-46B9-931E-0EA094818567","IpAddress":"47.95.10.20"}"#,
        }]);
        let provider = local_provider(SignatureVersion::V1, true, &base);
        let result = provider
            .allocate(
                &aliyun_spec(Some("cn-beijing")),
                &crate::provider::CallContext::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            result,
            AllocateResult {
                provider_request_id: "F2EF6A3B-E345-46B9-931E-0EA094818567".into(),
                order_number: None,
                allocations: vec![Allocation {
                    id: "i-bp1abcdefghijk123456".into(),
                    ip_address: Some("47.95.10.20".into()),
                    state: AllocationState::Ready,
                    provider_status: String::new(),
                    zone_id: None,
                    region_id: Some("cn-beijing".into()),
                    requires_instance_restart: true,
                    instance_id: Some("i-bp1abcdefghijk123456".into()),
                    failure_reason: None,
                    netmask: None,
                }],
            }
        );
        let heads = server.join().unwrap();
        let (method, query, headers) = parse_head(&heads[0]);
        assert_eq!(method, "POST");
        assert_v1_query_verifies("POST", &query, SECRET);
        let params: BTreeMap<String, String> = query_pairs(&query).into_iter().collect();
        assert_eq!(params["RegionId"], "cn-beijing");
        assert_eq!(params["SecurityToken"], TOKEN);
        assert_eq!(
            headers
                .get("content-length")
                .map(String::as_str)
                .unwrap_or("0"),
            "0"
        );
    }

    #[tokio::test]
    async fn allocate_success_v3_end_to_end() {
        let (base, server) = serve(vec![Canned {
            status: 200,
            headers: &[],
            body: r#"{"RequestId":"R-3","IpAddress":"47.95.10.21"}"#,
        }]);
        let provider = local_provider(SignatureVersion::V3, true, &base);
        let result = provider
            .allocate(&aliyun_spec(None), &crate::provider::CallContext::default())
            .await
            .unwrap();
        assert_eq!(result.provider_request_id, "R-3");
        assert_eq!(
            result.allocations[0].region_id.as_deref(),
            Some("cn-hangzhou")
        );

        let heads = server.join().unwrap();
        let (method, query, headers) = parse_head(&heads[0]);
        assert_eq!(method, "POST");
        assert_eq!(query, "InstanceId=i-bp1abcdefghijk123456");
        assert_eq!(headers["host"], base.trim_start_matches("http://"));
        let authorization = &headers["authorization"];
        let signed_names = authorization
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let signed: Vec<(&str, &str)> = signed_names
            .split(';')
            .map(|name| (name, headers[name].as_str()))
            .collect();
        let query = query_pairs(&query);
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let expected = signer::sign_v3(
            &V3Request {
                method: "POST",
                query: &query,
                headers: &signed,
                hashed_payload: EMPTY_BODY_SHA256,
            },
            "LTAI5tExampleAkId0001",
            SECRET,
        )
        .unwrap();
        assert_eq!(&expected.authorization, authorization);
    }

    #[tokio::test]
    async fn allocate_api_error_keeps_code_request_id_and_retry_after() {
        let (base, server) = serve(vec![Canned {
            status: 400,
            headers: &[("x-acs-retry-after", "1500")],
            body: r#"{"RequestId":"R-T","HostId":"ecs.cn-hangzhou.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"https://api.aliyun.com/troubleshoot?q=Throttling.User"}"#,
        }]);
        let provider = local_provider(SignatureVersion::V1, false, &base);
        let error = provider
            .allocate(&aliyun_spec(None), &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        let ProviderError::Api(api) = &error else {
            panic!("expected Api, got {error:?}")
        };
        assert_eq!(api.op, ALLOCATE_PUBLIC_IP_ADDRESS);
        assert_eq!(api.http_status, 400);
        assert_eq!(api.code, "Throttling.User");
        assert_eq!(api.request_id.as_deref(), Some("R-T"));
        assert_eq!(api.retry_after, Some(Duration::from_millis(1500)));
        let text = error.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("Signature=") && !text.contains("127.0.0.1")
        );
        server.join().unwrap();
    }

    #[tokio::test]
    async fn proxy_html_page_is_malformed() {
        let (base, server) = serve(vec![
            Canned {
                status: 502,
                headers: &[("content-type", "text/html")],
                body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
            },
            Canned {
                status: 200,
                headers: &[],
                body: r#"{"RequestId":"R-4"}"#,
            },
        ]);
        let provider = local_provider(SignatureVersion::V1, false, &base);
        let error = provider
            .allocate(&aliyun_spec(None), &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ProviderError::MalformedResponse { http_status: 502, detail, .. } if detail.contains("502 Bad Gateway")),
            "{error:?}"
        );
        let error = provider
            .allocate(&aliyun_spec(None), &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ProviderError::MalformedResponse { http_status: 200, request_id: Some(id), .. } if id == "R-4"),
            "{error:?}"
        );
        server.join().unwrap();
    }

    #[tokio::test]
    async fn get_allocation_with_public_ip() {
        let (base, server) = serve(vec![Canned {
            status: 200,
            headers: &[],
            body: r#"{"RequestId":"R-5","InstanceId":"i-1","RegionId":"cn-shanghai","ZoneId":"cn-shanghai-b","Status":"Running",
                     "PublicIpAddress":{"IpAddress":["47.95.10.20"]},"EipAddress":{"IpAddress":"","AllocationId":""},
                     "OperationLocks":{"LockReason":[]},"InternetMaxBandwidthOut":5}"#,
        }]);
        let provider = local_provider(SignatureVersion::V3, false, &base);
        let lookup = AllocationLookup {
            id: "i-1".into(),
            region_id: Some("cn-shanghai".into()),
        };
        let allocation = provider
            .get_allocation(&lookup, &crate::provider::CallContext::default())
            .await
            .unwrap();
        assert_eq!(
            allocation,
            Allocation {
                id: "i-1".into(),
                ip_address: Some("47.95.10.20".into()),
                state: AllocationState::Ready,
                provider_status: "Running".into(),
                zone_id: Some("cn-shanghai-b".into()),
                region_id: Some("cn-shanghai".into()),
                requires_instance_restart: true,
                instance_id: Some("i-1".into()),
                failure_reason: None,
                netmask: None,
            }
        );
        let heads = server.join().unwrap();
        let (_, query, headers) = parse_head(&heads[0]);
        assert_eq!(query, "InstanceId=i-1", "V3 sends no RegionId");
        assert_eq!(headers["x-acs-action"], "DescribeInstanceAttribute");
    }

    #[tokio::test]
    async fn get_allocation_without_public_ip_is_not_found() {
        let (base, server) = serve(vec![
            Canned {
                status: 200,
                headers: &[],
                body: r#"{"RequestId":"R-6","InstanceId":"i-2","Status":"Stopped","PublicIpAddress":{"IpAddress":[]}}"#,
            },
            Canned {
                status: 200,
                headers: &[],
                body: r#"{"RequestId":"R-7","InstanceId":"i-2","PublicIpAddress":{"IpAddress":[]},"EipAddress":{"IpAddress":"121.40.1.2","AllocationId":"eip-1"}}"#,
            },
        ]);
        let provider = local_provider(SignatureVersion::V1, false, &base);
        let lookup = AllocationLookup {
            id: "i-2".into(),
            region_id: None,
        };
        let error = provider
            .get_allocation(&lookup, &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ProviderError::NotFound {
                op: DESCRIBE_INSTANCE_ATTRIBUTE,
                reason: "PUBLIC_IP_NOT_ALLOCATED",
                message: "instance i-2 has no static public IP".into(),
                request_id: Some("R-6".into()),
            }
        );
        let error = provider
            .get_allocation(&lookup, &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        let ProviderError::NotFound {
            message,
            request_id,
            ..
        } = &error
        else {
            panic!("expected NotFound, got {error:?}")
        };
        assert!(message.contains("121.40.1.2"), "{message}");
        assert_eq!(request_id.as_deref(), Some("R-7"));
        server.join().unwrap();
    }

    #[tokio::test]
    async fn get_allocation_api_error() {
        let (base, server) = serve(vec![Canned {
            status: 404,
            headers: &[("content-type", "text/xml;charset=utf-8")],
            body: "<Error><RequestId>R-8</RequestId><HostId>ecs.aliyuncs.com</HostId><Code>InvalidInstanceId.NotFound</Code><Message>The specified InstanceId does not exist.</Message></Error>",
        }]);
        let provider = local_provider(SignatureVersion::V1, false, &base);
        let lookup = AllocationLookup {
            id: "i-missing".into(),
            region_id: None,
        };
        let error = provider
            .get_allocation(&lookup, &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        let ProviderError::Api(api) = &error else {
            panic!("expected Api, got {error:?}")
        };
        assert_eq!(api.op, DESCRIBE_INSTANCE_ATTRIBUTE);
        assert_eq!(api.code, "InvalidInstanceId.NotFound");
        assert_eq!(api.request_id.as_deref(), Some("R-8"));
        server.join().unwrap();
    }

    #[tokio::test]
    async fn wrong_spec_kind_is_internal() {
        let provider = provider(SignatureVersion::V1, false);
        let spec = AllocateSpec::Zenlayer(ZenlayerAllocate {
            zone_id: "z".into(),
            charge: crate::provider::model::ChargeType::Postpaid,
            resource_group_id: None,
            amount: 1,
            netmask: 32,
            amount_set: true,
            netmask_set: true,
            discount_code: None,
            use_poc_voucher: false,
            tags: vec![],
        });
        assert!(matches!(
            provider
                .allocate(&spec, &crate::provider::CallContext::default())
                .await,
            Err(ProviderError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error_without_url() {
        // Bind then drop a listener to get a port nobody listens on.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let provider = local_provider(SignatureVersion::V1, true, &base);
        let error = provider
            .allocate(&aliyun_spec(None), &crate::provider::CallContext::default())
            .await
            .unwrap_err();
        let ProviderError::Transport(transport) = &error else {
            panic!("expected Transport, got {error:?}")
        };
        assert_eq!(transport.phase, crate::provider::error::SendPhase::NotSent);
        let text = format!("{error} {error:?}");
        for leak in [
            "Signature",
            "SecurityToken",
            "AccessKeyId",
            SECRET,
            "sts%2Ftoken",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
}
