//! Writing a version's sources into a build's work directory.
//!
//! Every name that comes from a user (a source file, an archive entry, a link target, a repository
//! subfolder) is checked component by component before anything is written, so that nothing lands
//! outside the work directory: `..` components, absolute names and NUL bytes are refused, nothing is
//! ever written through a symbolic link, and links whose target leaves the work directory fail the
//! build with a message that names the entry. What is written is counted against the limits as
//! it is written, and a stopped build stops the writing between two chunks.

mod address;
mod archive;
mod download;
mod files;
mod git;
pub(crate) mod paths;
mod records;
pub mod workdir;

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{watch, OwnedRwLockReadGuard, RwLock};

use crate::domain::version_spec::{SourceType, VersionSpec};

/// Limits for sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// The largest tarball (as downloaded, before unpacking) that is accepted.
    pub tarball_max_bytes: u64,
    /// How long a tarball download, or a `git clone`, may take in total.
    pub download_timeout: Duration,
    /// The most bytes that unpacking an archive (or writing source files) may write.
    pub max_unpacked_bytes: u64,
    /// The most entries an archive (or the source files) may have.
    pub max_entries: u64,
    /// Whether loopback, private and link-local addresses may be fetched from.
    pub allow_private_targets: bool,
}

/// Why the sources could not be written. `Display` is one line, fit for the build log.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{origin} {name:?} refused: {reason}")]
    UnsafePath {
        origin: &'static str,
        name: String,
        reason: String,
    },
    #[error("{origin} {name:?} refused: it is a link to {target:?}, which {reason}")]
    UnsafeLink {
        origin: &'static str,
        name: String,
        target: String,
        reason: String,
    },
    #[error("source file {name:?}: content is not valid base64")]
    InvalidBase64 { name: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{field} is required for sourceType {source_type}")]
    MissingUrl {
        field: &'static str,
        source_type: &'static str,
    },
    #[error("cannot run git: {0}")]
    GitSpawn(#[source] io::Error),
    #[error("git clone of {url} failed: {detail}")]
    GitClone { url: String, detail: String },
    #[error("git clone of {url} did not finish within {secs} s")]
    GitTimeout { url: String, secs: u64 },
    #[error("gitRepoUrl {url} refused: {reason}")]
    TransportRefused { url: String, reason: String },
    #[error("folder {subdir:?} not found in repository {url}")]
    SubdirNotFound { url: String, subdir: String },
    #[error("tarballUrl {url} must be an http:// or https:// URL")]
    BadTarballUrl { url: String },
    #[error("{url} refused: the address is refused: {detail}")]
    AddressRefused { url: String, detail: String },
    #[error("cannot download {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("cannot download {url}: the server answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("cannot download {url}: the download did not finish within {secs} s")]
    DownloadTimeout { url: String, secs: u64 },
    #[error("tarball {url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("cannot read {url}: its signature does not grant reading the record (HTTP 401 from the API)")]
    RecordRefused { url: String },
    #[error("cannot read {url}: the record does not exist")]
    RecordMissing { url: String },
    #[error("tarball {url} is neither a .tar.gz/.tgz (or .tar) nor a .zip archive")]
    UnknownFormat { url: String },
    #[error("cannot unpack tarball {url}: {detail}")]
    Archive { url: String, detail: String },
    #[error("the sources unpack to more than SOURCE_MAX_UNPACKED_BYTES ({limit} bytes)")]
    TooManyBytes { limit: u64 },
    #[error("the sources have more than SOURCE_MAX_ENTRIES ({limit}) entries")]
    TooManyEntries { limit: u64 },
    #[error("writing the sources was stopped")]
    Cancelled,
    #[error("internal error while writing the sources: {0}")]
    Internal(String),
}

/// Stops the writing of sources, and waits until it has stopped: blocking work holds the
/// `busy` lock while it runs, and `cancel_and_wait` takes it exclusively.
#[derive(Clone)]
pub struct Cancel {
    flag: Arc<watch::Sender<bool>>,
    busy: Arc<RwLock<()>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel {
            flag: Arc::new(watch::channel(false).0),
            busy: Arc::new(RwLock::new(())),
        }
    }
}

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        *self.flag.borrow()
    }

    /// Asks every writer to stop, and returns once none is running any more.
    pub async fn cancel_and_wait(&self) {
        self.flag.send_replace(true);
        drop(self.busy.write().await);
    }

    async fn busy(&self) -> OwnedRwLockReadGuard<()> {
        self.busy.clone().read_owned().await
    }

    async fn cancelled(&mut self) {
        let mut rx = self.flag.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What writing may still use: bytes and entries, counted as they are written.
pub(crate) struct Budget {
    limits: SourceLimits,
    bytes: u64,
    entries: u64,
    cancel: Cancel,
}

impl Budget {
    fn new(limits: &SourceLimits, cancel: &Cancel) -> Self {
        Budget {
            limits: *limits,
            bytes: 0,
            entries: 0,
            cancel: cancel.clone(),
        }
    }

    fn check_cancelled(&self) -> Result<(), SourceError> {
        if self.cancel.is_cancelled() {
            Err(SourceError::Cancelled)
        } else {
            Ok(())
        }
    }

    fn add_entry(&mut self) -> Result<(), SourceError> {
        self.check_cancelled()?;
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(SourceError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    fn add_bytes(&mut self, n: u64) -> Result<(), SourceError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_unpacked_bytes {
            return Err(SourceError::TooManyBytes {
                limit: self.limits.max_unpacked_bytes,
            });
        }
        Ok(())
    }
}

/// Writes the version's sources into `dir` (an existing, empty work directory) and returns the
/// Actor root: `dir/subdir` for `GIT_REPO` URLs like `url#branch:subdir`, the single top-level
/// folder of a tarball that has nothing else (GitHub-style), otherwise `dir`. `records` reads
/// `tarballUrl`s that name this service's own key-value store records; `cancel` stops it.
pub async fn materialize(
    spec: &VersionSpec,
    dir: &Path,
    limits: &SourceLimits,
    records: Option<&PgPool>,
    cancel: &Cancel,
) -> Result<PathBuf, SourceError> {
    match spec.source_type {
        SourceType::SourceFiles => {
            let files = spec.source_files.clone();
            let root = dir.to_path_buf();
            let mut budget = Budget::new(limits, cancel);
            blocking(cancel, move || {
                files::write_source_files(&files, &root, &mut budget)
            })
            .await?;
            Ok(dir.to_path_buf())
        }
        SourceType::GitRepo => {
            let url = spec
                .git_repo_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or(SourceError::MissingUrl {
                    field: "gitRepoUrl",
                    source_type: "GIT_REPO",
                })?;
            git::clone_repo(url, dir, limits, cancel).await
        }
        SourceType::Tarball => {
            let url = spec
                .tarball_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or(SourceError::MissingUrl {
                    field: "tarballUrl",
                    source_type: "TARBALL",
                })?;
            let shown = redact_url(url);
            let root = dir.to_path_buf();
            let mut budget = Budget::new(limits, cancel);
            let own = match records {
                Some(pool) => records::read_own_record(pool, url).await?,
                None => None,
            };
            if let Some(bytes) = own {
                return blocking(cancel, move || {
                    archive::unpack_archive(Cursor::new(bytes), &root, &shown, &mut budget)
                })
                .await;
            }
            let spool = dir.parent().unwrap_or(dir).to_path_buf();
            let file = download::download(url, limits, &spool).await?;
            blocking(cancel, move || {
                archive::unpack_archive(file, &root, &shown, &mut budget)
            })
            .await
        }
    }
}

/// Runs `work` on a blocking thread that holds the cancel token's busy lock until it ends.
async fn blocking<T: Send + 'static>(
    cancel: &Cancel,
    work: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let busy = cancel.busy().await;
    tokio::task::spawn_blocking(move || {
        let _busy = busy;
        work()
    })
    .await
    .map_err(|e| SourceError::Internal(e.to_string()))?
}

/// The URL with any `user:password@` and `token=` value replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            out = format!("{}://***@{}", &url[..scheme_end], &rest[at + 1..]);
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("token", _)) => "token=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
