//! A server under test as a child process: its endpoint, and what
//! `/proc/PID` says about it: CPU time (utime + stime of `stat`, in clock
//! ticks) and peak RSS (`VmHWM` of `status`), which `clear_refs` can reset
//! between levels. [`Server::terminate`] stops it with SIGTERM (the
//! gateway's clean shutdown); otherwise it is killed when the handle is
//! dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BoxError;

/// A running server child.
pub struct Server {
    child: Child,
    /// Held open: the floor exits when it closes.
    _stdin: Option<ChildStdin>,
    pub endpoint: String,
}

impl Server {
    /// Spawns `command`, which prints `PORT <n>` on its first stdout line.
    pub fn spawn_announcing(mut command: Command) -> Result<Server, BoxError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("the child has no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .ok_or_else(|| format!("unexpected first line from the child: {line:?}"))?
            .parse()?;
        Ok(Server {
            child,
            _stdin: stdin,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Wraps a child that serves on `endpoint`.
    pub fn new(child: Child, endpoint: String) -> Server {
        Server {
            child,
            _stdin: None,
            endpoint,
        }
    }

    /// Whether the child has exited (its status, when it has).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// CPU time used so far (user + system).
    pub fn cpu(&self) -> Result<Duration, BoxError> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The command name (field 2) may hold spaces; fields after it are
        // plain: state is field 3, utime 14, stime 15.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .ok_or("unexpected /proc/PID/stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<u64, BoxError> {
            Ok(fields.get(i).ok_or("short /proc/PID/stat")?.parse()?)
        };
        let total = ticks(11)? + ticks(12)?;
        let per_second = rustix::param::clock_ticks_per_second().max(1);
        Ok(Duration::from_secs_f64(total as f64 / per_second as f64))
    }

    /// Peak resident set size (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Result<u64, BoxError> {
        self.status_kib("VmHWM:").map(|kib| kib * 1024)
    }

    /// Resident set size now (`VmRSS`), in bytes.
    pub fn rss(&self) -> Result<u64, BoxError> {
        self.status_kib("VmRSS:").map(|kib| kib * 1024)
    }

    /// A `kB` field of `/proc/PID/status`.
    fn status_kib(&self, field: &str) -> Result<u64, BoxError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        Ok(status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .ok_or_else(|| format!("no {field} in /proc/PID/status"))?
            .parse()?)
    }

    /// Resets the peak RSS to the current RSS (`echo 5 > clear_refs`);
    /// false when the kernel does not allow it (then the peak is since start).
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").is_ok()
    }
}

impl Server {
    /// Sends SIGTERM and waits for the exit, at most `bound` (then kills it
    /// and says so).
    pub async fn terminate(
        &mut self,
        bound: Duration,
    ) -> Result<std::process::ExitStatus, BoxError> {
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or("the child has no valid pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("the child did not exit within {bound:?} of SIGTERM").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
