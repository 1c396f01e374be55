//! The scenarios: which call the load makes (AllocateIp with a new key on
//! either cloud, AllocateIp replaying one key, GetAllocation) and against
//! which idempotency store the gateway runs (in memory, a file, or fleet
//! mode on PostgreSQL). The floor gets the very same
//! calls; it has no store, so it makes its one provider call every time.

use std::time::Duration;

use ipalloc_gateway::pb;
use ipalloc_gateway::pb::allocate_ip_request::Params;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tonic::transport::Channel;

use crate::zenlayer_request::zenlayer_request;

/// Deadline of every call (grpc-timeout): bounds a call that never ends.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the load calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// AllocateIp on Zenlayer, a new idempotency key per call.
    NewZenlayer,
    /// AllocateIp on Aliyun, a new idempotency key and instance per call.
    NewAliyun,
    /// AllocateIp on Zenlayer, always the same key and parameters.
    Replay,
    /// GetAllocation of one Zenlayer EIP.
    Get,
}

/// The gateway's idempotency store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    File,
    /// Fleet mode: `[cluster]` on a fresh PostgreSQL database.
    Postgres,
}

impl Store {
    /// The stores in report order.
    pub const ALL: [Store; 3] = [Store::Memory, Store::File, Store::Postgres];

    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Store::Memory => "in-memory store",
            Store::File => "file store",
            Store::Postgres => "PostgreSQL (fleet mode)",
        }
    }
}

/// One scenario: a call and a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    pub call: Call,
    pub store: Store,
}

impl Scenario {
    pub const ALL: [Scenario; 12] = {
        const fn s(call: Call, store: Store) -> Scenario {
            Scenario { call, store }
        }
        [
            s(Call::NewZenlayer, Store::Memory),
            s(Call::NewAliyun, Store::Memory),
            s(Call::Replay, Store::Memory),
            s(Call::Get, Store::Memory),
            s(Call::NewZenlayer, Store::File),
            s(Call::NewAliyun, Store::File),
            s(Call::Replay, Store::File),
            s(Call::Get, Store::File),
            s(Call::NewZenlayer, Store::Postgres),
            s(Call::NewAliyun, Store::Postgres),
            s(Call::Replay, Store::Postgres),
            s(Call::Get, Store::Postgres),
        ]
    };

    /// The name `--scenarios` takes.
    pub fn name(&self) -> String {
        let call = match self.call {
            Call::NewZenlayer => "zenlayer",
            Call::NewAliyun => "aliyun",
            Call::Replay => "replay",
            Call::Get => "get",
        };
        match self.store {
            Store::Memory => call.to_owned(),
            Store::File => format!("{call}-file"),
            Store::Postgres => format!("{call}-postgres"),
        }
    }

    /// The heading of its table.
    pub fn title(&self) -> String {
        format!("{} ({})", self.call.title(), self.store.label())
    }
}

impl Call {
    /// What the call is, in headings.
    pub fn title(self) -> &'static str {
        match self {
            Call::NewZenlayer => "AllocateIp Zenlayer, new key per call",
            Call::NewAliyun => "AllocateIp Aliyun, new key per call",
            Call::Replay => "AllocateIp Zenlayer replay, same key (floor: one provider call)",
            Call::Get => "GetAllocation Zenlayer",
        }
    }
}

/// What the calls of a scenario share: the replayed key's request and the
/// looked-up EIP, made by one call before the load.
#[derive(Debug, Clone)]
pub struct Fixture {
    replay: pb::AllocateIpRequest,
    eip_id: String,
}

impl Fixture {
    /// Allocates the EIP that `Replay` replays and `Get` looks up.
    pub async fn prepare(
        client: &mut IpAllocationClient<Channel>,
    ) -> Result<Fixture, tonic::Status> {
        let replay = zenlayer_request("bench-fixture".to_owned());
        let answer = client
            .allocate_ip(timed(replay.clone()))
            .await?
            .into_inner();
        let eip_id = answer
            .allocations
            .first()
            .map(|a| a.id.clone())
            .ok_or_else(|| tonic::Status::internal("the fixture allocation has no allocation"))?;
        Ok(Fixture { replay, eip_id })
    }
}

/// Makes call number `n` of `call` (`n` makes new keys unique).
pub async fn call(
    client: &mut IpAllocationClient<Channel>,
    call: Call,
    n: u64,
    fixture: &Fixture,
) -> Result<(), tonic::Status> {
    match call {
        Call::NewZenlayer => {
            let request = zenlayer_request(format!("bench-{n:012}"));
            client.allocate_ip(timed(request)).await.map(drop)
        }
        Call::NewAliyun => {
            let request = pb::AllocateIpRequest {
                provider: "aliyun".into(),
                idempotency_key: format!("bench-{n:012}"),
                params: Some(Params::Aliyun(pb::AliyunAllocateParams {
                    instance_id: format!("i-bench{n:012}"),
                    ..Default::default()
                })),
                ..Default::default()
            };
            client.allocate_ip(timed(request)).await.map(drop)
        }
        Call::Replay => client
            .allocate_ip(timed(fixture.replay.clone()))
            .await
            .map(drop),
        Call::Get => {
            let request = pb::GetAllocationRequest {
                provider: "zenlayer".into(),
                id: fixture.eip_id.clone(),
                ..Default::default()
            };
            client.get_allocation(timed(request)).await.map(drop)
        }
    }
}

fn timed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}
