//! The Python client example (`examples/python/client.py`) against the real
//! binary in sandbox mode: `ipalloc-gateway --sandbox --listen
//! 127.0.0.1:PORT`, then the example with the packages pinned in
//! `examples/python/requirements.txt` (installed into `target/test-tools/`).
//! The example must allocate on both providers and show a mapped error with
//! its google.rpc.ErrorInfo.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{free_port, tools};

const EXAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python");

/// How long the gateway may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the example may run (it waits up to 30 s per EIP itself).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the gateway may take to stop after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Collects a child's pipe in the background.
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn new(mut pipe: impl Read + Send + 'static) -> Captured {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bytes);
        let reader = thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buffer[..n]),
                }
            }
        });
        Captured {
            bytes,
            reader: Some(reader),
        }
    }

    /// What was read so far.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits for the pipe's end (the child has exited), then returns all.
    fn finish(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.text()
    }
}

/// The gateway process; stopped with SIGTERM (then SIGKILL if it lingers)
/// when dropped, so a failing test never leaves it running.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    stdout: Captured,
    stderr: Captured,
    exit: Option<ExitStatus>,
}

impl Gateway {
    /// Spawns `ipalloc-gateway --sandbox --listen 127.0.0.1:<port>` with an
    /// empty environment.
    fn spawn(port: u16) -> Gateway {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ipalloc-gateway"))
            .args(["--sandbox", "--listen", &addr.to_string()])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ipalloc-gateway");
        let stdout = Captured::new(child.stdout.take().unwrap());
        let stderr = Captured::new(child.stderr.take().unwrap());
        Gateway {
            child,
            addr,
            stdout,
            stderr,
            exit: None,
        }
    }

    /// The exit status once it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().unwrap();
        }
        self.exit
    }

    /// Waits until the gateway has bound its address (its banner names
    /// it: the listener is ours, not another process's) and accepts TCP
    /// connections; `Err` with its output when it exits first or takes
    /// longer than `timeout`.
    fn wait_until_accepting(&mut self, timeout: Duration) -> Result<(), String> {
        let banner = format!("gRPC on {}", self.addr);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(format!("gateway exited with {status}\n{}", self.output()));
            }
            if self.stdout.text().contains(&banner)
                && TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "gateway not accepting on {} after {timeout:?}\n{}",
                    self.addr,
                    self.output()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM through `kill`, a bounded wait, then SIGKILL; returns the
    /// exit status.
    fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.exited() {
            return status;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return status;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.exit = Some(status);
        status
    }

    /// Its stdout and stderr so far.
    fn output(&self) -> String {
        format!(
            "--- gateway stdout\n{}\n--- gateway stderr\n{}",
            self.stdout.text(),
            self.stderr.text()
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
        self.stdout.finish();
        self.stderr.finish();
    }
}

/// Starts the gateway on a free port; another process may take the port
/// between our probe and the gateway's bind, so a failed start is retried.
fn start_gateway() -> Gateway {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let mut gateway = Gateway::spawn(free_port());
        match gateway.wait_until_accepting(STARTUP_TIMEOUT) {
            Ok(()) => return gateway,
            Err(why) => failures.push(why),
        }
    }
    panic!(
        "the sandbox gateway did not start:\n{}",
        failures.join("\n")
    );
}

/// The pinned requirements (`name==version` lines).
fn requirements() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(EXAMPLE_DIR).join("requirements.txt"))
        .expect("examples/python/requirements.txt");
    let packages: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!packages.is_empty(), "requirements.txt lists nothing");
    for package in &packages {
        assert!(
            package.contains("=="),
            "requirements.txt pins every package: {package}"
        );
    }
    packages
}

/// Runs the example against `addr`, killed after `CLIENT_TIMEOUT`.
fn run_example(bin: &Path, addr: SocketAddr) -> tools::Finished {
    let script = Path::new(EXAMPLE_DIR).join("client.py");
    tools::run_with_timeout(
        tools::python(bin, script).arg(addr.to_string()),
        CLIENT_TIMEOUT,
    )
}

/// The IPv4 address after `marker` in `line`, if any.
fn ip_after(line: &str, marker: &str) -> Option<Ipv4Addr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn python_example_allocates_on_both_providers_and_shows_a_mapped_error() {
    let packages = requirements();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let bin = tools::venv("python-example", &packages);

    let mut gateway = start_gateway();
    let started = Instant::now();
    let tools::Finished {
        status,
        stdout: out,
        stderr: err,
    } = run_example(&bin, gateway.addr);
    let report = format!(
        "client.py exited with {status:?} after {:?}\n--- stdout\n{out}\n--- stderr\n{err}\n{}",
        started.elapsed(),
        gateway.output()
    );
    assert!(status.is_some_and(|s| s.success()), "{report}");
    let lines: Vec<&str> = out.lines().collect();

    // ListProviders: both sandbox providers, on loopback emulators.
    for (name, kind) in [
        ("aliyun", "PROVIDER_KIND_ALIYUN"),
        ("zenlayer", "PROVIDER_KIND_ZENLAYER"),
    ] {
        let prefix = format!("provider {name}: {kind} at http://127.0.0.1:");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix)),
            "no `{prefix}`\n{report}"
        );
    }

    // Aliyun: a public IP from the emulator's default pool, READY.
    let aliyun = lines
        .iter()
        .find(|l| l.starts_with("aliyun: i-emuready001 got "))
        .unwrap_or_else(|| panic!("no Aliyun allocation\n{report}"));
    let ip = ip_after(aliyun, " got ").unwrap_or_else(|| panic!("no IP: {aliyun}\n{report}"));
    assert!(ip.to_string().starts_with("47.96."), "{aliyun}");
    assert!(
        aliyun.ends_with("(ALLOCATION_STATE_READY, restart needed: True)"),
        "{aliyun}"
    );

    // Zenlayer: two EIPs created, each followed until AVAILABLE with an IP.
    let created = lines
        .iter()
        .find(|l| l.starts_with("zenlayer: created ["))
        .unwrap_or_else(|| panic!("no Zenlayer allocation\n{report}"));
    let followed: Vec<(&str, Ipv4Addr)> = lines
        .iter()
        .filter_map(|l| {
            let (id, rest) = l.strip_prefix("zenlayer: ")?.split_once(' ')?;
            let ip = rest.strip_prefix("is AVAILABLE with ")?.parse().ok()?;
            id.starts_with("eip-").then_some((id, ip))
        })
        .collect();
    assert_eq!(
        followed.len(),
        2,
        "two EIPs reach AVAILABLE with an IP\n{report}"
    );
    assert_ne!(followed[0].0, followed[1].0);
    assert_ne!(followed[0].1, followed[1].1);
    for (id, _) in &followed {
        assert!(created.contains(&format!("'{id}'")), "{id} in {created}");
    }

    // The mapped error for a zone that sells no EIPs, with its ErrorInfo.
    let mapped = lines
        .iter()
        .position(|l| *l == "mapped error:")
        .unwrap_or_else(|| panic!("no mapped error\n{report}"));
    let detail = &lines[mapped + 1..];
    assert!(
        detail
            .first()
            .is_some_and(|l| l.starts_with("FAILED_PRECONDITION: ")),
        "{report}"
    );
    assert!(
        detail
            .iter()
            .any(|l| l.starts_with("  reason=EIP_NOT_SOLD_IN_ZONE ")),
        "{report}"
    );
    assert!(
        detail.contains(&"  providerCode=INVALID_EIP_TYPE_ZONE_NO_SELL"),
        "{report}"
    );

    // The gateway stops cleanly on SIGTERM.
    let status = gateway.stop();
    assert!(
        status.success(),
        "gateway exit after SIGTERM: {status}\n{}",
        gateway.output()
    );
    let banner = format!("ipalloc-gateway sandbox: gRPC on {}", gateway.addr);
    assert!(
        gateway.stdout.finish().contains(&banner),
        "{}",
        gateway.output()
    );
}
