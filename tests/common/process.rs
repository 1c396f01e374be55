//! The gateway binary as a child process: started with a configuration
//! file, its log in a file (so its address is read from the log line, with
//! no port race), signalled, and waited for with a bound; and
//! `ipalloc-gateway emulate`, read up to the end of its banner.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ipalloc_gateway::pb::ip_allocation_client::IpAllocationClient;
use tonic::transport::Channel;

pub const BIN: &str = env!("CARGO_BIN_EXE_ipalloc-gateway");

pub struct Gateway {
    pub child: Child,
    pub log: PathBuf,
}

/// Starts the binary with `config` (written to `dir/gateway.toml`), with an
/// empty environment; `prepare` may change the command.
pub fn spawn(dir: &Path, config: &str, prepare: impl FnOnce(&mut Command)) -> Gateway {
    spawn_under(&[], dir, config, prepare)
}

/// [`spawn`] through `wrapper`, a program (and its arguments) that sets
/// something up and then executes the binary in its own process, such as
/// `prlimit --nofile=256:256 --`.
pub fn spawn_under(
    wrapper: &[&str],
    dir: &Path,
    config: &str,
    prepare: impl FnOnce(&mut Command),
) -> Gateway {
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let log = dir.join(format!("gateway-{}.log", rand::random::<u32>()));
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(BIN);
            command
        }
        None => Command::new(BIN),
    };
    command
        .arg("--config")
        .arg(&path)
        .env_clear()
        // Never the default admin port: tests run gateways side by side.
        .env("IPALLOC_ADMIN_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    prepare(&mut command);
    Gateway {
        child: command.spawn().unwrap(),
        log,
    }
}

impl Gateway {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address from the "listening" log line (panics after 30 s or if
    /// the process exits first).
    pub fn wait_listening(&mut self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.log_text();
            if let Some(addr) = text
                .lines()
                .find(|l| l.contains("ipalloc-gateway listening"))
                .and_then(|l| {
                    l.split("address=")
                        .nth(1)
                        .or_else(|| l.split("\"address\":\"").nth(1))
                })
                .and_then(|a| a.split(|c: char| c.is_whitespace() || c == '"').next())
                .and_then(|a| a.parse().ok())
            {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the gateway exited ({status}) before listening:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A gRPC client of the gateway, once it listens.
    pub async fn client(&mut self) -> IpAllocationClient<Channel> {
        let addr = self.wait_listening();
        IpAllocationClient::new(super::channel(addr).await)
    }

    /// SIGTERM, then the exit (within 20 s), which must be a success;
    /// returns the whole log.
    pub fn terminate(mut self) -> String {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(Duration::from_secs(20));
        let log = self.log_text();
        assert!(status.success(), "{status}: {log}");
        log
    }

    /// True once the process has installed its SIGTERM handler (SigCgt in
    /// /proc): from then on a signal can no longer kill it by default.
    pub fn handles_sigterm(&self) -> bool {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid())) else {
            return false;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
    }

    pub fn signal(&self, signal: i32) {
        let pid = rustix::process::Pid::from_raw(self.pid()).expect("a child's pid is positive");
        let signal = rustix::process::Signal::from_named_raw(signal).expect("a named signal");
        rustix::process::kill_process(pid, signal).expect("kill failed");
    }

    /// Waits for the exit, at most `bound` (then kills it and panics).
    pub fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the gateway did not exit within {bound:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// CPU time used so far (user + system), from /proc/PID/stat.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let per_second = rustix::param::clock_ticks_per_second().max(1);
        Duration::from_millis(ticks * 1000 / per_second)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `ipalloc-gateway emulate`, running until dropped (then killed).
pub struct Emulate(Child);

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ipalloc-gateway emulate ARGS` with an empty environment and
/// returns it with its banner: stdout up to "Stop with Ctrl-C" (panics
/// after 20 s or if it exits first).
pub fn emulate(args: &[&str]) -> (Emulate, String) {
    let args: Vec<&str> = std::iter::once("emulate")
        .chain(args.iter().copied())
        .collect();
    with_banner(&args)
}

/// [`emulate`] for any command line that prints a banner ending with
/// "Stop with Ctrl-C" (`--sandbox ...`); killed when dropped.
pub fn with_banner(args: &[&str]) -> (Emulate, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Emulate(child);
    let mut banner = String::new();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !banner.contains("Stop with Ctrl-C") {
        assert!(Instant::now() < deadline, "no banner: {banner}");
        match lines.next() {
            Some(Ok(line)) => {
                banner.push_str(&line);
                banner.push('\n');
            }
            _ => panic!("{args:?} exited: {banner}"),
        }
    }
    (running, banner)
}
