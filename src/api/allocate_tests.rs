//! Tests of the allocation flow's decisions against a scripted provider:
//! panics never lose a record or an answer, no re-send without a
//! reconciliation made after the grace period, replays that never go
//! backwards, and spend reservations. (The flow against the real emulators over sockets is in
//! `tests/`.)

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tonic::Code;
use tonic_types::StatusExt;

use super::*;
use crate::idempotency::IdempotencyStore;
use crate::middleware::testing::{ALLOCATE, READ, api, sent};
use crate::provider::{Allocation, AllocationLookup, FollowSettings, ProviderKind};
use crate::testing::provider::{zenlayer_allocate, zenlayer_description};
use crate::testing::status::{error_info, reason};

/// What one scripted provider call does.
enum Act<T> {
    Answer(Result<T, ProviderError>),
    /// Answers after sleeping this long (real time).
    Slow(Duration, Result<T, ProviderError>),
    Panic,
}

impl<T> Act<T> {
    async fn play(self) -> Result<T, ProviderError> {
        match self {
            Act::Answer(answer) => answer,
            Act::Slow(delay, answer) => {
                tokio::time::sleep(delay).await;
                answer
            }
            Act::Panic => panic!("scripted provider panic"),
        }
    }
}

/// A provider answering from scripts, counting calls.
struct Fake {
    description: ProviderDescription,
    follow: FollowSettings,
    allocations: Mutex<VecDeque<Act<AllocateResult>>>,
    reconciliations: Mutex<VecDeque<Act<Option<AllocateResult>>>>,
    lookups: Mutex<VecDeque<Act<Vec<Allocation>>>>,
    allocate_calls: AtomicUsize,
    lookup_calls: AtomicUsize,
}

impl Fake {
    /// A provider whose reconciliation grace period is `grace`.
    fn with_grace(grace: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            description: zenlayer_description(),
            follow: FollowSettings {
                poll_initial: Duration::from_millis(10),
                poll_max: Duration::from_millis(20),
                terminate_failed: false,
                reconcile_grace: grace,
            },
            allocations: Mutex::new(VecDeque::new()),
            reconciliations: Mutex::new(VecDeque::new()),
            lookups: Mutex::new(VecDeque::new()),
            allocate_calls: AtomicUsize::new(0),
            lookup_calls: AtomicUsize::new(0),
        })
    }

    fn on_allocate(&self, act: Act<AllocateResult>) {
        self.allocations.lock().unwrap().push_back(act);
    }

    fn on_reconcile(&self, act: Act<Option<AllocateResult>>) {
        self.reconciliations.lock().unwrap().push_back(act);
    }

    fn on_lookup(&self, act: Act<Vec<Allocation>>) {
        self.lookups.lock().unwrap().push_back(act);
    }

    fn allocate_calls(&self) -> usize {
        self.allocate_calls.load(Ordering::SeqCst)
    }

    fn lookup_calls(&self) -> usize {
        self.lookup_calls.load(Ordering::SeqCst)
    }
}

fn unscripted<T>() -> Act<T> {
    Act::Answer(Err(ProviderError::Internal("unscripted call".into())))
}

#[async_trait]
impl Provider for Fake {
    fn description(&self) -> &ProviderDescription {
        &self.description
    }

    fn follow(&self) -> &FollowSettings {
        &self.follow
    }

    async fn allocate(
        &self,
        _spec: &AllocateSpec,
        _ctx: &CallContext,
    ) -> Result<AllocateResult, ProviderError> {
        self.allocate_calls.fetch_add(1, Ordering::SeqCst);
        let act = self.allocations.lock().unwrap().pop_front();
        act.unwrap_or_else(unscripted).play().await
    }

    async fn get_allocation(
        &self,
        _lookup: &AllocationLookup,
        _ctx: &CallContext,
    ) -> Result<Allocation, ProviderError> {
        Err(ProviderError::Internal("not used".into()))
    }

    async fn get_allocations(
        &self,
        _ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<Allocation>, ProviderError> {
        assert_eq!(ctx.lane, Lane::Read, "lookups draw on the read share");
        self.lookup_calls.fetch_add(1, Ordering::SeqCst);
        let act = self.lookups.lock().unwrap().pop_front();
        act.unwrap_or_else(unscripted).play().await
    }

    async fn reconcile(
        &self,
        _spec: &AllocateSpec,
        _key: &str,
        ctx: &CallContext,
    ) -> Result<Option<AllocateResult>, ProviderError> {
        assert_eq!(ctx.lane, Lane::Allocation, "reconciliation keeps its share");
        let act = self.reconciliations.lock().unwrap().pop_front();
        act.unwrap_or_else(unscripted).play().await
    }

    async fn release_failed(&self, _id: &str, _ctx: &CallContext) -> Result<bool, ProviderError> {
        Ok(false)
    }
}

fn eip(state: AllocationState) -> Allocation {
    Allocation {
        id: "eip-1".to_owned(),
        ip_address: (state == AllocationState::Ready).then(|| "128.1.32.7".to_owned()),
        state,
        provider_status: match state {
            AllocationState::Ready => "AVAILABLE",
            _ => "CREATING",
        }
        .to_owned(),
        zone_id: Some("SEL-A".to_owned()),
        region_id: None,
        requires_instance_restart: false,
        instance_id: None,
        failure_reason: None,
        netmask: Some(32),
    }
}

fn created(state: AllocationState) -> AllocateResult {
    AllocateResult {
        provider_request_id: "R-1".to_owned(),
        order_number: None,
        allocations: vec![eip(state)],
    }
}

/// An allocation sent and then lost: its outcome is unknown.
fn lost() -> ProviderError {
    sent(ALLOCATE, false)
}

fn throttled_lookup() -> ProviderError {
    api(ProviderKind::Zenlayer, READ, "REQUEST_LIMIT_EXCEEDED", 429)
}

/// The allocator in front of a fake provider `zl`, for one key: `key-1`.
struct Flow {
    fake: Arc<Fake>,
    allocator: Arc<Allocator>,
}

impl Flow {
    /// A fresh in-memory store; reconciliations count after `grace`.
    fn new(grace: Duration) -> Flow {
        let allocator = Arc::new(Allocator {
            store: Records::Local(
                IdempotencyStore::open(None, Duration::from_secs(86_400)).unwrap(),
            ),
            inflight: InFlightRegistry::new(),
            drain: crate::server::Drain::new(),
            spend: None,
            inventory: crate::inventory::Inventory::memory(),
        });
        Flow {
            fake: Fake::with_grace(grace),
            allocator,
        }
    }

    /// [`Flow::new`] with account `zl` limited to `per_hour` addresses.
    fn with_spend_limit(grace: Duration, per_hour: u64) -> Flow {
        let mut limits = crate::spend::SpendLimits::default();
        limits.accounts.insert(
            "zl".to_owned(),
            crate::spend::WindowLimits {
                per_hour: Some(per_hour),
                per_day: None,
            },
        );
        let mut flow = Flow::new(grace);
        if let Some(allocator) = Arc::get_mut(&mut flow.allocator) {
            allocator.spend = Some(crate::spend::Spend {
                limits,
                clock: crate::spend::SpendClock::default(),
            });
        }
        flow
    }

    /// AllocateIp with `key-1`, waiting for a terminal state or not.
    async fn call(&self, wait: bool) -> Result<pb::AllocateIpResponse, Status> {
        self.call_with("key-1", wait).await
    }

    /// AllocateIp with `key`.
    async fn call_with(&self, key: &str, wait: bool) -> Result<pb::AllocateIpResponse, Status> {
        let provider: Arc<dyn Provider> = Arc::clone(&self.fake) as Arc<dyn Provider>;
        let spec = AllocateSpec::Zenlayer(zenlayer_allocate());
        let request = Request {
            fingerprint: super::fingerprint(&provider.description().name, &spec),
            valid: ValidAllocate {
                provider,
                spec,
                idempotency_key: Some(key.to_owned()),
            },
            caller: None,
            wait,
            wait_timeout: Some(Duration::from_secs(5)),
            deadline: None,
        };
        self.allocator.allocate(request).await
    }

    /// The state of `key-1`'s record.
    fn record_state(&self) -> Option<&'static str> {
        self.allocator
            .store
            .local()
            .unwrap()
            .get("key-1", SystemTime::now())
            .unwrap()
            .map(|record| record.state_name())
    }
}

/// A panic while the provider call runs: the caller gets INTERNAL
/// `ALLOCATION_INTERRUPTED` naming the key, the record says "unknown", and
/// the retry reconciles instead of allocating again.
#[tokio::test]
async fn a_panicking_allocation_is_recorded_unknown_and_answered() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake.on_allocate(Act::Panic);
    let status = flow.call(false).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_eq!(reason(&status), "ALLOCATION_INTERRUPTED");
    assert_eq!(error_info(&status).metadata["idempotencyKey"], "key-1");
    assert_eq!(flow.record_state(), Some("unknown"));
    assert!(flow.allocator.inflight.is_empty(), "the claim was released");

    flow.fake
        .on_reconcile(Act::Answer(Ok(Some(created(AllocationState::Pending)))));
    let response = flow.call(false).await.unwrap();
    assert_eq!(response.allocations[0].id, "eip-1");
    assert_eq!(flow.fake.allocate_calls(), 1, "never sent twice");
    assert_eq!(flow.record_state(), Some("completed"));
}

/// A panic while waiting: the allocation succeeded, so the caller gets it
/// (in its last known state), and the record keeps it.
#[tokio::test]
async fn a_panic_while_waiting_still_answers_the_allocation() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Pending))));
    flow.fake.on_lookup(Act::Panic);
    let response = flow.call(true).await.unwrap();
    assert_eq!(response.allocations[0].id, "eip-1");
    assert_eq!(flow.record_state(), Some("completed"));
}

/// An unknown outcome, then retries: a failed reconciliation answers
/// ABORTED `PROVIDER_OUTCOME_PENDING` and sends nothing; only a
/// reconciliation that answers "nothing exists" after the grace period
/// leads to the one re-send.
#[tokio::test]
async fn a_failed_reconciliation_never_leads_to_a_re_send() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake.on_allocate(Act::Answer(Err(lost())));
    flow.fake.on_reconcile(Act::Answer(Err(throttled_lookup())));
    let status = flow.call(false).await.unwrap_err();
    assert_eq!(reason(&status), "PROVIDER_OUTCOME_UNKNOWN", "{status:?}");

    for failure in [throttled_lookup(), lost()] {
        flow.fake.on_reconcile(Act::Answer(Err(failure)));
        let status = flow.call(false).await.unwrap_err();
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
        assert_eq!(reason(&status), "PROVIDER_OUTCOME_PENDING");
        assert!(status.get_error_details().retry_info().is_some());
        assert_eq!(flow.fake.allocate_calls(), 1, "nothing re-sent");
        assert_eq!(flow.record_state(), Some("unknown"));
    }

    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Pending))));
    flow.call(false).await.unwrap();
    assert_eq!(
        flow.fake.allocate_calls(),
        2,
        "re-sent once nothing was found"
    );
}

/// The reconciliation must be *asked* after the grace period: one that
/// started inside it and answered after it ended does not allow a re-send.
#[tokio::test]
async fn a_reconciliation_asked_within_the_grace_period_does_not_re_send() {
    let grace = Duration::from_millis(150);
    let flow = Flow::new(grace);
    flow.fake.on_allocate(Act::Answer(Err(lost())));
    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    let status = flow.call(false).await.unwrap_err();
    assert_eq!(reason(&status), "PROVIDER_OUTCOME_UNKNOWN");

    // Asked at once, answered "nothing" after the grace period.
    flow.fake.on_reconcile(Act::Slow(grace * 2, Ok(None)));
    let status = flow.call(false).await.unwrap_err();
    assert_eq!(reason(&status), "PROVIDER_OUTCOME_PENDING", "{status:?}");
    assert_eq!(flow.fake.allocate_calls(), 1);

    // Asked after the grace period: now the allocation goes again.
    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Pending))));
    flow.call(false).await.unwrap();
    assert_eq!(flow.fake.allocate_calls(), 2);
}

/// A re-send that fails definitely (here: not even sent) leaves the key
/// reconciling, not freed: the next call asks the provider again first.
#[tokio::test]
async fn a_failed_re_send_keeps_the_key_unknown() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake.on_allocate(Act::Answer(Err(lost())));
    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    flow.call(false).await.unwrap_err();

    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    flow.fake
        .on_allocate(Act::Answer(Err(ProviderError::RateLimited {
            op: ALLOCATE,
            retry_after: Duration::from_millis(50),
        })));
    let status = flow.call(false).await.unwrap_err();
    assert_eq!(reason(&status), "GATEWAY_RATE_LIMITED");
    assert_eq!(flow.record_state(), Some("unknown"));

    flow.fake
        .on_reconcile(Act::Answer(Ok(Some(created(AllocationState::Ready)))));
    let response = flow.call(false).await.unwrap();
    assert_eq!(response.allocations[0].ip_address, "128.1.32.7");
    assert_eq!(flow.fake.allocate_calls(), 2);
}

/// A replay of a PENDING answer is refreshed with one lookup and the record
/// updated; once READY it is answered from the store without a lookup.
#[tokio::test]
async fn replays_are_refreshed_once_and_never_go_backwards() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Pending))));
    let first = flow.call(false).await.unwrap();
    assert_eq!(first.allocations[0].state(), pb::AllocationState::Pending);

    // The lookup fails: the stored answer, not an error.
    flow.fake.on_lookup(Act::Answer(Err(throttled_lookup())));
    let replay = flow.call(false).await.unwrap();
    assert_eq!(replay, first);

    flow.fake
        .on_lookup(Act::Answer(Ok(vec![eip(AllocationState::Ready)])));
    let replay = flow.call(false).await.unwrap();
    assert_eq!(replay.allocations[0].state(), pb::AllocationState::Ready);
    assert_eq!(replay.allocations[0].ip_address, "128.1.32.7");
    assert_eq!(replay.provider_request_id, first.provider_request_id);
    assert_eq!(flow.fake.lookup_calls(), 2);

    // A lookup that would report it PENDING again is never made.
    flow.fake
        .on_lookup(Act::Answer(Ok(vec![eip(AllocationState::Pending)])));
    let again = flow.call(false).await.unwrap();
    assert_eq!(again, replay);
    assert_eq!(flow.fake.lookup_calls(), 2, "terminal: no lookup");
    assert_eq!(flow.fake.allocate_calls(), 1);
}

/// A key first answered READY after `wait`, replayed without `wait`:
/// READY with the address, straight from the store.
#[tokio::test]
async fn a_replay_after_wait_answers_the_state_the_wait_reached() {
    let flow = Flow::new(Duration::ZERO);
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Pending))));
    flow.fake
        .on_lookup(Act::Answer(Ok(vec![eip(AllocationState::Ready)])));
    let waited = flow.call(true).await.unwrap();
    assert_eq!(waited.allocations[0].state(), pb::AllocationState::Ready);
    let replay = flow.call(false).await.unwrap();
    assert_eq!(replay, waited);
    assert_eq!(flow.fake.lookup_calls(), 1, "answered from the store");
}

/// `wait_until` never overflows, whatever the caller asked.
#[tokio::test]
async fn wait_until_never_overflows() {
    let now = Instant::now();
    let far = wait_until(Some(Duration::MAX), None);
    assert!(far > now);
    let deadline = now + Duration::from_secs(1);
    assert_eq!(wait_until(Some(Duration::MAX), Some(deadline)), deadline);
    assert_eq!(wait_until(None, Some(deadline)), deadline);
    assert!(wait_until(None, None) >= now + DEFAULT_WAIT);
}

/// Spend reservations: a definite failure gives its back, an unknown
/// outcome keeps it (the provider may have allocated), a call over the limit
/// sends nothing and frees its key, the re-send of an unknown key replaces
/// its own reservation, and a replay needs none.
#[tokio::test]
async fn spend_is_reserved_before_sending_and_kept_unless_the_failure_is_definite() {
    let flow = Flow::with_spend_limit(Duration::ZERO, 1);
    let refused_zone = api(
        ProviderKind::Zenlayer,
        ALLOCATE,
        "INVALID_EIP_TYPE_ZONE_NO_SELL",
        400,
    );
    flow.fake.on_allocate(Act::Answer(Err(refused_zone)));
    let status = flow.call_with("key-1", false).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    // The definite failure gave its address back: key-2 may send.
    flow.fake.on_allocate(Act::Answer(Err(lost())));
    flow.fake.on_reconcile(Act::Answer(Err(throttled_lookup())));
    let status = flow.call_with("key-2", false).await.unwrap_err();
    assert_eq!(reason(&status), "PROVIDER_OUTCOME_UNKNOWN", "{status:?}");
    assert_eq!(flow.fake.allocate_calls(), 2);

    // key-2's outcome is unknown: its address stays reserved.
    let status = flow.call_with("key-3", false).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "SPEND_LIMIT_REACHED");
    let metadata = error_info(&status).metadata;
    assert_eq!(
        (
            metadata["spendScope"].as_str(),
            metadata["spendUsed"].as_str()
        ),
        ("account", "1")
    );
    assert!(status.get_error_details().retry_info().is_some());
    assert_eq!(flow.fake.allocate_calls(), 2, "nothing sent over the limit");
    let store = flow.allocator.store.local().unwrap();
    assert!(
        store.get("key-3", SystemTime::now()).unwrap().is_none(),
        "the refused key is free"
    );

    // The re-send of key-2 fits: its own reservation is not counted twice.
    flow.fake.on_reconcile(Act::Answer(Ok(None)));
    flow.fake
        .on_allocate(Act::Answer(Ok(created(AllocationState::Ready))));
    flow.call_with("key-2", false).await.unwrap();
    assert_eq!(flow.fake.allocate_calls(), 3);
    // A replay is answered at the limit.
    flow.call_with("key-2", false).await.unwrap();
    assert_eq!(flow.fake.allocate_calls(), 3);
}

#[test]
fn a_generated_key_is_gw_and_a_random_uuid_in_lowercase_hex() {
    let (a, b) = (generated_key(), generated_key());
    for key in [&a, &b] {
        let digits = key.strip_prefix("gw-").unwrap();
        assert_eq!(digits.len(), 32, "{key}");
        assert!(
            digits
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{key}"
        );
        let uuid = uuid::Uuid::parse_str(digits).unwrap();
        assert_eq!(uuid.get_version_num(), 4, "{key}");
    }
    assert_ne!(a, b);
}
