//! The gRPC front door, a tower layer around every service:
//!
//! - a request that is not gRPC is refused before any service sees it, as
//!   grpc-go does: a content type other than `application/grpc[+proto]` gets
//!   HTTP 415, a method other than POST HTTP 405, both with INVALID_ARGUMENT
//!   and an ErrorInfo (`CONTENT_TYPE_UNSUPPORTED`, `HTTP_METHOD_NOT_ALLOWED`);
//! - a status the gRPC library produced itself, without details (a message
//!   over `server.max_request_bytes`, a request with no message or a
//!   truncated one, an unsupported compression, an unknown method), gets an
//!   ErrorInfo and the code the gateway documents (see README, "Errors").
//!
//! Only trailers-only answers (the status in the response headers) without
//! `grpc-status-details-bin` are rewritten: the gateway's own statuses always
//! carry details, so they pass untouched, and the check costs two header
//! lookups.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, Method, StatusCode, Uri, header::CONTENT_TYPE};
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::error;

/// Guards every service; `max_request_bytes` is the limit tonic enforces,
/// named in `REQUEST_TOO_LARGE` answers.
#[derive(Debug, Clone, Copy)]
pub struct GrpcGuardLayer {
    max_request_bytes: usize,
}

impl GrpcGuardLayer {
    pub fn new(max_request_bytes: usize) -> Self {
        GrpcGuardLayer { max_request_bytes }
    }
}

impl<S> Layer<S> for GrpcGuardLayer {
    type Service = GrpcGuard<S>;

    fn layer(&self, inner: S) -> GrpcGuard<S> {
        GrpcGuard {
            inner,
            max_request_bytes: self.max_request_bytes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcGuard<S> {
    inner: S,
    max_request_bytes: usize,
}

impl<S, B, R> Service<http::Request<B>> for GrpcGuard<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = GuardFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() != Method::POST {
            let status = error::http_method_not_allowed(request.method().as_str());
            return GuardFuture::refused(status, StatusCode::METHOD_NOT_ALLOWED);
        }
        let content_type = request.headers().get(CONTENT_TYPE);
        if !content_type.is_some_and(|v| is_grpc_proto(v.as_bytes())) {
            let shown = content_type.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let status = error::content_type_unsupported(shown.as_deref());
            return GuardFuture::refused(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let uri = request.uri().clone();
        GuardFuture::Inner {
            future: self.inner.call(request),
            uri,
            max_request_bytes: self.max_request_bytes,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, completed with an ErrorInfo where the
    /// library left none; or a refusal made at once.
    #[project = GuardProjection]
    pub enum GuardFuture<F, R> {
        Refused { response: Option<http::Response<R>> },
        Inner {
            #[pin]
            future: F,
            uri: Uri,
            max_request_bytes: usize,
        },
    }
}

impl<F, R> GuardFuture<F, R>
where
    R: Default,
{
    fn refused(status: Status, http_status: StatusCode) -> Self {
        tracing::debug!(code = ?status.code(), message = status.message(), "refused a non-gRPC request");
        let mut response = status.into_http::<R>();
        *response.status_mut() = http_status;
        GuardFuture::Refused {
            response: Some(response),
        }
    }
}

impl<F, R, E> Future for GuardFuture<F, R>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled after completion: never ready again.
                None => Poll::Pending,
            },
            GuardProjection::Inner {
                future,
                uri,
                max_request_bytes,
            } => {
                let mut response = ready!(future.poll(cx))?;
                complete_library_status(response.headers_mut(), uri.path(), *max_request_bytes);
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// `application/grpc`, `application/grpc+proto`, with or without
/// parameters, in any case.
fn is_grpc_proto(value: &[u8]) -> bool {
    let Some(rest) = value
        .get(..16)
        .filter(|head| head.eq_ignore_ascii_case(b"application/grpc"))
        .map(|_| &value[16..])
    else {
        return false;
    };
    let rest = match rest.get(..6) {
        Some(subtype) if subtype.eq_ignore_ascii_case(b"+proto") => &rest[6..],
        _ => rest,
    };
    rest.is_empty() || rest[0] == b';'
}

/// Gives a trailers-only error the library produced without details its
/// ErrorInfo (and, for a bad request, INVALID_ARGUMENT).
fn complete_library_status(headers: &mut HeaderMap, path: &str, max_request_bytes: usize) {
    let Some(code) = headers.get("grpc-status") else {
        return;
    };
    let code = Code::from_bytes(code.as_bytes());
    if code == Code::Ok || headers.contains_key("grpc-status-details-bin") {
        return;
    }
    let message = headers
        .get("grpc-message")
        .map(|v| {
            percent_encoding::percent_decode(v.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let status = library_status(code, &message, path, max_request_bytes);
    headers.remove("grpc-message");
    if let Err(e) = status.add_header(headers) {
        tracing::warn!(error = %e, "cannot write a status header");
    }
}

/// The gateway's status for one the library produced (tonic 0.14's texts;
/// a test pins each).
fn library_status(code: Code, message: &str, path: &str, max_request_bytes: usize) -> Status {
    use error::{COMPRESSION_UNSUPPORTED, METHOD_NOT_FOUND, REQUEST_REJECTED, REQUEST_UNDECODABLE};
    let undecodable = |what: &str| {
        error::library_status(
            Code::InvalidArgument,
            REQUEST_UNDECODABLE,
            &format!("the request message is undecodable: {what}"),
            path,
        )
    };
    match code {
        Code::OutOfRange if message.starts_with("Error, decoded message length too large") => {
            error::request_too_large(max_request_bytes, found_bytes(message))
        }
        Code::Internal if message.starts_with("Missing request message") => {
            undecodable("the request carries no message")
        }
        Code::Internal if message.starts_with("Unexpected EOF decoding stream") => {
            undecodable("the request body ends inside a message")
        }
        Code::Internal if message.starts_with("protocol error: received message with") => {
            undecodable(
                "invalid compressed-flag in the message prefix (valid: 0, or 1 with grpc-encoding)",
            )
        }
        Code::Unimplemented if message.starts_with("Content is compressed with") => {
            error::library_status(
                code,
                COMPRESSION_UNSUPPORTED,
                &format!("{message}; send requests uncompressed (identity)"),
                path,
            )
        }
        Code::Unimplemented if message.is_empty() => error::library_status(
            code,
            METHOD_NOT_FOUND,
            &format!(
                "no method {} on this server (see gRPC reflection)",
                error::echo(path)
            ),
            path,
        ),
        Code::Internal => error::library_status(code, "GATEWAY_INTERNAL", message, path),
        _ => error::library_status(code, REQUEST_REJECTED, message, path),
    }
}

/// `N` in "found N bytes".
fn found_bytes(message: &str) -> Option<u64> {
    let (_, rest) = message.split_once("found ")?;
    rest.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn grpc_content_types_are_recognised() {
        for ok in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC",
            "application/grpc;charset=utf-8",
            "application/grpc+PROTO; x=1",
        ] {
            assert!(is_grpc_proto(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "application/json",
            "application/grpc+json",
            "application/grpc-web",
            "application/grpcx",
            "text/plain",
            "application/gr",
        ] {
            assert!(!is_grpc_proto(bad.as_bytes()), "{bad}");
        }
    }

    fn reason(status: &Status) -> String {
        status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn library_statuses_get_a_code_and_reason() {
        let path = "/ipalloc.v1.IpAllocation/AllocateIp";
        let cases = [
            (
                Code::OutOfRange,
                "Error, decoded message length too large: found 300000 bytes, the limit is: 262144 bytes",
                Code::InvalidArgument,
                "REQUEST_TOO_LARGE",
            ),
            (
                Code::Internal,
                "Missing request message.",
                Code::InvalidArgument,
                "REQUEST_UNDECODABLE",
            ),
            (
                Code::Internal,
                "Unexpected EOF decoding stream.",
                Code::InvalidArgument,
                "REQUEST_UNDECODABLE",
            ),
            (
                Code::Internal,
                "protocol error: received message with invalid compression flag: 7 (valid flags are 0 and 1), while sending request",
                Code::InvalidArgument,
                "REQUEST_UNDECODABLE",
            ),
            (
                Code::Unimplemented,
                "Content is compressed with `br` which isn't supported",
                Code::Unimplemented,
                "COMPRESSION_UNSUPPORTED",
            ),
            (
                Code::Unimplemented,
                "",
                Code::Unimplemented,
                "METHOD_NOT_FOUND",
            ),
            (
                Code::Internal,
                "something else",
                Code::Internal,
                "GATEWAY_INTERNAL",
            ),
            (
                Code::NotFound,
                "service not registered",
                Code::NotFound,
                "REQUEST_REJECTED",
            ),
        ];
        for (code, message, want_code, want_reason) in cases {
            let status = library_status(code, message, path, 262_144);
            assert_eq!(status.code(), want_code, "{message}");
            assert_eq!(reason(&status), want_reason, "{message}");
        }
        let too_large = library_status(
            Code::OutOfRange,
            "Error, decoded message length too large: found 300000 bytes, the limit is: 262144 bytes",
            path,
            262_144,
        );
        let info = too_large.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.metadata["maxRequestBytes"], "262144");
        assert_eq!(info.metadata["requestBytes"], "300000");
    }

    #[test]
    fn only_detail_less_trailers_only_errors_are_rewritten() {
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", "0".parse().unwrap());
        complete_library_status(&mut ok, "/x", 1);
        assert!(!ok.contains_key("grpc-status-details-bin"));

        let mut ours = HeaderMap::new();
        ours.insert("grpc-status", "3".parse().unwrap());
        ours.insert("grpc-status-details-bin", "AAAA".parse().unwrap());
        complete_library_status(&mut ours, "/x", 1);
        assert_eq!(ours["grpc-status-details-bin"], "AAAA");

        let mut library = HeaderMap::new();
        library.insert("grpc-status", "13".parse().unwrap());
        library.insert(
            "grpc-message",
            "Missing%20request%20message.".parse().unwrap(),
        );
        complete_library_status(&mut library, "/x", 1);
        let status = Status::from_header_map(&library).unwrap();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), "REQUEST_UNDECODABLE");
    }
}
