//! Every status constructor against its published row, and the provider
//! errors whose statuses carry more than their row.

use std::collections::BTreeSet;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetail, StatusExt};

use super::*;
use crate::api::gateway_errors::{self as decisions, Decision, Retry};
use crate::auth::{Rpc, Unauthenticated};
use crate::provider::error::ApiError;
use crate::provider::zenlayer::client::{
    ALLOCATE_EIP_ADDRESSES as ALLOCATE, DESCRIBE_EIP_ADDRESSES as DESCRIBE,
};
use crate::provider::{ProviderDescription, ProviderError, ProviderKind};
use crate::spend::{ScopeKind, SpendRefusal, Window};

fn zenlayer() -> ProviderDescription {
    crate::testing::provider::zenlayer_description()
}

fn refusal(retry_after: Option<Duration>) -> SpendRefusal {
    SpendRefusal {
        scope: ScopeKind::Caller,
        name: "app".to_owned(),
        window: Window::Hour,
        limit: 4,
        used: 3,
        requested: 2,
        retry_after,
    }
}

/// One status per gateway decision, built by its named constructor.
fn every_decision() -> Vec<(&'static Decision, Status)> {
    let p = zenlayer();
    let throttled = ProviderError::from(
        ApiError::new(
            ProviderKind::Zenlayer.error_table(),
            DESCRIBE,
            429,
            "REQUEST_LIMIT_EXCEEDED".to_owned(),
            "slow down".to_owned(),
        )
        .with_request_id(Some("R-1".to_owned())),
    );
    let in_flight = ProviderError::DeadlineExceeded {
        op: ALLOCATE,
        sent: true,
    };
    vec![
        (&decisions::INVALID_REQUEST, {
            let mut violations = FieldViolations::default();
            violations.add("amount", "too big");
            invalid_argument("AllocateIpRequest", violations)
        }),
        (
            &decisions::KEY_REUSED,
            key_reused("k", &["zenlayer.amount".to_owned()]),
        ),
        (&decisions::KEY_IN_PROGRESS, key_in_progress(&p, "k")),
        (
            &decisions::OUTCOME_PENDING,
            outcome_pending(&p, "k", Duration::from_millis(300)),
        ),
        (
            &decisions::RECONCILE_FAILED,
            reconcile_failed(&p, "k", &throttled),
        ),
        (
            &decisions::OUTCOME_UNKNOWN,
            allocation_status(&p, &in_flight, "k"),
        ),
        (
            &decisions::ALLOCATION_INTERRUPTED,
            allocation_interrupted(&p, "k"),
        ),
        (
            &decisions::RATE_LIMITED,
            rate_limited(&p, ALLOCATE, Duration::from_millis(50)),
        ),
        (
            &decisions::CALLER_UNAUTHENTICATED,
            caller_unauthenticated(Rpc::AllocateIp, Unauthenticated::WrongToken),
        ),
        (
            &decisions::CALLER_NOT_ALLOWED,
            caller_not_allowed("app", Rpc::GetAllocation, None),
        ),
        (
            &decisions::CALLER_NOT_ALLOWED,
            caller_not_allowed("app", Rpc::AllocateIp, Some(&p)),
        ),
        (
            &decisions::SPEND_LIMIT_REACHED,
            spend_limit_reached(
                &p,
                Some("app"),
                "k",
                &refusal(Some(Duration::from_secs(60))),
            ),
        ),
        (
            &decisions::SPEND_LIMIT_TOO_SMALL,
            spend_limit_reached(&p, None, "k", &refusal(None)),
        ),
        (&decisions::ZONE_SOLD_OUT, zone_sold_out(&p, "DXB-A", 32)),
        (&decisions::OVERLOADED, overloaded(8)),
        (
            &decisions::DEADLINE_EXCEEDED,
            deadline_exceeded(Some(&p), Some(DESCRIBE), "late"),
        ),
        (
            &decisions::WATCH_LIFETIME_ENDED,
            watch_lifetime_ended(&p, "eip-1", Duration::from_secs(3600)),
        ),
        (&decisions::STORE_UNAVAILABLE, store_unavailable(Some(&p))),
        (
            &decisions::SHARED_STATE_UNAVAILABLE,
            provider_status(
                &p,
                &ProviderError::SharedStateUnavailable {
                    op: ALLOCATE,
                    detail: "connection refused".to_owned(),
                },
            ),
        ),
        (
            &decisions::RECORD_CORRUPT,
            record_corrupt(Some(&p), "k", "bad bytes"),
        ),
        (&decisions::INTERNAL, internal(None, "a bug")),
        (
            &decisions::REQUEST_UNDECODABLE,
            request_undecodable("AllocateIpRequest", "invalid wire type"),
        ),
        (
            &decisions::REQUEST_UNDECODABLE,
            library_status(
                Code::Internal,
                REQUEST_UNDECODABLE,
                "Missing request message.",
                "/ipalloc.v1.IpAllocation/AllocateIp",
            ),
        ),
        (
            &decisions::REQUEST_TOO_LARGE,
            request_too_large(262_144, Some(1 << 30)),
        ),
        (
            &decisions::REQUEST_TOO_LARGE,
            request_too_large(262_144, None),
        ),
        (
            &decisions::CONTENT_TYPE_UNSUPPORTED,
            content_type_unsupported(Some("text/plain")),
        ),
        (
            &decisions::HTTP_METHOD_NOT_ALLOWED,
            http_method_not_allowed("GET"),
        ),
        (
            &decisions::COMPRESSION_UNSUPPORTED,
            library_status(Code::Unimplemented, COMPRESSION_UNSUPPORTED, "gzip", "/x"),
        ),
        (
            &decisions::METHOD_NOT_FOUND,
            library_status(Code::Unimplemented, METHOD_NOT_FOUND, "", "/x/Y"),
        ),
        (
            &decisions::REQUEST_REJECTED,
            library_status(Code::Cancelled, REQUEST_REJECTED, "Timeout expired", "/x"),
        ),
        (
            &decisions::INTERNAL,
            library_status(Code::Internal, "GATEWAY_INTERNAL", "h2 error", "/x"),
        ),
        (
            &decisions::SHUTTING_DOWN,
            shutting_down("the wait was cut short", Some("k")),
        ),
        (
            &decisions::SHUTTING_DOWN,
            shutting_down("stream ended", None),
        ),
        (
            &decisions::REQUEST_BODY_TIMEOUT,
            request_body_timeout(Duration::from_secs(10)),
        ),
        (
            &decisions::TIMEOUT_EXPIRED,
            timeout_expired(Duration::from_millis(1500)),
        ),
    ]
}

/// Every constructor yields exactly one ErrorInfo, in the gateway's
/// domain, with its row's code and reason, exactly the common metadata
/// keys plus its row's, and RetryInfo exactly when its row says so; and
/// every row has a constructor.
#[test]
fn every_constructor_matches_its_published_row() {
    let built = every_decision();
    let covered: BTreeSet<*const Decision> =
        built.iter().map(|(d, _)| *d as *const Decision).collect();
    for decision in decisions::DECISIONS {
        assert!(
            covered.contains(&(decision as *const Decision)),
            "no constructor tested for {}",
            decision.situation
        );
    }
    for (decision, status) in built {
        let what = decision.reason;
        if !decision.library_code {
            assert_eq!(status.code(), decision.code, "{what}");
        }
        let details = status.get_error_details_vec();
        let infos: Vec<_> = details
            .iter()
            .filter_map(|d| match d {
                ErrorDetail::ErrorInfo(info) => Some(info),
                _ => None,
            })
            .collect();
        assert_eq!(infos.len(), 1, "{what}: exactly one ErrorInfo");
        let info = infos[0];
        assert_eq!(info.reason, decision.reason);
        assert_eq!(info.domain, GATEWAY_DOMAIN, "{what}");
        let keys: BTreeSet<&str> = info.metadata.keys().map(String::as_str).collect();
        let documented: BTreeSet<&str> = COMMON_METADATA
            .iter()
            .chain(decision.metadata)
            .copied()
            .collect();
        assert_eq!(keys, documented, "{what}");
        let retry_infos = details
            .iter()
            .filter(|d| matches!(d, ErrorDetail::RetryInfo(_)))
            .count();
        assert_eq!(
            retry_infos,
            usize::from(decision.retry != Retry::No),
            "{what}: RetryInfo"
        );
        let bad_requests = details
            .iter()
            .filter(|d| matches!(d, ErrorDetail::BadRequest(_)))
            .count();
        assert_eq!(
            bad_requests,
            usize::from(
                decision
                    .also
                    .is_some_and(|also| also.starts_with("BadRequest"))
            ),
            "{what}: BadRequest"
        );
        assert!(!status.message().is_empty(), "{what}");
    }
}

/// The key to retry with is part of the status from the start, in the
/// metadata and the message.
#[test]
fn an_unknown_allocation_outcome_names_its_key() {
    let status = allocation_status(
        &zenlayer(),
        &ProviderError::DeadlineExceeded {
            op: ALLOCATE,
            sent: true,
        },
        "order-1",
    );
    let info = status.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata["idempotencyKey"], "order-1");
    assert_eq!(info.metadata["provider"], "zl");
    assert_eq!(info.metadata["providerAction"], "AllocateEipAddresses");
    assert!(
        status.message().contains("\"order-1\""),
        "{}",
        status.message()
    );
    // A definite failure frees the key: no key to retry with.
    let definite = allocation_status(
        &zenlayer(),
        &ProviderError::RateLimited {
            op: ALLOCATE,
            retry_after: Duration::from_secs(1),
        },
        "order-1",
    );
    let info = definite.get_error_details().error_info().cloned().unwrap();
    assert!(!info.metadata.contains_key("idempotencyKey"));
}

/// A failed reconciliation relays the lookup's facts and the provider's
/// delay.
#[test]
fn a_failed_reconciliation_names_the_failed_lookup() {
    let error = ProviderError::from(
        ApiError::new(
            ProviderKind::Aliyun.error_table(),
            DESCRIBE,
            400,
            "Throttling.User".to_owned(),
            "Request was denied due to user flow control.".to_owned(),
        )
        .with_request_id(Some("R-9".to_owned()))
        .with_retry_after(Some(Duration::from_secs(3))),
    );
    let status = reconcile_failed(&zenlayer(), "k-2", &error);
    assert_eq!(status.code(), Code::Aborted);
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(info.metadata["providerAction"], "DescribeEipAddresses");
    assert_eq!(info.metadata["providerCode"], "Throttling.User");
    assert_eq!(info.metadata["providerRequestId"], "R-9");
    assert_eq!(info.metadata["httpStatus"], "400");
    assert_eq!(
        details.retry_info().and_then(|r| r.retry_delay),
        Some(Duration::from_secs(3))
    );
}

/// The status of a provider error carries the code and reason of the
/// error's one classification (or, for a write whose outcome is unknown,
/// `PROVIDER_OUTCOME_UNKNOWN`), and RetryInfo exactly when repeating helps.
#[test]
fn every_provider_status_follows_the_error_classification() {
    use crate::provider::error::{SendPhase, TransportError};
    let p = zenlayer();
    let table = ProviderKind::Zenlayer.error_table();
    let mut errors = Vec::new();
    for op in [ALLOCATE, DESCRIBE] {
        for rule in table.rules {
            let code = rule.code.replace('*', "X");
            let http = rule.http_status.unwrap_or(400);
            errors.push(ProviderError::from(ApiError::new(
                table,
                op,
                http,
                code,
                "m".to_owned(),
            )));
        }
        for phase in [SendPhase::NotSent, SendPhase::Sent] {
            for timed_out in [false, true] {
                errors.push(ProviderError::Transport(TransportError {
                    op,
                    phase,
                    timed_out,
                    detail: "d".to_owned(),
                }));
            }
        }
        for http_status in [200, 202, 302, 400, 404, 429, 500, 502, 503, 504, 599] {
            errors.push(ProviderError::MalformedResponse {
                op,
                http_status,
                detail: "d".to_owned(),
                request_id: None,
            });
        }
        errors.push(ProviderError::NotFound {
            op,
            reason: "EIP_NOT_FOUND",
            message: "no such EIP".to_owned(),
            request_id: None,
        });
    }
    for error in &errors {
        let class = error.classification();
        let status = provider_status(&p, error);
        let reason = status
            .get_error_details()
            .error_info()
            .unwrap()
            .reason
            .clone();
        let unknown = error.outcome_unknown();
        let expected = if unknown {
            (Code::DeadlineExceeded, OUTCOME_UNKNOWN)
        } else {
            (class.grpc, class.reason)
        };
        assert_eq!((status.code(), reason.as_str()), expected, "{error}");
        let read = error.operation().is_some_and(|op| !op.mutating);
        assert_eq!(
            status.get_error_details().retry_info().is_some(),
            class.repeatable(read),
            "{error}: RetryInfo"
        );
    }
    // The gateway's own refusals get its named decisions, whose code and
    // reason the classification names too.
    let refusals = [
        ProviderError::RateLimited {
            op: ALLOCATE,
            retry_after: Duration::from_millis(5),
        },
        ProviderError::DeadlineExceeded {
            op: ALLOCATE,
            sent: false,
        },
        ProviderError::DeadlineExceeded {
            op: DESCRIBE,
            sent: true,
        },
        ProviderError::SharedStateUnavailable {
            op: ALLOCATE,
            detail: "connection refused".to_owned(),
        },
        ProviderError::Internal("bug".to_owned()),
    ];
    for error in &refusals {
        let class = error.classification();
        let status = provider_status(&p, error);
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(
            (status.code(), info.reason.as_str(), info.domain.as_str()),
            (class.grpc, class.reason, GATEWAY_DOMAIN),
            "{error}"
        );
        assert!(!class.resend, "{error}");
    }
}
