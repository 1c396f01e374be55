//! Idempotency store faults end to end, over real sockets:
//! - a failed write (injected ENOSPC, in process; and a real full tmpfs under
//!   the real binary): AllocateIp answers UNAVAILABLE
//!   `IDEMPOTENCY_STORE_UNAVAILABLE` without calling the provider, health is
//!   NOT_SERVING (the API service and `""`) until the store is reopened, then
//!   SERVING again, with every record intact;
//! - a clean SIGTERM after a failed allocation leaves a clean file (the next
//!   start logs no repair);
//! - an empty store file is refused at start, and moved aside with
//!   `--start-fresh-if-invalid`;
//! - the byte bound of the in-memory store, as a caller sees it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::emulators::counters;
use common::requests;
use common::{channel, error_info, free_port, retry_delay};
use ipalloc_gateway::emulator::{aliyun, zenlayer};
use ipalloc_gateway::pb;
use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use ipalloc_gateway::sandbox::{EmulatorOptions, Emulators, start_emulators};
use ipalloc_gateway::server;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const BIN: &str = env!("CARGO_BIN_EXE_ipalloc-gateway");
const API: &str = "ipalloc.v1.IpAllocation";

fn zenlayer_request(key: &str, zone: &str) -> pb::AllocateIpRequest {
    let params = pb::ZenlayerAllocateParams {
        amount: Some(1),
        ..requests::postpaid(zone)
    };
    requests::keyed(key, requests::zenlayer("zenlayer", params))
}

type Client = IpAllocationClient<Channel>;

/// One POSTPAID EIP in SEL-A under idempotency key `key`.
async fn allocate(client: &mut Client, key: &str) -> Result<pb::AllocateIpResponse, tonic::Status> {
    client
        .allocate_ip(zenlayer_request(key, "SEL-A"))
        .await
        .map(tonic::Response::into_inner)
}

/// New keys `<prefix>-0`, `<prefix>-1`, ... (at most `most`) until one is
/// refused: how many were allocated, and the refusal.
async fn allocate_until_refused(
    client: &mut Client,
    prefix: &str,
    most: usize,
) -> (u64, Option<tonic::Status>) {
    let mut allocated = 0;
    for i in 0..most {
        match allocate(client, &format!("{prefix}-{i}")).await {
            Ok(_) => allocated += 1,
            Err(status) => return (allocated, Some(status)),
        }
    }
    (allocated, None)
}

fn zenlayer_url(emulators: &Emulators) -> String {
    emulators
        .zenlayer
        .as_ref()
        .map(|(running, _)| running.url())
        .expect("zenlayer emulator")
}

/// The health status of `service` (`""` or the API).
async fn status(health: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

/// Waits (bounded) until both `""` and the API report `want`.
async fn wait_for_health(health: &mut HealthClient<Channel>, want: ServingStatus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if status(health, "").await == want && status(health, API).await == want {
            return;
        }
        assert!(Instant::now() < deadline, "health never became {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_store_unavailable(status: &tonic::Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let (reason, domain, _) = error_info(status);
    assert_eq!(reason, "IDEMPOTENCY_STORE_UNAVAILABLE");
    assert_eq!(domain, "ipalloc-gateway");
    assert!(retry_delay(status).is_some(), "RetryInfo: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_write_error_fails_closed_and_health_follows_the_store() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let providers = emulators.provider_configs();
    let dir = tempfile::tempdir().unwrap();
    let (gateway, faults) = common::gateway_with_io_faults(&providers, dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server::serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    let channel = channel(&addr).await;
    let mut client = IpAllocationClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let zenlayer = zenlayer_url(&emulators);

    wait_for_health(&mut health, ServingStatus::Serving).await;
    let first = allocate(&mut client, "before-the-fault").await.unwrap();
    assert_eq!(counters(&zenlayer).await.allocations, 1);

    faults.fail_writes(true);
    let status = allocate(&mut client, "during-the-fault").await.unwrap_err();
    assert_store_unavailable(&status);
    wait_for_health(&mut health, ServingStatus::NotServing).await;
    // Further calls fail fast too, replays included; nothing reaches the
    // provider.
    for key in ["during-the-fault", "before-the-fault", "another"] {
        let status = allocate(&mut client, key).await.unwrap_err();
        assert_store_unavailable(&status);
    }
    assert_eq!(counters(&zenlayer).await.allocations, 1, "nothing was sent");
    // Calls that need no store still work.
    client
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();

    faults.fail_writes(false);
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let replay = allocate(&mut client, "before-the-fault").await.unwrap();
    assert_eq!(replay, first, "the record survived");
    allocate(&mut client, "during-the-fault").await.unwrap();
    assert_eq!(counters(&zenlayer).await.allocations, 2);

    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

/// Sandbox credentials of both emulators, as TOML for the binary.
fn provider_toml(emulators: &Emulators) -> String {
    let aliyun_url = emulators
        .aliyun
        .as_ref()
        .map(|(running, _)| running.url())
        .expect("aliyun emulator");
    format!(
        "[providers.aliyun]\nkind = \"aliyun\"\nregion = \"{region}\"\nendpoint = \"{aliyun_url}\"\n\
         access_key_id = \"{aid}\"\naccess_key_secret = \"{asecret}\"\n\
         [providers.zenlayer]\nkind = \"zenlayer\"\nendpoint = \"{zenlayer_url}\"\n\
         access_key_id = \"{zid}\"\naccess_key_password = \"{zpw}\"\nmax_attempts = 1\n",
        region = aliyun::DEFAULT_REGION,
        aid = aliyun::SANDBOX_ACCESS_KEY_ID,
        asecret = aliyun::SANDBOX_ACCESS_KEY_SECRET,
        zenlayer_url = zenlayer_url(emulators),
        zid = zenlayer::SANDBOX_ACCESS_KEY_ID,
        zpw = zenlayer::SANDBOX_ACCESS_KEY_PASSWORD,
    )
}

/// The binary, started; its stderr is collected by a thread.
struct Binary {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

impl Binary {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Binary { child, stderr }
    }

    /// Waits (bounded) until the gateway answers health checks on `port`
    /// (by then it has installed its signal handlers).
    async fn wait_serving(&mut self, port: u16) {
        self.wait_listening(port);
        let mut health = HealthClient::new(channel(&format!("127.0.0.1:{port}")).await);
        status(&mut health, "").await;
    }

    /// Waits (bounded) until the gateway accepts connections on `port`.
    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the gateway exited with {status}");
            }
            assert!(Instant::now() < deadline, "the gateway did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status and everything it logged.
    fn terminate(self) -> (std::process::ExitStatus, String) {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        self.wait()
    }

    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the gateway did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, strip_ansi(&self.stderr.join().unwrap()))
    }
}

/// The log without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `dir/gateway.toml`: listening on `port`, the store at `store`, then
/// `rest` (the providers).
fn write_config(dir: &Path, port: u16, store: &Path, rest: &str) -> PathBuf {
    let path = dir.join("gateway.toml");
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\n[idempotency]\npath = \"{}\"\n{rest}",
        store.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_after_a_failed_allocation_leaves_a_clean_store_file() {
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("idempotency.redb");
    let port = free_port();
    let config = write_config(dir.path(), port, &store, &provider_toml(&emulators));
    // The file holds inline secrets: readable by others draws a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let start = async || {
        let mut command = Command::new(BIN);
        // Never the default admin port: tests run gateways side by side.
        command
            .env_clear()
            .env("IPALLOC_ADMIN_LISTEN", "127.0.0.1:0")
            .arg("--config")
            .arg(&config);
        let mut gateway = Binary::spawn(command);
        gateway.wait_serving(port).await;
        gateway
    };

    let gateway = start().await;
    let mut client = IpAllocationClient::new(channel(&format!("127.0.0.1:{port}")).await);
    // TYO-A does not sell EIPs: a definite failure, whose record is removed.
    let status = client
        .allocate_ip(zenlayer_request("fails", "TYO-A"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    allocate(&mut client, "works").await.unwrap();
    drop(client);
    let (exit, first_log) = gateway.terminate();
    assert!(exit.success(), "{exit}: {first_log}");
    assert!(
        first_log.contains("idempotency store closed"),
        "{first_log}"
    );
    #[cfg(unix)]
    assert!(
        first_log.contains("holds credentials inline")
            && first_log.contains("providers.zenlayer.access_key_password")
            && !first_log.contains(zenlayer::SANDBOX_ACCESS_KEY_PASSWORD),
        "{first_log}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }

    let gateway = start().await;
    let (exit, second_log) = gateway.terminate();
    assert!(exit.success(), "{exit}: {second_log}");
    assert!(
        second_log.contains("idempotency store opened"),
        "{second_log}"
    );
    assert!(second_log.contains("records=1"), "{second_log}");
    assert!(!second_log.contains("repaired"), "{second_log}");
    assert!(!second_log.contains("not closed cleanly"), "{second_log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_file_is_refused_at_start_and_moved_aside_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("idempotency.redb");
    std::fs::write(&store, b"").unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        port,
        &store,
        "[providers.zl]\nkind = \"zenlayer\"\nendpoint = \"http://127.0.0.1:9\"\n\
         access_key_id_env = \"ZL_ID\"\naccess_key_password_env = \"ZL_PW\"\n",
    );
    let command = || {
        let mut command = Command::new(BIN);
        // Never the default admin port: tests run gateways side by side.
        command
            .env_clear()
            .env("IPALLOC_ADMIN_LISTEN", "127.0.0.1:0")
            .arg("--config")
            .arg(&config);
        command
    };
    let mut refused = command();
    refused.env("ZL_ID", "id").env("ZL_PW", "pw");
    let (exit, log) = Binary::spawn(refused).wait();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(log.contains("not a valid idempotency store"), "{log}");
    assert!(log.contains("empty (0 bytes)"), "{log}");
    assert!(log.contains("--start-fresh-if-invalid"), "{log}");
    assert_eq!(
        std::fs::metadata(&store).unwrap().len(),
        0,
        "left unchanged"
    );

    let mut fresh = command();
    fresh
        .arg("--start-fresh-if-invalid")
        .env("ZL_ID", "id")
        .env("ZL_PW", "pw");
    let mut gateway = Binary::spawn(fresh);
    gateway.wait_serving(port).await;
    let (exit, log) = gateway.terminate();
    assert!(exit.success(), "{log}");
    assert!(log.contains("moved it aside"), "{log}");
    assert!(std::fs::metadata(&store).unwrap().len() > 0);
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("idempotency.redb.invalid-")
        })
        .count();
    assert_eq!(aside, 1);
}

/// A tiny tmpfs (2 MiB) mounted in a private mount namespace holds the store
/// of the real binary; the test fills it from outside through
/// `/proc/<pid>/root` until writes fail with ENOSPC, then frees it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_filesystem_turns_health_not_serving_until_space_returns() {
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "this test needs `unshare --user --map-root-user --mount` (util-linux, with \
         unprivileged user namespaces or root) to mount a tiny tmpfs"
    );
    let emulators = start_emulators(&EmulatorOptions::default()).await.unwrap();
    let zenlayer = zenlayer_url(&emulators);
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("tiny");
    std::fs::create_dir(&mount).unwrap();
    let store = mount.join("idempotency.redb");
    let port = free_port();
    let config = write_config(dir.path(), port, &store, &provider_toml(&emulators));
    let mut command = Command::new("unshare");
    command
        .env_clear()
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o size=2m tmpfs \"$1\" && exec \"$2\" --config \"$3\"")
        .arg("sh")
        .arg(&mount)
        .arg(BIN)
        .arg(&config);
    let mut gateway = Binary::spawn(command);
    gateway.wait_serving(port).await;
    let inside = PathBuf::from(format!("/proc/{}/root", gateway.child.id()))
        .join(mount.strip_prefix("/").unwrap());
    let filler = inside.join("filler");

    let channel = channel(&format!("127.0.0.1:{port}")).await;
    let mut client = IpAllocationClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let first = allocate(&mut client, "before-full").await.unwrap();

    // Fill the filesystem.
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        let mut written = 0usize;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "{e}");
                    break;
                }
            }
            assert!(written < 64 * 1024 * 1024, "the tmpfs is not bounded");
        }
        let _ = file.sync_all();
    }
    // New keys until a write hits the full disk (a commit may still fit in
    // pages the file already has).
    let (more, refused) = allocate_until_refused(&mut client, "while-full", 200).await;
    let ok = 1 + more;
    let status = refused.expect("a write failed on the full filesystem");
    assert_store_unavailable(&status);
    wait_for_health(&mut health, ServingStatus::NotServing).await;
    let status = allocate(&mut client, "before-full").await.unwrap_err();
    assert_store_unavailable(&status);
    // Only the calls that got a record reached the provider.
    assert_eq!(counters(&zenlayer).await.allocations, ok);

    std::fs::remove_file(&filler).unwrap();
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let replay = allocate(&mut client, "before-full").await.unwrap();
    assert_eq!(replay, first);
    allocate(&mut client, "after-full").await.unwrap();
    assert_eq!(counters(&zenlayer).await.allocations, ok + 1);
    drop((client, health));
    let (exit, log) = gateway.terminate();
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("No space left on device"), "{log}");
    assert!(log.contains("health: NOT_SERVING"), "{log}");
    assert!(log.contains("idempotency store reopened"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_byte_bound_new_keys_get_unavailable_and_replays_still_work() {
    for evict in [false, true] {
        let env = common::emulators::start(
            EmulatorOptions::default(),
            &format!("[idempotency]\nmax_bytes = 65536\nevict_completed = {evict}\n"),
            "",
            "rate_per_second = 10000\nburst = 10000\n",
        )
        .await;
        let mut client = env.gateway.client.clone();
        let first = allocate(&mut client, "first").await.unwrap();
        let (more, refused) = allocate_until_refused(&mut client, "key", 400).await;
        let allocated = 1 + more;
        assert_eq!(counters(&env.zenlayer_url).await.allocations, allocated);
        if evict {
            assert!(refused.is_none(), "{refused:?}");
            assert_eq!(allocated, 401);
            // The oldest completed records were evicted: such a key is
            // forgotten, as after its retention (the price of opting in), and
            // the newest ones still replay.
            let last = allocate(&mut client, "key-399").await.unwrap();
            assert_eq!(counters(&env.zenlayer_url).await.allocations, allocated);
            let again = allocate(&mut client, "first").await.unwrap();
            assert_ne!(again.allocations[0].id, first.allocations[0].id);
            assert_eq!(last.allocations.len(), 1);
        } else {
            let status = refused.expect("the bound was reached");
            assert_store_unavailable(&status);
            assert!(allocated > 50, "{allocated}");
            let replay = allocate(&mut client, "first").await.unwrap();
            assert_eq!(replay, first);
        }
        env.gateway.stop().await;
    }
}
