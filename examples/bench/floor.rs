//! The floor: the least a server of the same API can do per call. A tonic
//! server of `ipalloc.v1.IpAllocation` whose AllocateIp and GetAllocation
//! make ONE reqwest call to the fake provider and parse its JSON answer with
//! serde_json, nothing else (no validation, signing, store, retries, rate
//! limits or logs). It runs as a child process (`bench --serve-floor URL`)
//! so its CPU and memory are its own: it prints `PORT <n>` and serves until
//! its stdin closes.

use std::io::{BufRead, Write};

use ipalloc_gateway::pb;
use ipalloc_gateway::pb::allocate_ip_request::Params;
use ipalloc_gateway::pb::ip_allocation_server::{IpAllocation, IpAllocationServer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::BoxError;

/// Serves the floor in front of the fake provider at `provider`.
pub async fn serve(provider: &str) -> Result<(), BoxError> {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?)?.with_nodelay(Some(true));
    println!("PORT {}", incoming.local_addr()?.port());
    std::io::stdout().flush()?;
    std::thread::spawn(|| {
        // The parent closes our stdin when it is done (or gone).
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    // reqwest is built without a bundled crypto provider (the fake
    // provider is plain HTTP, but the client needs one to be built).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let floor = Floor {
        http,
        provider: provider.trim_end_matches('/').to_owned(),
    };
    tonic::transport::Server::builder()
        .add_service(IpAllocationServer::new(floor))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

struct Floor {
    http: reqwest::Client,
    provider: String,
}

#[derive(Deserialize)]
struct ZenlayerEnvelope<T> {
    response: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZenlayerAllocated {
    request_id: String,
    eip_id_set: Vec<String>,
    order_number: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZenlayerDescribed {
    data_set: Vec<ZenlayerEip>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZenlayerEip {
    eip_id: String,
    zone_id: String,
    ip_address: String,
    netmask: u32,
    eip_status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliyunAllocated {
    request_id: String,
    ip_address: String,
}

impl Floor {
    /// The one provider call: POST, then the answer's JSON.
    async fn post<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Status> {
        let unavailable = |e: reqwest::Error| Status::unavailable(e.to_string());
        let body = request
            .send()
            .await
            .map_err(unavailable)?
            .bytes()
            .await
            .map_err(unavailable)?;
        serde_json::from_slice(&body).map_err(|e| Status::internal(e.to_string()))
    }

    fn zenlayer(&self, action: &'static str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/api/v2/bmc", self.provider))
            .header("x-zc-action", action)
            .header("content-type", "application/json")
            .body(body.to_string())
    }
}

#[async_trait::async_trait]
impl IpAllocation for Floor {
    type WatchAllocationStream = tokio_stream::Empty<Result<pb::Allocation, Status>>;

    async fn allocate_ip(
        &self,
        request: Request<pb::AllocateIpRequest>,
    ) -> Result<Response<pb::AllocateIpResponse>, Status> {
        let request = request.into_inner();
        match request.params {
            Some(Params::Zenlayer(p)) => {
                let tags: Vec<_> = p
                    .tags
                    .iter()
                    .map(|t| serde_json::json!({"key": t.key, "value": t.value}))
                    .collect();
                let body = serde_json::json!({
                    "zoneId": p.zone_id,
                    "eipChargeType": "POSTPAID",
                    "amount": p.amount.unwrap_or(1),
                    "tags": {"tags": tags},
                });
                let answer: ZenlayerEnvelope<ZenlayerAllocated> = self
                    .post(self.zenlayer("AllocateEipAddresses", body))
                    .await?;
                let allocations = answer
                    .response
                    .eip_id_set
                    .into_iter()
                    .map(|id| pb::Allocation {
                        id,
                        provider: request.provider.clone(),
                        provider_kind: pb::ProviderKind::Zenlayer as i32,
                        state: pb::AllocationState::Pending as i32,
                        provider_status: "CREATING".into(),
                        zone_id: p.zone_id.clone(),
                        ..Default::default()
                    })
                    .collect();
                Ok(Response::new(pb::AllocateIpResponse {
                    provider: request.provider,
                    provider_request_id: answer.response.request_id,
                    order_number: answer.response.order_number,
                    allocations,
                    ..Default::default()
                }))
            }
            Some(Params::Aliyun(p)) => {
                let url = format!(
                    "{}/?Action=AllocatePublicIpAddress&InstanceId={}",
                    self.provider, p.instance_id
                );
                let answer: AliyunAllocated = self.post(self.http.post(url)).await?;
                Ok(Response::new(pb::AllocateIpResponse {
                    provider: request.provider.clone(),
                    provider_request_id: answer.request_id,
                    order_number: String::new(),
                    allocations: vec![pb::Allocation {
                        id: p.instance_id.clone(),
                        provider: request.provider,
                        provider_kind: pb::ProviderKind::Aliyun as i32,
                        ip_address: answer.ip_address,
                        state: pb::AllocationState::Ready as i32,
                        requires_instance_restart: true,
                        instance_id: p.instance_id,
                        ..Default::default()
                    }],
                    ..Default::default()
                }))
            }
            None => Err(Status::invalid_argument("params: required")),
        }
    }

    async fn get_allocation(
        &self,
        request: Request<pb::GetAllocationRequest>,
    ) -> Result<Response<pb::Allocation>, Status> {
        let request = request.into_inner();
        let body = serde_json::json!({"eipIds": [request.id]});
        let answer: ZenlayerEnvelope<ZenlayerDescribed> = self
            .post(self.zenlayer("DescribeEipAddresses", body))
            .await?;
        let eip = answer
            .response
            .data_set
            .into_iter()
            .next()
            .ok_or_else(|| Status::not_found("no such EIP"))?;
        Ok(Response::new(pb::Allocation {
            id: eip.eip_id,
            provider: request.provider,
            provider_kind: pb::ProviderKind::Zenlayer as i32,
            ip_address: eip.ip_address,
            state: pb::AllocationState::Ready as i32,
            provider_status: eip.eip_status,
            zone_id: eip.zone_id,
            netmask: eip.netmask,
            ..Default::default()
        }))
    }

    /// Not part of the benchmark.
    async fn list_providers(
        &self,
        _request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        Err(Status::unimplemented(
            "the floor measures AllocateIp and GetAllocation only",
        ))
    }

    /// Not part of the benchmark.
    async fn watch_allocation(
        &self,
        _request: Request<pb::WatchAllocationRequest>,
    ) -> Result<Response<Self::WatchAllocationStream>, Status> {
        Err(Status::unimplemented(
            "the floor measures AllocateIp and GetAllocation only",
        ))
    }

    async fn release_allocation(
        &self,
        _request: Request<pb::ReleaseAllocationRequest>,
    ) -> Result<Response<pb::ReleaseAllocationResponse>, Status> {
        Err(Status::unimplemented(
            "the floor server only allocates and looks up",
        ))
    }

    async fn list_allocations(
        &self,
        _request: Request<pb::ListAllocationsRequest>,
    ) -> Result<Response<pb::ListAllocationsResponse>, Status> {
        Err(Status::unimplemented(
            "the floor server only allocates and looks up",
        ))
    }

    async fn check_availability(
        &self,
        _request: Request<pb::CheckAvailabilityRequest>,
    ) -> Result<Response<pb::CheckAvailabilityResponse>, Status> {
        Err(Status::unimplemented(
            "the floor server only allocates and looks up",
        ))
    }
}
