//! The answers of the emulated API: request ids (`T` + an uppercase UUID),
//! the success envelope `{requestId, response: {requestId, ...}}` (HTTP 200,
//! the inner id equal to the outer one) and the error body
//! `{requestId, code, message}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::errors::ApiError;

/// A new request id, e.g. `T05992D0C-7E8B-4047-B0C0-780F2CD549D3`.
pub fn new_request_id() -> String {
    format!("T{}", uuid::Uuid::new_v4().to_string().to_uppercase())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: Serialize> {
    request_id: &'a str,
    response: Inner<'a, T>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a, T: Serialize> {
    request_id: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    request_id: &'a str,
    code: &'a str,
    message: &'a str,
}

/// HTTP 200 with `body`'s fields inside `response`, after its `requestId`.
pub fn success<T: Serialize>(request_id: &str, body: &T) -> Response {
    (
        StatusCode::OK,
        Json(Envelope {
            request_id,
            response: Inner { request_id, body },
        }),
    )
        .into_response()
}

/// The error's HTTP status with `{requestId, code, message}`.
pub fn error(request_id: &str, error: &ApiError) -> Response {
    (
        error.status,
        Json(ErrorBody {
            request_id,
            code: error.code,
            message: &error.message,
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_zenlayer_ones() {
        let id = new_request_id();
        assert_eq!(id.len(), 37);
        assert!(id.starts_with('T'));
        assert!(
            id[1..]
                .chars()
                .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn envelope_repeats_the_request_id_inside() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            eip_id_set: Vec<&'static str>,
        }
        let value = serde_json::to_value(Envelope {
            request_id: "T-1",
            response: Inner {
                request_id: "T-1",
                body: &Body {
                    eip_id_set: vec!["eip-1"],
                },
            },
        })
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"requestId": "T-1", "response": {"requestId": "T-1", "eipIdSet": ["eip-1"]}})
        );
    }
}
