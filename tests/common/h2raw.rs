//! A raw HTTP/2 gRPC client (the `h2` crate, no tonic) for tests that must
//! see exactly what the gateway puts on the wire: every response header and
//! trailer with its size, the body bytes, and the decoded status details. It
//! also sends what no gRPC library would: malformed frames, wrong content
//! types, truncated bodies.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request};
use prost::Message as _;
use tokio::net::TcpStream;

/// The type URL of `google.rpc.ErrorInfo` in status details.
pub const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";

/// What the gateway answered on one stream.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub http_status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

/// HPACK-style size of a header block (RFC 7541 §4.1: name + value + 32 per
/// field), the measure SETTINGS_MAX_HEADER_LIST_SIZE and grpc-C's metadata
/// limit use.
pub fn header_list_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

impl RawAnswer {
    /// Headers (with `:status`) plus trailers, HPACK-style.
    pub fn metadata_bytes(&self) -> usize {
        ":status".len()
            + 3
            + 32
            + header_list_size(&self.headers)
            + self.trailers.as_ref().map_or(0, header_list_size)
    }

    /// Everything the gateway sent for the call: metadata and body.
    pub fn total_bytes(&self) -> usize {
        self.metadata_bytes() + self.body.len()
    }

    /// The header or trailer `name` (trailers-only answers carry the status
    /// in the headers).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()
            .and_then(|t| t.get(name))
            .or_else(|| self.headers.get(name))
            .and_then(|v| v.to_str().ok())
    }

    pub fn grpc_status(&self) -> Option<i32> {
        self.get("grpc-status").and_then(|s| s.parse().ok())
    }

    /// `grpc-message`, percent-decoded.
    pub fn grpc_message(&self) -> String {
        let raw = self.get("grpc-message").unwrap_or("");
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    }

    /// The `google.rpc.Status` of `grpc-status-details-bin`, if any.
    pub fn details(&self) -> Option<tonic_types::pb::Status> {
        let raw = self.get("grpc-status-details-bin")?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(raw.trim_end_matches('='))
            .expect("grpc-status-details-bin is base64");
        Some(tonic_types::pb::Status::decode(bytes.as_slice()).expect("details decode"))
    }

    /// How many ErrorInfo messages the details carry.
    pub fn error_info_count(&self) -> usize {
        self.details().map_or(0, |d| {
            d.details
                .iter()
                .filter(|a| a.type_url == ERROR_INFO_TYPE)
                .count()
        })
    }

    /// The (single) ErrorInfo: reason, domain, metadata.
    pub fn error_info(&self) -> Option<tonic_types::pb::ErrorInfo> {
        let details = self.details()?;
        let any = details
            .details
            .iter()
            .find(|a| a.type_url == ERROR_INFO_TYPE)?;
        Some(tonic_types::pb::ErrorInfo::decode(any.value.as_slice()).expect("ErrorInfo decode"))
    }

    /// Every byte of text the answer carries, decoded: message, details
    /// (as Debug), headers and body (lossy), for "the secret appears
    /// nowhere" checks.
    pub fn all_text(&self) -> String {
        let mut text = format!("{:?}\n{}\n", self.headers, self.grpc_message());
        if let Some(trailers) = &self.trailers {
            text.push_str(&format!("{trailers:?}\n"));
        }
        if let Some(details) = self.details() {
            text.push_str(&format!("{details:?}\n"));
            for any in &details.details {
                text.push_str(&String::from_utf8_lossy(&any.value));
                text.push('\n');
            }
        }
        text.push_str(&String::from_utf8_lossy(&self.body));
        text
    }
}

/// One length-prefixed gRPC message (uncompressed).
pub fn grpc_frame(message: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).expect("message under 4 GiB"));
    frame.put_slice(message);
    frame.freeze()
}

/// One HTTP/2 connection to the gateway.
#[derive(Clone)]
pub struct RawClient {
    addr: SocketAddr,
    send: h2::client::SendRequest<Bytes>,
}

/// How a raw call is made.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub path: String,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RawRequest {
    /// A well-formed gRPC request carrying `message` (already encoded).
    pub fn grpc(path: &str, message: &[u8]) -> RawRequest {
        RawRequest {
            path: path.to_owned(),
            content_type: Some("application/grpc".to_owned()),
            headers: vec![("te".to_owned(), "trailers".to_owned())],
            body: grpc_frame(message),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl RawClient {
    /// Connects with no limit on what the server may send back, so the
    /// size of any answer can be measured.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let tcp = TcpStream::connect(addr).await.expect("gateway accepts");
        tcp.set_nodelay(true).unwrap();
        let (send, connection) = h2::client::Builder::new()
            .max_header_list_size(u32::MAX)
            .initial_window_size(16 * 1024 * 1024)
            .initial_connection_window_size(64 * 1024 * 1024)
            .handshake::<_, Bytes>(tcp)
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        RawClient { addr, send }
    }

    /// Sends one request and reads the whole answer, within `timeout`.
    pub async fn call(&self, request: RawRequest, timeout: Duration) -> RawAnswer {
        self.try_call(request, timeout)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`RawClient::call`], with what went wrong instead of a panic (the
    /// stream reset, no answer within `timeout`).
    pub async fn try_call(
        &self,
        request: RawRequest,
        timeout: Duration,
    ) -> Result<RawAnswer, String> {
        match tokio::time::timeout(timeout, self.call_inner(request)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    async fn call_inner(&self, request: RawRequest) -> Result<RawAnswer, String> {
        let mut send = self
            .send
            .clone()
            .ready()
            .await
            .map_err(|e| format!("connection not ready: {e}"))?;
        let mut builder = Request::builder()
            .method("POST")
            .uri(format!("http://{}{}", self.addr, request.path));
        if let Some(content_type) = &request.content_type {
            builder = builder.header("content-type", content_type);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let (response, mut stream) = send
            .send_request(builder.body(()).map_err(|e| e.to_string())?, false)
            .map_err(|e| format!("request not sent: {e}"))?;
        // The gateway may answer (and reset the stream) before taking the
        // whole body: a failed send is then expected.
        let mut body = request.body;
        while !body.is_empty() {
            stream.reserve_capacity(body.len());
            let capacity = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                Some(Ok(n)) if n > 0 => n,
                _ => break,
            };
            let chunk = body.split_to(capacity.min(body.len()));
            if stream.send_data(chunk, false).is_err() {
                break;
            }
        }
        let _ = stream.send_data(Bytes::new(), true);
        let response = response
            .await
            .map_err(|e| format!("no response headers: {e}"))?;
        let (parts, mut recv) = response.into_parts();
        let mut body = Vec::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.map_err(|e| format!("response body: {e}"))?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            body.extend_from_slice(&chunk);
        }
        let trailers = recv
            .trailers()
            .await
            .map_err(|e| format!("response trailers: {e}"))?;
        Ok(RawAnswer {
            http_status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            trailers,
        })
    }
}
