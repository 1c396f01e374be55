//! The common ErrorInfo metadata ([`COMMON_METADATA`]) every status
//! carries: what the provider told us (its action, code, message, request id
//! and HTTP status) when there was a provider answer, empty strings when the
//! gateway itself decided.

use std::collections::HashMap;

use super::COMMON_METADATA;
use crate::provider::{Operation, ProviderDescription, ProviderError};

/// What the provider told us, for ErrorInfo metadata.
pub(super) struct Facts<'a> {
    pub(super) op: Option<Operation>,
    code: &'a str,
    message: &'a str,
    pub(super) request_id: Option<&'a str>,
    http_status: Option<u16>,
}

impl<'a> Facts<'a> {
    /// No provider answer: the gateway itself decided, during `op`.
    pub(super) fn gateway(op: Option<Operation>) -> Facts<'static> {
        Facts {
            op,
            code: "",
            message: "",
            request_id: None,
            http_status: None,
        }
    }

    /// What `error` records about the provider's answer.
    pub(super) fn of(error: &'a ProviderError) -> Facts<'a> {
        match error {
            ProviderError::Api(api) => Facts {
                op: Some(api.op),
                code: &api.code,
                message: &api.message,
                request_id: api.request_id.as_deref(),
                http_status: Some(api.http_status),
            },
            ProviderError::Transport(t) => Facts {
                op: Some(t.op),
                code: "",
                message: &t.detail,
                request_id: None,
                http_status: None,
            },
            ProviderError::MalformedResponse {
                op,
                http_status,
                detail,
                request_id,
            } => Facts {
                op: Some(*op),
                code: "",
                message: detail,
                request_id: request_id.as_deref(),
                http_status: Some(*http_status),
            },
            ProviderError::NotFound {
                op,
                message,
                request_id,
                ..
            } => Facts {
                op: Some(*op),
                code: "",
                message,
                request_id: request_id.as_deref(),
                http_status: None,
            },
            other => Facts::gateway(other.operation()),
        }
    }

    /// The common ErrorInfo metadata ([`COMMON_METADATA`]).
    pub(super) fn metadata(
        &self,
        provider: Option<&ProviderDescription>,
    ) -> HashMap<String, String> {
        let mut metadata = HashMap::with_capacity(COMMON_METADATA.len() + 1);
        let mut put = |key: &str, value: String| metadata.insert(key.to_owned(), value);
        put(
            "provider",
            provider.map(|p| p.name.clone()).unwrap_or_default(),
        );
        put(
            "providerKind",
            provider
                .map(|p| p.kind.as_str().to_owned())
                .unwrap_or_default(),
        );
        put(
            "providerAction",
            self.op.map(|op| op.name).unwrap_or_default().to_owned(),
        );
        put("providerCode", self.code.to_owned());
        put("providerMessage", self.message.to_owned());
        put(
            "providerRequestId",
            self.request_id.unwrap_or_default().to_owned(),
        );
        put(
            "httpStatus",
            self.http_status.map(|s| s.to_string()).unwrap_or_default(),
        );
        metadata
    }
}

/// The common metadata of a gateway decision (provider and action when
/// known, the rest empty) plus the row's own keys.
pub(super) fn gateway_metadata<const N: usize>(
    provider: Option<&ProviderDescription>,
    op: Option<Operation>,
    extra: [(&str, String); N],
) -> HashMap<String, String> {
    let mut metadata = Facts::gateway(op).metadata(provider);
    for (key, value) in extra {
        metadata.insert(key.to_owned(), value);
    }
    metadata
}
