//! Finding a build's processes in the host's /proc: by PID namespace, by process group, or by
//! the marker variable in their environment.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Which processes belong to a build.
#[derive(Debug, Clone)]
pub(super) enum Members {
    /// Every process of this PID namespace (`pid:[inode]` as /proc/PID/ns/pid reads). The
    /// open namespace file keeps the namespace, and so its inode number, from being freed and
    /// given to another build's namespace while this build's processes are still looked for.
    Namespace { id: String, _held: Arc<File> },
    /// Every process of this process group, and every process whose environment holds this
    /// `NAME=value` marker (setsid, setpgrp and double forks keep their environment).
    Marked { pgid: i32, marker: String },
}

fn pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// State and process group of a process, from `/proc/<pid>/stat`.
pub(super) fn proc_stat(path: &Path) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold anything; fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// The PID namespace of a process, as `pid:[inode]`.
pub(super) fn pid_namespace(pid: i32, link: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{link}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The PID namespace a process's children are born in, held open, unless it is `own`'s.
pub(super) fn child_namespace(pid: i32, own: &str) -> Option<Members> {
    let file = File::open(format!("/proc/{pid}/ns/pid_for_children")).ok()?;
    let id = format!("pid:[{}]", file.metadata().ok()?.ino());
    (id != own).then(|| Members::Namespace {
        id,
        _held: Arc::new(file),
    })
}

fn environ_holds(pid: i32, marker: &str) -> bool {
    !marker.is_empty()
        && std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == marker.as_bytes()))
}

/// Whether a process's command line holds `text`.
pub fn cmdline_holds(pid: i32, text: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.windows(text.len()).any(|w| w == text.as_bytes()))
}

/// Live processes of the host whose command line holds `text` (for tests and diagnostics).
pub fn live_with_cmdline(text: &str) -> Vec<i32> {
    let own = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|pid| *pid != own && cmdline_holds(*pid, text))
        .filter(|pid| {
            proc_stat(Path::new(&format!("/proc/{pid}/stat"))).is_some_and(|(s, _)| s != 'Z')
        })
        .collect()
}

/// Live (not zombie) processes of the build, never the worker itself.
pub(super) fn live_members(members: &Members) -> Vec<i32> {
    live_members_with_group(members)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// Live processes of the build with their process groups.
fn live_members_with_group(members: &Members) -> Vec<(i32, i32)> {
    let own = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            let (state, pgrp) = proc_stat(Path::new(&format!("/proc/{pid}/stat")))?;
            let member = state != 'Z'
                && match members {
                    Members::Namespace { id, .. } => {
                        pid_namespace(pid, "pid").as_deref() == Some(id)
                    }
                    Members::Marked { pgid, marker } => pgrp == *pgid || environ_holds(pid, marker),
                };
            member.then_some((pid, pgrp))
        })
        .collect()
}

/// Sends `signal` to every live process of the build but those of `signalled_group` (already
/// signalled as a group: a second SIGTERM would run a build's TERM trap twice); returns how
/// many processes were signalled.
pub(super) fn signal_members(
    members: &Members,
    signal: Signal,
    signalled_group: Option<i32>,
) -> usize {
    let found: Vec<i32> = live_members_with_group(members)
        .into_iter()
        .filter(|(_, pgrp)| Some(*pgrp) != signalled_group)
        .map(|(pid, _)| pid)
        .collect();
    for pid in &found {
        // ESRCH: it ended meanwhile.
        let _ = kill(Pid::from_raw(*pid), signal);
    }
    found.len()
}
