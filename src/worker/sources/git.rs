//! `GIT_REPO`: a shallow clone over `https`, `http`, `ssh` or `git` only, from addresses the
//! policy allows (checked before git runs, and pinned for http so that a second lookup cannot
//! change them). git runs in a process group of its own that is killed whole, and waited for,
//! when the build stops.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::address::{self, ResolveError};
use super::paths::{relative_path, unsafe_path, write_error};
use super::{redact_url, Cancel, SourceError, SourceLimits};

/// `url#branch:subdir` → (url, branch, subdir); branch and subdir are optional.
pub(super) fn parse_git_url(full: &str) -> (&str, Option<&str>, Option<&str>) {
    let Some((url, fragment)) = full.split_once('#') else {
        return (full, None, None);
    };
    let (branch, subdir) = match fragment.split_once(':') {
        Some((branch, subdir)) => (branch, Some(subdir)),
        None => (fragment, None),
    };
    let branch = Some(branch.trim()).filter(|b| !b.is_empty());
    // The subfolder is always relative to the repository, so a leading `/` is tolerated.
    let subdir = subdir
        .map(|s| s.trim().trim_start_matches('/'))
        .filter(|s| !s.is_empty());
    (url, branch, subdir)
}

fn userinfo(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(&rest[..at]).filter(|u| !u.is_empty())
}

/// git's stderr as one line: the meaningful lines joined, credentials hidden, length capped.
pub(super) fn one_line(stderr: &[u8], secret: Option<&str>) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Cloning into"))
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(secret) = secret {
        line = line.replace(secret, "***");
    }
    if line.is_empty() {
        return "git exited without a message".into();
    }
    const MAX: usize = 600;
    if line.len() > MAX {
        let mut cut = MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

/// The repository's transport and the host and port git will connect to.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Remote {
    pub scheme: &'static str,
    pub host: String,
    pub port: u16,
}

/// Accepts `https://`, `http://`, `ssh://`, `git://` URLs and scp-like `[user@]host:path`
/// (ssh); refuses local paths, `file://`, `<transport>::<address>` and anything else.
pub(super) fn remote_of(url: &str) -> Result<Remote, String> {
    if let Some((scheme, _)) = url.split_once("://") {
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => "https",
            "http" => "http",
            "ssh" | "git+ssh" | "ssh+git" => "ssh",
            "git" => "git",
            other => {
                return Err(format!(
                    "the {other}:// transport is not allowed; use https, http, ssh or git"
                ))
            }
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("it is not a valid URL: {e}"))?;
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(v4)) => v4.to_string(),
            Some(url::Host::Ipv6(v6)) => v6.to_string(),
            _ => return Err("it names no host".into()),
        };
        let default = match scheme {
            "https" => 443,
            "http" => 80,
            "ssh" => 22,
            _ => 9418,
        };
        return Ok(Remote {
            scheme,
            host,
            port: parsed.port().unwrap_or(default),
        });
    }
    if url.contains("::") && !url.starts_with('[') {
        return Err("remote helpers (<transport>::<address>) are not allowed".into());
    }
    // git's scp-like syntax: a colon before any slash; anything else is a local path.
    let colon = url.find(':');
    let slash = url.find('/');
    match colon {
        Some(c) if slash.is_none_or(|s| c < s) && c > 0 => {
            let authority = &url[..c];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || host.starts_with('-') {
                return Err("it names no host".into());
            }
            Ok(Remote {
                scheme: "ssh",
                host: host.to_owned(),
                port: 22,
            })
        }
        _ => Err("local paths are not allowed; use an https, http, ssh or git URL".into()),
    }
}

/// Kills git's process group when dropped (the backstop when the clone task itself is dropped).
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

pub(super) async fn clone_repo(
    full_url: &str,
    dir: &Path,
    limits: &SourceLimits,
    cancel: &Cancel,
) -> Result<PathBuf, SourceError> {
    const ORIGIN: &str = "repository folder";
    let (url, branch, subdir) = parse_git_url(full_url);
    let url = url.trim();
    let shown = redact_url(url);
    if url.is_empty() {
        return Err(SourceError::GitClone {
            url: shown,
            detail: "gitRepoUrl has no repository URL before '#'".into(),
        });
    }
    let remote = remote_of(url).map_err(|reason| SourceError::TransportRefused {
        url: shown.clone(),
        reason,
    })?;
    // Check the subfolder's name before cloning anything.
    let subdir_rel = match subdir {
        Some(s) => relative_path(s).map_err(|reason| unsafe_path(ORIGIN, s, reason))?,
        None => None,
    };

    let mut command = Command::new("git");
    if !limits.allow_private_targets {
        let addrs = address::resolve_checked(&remote.host, remote.port)
            .await
            .map_err(|e| match e {
                ResolveError::Refused(r) => SourceError::AddressRefused {
                    url: shown.clone(),
                    detail: r.to_string(),
                },
                other => SourceError::GitClone {
                    url: shown.clone(),
                    detail: other.to_string(),
                },
            })?;
        if matches!(remote.scheme, "http" | "https")
            && remote.host.parse::<std::net::IpAddr>().is_err()
        {
            let pinned: Vec<String> = addrs
                .iter()
                .map(|a| match a.ip() {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                })
                .collect();
            command.arg("-c").arg(format!(
                "http.curloptResolve={}:{}:{}",
                remote.host,
                remote.port,
                pinned.join(",")
            ));
        }
        // A redirect could lead anywhere; proxies would connect on our behalf.
        command.args(["-c", "http.followRedirects=false"]);
        for proxy in [
            "http_proxy",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            command.env_remove(proxy);
        }
        command.args(["-c", "http.proxy="]);
    }
    command.args(["clone", "--no-local", "--depth", "1"]);
    if let Some(branch) = branch {
        command.arg("--branch").arg(branch);
    }
    command
        .arg("--")
        .arg(url)
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", "https:http:ssh:git")
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: runs in the child between fork and exec and only makes the prctl system call,
    // which is async-signal-safe.
    unsafe {
        command
            .pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
    }
    let mut child = command.spawn().map_err(SourceError::GitSpawn)?;
    let mut guard = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
    let mut stderr = child.stderr.take();
    // The clone runs in a task of its own, holding the cancel token's busy lock, so that a
    // stopped build waits until git and everything it started are gone.
    let busy = cancel.busy().await;
    let timeout = limits.download_timeout;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let mut notice = cancel.clone();
    tokio::spawn(async move {
        let _busy = busy;
        let mut done_tx = done_tx;
        let collect = async {
            let mut err = Vec::new();
            if let Some(stderr) = stderr.as_mut() {
                let _ = (&mut *stderr).take(64 * 1024).read_to_end(&mut err).await;
                // The rest is read and dropped, so that git never blocks on a full pipe.
                let _ = tokio::io::copy(stderr, &mut tokio::io::sink()).await;
            }
            let status = child.wait().await;
            (status, err)
        };
        let result = tokio::select! {
            (status, err) = collect => Some((status, err)),
            _ = tokio::time::sleep(timeout) => None,
            _ = done_tx.closed() => None,
            _ = notice.cancelled() => None,
        };
        if result.is_none() {
            drop(guard);
            let _ = child.wait().await;
        } else {
            // git exited by itself; its group id may be reused from now on.
            let _ = guard.0.take();
        }
        let _ = done_tx.send(result);
    });
    let output = match done_rx.await {
        Ok(Some((status, err))) => (status.map_err(SourceError::GitSpawn)?, err),
        Ok(None) | Err(_) => {
            return Err(SourceError::GitTimeout {
                url: shown,
                secs: timeout.as_secs(),
            })
        }
    };
    if !output.0.success() {
        return Err(SourceError::GitClone {
            url: shown,
            detail: one_line(&output.1, userinfo(url)),
        });
    }

    let Some(rel) = subdir_rel else {
        return Ok(dir.to_path_buf());
    };
    let name = subdir.unwrap_or_default();
    let root = dir.join(&rel);
    let not_found = || SourceError::SubdirNotFound {
        url: shown.clone(),
        subdir: name.to_owned(),
    };
    let resolved = match root.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(write_error(&rel, e)),
    };
    let canonical_dir = dir
        .canonicalize()
        .map_err(|e| write_error(Path::new("."), e))?;
    if !resolved.starts_with(&canonical_dir) {
        return Err(unsafe_path(
            ORIGIN,
            name,
            "it resolves (through a symbolic link) outside the work directory",
        ));
    }
    if !resolved.is_dir() {
        return Err(not_found());
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        let ok = |url: &str, scheme: &str, host: &str, port: u16| {
            assert_eq!(
                remote_of(url),
                Ok(Remote {
                    scheme: match scheme {
                        "https" => "https",
                        "http" => "http",
                        "ssh" => "ssh",
                        _ => "git",
                    },
                    host: host.to_owned(),
                    port
                }),
                "{url}"
            )
        };
        ok("https://github.com/a/b.git", "https", "github.com", 443);
        ok("http://127.0.0.1:8080/r.git", "http", "127.0.0.1", 8080);
        ok("http://[::1]/r.git", "http", "::1", 80);
        ok("ssh://git@host:2222/r", "ssh", "host", 2222);
        ok("git://host/r", "git", "host", 9418);
        ok("git@github.com:a/b.git", "ssh", "github.com", 22);
        for bad in [
            "file:///srv/repo",
            "/srv/repo",
            "./repo",
            "../repo",
            "repo",
            "ext::sh -c touch% /tmp/pwned",
            "fd::17",
            "FILE:///x",
            "dir/x:y",
        ] {
            assert!(remote_of(bad).is_err(), "{bad}");
        }
    }
}
