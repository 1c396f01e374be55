//! Tests of the per-account metrics: the bounded labels of an attempt, and
//! every series an account gets, through a registry of the test's own.

use super::*;
use crate::admin::Metrics;
use crate::middleware::testing::{ALLOCATE, api, malformed, not_sent, sent, throttled};
use crate::provider::ProviderKind::{Aliyun, Zenlayer};

/// An attempt's result and the `outcome` and `code` labels it must get.
type Case = (Result<(), ProviderError>, (&'static str, &'static str));

#[test]
fn an_attempt_outcome_has_bounded_labels() {
    let not_found = ProviderError::NotFound {
        op: ALLOCATE,
        reason: "EIP_NOT_FOUND",
        message: "no such EIP".into(),
        request_id: None,
    };
    let cases: Vec<Case> = vec![
        (Ok(()), ("ok", "")),
        (
            Err(api(
                Zenlayer,
                ALLOCATE,
                "INVALID_EIP_TYPE_ZONE_NO_SELL",
                400,
            )),
            ("error", "INVALID_EIP_TYPE_ZONE_NO_SELL"),
        ),
        // A wildcard row: the row's pattern, not what the provider sent.
        (Err(throttled(ALLOCATE, None)), ("error", "Throttling*")),
        // Codes no table knows: one value, whatever the provider invents.
        (
            Err(api(Aliyun, ALLOCATE, "Brand.New.Code-1", 400)),
            ("error", "other"),
        ),
        (
            Err(api(Zenlayer, ALLOCATE, "WHATEVER_ELSE", 500)),
            ("error", "other"),
        ),
        (Err(not_sent(ALLOCATE)), ("not_sent", "")),
        (Err(sent(ALLOCATE, false)), ("no_answer", "")),
        (Err(sent(ALLOCATE, true)), ("timeout", "")),
        (Err(malformed(ALLOCATE, 502)), ("malformed", "")),
        (Err(not_found), ("not_found", "")),
        (
            Err(ProviderError::DeadlineExceeded {
                op: ALLOCATE,
                sent: true,
            }),
            ("timeout", ""),
        ),
        (Err(ProviderError::Internal("bug".into())), ("internal", "")),
    ];
    for (result, want) in cases {
        assert_eq!(attempt_outcome(&result), want, "{result:?}");
    }
}

#[test]
fn an_attempt_counts_once_and_a_dropped_one_as_timed_out() {
    let account = AccountMetrics::detached("acct");
    account.attempt(ALLOCATE).finish::<()>(&Ok(()));
    account
        .attempt(ALLOCATE)
        .finish::<()>(&Err(throttled(ALLOCATE, None)));
    drop(account.attempt(ALLOCATE));
    let name = ALLOCATE.name;
    assert_eq!(account.attempts(name, "ok", ""), 1);
    assert_eq!(account.attempts(name, "error", "Throttling*"), 1);
    assert_eq!(account.attempts(name, "timeout", ""), 1);
    assert_eq!(account.attempts(name, "not_sent", ""), 0);
}

/// The account's series exist at zero from the start, and each recording
/// method moves exactly its own.
#[test]
fn every_account_series_is_exposed_and_moves_alone() {
    let metrics = Metrics::new();
    let account = metrics.account("zl-prod");
    assert!(Arc::ptr_eq(&account, &metrics.account("zl-prod")));
    let text = metrics.encode().unwrap();
    for zero in [
        r#"ipalloc_provider_retries_total{provider="zl-prod"} 0"#,
        r#"ipalloc_provider_retry_budget_refusals_total{provider="zl-prod"} 0"#,
        r#"ipalloc_rate_limit_refusals_total{provider="zl-prod",lane="allocation"} 0"#,
        r#"ipalloc_rate_limit_wait_seconds_count{provider="zl-prod",lane="read"} 0"#,
        r#"ipalloc_allocations_outcome_unknown_total{provider="zl-prod"} 0"#,
        r#"ipalloc_reconciliations_total{provider="zl-prod",result="not_found"} 0"#,
        r#"ipalloc_idempotency_replays_total{provider="zl-prod"} 0"#,
        r#"ipalloc_idempotency_conflicts_total{provider="zl-prod"} 0"#,
        r#"ipalloc_idempotency_inflight_waits_total{provider="zl-prod",result="timed_out"} 0"#,
        r#"ipalloc_eip_time_to_ready_seconds_count{provider="zl-prod"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == zero), "{zero} missing:\n{text}");
    }

    account.retried();
    account.retry_refused_by_budget();
    account.rate_limit_waited(Lane::Read, Duration::from_millis(300));
    account.rate_limit_refused(Lane::Allocation);
    account.outcome_unknown();
    account.reconciled(Reconciled::Found);
    account.reconciled(Reconciled::Failed);
    account.reconciled(Reconciled::Failed);
    account.replayed();
    account.key_conflict();
    account.inflight_waited(true);
    account.ready_after(Duration::from_secs(3));
    account.attempt(ALLOCATE).finish::<()>(&Ok(()));
    let text = metrics.encode().unwrap();
    let action = ALLOCATE.name;
    for line in [
        r#"ipalloc_provider_retries_total{provider="zl-prod"} 1"#,
        r#"ipalloc_provider_retry_budget_refusals_total{provider="zl-prod"} 1"#,
        r#"ipalloc_rate_limit_wait_seconds_count{provider="zl-prod",lane="read"} 1"#,
        r#"ipalloc_rate_limit_wait_seconds_bucket{provider="zl-prod",lane="read",le="0.25"} 0"#,
        r#"ipalloc_rate_limit_wait_seconds_bucket{provider="zl-prod",lane="read",le="0.5"} 1"#,
        r#"ipalloc_rate_limit_wait_seconds_count{provider="zl-prod",lane="allocation"} 0"#,
        r#"ipalloc_rate_limit_refusals_total{provider="zl-prod",lane="allocation"} 1"#,
        r#"ipalloc_rate_limit_refusals_total{provider="zl-prod",lane="read"} 0"#,
        r#"ipalloc_allocations_outcome_unknown_total{provider="zl-prod"} 1"#,
        r#"ipalloc_reconciliations_total{provider="zl-prod",result="found"} 1"#,
        r#"ipalloc_reconciliations_total{provider="zl-prod",result="not_found"} 0"#,
        r#"ipalloc_reconciliations_total{provider="zl-prod",result="failed"} 2"#,
        r#"ipalloc_idempotency_replays_total{provider="zl-prod"} 1"#,
        r#"ipalloc_idempotency_conflicts_total{provider="zl-prod"} 1"#,
        r#"ipalloc_idempotency_inflight_waits_total{provider="zl-prod",result="finished"} 1"#,
        r#"ipalloc_idempotency_inflight_waits_total{provider="zl-prod",result="timed_out"} 0"#,
        r#"ipalloc_eip_time_to_ready_seconds_sum{provider="zl-prod"} 3.0"#,
        &format!(
            r#"ipalloc_provider_attempts_total{{provider="zl-prod",action="{action}",outcome="ok",code=""}} 1"#
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}
