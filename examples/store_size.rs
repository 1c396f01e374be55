//! What one idempotency key costs: bytes of the encoded record, bytes the
//! store counts against its bound, and, for the file store, bytes on disk.
//!
//! ```sh
//! cargo run --release --example store_size -- [--keys 10000]
//! ```
//!
//! Writes `--keys` completed one-EIP Zenlayer records (a tagged POSTPAID
//! request, the gateway's own fingerprint of it, a real `AllocateIpResponse`
//! with the EIP AVAILABLE, 36-character keys) the way the allocation flow
//! does (`begin`, then `complete`), into an in-memory store and into a file
//! store in a temporary directory, and prints the figures per key. The file
//! store commits durably (fsync) twice per key, so it takes a while.

// A measuring tool: a failed setup step ends the run with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use ipalloc_gateway::api::{allocate, convert};
use ipalloc_gateway::idempotency::{IdempotencyStore, StoreOptions};
use ipalloc_gateway::provider::{
    AllocateResult, AllocateSpec, Allocation, AllocationState, Capabilities, ChargeType,
    ProviderDescription, ProviderKind, Tag, ZenlayerAllocate,
};
use prost::Message;

#[derive(Debug, Parser)]
struct Args {
    /// Keys to write to each store.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let spec = AllocateSpec::Zenlayer(ZenlayerAllocate {
        zone_id: "SEL-A".into(),
        charge: ChargeType::Postpaid,
        resource_group_id: None,
        amount: 1,
        netmask: 32,
        amount_set: false,
        netmask_set: false,
        discount_code: None,
        use_poc_voucher: false,
        tags: vec![Tag {
            key: "team".into(),
            value: "edge".into(),
        }],
    });
    let fingerprint = allocate::fingerprint("zenlayer", &spec);
    let description = ProviderDescription {
        name: "zenlayer".into(),
        kind: ProviderKind::Zenlayer,
        region: None,
        endpoint: String::new(),
        capabilities: Capabilities {
            max_allocations_per_request: 100,
            asynchronous: true,
            requires_instance: false,
            requires_instance_restart: false,
            charge_types: Vec::new(),
            api_version: String::new(),
            signature: String::new(),
        },
    };
    let response = |i: usize| {
        convert::allocate_response(
            &description,
            AllocateResult {
                provider_request_id: format!("T{i:08X}-5C4B-4E69-A8E5-07E5F2A1B3C4"),
                order_number: None,
                allocations: vec![Allocation {
                    id: format!("eip-{i:020}"),
                    ip_address: Some(format!("128.1.{}.{}", 32 + i / 250 % 16, 1 + i % 250)),
                    state: AllocationState::Ready,
                    provider_status: "AVAILABLE".into(),
                    zone_id: Some("SEL-A".into()),
                    region_id: None,
                    requires_instance_restart: false,
                    instance_id: None,
                    failure_reason: None,
                    netmask: Some(32),
                }],
            },
        )
        .encode_to_vec()
    };
    let key = |i: usize| format!("{i:08x}-9c4d-4e7b-8a2f-1d6c5e9b0a47");
    let day = Duration::from_secs(24 * 3600);
    let write = |store: &IdempotencyStore| -> Result<Duration, Box<dyn Error>> {
        let started = Instant::now();
        for i in 0..args.keys {
            let now = SystemTime::now();
            store.begin(&key(i), &fingerprint, now)?;
            store.complete(&key(i), &fingerprint, &response(i), now)?;
        }
        Ok(started.elapsed())
    };

    let record = store_record_size(&fingerprint, &response(0))?;
    println!("encoded record of one Zenlayer EIP: {record} bytes (+ a 36-byte key)");

    let mut options = StoreOptions::new(None, day);
    options.max_bytes = 1 << 40;
    let memory = IdempotencyStore::open_with(&options)?;
    write(&memory)?;
    let stats = memory.stats();
    println!(
        "in memory: {} keys, {} bytes counted, {:.0} bytes per key",
        stats.records,
        stats.bytes,
        stats.bytes as f64 / stats.records as f64
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("idempotency.redb");
    options.path = Some(path.clone());
    let file = IdempotencyStore::open_with(&options)?;
    let took = write(&file)?;
    let stats = file.stats();
    file.close();
    let disk = std::fs::metadata(&path)?.len();
    println!(
        "on file: {} keys, {} bytes counted ({:.0} per key), file {} bytes ({:.0} per key), \
         {:.0} keys/s (two fsyncs each)",
        stats.records,
        stats.bytes,
        stats.bytes as f64 / stats.records as f64,
        disk,
        disk as f64 / stats.records as f64,
        stats.records as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// The record's encoded size (version 2).
fn store_record_size(
    fingerprint: &ipalloc_gateway::idempotency::Fingerprint,
    response: &[u8],
) -> Result<usize, Box<dyn Error>> {
    let record = ipalloc_gateway::idempotency::Record::Completed {
        fingerprint: fingerprint.clone(),
        response: response.to_vec(),
        created: SystemTime::now(),
        completed: SystemTime::now(),
    };
    Ok(record.encoded_len()?)
}
