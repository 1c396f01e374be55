//! The fake provider: one HTTP server on 127.0.0.1:0 answering both clouds
//! instantly with canned successes, in the shapes the gateway's wire parsers
//! read (`src/provider/*/wire/`). Zenlayer BMC on `POST /api/v2/bmc` by
//! `X-ZC-Action` (`AllocateEipAddresses`: a new EIP id per call;
//! `DescribeEipAddresses`: the first requested id, AVAILABLE); Alibaba ECS
//! on any other path by `Action` in the query or `x-acs-action`
//! (`AllocatePublicIpAddress`, `DescribeInstanceAttribute`). Nothing about
//! a request is verified, signatures included.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A started fake provider.
pub struct FakeProvider {
    /// Base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// Requests answered so far.
    pub requests: Arc<AtomicU64>,
}

/// Starts the fake provider on the current runtime.
pub async fn start() -> std::io::Result<FakeProvider> {
    let requests = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(Arc::clone(&requests));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("fake provider stopped: {error}");
        }
    });
    Ok(FakeProvider { url, requests })
}

/// The part of a `DescribeEipAddresses` body the answer echoes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeBody {
    #[serde(default)]
    eip_ids: Vec<String>,
}

async fn answer(
    State(counter): State<Arc<AtomicU64>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("B{n:07X}-0000-4000-8000-000000000000");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let query = uri.query().unwrap_or("");
    let json = if uri.path() == "/api/v2/bmc" {
        match header("x-zc-action") {
            Some("AllocateEipAddresses") => zenlayer(
                &request_id,
                &format!("\"eipIdSet\":[\"eip-bench-{n:016}\"],\"orderNumber\":\"\""),
            ),
            Some("DescribeEipAddresses") => {
                let ids = serde_json::from_slice::<DescribeBody>(&body)
                    .map(|b| b.eip_ids)
                    .unwrap_or_default();
                let id = ids.first().map_or("eip-bench-unknown", String::as_str);
                zenlayer(
                    &request_id,
                    &format!(
                        "\"totalCount\":1,\"dataSet\":[{{\"eipId\":\"{id}\",\"zoneId\":\"SEL-A\",\
                         \"ipAddress\":\"98.98.{}.{}\",\"netmask\":32,\"eipChargeType\":\"POSTPAID\",\
                         \"eipStatus\":\"AVAILABLE\",\"createTime\":\"2026-01-01T00:00:00Z\"}}]",
                        n / 250 % 250 + 1,
                        n % 250 + 1
                    ),
                )
            }
            _ => return unknown(),
        }
    } else {
        let action = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .or_else(|| header("x-acs-action"));
        match action {
            Some("AllocatePublicIpAddress") => format!(
                "{{\"RequestId\":\"{request_id}\",\"IpAddress\":\"47.95.{}.{}\"}}",
                n / 250 % 250 + 1,
                n % 250 + 1
            ),
            Some("DescribeInstanceAttribute") => {
                let instance = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("InstanceId="))
                    .unwrap_or("i-benchunknown");
                format!(
                    "{{\"RequestId\":\"{request_id}\",\"InstanceId\":\"{instance}\",\
                     \"RegionId\":\"cn-hangzhou\",\"ZoneId\":\"cn-hangzhou-h\",\"Status\":\"Running\",\
                     \"InstanceNetworkType\":\"vpc\",\"InternetMaxBandwidthOut\":5,\
                     \"PublicIpAddress\":{{\"IpAddress\":[\"47.95.10.20\"]}},\
                     \"EipAddress\":{{\"IpAddress\":\"\",\"AllocationId\":\"\"}},\
                     \"OperationLocks\":{{\"LockReason\":[]}}}}"
                )
            }
            _ => return unknown(),
        }
    };
    ([("content-type", "application/json")], json).into_response()
}

/// A Zenlayer success envelope around the `response` object's fields.
fn zenlayer(request_id: &str, fields: &str) -> String {
    format!(
        "{{\"requestId\":\"{request_id}\",\"response\":{{\"requestId\":\"{request_id}\",{fields}}}}}"
    )
}

/// An action the fake provider does not answer: the bench asked for
/// something it should not have.
fn unknown() -> Response {
    (StatusCode::NOT_FOUND, "unknown action").into_response()
}
