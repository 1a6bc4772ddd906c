//! Where a build's process runs. The worker talks to an executor through this small interface
//! (start; read lines; wait; stop with a grace period), so that its claim, lease and abort logic
//! does not depend on whether the process is a local process group or, later, a Kubernetes Job.

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::future::BoxFuture;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub work_dir: PathBuf,
    /// Run by `sh -c`.
    pub command: String,
    /// The whole environment of the process.
    pub env: Vec<(String, String)>,
}

/// How the build process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

pub struct StartedProcess {
    /// Lines of stdout and stderr as they are written, without their line ends.
    pub output: mpsc::Receiver<String>,
    pub handle: Box<dyn ProcessHandle>,
}

pub trait ProcessHandle: Send {
    /// Waits until the build process exits. Cancel-safe.
    fn wait(&mut self) -> BoxFuture<'_, io::Result<Exit>>;

    /// Asks everything the build started to stop (SIGTERM), waits up to `grace` for it, then
    /// kills what is left (SIGKILL), and returns once nothing of it runs any more.
    fn stop(&mut self, grace: Duration) -> BoxFuture<'_, io::Result<Exit>>;

    /// After the build process exited on its own: ends whatever it left running.
    fn reap(&mut self) -> BoxFuture<'_, ()>;

    /// Process ids that identify the build (the local process group), for logs.
    fn describe(&self) -> String;
}

pub trait Executor: Send + Sync {
    fn start(&self, spec: ProcessSpec) -> io::Result<StartedProcess>;
}

/// Runs the build as a local process group: `sh -c <command>` leads a new group, and signals go
/// to the whole group, children and grandchildren included.
pub struct LocalExecutor;

/// Longest line kept whole; longer output is split.
const MAX_LINE: u64 = 64 * 1024;

impl Executor for LocalExecutor {
    fn start(&self, spec: ProcessSpec) -> io::Result<StartedProcess> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.work_dir)
            .env_clear()
            .envs(spec.env)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // If the worker dies without stopping the build (SIGKILL, a crash), the kernel kills the
        // build's leading process with it, rather than leaving it to run unowned.
        // SAFETY: the closure runs in the child between fork and exec and only makes the
        // prctl system call, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let mut child = command.spawn()?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| io::Error::other("the build process has no id"))?;
        let (sender, output) = mpsc::channel(1024);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward_lines(stdout, sender.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_lines(stderr, sender));
        }
        Ok(StartedProcess {
            output,
            handle: Box::new(LocalProcess {
                child,
                pgid: Pid::from_raw(pgid),
                exit: None,
            }),
        })
    }
}

async fn forward_lines(stream: impl AsyncRead + Unpin, sender: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if sender
                    .send(String::from_utf8_lossy(&buf).into_owned())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

struct LocalProcess {
    child: Child,
    pgid: Pid,
    exit: Option<Exit>,
}

impl LocalProcess {
    async fn wait_leader(&mut self) -> io::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let status = self.child.wait().await?;
        use std::os::unix::process::ExitStatusExt;
        let exit = match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        };
        self.exit = Some(exit);
        Ok(exit)
    }

    fn signal_group(&self, signal: Signal) {
        // ESRCH: the group is already gone.
        let _ = killpg(self.pgid, signal);
    }

    /// Waits until no live process is left in the group, up to `deadline`; true when none is.
    async fn group_gone_by(&self, deadline: Instant) -> bool {
        loop {
            if !group_alive_off_thread(self.pgid.as_raw()).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl ProcessHandle for LocalProcess {
    fn wait(&mut self) -> BoxFuture<'_, io::Result<Exit>> {
        Box::pin(self.wait_leader())
    }

    fn stop(&mut self, grace: Duration) -> BoxFuture<'_, io::Result<Exit>> {
        Box::pin(async move {
            let deadline = Instant::now() + grace;
            self.signal_group(Signal::SIGTERM);
            let leader = tokio::time::timeout_at(deadline, self.wait_leader()).await;
            if leader.is_err() || !self.group_gone_by(deadline).await {
                self.signal_group(Signal::SIGKILL);
            }
            let exit = self.wait_leader().await?;
            self.reap().await;
            Ok(exit)
        })
    }

    fn reap(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if group_alive_off_thread(self.pgid.as_raw()).await {
                self.signal_group(Signal::SIGKILL);
            }
            if !self
                .group_gone_by(Instant::now() + Duration::from_secs(10))
                .await
            {
                tracing::warn!(
                    pgid = self.pgid.as_raw(),
                    "processes of the build survive SIGKILL"
                );
            }
        })
    }

    fn describe(&self) -> String {
        format!("process group {}", self.pgid)
    }
}

/// `group_alive` on a blocking thread: scanning /proc reads a file per process.
async fn group_alive_off_thread(pgid: i32) -> bool {
    tokio::task::spawn_blocking(move || group_alive(pgid))
        .await
        .unwrap_or(true)
}

/// Whether any process of the group is alive. Zombies (dead, not yet reaped by their parent) do
/// not count: they run nothing.
pub fn group_alive(pgid: i32) -> bool {
    // The kernel knows at once when the group has no member at all, the common case; only a
    // group with members (possibly zombies only) needs the scan of /proc.
    if killpg(Pid::from_raw(pgid), None) == Err(nix::errno::Errno::ESRCH) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        // Without /proc, the kernel's answer stands, though it counts zombies as members.
        return true;
    };
    entries.flatten().any(|entry| {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && proc_stat(&entry.path().join("stat"))
                .is_some_and(|(state, pgrp)| pgrp == pgid && state != 'Z')
    })
}

/// State and process group of a process, from `/proc/<pid>/stat`.
fn proc_stat(path: &std::path::Path) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold anything; fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether a process is alive (exists and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    proc_stat(&PathBuf::from(format!("/proc/{pid}/stat"))).is_some_and(|(state, _)| state != 'Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str) -> ProcessSpec {
        ProcessSpec {
            work_dir: std::env::temp_dir(),
            command: command.into(),
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
        }
    }

    #[tokio::test]
    async fn lines_and_exit_code() {
        let mut started = LocalExecutor
            .start(spec("echo one; echo two >&2; exit 3"))
            .expect("start");
        let exit = started.handle.wait().await.expect("wait");
        assert_eq!(exit, Exit::Code(3));
        let mut lines = Vec::new();
        while let Some(line) = started.output.recv().await {
            lines.push(line);
        }
        lines.sort();
        assert_eq!(lines, ["one", "two"]);
    }

    #[tokio::test]
    async fn stop_kills_the_whole_group_even_when_term_is_ignored() {
        let mut started = LocalExecutor
            .start(spec("trap '' TERM; (trap '' TERM; sleep 60) & sleep 60"))
            .expect("start");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let described = started.handle.describe();
        let pgid: i32 = described
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(group_alive(pgid));
        let began = Instant::now();
        started
            .handle
            .stop(Duration::from_millis(300))
            .await
            .expect("stop");
        assert!(began.elapsed() >= Duration::from_millis(300));
        assert!(!group_alive(pgid), "nothing of the group is left");
    }
}
