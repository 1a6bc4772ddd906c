//! Where a build's process runs. The worker talks to an executor through this small interface
//! (start; read lines; wait; stop with a grace period), so that its claim, lease and abort logic
//! does not depend on whether the process runs locally or, later, in a Kubernetes Job.
//!
//! Locally, a build runs in one of two isolations (`BUILD_ISOLATION`):
//! - `namespaces`: `unshare --pid --fork --mount --mount-proc --kill-child --propagation private
//!   -- sh -c CMD sh ARGS...`. The build gets its own PID and mount namespaces and its own /proc,
//!   so it sees no process of the host or of other builds. The `unshare` process dies with the
//!   worker (PR_SET_PDEATHSIG), the namespace's init (`sh`) dies with `unshare` (`--kill-child`),
//!   and when a namespace's init dies the kernel kills every process in it.
//! - `processes`, where namespaces are unavailable: `sh -c` leads a process group and every
//!   process carries a marker variable of its own in its environment; stopping signals the group
//!   and every process of /proc whose environment holds the marker, setsid and double forks
//!   included.
//!
//! `auto` (the default) probes once whether namespaces work and takes them if they do.

mod scan;

pub use scan::live_with_cmdline;

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::BoxFuture;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::settings::BuildIsolation;
use scan::Members;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub work_dir: PathBuf,
    /// Run by `sh -c`.
    pub command: String,
    /// Positional parameters of the command (`"$@"`).
    pub args: Vec<String>,
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

/// A running build. Dropping it kills everything the build started.
pub trait ProcessHandle: Send {
    /// Waits until the build process exits. Cancel-safe.
    fn wait(&mut self) -> BoxFuture<'_, io::Result<Exit>>;

    /// Asks everything the build started to stop (SIGTERM), waits up to `grace` for it, then
    /// kills what is left (SIGKILL), and returns once nothing of it runs any more.
    fn stop(&mut self, grace: Duration) -> BoxFuture<'_, io::Result<Exit>>;

    /// After the build process exited on its own: ends whatever it left running.
    fn reap(&mut self) -> BoxFuture<'_, ()>;

    /// What identifies the build's processes, for logs.
    fn describe(&self) -> String;
}

pub trait Executor: Send + Sync {
    fn start(&self, spec: ProcessSpec) -> io::Result<StartedProcess>;
}

/// The isolation in use, once probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Namespaces,
    Processes,
}

const UNSHARE: &str = "unshare";
const UNSHARE_ARGS: [&str; 8] = [
    "--pid",
    "--fork",
    "--mount",
    "--mount-proc",
    "--kill-child",
    "--propagation",
    "private",
    "--",
];

/// Whether this host lets the worker make PID and mount namespaces; asked once per process.
pub fn namespaces_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let probe = std::process::Command::new(UNSHARE)
            .args(UNSHARE_ARGS)
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match probe {
            Ok(status) if status.success() => true,
            Ok(status) => {
                tracing::warn!(%status, "unshare cannot make PID and mount namespaces here");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "unshare could not be run");
                false
            }
        }
    })
}

/// Runs builds as local processes, isolated as `BUILD_ISOLATION` asks.
pub struct LocalExecutor {
    isolation: Isolation,
}

impl LocalExecutor {
    /// Probes the host (for `auto` and `namespaces`) and logs which isolation builds get.
    pub fn new(requested: BuildIsolation) -> Self {
        let isolation = match requested {
            BuildIsolation::Processes => Isolation::Processes,
            BuildIsolation::Auto | BuildIsolation::Namespaces if namespaces_available() => {
                Isolation::Namespaces
            }
            BuildIsolation::Namespaces => {
                tracing::error!("BUILD_ISOLATION=namespaces, but namespaces are unavailable; builds fall back to process groups with a marker scan");
                Isolation::Processes
            }
            BuildIsolation::Auto => Isolation::Processes,
        };
        match isolation {
            Isolation::Namespaces => tracing::info!(
                "build isolation: own PID and mount namespaces with their own /proc (unshare)"
            ),
            Isolation::Processes => tracing::warn!(
                "build isolation: process groups and a marker scan of /proc; builds can see the host's processes"
            ),
        }
        LocalExecutor { isolation }
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }
}

/// The init of a build's namespace: `sh -c INIT CMD sh ARGS...` runs `sh -c CMD sh ARGS...`.
const NAMESPACE_INIT: &str = r#"sh -c "$0" "$@""#;

/// Longest line kept whole; longer output is split.
const MAX_LINE: u64 = 64 * 1024;

/// The variable that marks every process of a build in `processes` isolation.
const MARKER_VAR: &str = "ACTOR_BUILD_PROCESS_MARKER";

impl Executor for LocalExecutor {
    fn start(&self, spec: ProcessSpec) -> io::Result<StartedProcess> {
        let mut command = match self.isolation {
            Isolation::Namespaces => {
                // The namespace's init is a plain `sh` that runs the build's `sh -c` as its child:
                // an init is immune to SIGTERM, the build's shell must not be.
                let mut command = Command::new(UNSHARE);
                command
                    .args(UNSHARE_ARGS)
                    .args(["sh", "-c", NAMESPACE_INIT]);
                command
            }
            Isolation::Processes => Command::new("sh"),
        };
        command
            .arg("-c")
            .arg(&spec.command)
            .arg("sh")
            .args(&spec.args)
            .current_dir(&spec.work_dir)
            .env_clear()
            .envs(spec.env)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let marker = format!("{MARKER_VAR}={}", crate::domain::new_id());
        if self.isolation == Isolation::Processes {
            if let Some((name, value)) = marker.split_once('=') {
                command.env(name, value);
            }
        }
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
        let members = match self.isolation {
            Isolation::Namespaces => None,
            Isolation::Processes => Some(Members::Marked { pgid, marker }),
        };
        Ok(StartedProcess {
            output,
            handle: Box::new(LocalProcess {
                child,
                pgid: Pid::from_raw(pgid),
                isolation: self.isolation,
                members,
                exit: None,
                ended: false,
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
    /// The leading process (`unshare`, or `sh` in `processes` isolation) and its group.
    pgid: Pid,
    isolation: Isolation,
    /// Which processes are the build's; in `namespaces` isolation learned once the namespace
    /// exists.
    members: Option<Members>,
    exit: Option<Exit>,
    /// Set once nothing of the build runs any more; until then, dropping the handle kills it.
    ended: bool,
}

impl LocalProcess {
    async fn wait_leader(&mut self) -> io::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        self.learn_members();
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

    /// In `namespaces` isolation, the build's PID namespace, read from the `unshare` process
    /// once it made it (before that, its children's namespace is still the worker's own).
    fn learn_members(&mut self) {
        if self.members.is_some() || self.exit.is_some() {
            return;
        }
        let Some(own) = scan::pid_namespace(std::process::id() as i32, "pid") else {
            return;
        };
        self.members = scan::child_namespace(self.pgid.as_raw(), &own);
    }

    /// Signals the leading group and every process found to be the build's.
    async fn signal_all(&mut self, signal: Signal) {
        self.learn_members();
        // Each process gets the signal once: by its group while the leader lives (the group
        // cannot be reused before the leader is reaped), else one by one.
        let signalled_group = self.exit.is_none().then(|| {
            // ESRCH: the group is already gone.
            let _ = killpg(self.pgid, signal);
            self.pgid.as_raw()
        });
        if let Some(members) = self.members.clone() {
            let _ = tokio::task::spawn_blocking(move || {
                scan::signal_members(&members, signal, signalled_group)
            })
            .await;
        }
    }

    /// Whether any process of the build is alive.
    async fn any_alive(&mut self) -> bool {
        self.learn_members();
        let members = self.members.clone();
        let pgid = self.pgid.as_raw();
        tokio::task::spawn_blocking(move || match members {
            Some(members) => !scan::live_members(&members).is_empty(),
            None => group_alive(pgid),
        })
        .await
        .unwrap_or(true)
    }

    /// Waits until no process of the build is alive, up to `deadline`; true when none is.
    async fn gone_by(&mut self, deadline: Instant) -> bool {
        loop {
            if !self.any_alive().await {
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
            // A namespace's init ignores SIGTERM unless it handles it; every other process of
            // the namespace gets it, and the init (`sh`) ends once its command does.
            self.signal_all(Signal::SIGTERM).await;
            let leader = tokio::time::timeout_at(deadline, self.wait_leader()).await;
            if leader.is_err() || !self.gone_by(deadline).await {
                // SIGKILL of `unshare` kills the namespace's init (--kill-child), and with it,
                // by the kernel, everything else in the namespace.
                self.signal_all(Signal::SIGKILL).await;
            }
            let exit = self.wait_leader().await?;
            self.reap().await;
            Ok(exit)
        })
    }

    fn reap(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // In `namespaces` isolation the kernel has already killed what the init left
            // behind; what is still dying is killed again, harmlessly.
            if self.any_alive().await {
                self.signal_all(Signal::SIGKILL).await;
            }
            if self.gone_by(Instant::now() + Duration::from_secs(10)).await {
                self.ended = self.exit.is_some();
            } else {
                tracing::warn!(
                    process = %self.describe(),
                    "processes of the build survive SIGKILL"
                );
            }
        })
    }

    fn describe(&self) -> String {
        match self.isolation {
            Isolation::Namespaces => format!("pid namespace of {}", self.pgid),
            Isolation::Processes => format!("process group {}", self.pgid),
        }
    }
}

impl Drop for LocalProcess {
    /// A handle dropped while the build runs (its task panicked or was cancelled) kills it all:
    /// `kill_on_drop` kills the leader, and this kills the rest.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if self.exit.is_none() {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
        if let Some(members) = &self.members {
            scan::signal_members(members, Signal::SIGKILL, None);
        }
    }
}

/// Whether any process of the group is alive. Zombies (dead, not yet reaped by their parent) do
/// not count: they run nothing.
pub fn group_alive(pgid: i32) -> bool {
    // The kernel knows at once when the group has no member at all, the common case; only a
    // group with members (possibly zombies only) needs the scan of /proc.
    if killpg(Pid::from_raw(pgid), None) == Err(nix::errno::Errno::ESRCH) {
        return false;
    }
    !scan::live_members(&Members::Marked {
        pgid,
        marker: String::new(),
    })
    .is_empty()
}

/// Whether a process is alive (exists and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    scan::proc_stat(&PathBuf::from(format!("/proc/{pid}/stat")))
        .is_some_and(|(state, _)| state != 'Z')
}

#[cfg(test)]
mod tests;
