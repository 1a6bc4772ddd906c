//! Writing a version's sources into a build's work directory.
//!
//! Every name that comes from a user (a source file, an archive entry, a link target, a repository
//! subfolder) is checked component by component before anything is written, so that nothing lands
//! outside the work directory: `..` components, absolute names and NUL bytes are refused, nothing is
//! ever written through a symbolic link, and links whose target leaves the work directory fail the
//! build with a message that names the entry.

use std::fs;
use std::io::{self, Cursor, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use futures_util::StreamExt;
use tokio::process::Command;

use crate::domain::version_spec::{FileFormat, SourceFile, SourceType, VersionSpec};

/// Limits for sources fetched over the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// The largest tarball (as downloaded, before unpacking) that is accepted.
    pub tarball_max_bytes: u64,
    /// How long a tarball download, or a `git clone`, may take in total.
    pub download_timeout: Duration,
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
    #[error("folder {subdir:?} not found in repository {url}")]
    SubdirNotFound { url: String, subdir: String },
    #[error("tarballUrl {url} must be an http:// or https:// URL")]
    BadTarballUrl { url: String },
    #[error("cannot download {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("cannot download {url}: the server answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("cannot download {url}: the download did not finish within {secs} s")]
    DownloadTimeout { url: String, secs: u64 },
    #[error("tarball {url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("tarball {url} is neither a .tar.gz/.tgz (or .tar) nor a .zip archive")]
    UnknownFormat { url: String },
    #[error("cannot unpack tarball {url}: {detail}")]
    Archive { url: String, detail: String },
    #[error("internal error while writing the sources: {0}")]
    Internal(String),
}

/// Writes the version's sources into `dir` (an existing, empty work directory) and returns the
/// Actor root: `dir/subdir` for `GIT_REPO` URLs like `url#branch:subdir`, the single top-level
/// folder of a tarball that has nothing else (GitHub-style), otherwise `dir`.
pub async fn materialize(
    spec: &VersionSpec,
    dir: &Path,
    limits: &SourceLimits,
) -> Result<PathBuf, SourceError> {
    match spec.source_type {
        SourceType::SourceFiles => {
            let files = spec.source_files.clone();
            let root = dir.to_path_buf();
            blocking(move || write_source_files(&files, &root)).await?;
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
            clone_repo(url, dir, limits).await
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
            let bytes = download(url, limits).await?;
            let shown = redact_url(url);
            let root = dir.to_path_buf();
            blocking(move || unpack_archive(&bytes, &root, &shown)).await
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SourceError::Internal(e.to_string()))?
}

// ---------------------------------------------------------------------------------------------
// Paths

/// Checks a user-given name and returns it as a path relative to the work directory
/// (`Ok(None)` for names that mean the directory itself, like `.` or `./`).
fn relative_path(name: &str) -> Result<Option<PathBuf>, String> {
    if name.contains('\0') {
        return Err("the name contains a NUL byte".into());
    }
    if name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    let mut out = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(
                    "its path contains a '..' component, which could escape the work directory"
                        .into(),
                )
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(
                    "it is an absolute path; names must be relative to the work directory".into(),
                )
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

fn unsafe_path(origin: &'static str, name: &str, reason: impl Into<String>) -> SourceError {
    SourceError::UnsafePath {
        origin,
        name: name.to_owned(),
        reason: reason.into(),
    }
}

fn write_error(rel: &Path, source: io::Error) -> SourceError {
    SourceError::Write {
        path: rel.display().to_string(),
        source,
    }
}

/// Creates `root/rel` and its missing parents, refusing to go through symbolic links or files.
fn ensure_dir(
    root: &Path,
    rel: &Path,
    origin: &'static str,
    name: &str,
) -> Result<(), SourceError> {
    let mut current = root.to_path_buf();
    let mut shown = PathBuf::new();
    for component in rel.components() {
        current.push(component);
        shown.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(unsafe_path(
                    origin,
                    name,
                    format!(
                        "its path goes through the symbolic link {}",
                        shown.display()
                    ),
                ))
            }
            Ok(_) => {
                return Err(unsafe_path(
                    origin,
                    name,
                    format!("{} already exists as a file, not a folder", shown.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(|e| write_error(&shown, e))?;
            }
            Err(e) => return Err(write_error(&shown, e)),
        }
    }
    Ok(())
}

/// Makes room for a new file or link at `root/rel`: parents exist (not through links), and
/// whatever file or link was there before is removed (a later archive entry replaces an earlier).
fn prepare_leaf(
    root: &Path,
    rel: &Path,
    origin: &'static str,
    name: &str,
) -> Result<PathBuf, SourceError> {
    if let Some(parent) = rel.parent() {
        ensure_dir(root, parent, origin, name)?;
    }
    let full = root.join(rel);
    match fs::symlink_metadata(&full) {
        Ok(meta) if meta.file_type().is_dir() => Err(unsafe_path(
            origin,
            name,
            "a folder of the same name already exists",
        )),
        Ok(_) => fs::remove_file(&full)
            .map_err(|e| write_error(rel, e))
            .map(|()| full),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(full),
        Err(e) => Err(write_error(rel, e)),
    }
}

fn write_file(
    root: &Path,
    rel: &Path,
    content: &mut dyn Read,
    executable: bool,
    origin: &'static str,
    name: &str,
) -> Result<(), SourceError> {
    let full = prepare_leaf(root, rel, origin, name)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(&full)
        .map_err(|e| write_error(rel, e))?;
    io::copy(content, &mut file).map_err(|e| write_error(rel, e))?;
    file.flush().map_err(|e| write_error(rel, e))?;
    Ok(())
}

/// Where a relative link target at `link` (relative to the root) points, relative to the root,
/// by the names alone; `Err` when it is absolute or climbs above the root.
fn link_destination(link: &Path, target: &str) -> Result<PathBuf, String> {
    if target.is_empty() {
        return Err("is empty".into());
    }
    if target.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    let mut parts: Vec<&std::ffi::OsStr> = link
        .parent()
        .map(|p| p.components().map(|c| c.as_os_str()).collect())
        .unwrap_or_default();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err("points outside the work directory".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path, outside the work directory".into())
            }
        }
    }
    Ok(parts.iter().collect())
}

fn write_symlink(
    root: &Path,
    rel: &Path,
    target: &str,
    origin: &'static str,
    name: &str,
) -> Result<(), SourceError> {
    link_destination(rel, target).map_err(|reason| SourceError::UnsafeLink {
        origin,
        name: name.to_owned(),
        target: target.to_owned(),
        reason,
    })?;
    let full = prepare_leaf(root, rel, origin, name)?;
    std::os::unix::fs::symlink(target, &full).map_err(|e| write_error(rel, e))
}

fn write_hard_link(
    root: &Path,
    rel: &Path,
    target: &str,
    origin: &'static str,
    name: &str,
) -> Result<(), SourceError> {
    let refuse = |reason: &str| SourceError::UnsafeLink {
        origin,
        name: name.to_owned(),
        target: target.to_owned(),
        reason: reason.to_owned(),
    };
    // Hard link targets are named from the archive's root, like entries.
    let target_rel = match relative_path(target) {
        Ok(Some(path)) => path,
        Ok(None) | Err(_) => return Err(refuse("is not a file inside the work directory")),
    };
    let target_full = root.join(&target_rel);
    let inside = match (target_full.canonicalize(), root.canonicalize()) {
        (Ok(t), Ok(r)) => t.starts_with(r),
        _ => false,
    };
    let regular = fs::symlink_metadata(&target_full).is_ok_and(|m| m.file_type().is_file());
    if !inside || !regular {
        return Err(refuse(
            "is not a regular file already unpacked inside the work directory",
        ));
    }
    let full = prepare_leaf(root, rel, origin, name)?;
    fs::hard_link(&target_full, &full).map_err(|e| write_error(rel, e))
}

/// After unpacking: every symbolic link that resolves must resolve inside the root (catches
/// chains of links that each look harmless by their names).
fn check_links_resolve_inside(root: &Path, origin: &'static str) -> Result<(), SourceError> {
    let canonical_root = root
        .canonicalize()
        .map_err(|e| write_error(Path::new("."), e))?;
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let entries = fs::read_dir(root.join(&rel)).map_err(|e| write_error(&rel, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| write_error(&rel, e))?;
            let child = rel.join(entry.file_name());
            let file_type = entry.file_type().map_err(|e| write_error(&child, e))?;
            if file_type.is_dir() {
                pending.push(child);
            } else if file_type.is_symlink() {
                if let Ok(resolved) = entry.path().canonicalize() {
                    if !resolved.starts_with(&canonical_root) {
                        let target = fs::read_link(entry.path())
                            .map(|t| t.display().to_string())
                            .unwrap_or_default();
                        return Err(SourceError::UnsafeLink {
                            origin,
                            name: child.display().to_string(),
                            target,
                            reason: "resolves outside the work directory".into(),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SOURCE_FILES

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn write_source_files(files: &[SourceFile], root: &Path) -> Result<(), SourceError> {
    const ORIGIN: &str = "source file";
    for file in files {
        let name = file.name();
        let rel = relative_path(name).map_err(|reason| unsafe_path(ORIGIN, name, reason))?;
        match file {
            SourceFile::Folder { folder: true, .. } => {
                if let Some(rel) = rel {
                    ensure_dir(root, &rel, ORIGIN, name)?;
                }
            }
            // `{name, folder: false}` without content: an empty file.
            SourceFile::Folder { folder: false, .. } => {
                let rel = rel.ok_or_else(|| {
                    unsafe_path(ORIGIN, name, "it names the work directory itself")
                })?;
                write_file(root, &rel, &mut io::empty(), false, ORIGIN, name)?;
            }
            SourceFile::File {
                format, content, ..
            } => {
                let rel = rel.ok_or_else(|| {
                    unsafe_path(ORIGIN, name, "it names the work directory itself")
                })?;
                let bytes = match format {
                    FileFormat::Text => content.as_bytes().to_vec(),
                    FileFormat::Base64 => {
                        let compact: Vec<u8> = content
                            .bytes()
                            .filter(|b| !b.is_ascii_whitespace())
                            .collect();
                        lenient_base64().decode(compact).map_err(|_| {
                            SourceError::InvalidBase64 {
                                name: name.to_owned(),
                            }
                        })?
                    }
                };
                write_file(root, &rel, &mut bytes.as_slice(), false, ORIGIN, name)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GIT_REPO

/// `url#branch:subdir` → (url, branch, subdir); branch and subdir are optional.
fn parse_git_url(full: &str) -> (&str, Option<&str>, Option<&str>) {
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

/// The URL with any `user:password@` replaced, for messages.
fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{}://***@{}", &url[..scheme_end], &rest[at + 1..]);
        }
    }
    url.to_owned()
}

fn userinfo(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(&rest[..at]).filter(|u| !u.is_empty())
}

/// git's stderr as one line: the meaningful lines joined, credentials hidden, length capped.
fn one_line(stderr: &[u8], secret: Option<&str>) -> String {
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

async fn clone_repo(
    full_url: &str,
    dir: &Path,
    limits: &SourceLimits,
) -> Result<PathBuf, SourceError> {
    const ORIGIN: &str = "repository folder";
    let (url, branch, subdir) = parse_git_url(full_url);
    let shown = redact_url(url);
    if url.trim().is_empty() {
        return Err(SourceError::GitClone {
            url: shown,
            detail: "gitRepoUrl has no repository URL before '#'".into(),
        });
    }
    // Check the subfolder's name before cloning anything.
    let subdir_rel = match subdir {
        Some(s) => relative_path(s).map_err(|reason| unsafe_path(ORIGIN, s, reason))?,
        None => None,
    };

    let mut command = Command::new("git");
    command.args(["clone", "--depth", "1"]);
    if let Some(branch) = branch {
        command.arg("--branch").arg(branch);
    }
    command
        .arg("--")
        .arg(url)
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(SourceError::GitSpawn)?;
    let output = match tokio::time::timeout(limits.download_timeout, child.wait_with_output()).await
    {
        Ok(result) => result.map_err(SourceError::GitSpawn)?,
        Err(_) => {
            return Err(SourceError::GitTimeout {
                url: shown,
                secs: limits.download_timeout.as_secs(),
            })
        }
    };
    if !output.status.success() {
        return Err(SourceError::GitClone {
            url: shown,
            detail: one_line(&output.stderr, userinfo(url)),
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

// ---------------------------------------------------------------------------------------------
// TARBALL

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

async fn download(url: &str, limits: &SourceLimits) -> Result<Vec<u8>, SourceError> {
    let shown = redact_url(url);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(SourceError::BadTarballUrl { url: shown });
    }
    let timeout = |shown: &str| SourceError::DownloadTimeout {
        url: shown.to_owned(),
        secs: limits.download_timeout.as_secs(),
    };
    let failed = |shown: &str, e: reqwest::Error| {
        if e.is_timeout() {
            timeout(shown)
        } else {
            SourceError::Download {
                url: shown.to_owned(),
                detail: error_chain(&e.without_url()),
            }
        }
    };
    let too_large = |shown: &str| SourceError::TooLarge {
        url: shown.to_owned(),
        limit: limits.tarball_max_bytes,
    };

    let client = reqwest::Client::builder()
        .timeout(limits.download_timeout)
        .build()
        .map_err(|e| SourceError::Internal(error_chain(&e)))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(&shown, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(SourceError::HttpStatus {
            url: shown,
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|len| len > limits.tarball_max_bytes)
    {
        return Err(too_large(&shown));
    }
    let capacity = response
        .content_length()
        .unwrap_or(0)
        .min(limits.tarball_max_bytes)
        .min(64 * 1024 * 1024);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(&shown, e))?;
        if (body.len() as u64).saturating_add(chunk.len() as u64) > limits.tarball_max_bytes {
            return Err(too_large(&shown));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

enum ArchiveKind {
    TarGz,
    Tar,
    Zip,
}

fn archive_kind(bytes: &[u8]) -> Option<ArchiveKind> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveKind::TarGz)
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(ArchiveKind::Zip)
    } else if bytes.get(257..262) == Some(b"ustar".as_slice()) {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

/// Unpacks a downloaded archive into `dir` and returns the Actor root.
fn unpack_archive(bytes: &[u8], dir: &Path, url: &str) -> Result<PathBuf, SourceError> {
    let broken = |e: &dyn std::error::Error| SourceError::Archive {
        url: url.to_owned(),
        detail: error_chain(e),
    };
    match archive_kind(bytes) {
        Some(ArchiveKind::TarGz) => {
            unpack_tar(flate2::read::GzDecoder::new(bytes), dir, &broken)?;
        }
        Some(ArchiveKind::Tar) => unpack_tar(bytes, dir, &broken)?,
        Some(ArchiveKind::Zip) => unpack_zip(bytes, dir, &broken)?,
        None => {
            return Err(SourceError::UnknownFormat {
                url: url.to_owned(),
            })
        }
    }
    check_links_resolve_inside(dir, ORIGIN_ENTRY)?;
    single_top_folder(dir)
}

const ORIGIN_ENTRY: &str = "archive entry";

fn unpack_tar(
    reader: impl Read,
    dir: &Path,
    broken: &dyn Fn(&dyn std::error::Error) -> SourceError,
) -> Result<(), SourceError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| broken(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| broken(&e))?;
        let kind = entry.header().entry_type();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link_target = || {
            entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default()
        };
        // Metadata records (pax headers, GNU long names) are handled by the tar crate or have
        // nothing to write; devices and fifos have no business in a source tree.
        let is_content = kind.is_file()
            || kind.is_dir()
            || kind.is_symlink()
            || kind.is_hard_link()
            || kind == tar::EntryType::Continuous;
        if !is_content {
            continue;
        }
        let Some(rel) = entry_path(&name, kind.is_dir())? else {
            continue;
        };
        if kind.is_dir() {
            ensure_dir(dir, &rel, ORIGIN_ENTRY, &name)?;
        } else if kind.is_symlink() {
            let target = link_target();
            write_symlink(dir, &rel, &target, ORIGIN_ENTRY, &name)?;
        } else if kind.is_hard_link() {
            let target = link_target();
            write_hard_link(dir, &rel, &target, ORIGIN_ENTRY, &name)?;
        } else {
            let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
            write_file(dir, &rel, &mut entry, executable, ORIGIN_ENTRY, &name)?;
        }
    }
    Ok(())
}

/// Where an archive entry goes, relative to the work directory; `None` for an entry that names
/// the work directory itself as a folder (nothing to write). Unsafe names fail the build.
fn entry_path(name: &str, is_dir: bool) -> Result<Option<PathBuf>, SourceError> {
    match relative_path(name).map_err(|reason| unsafe_path(ORIGIN_ENTRY, name, reason))? {
        Some(rel) => Ok(Some(rel)),
        None if is_dir => Ok(None),
        None => Err(unsafe_path(
            ORIGIN_ENTRY,
            name,
            "it names the work directory itself",
        )),
    }
}

fn unpack_zip(
    bytes: &[u8],
    dir: &Path,
    broken: &dyn Fn(&dyn std::error::Error) -> SourceError,
) -> Result<(), SourceError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| broken(&e))?;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| broken(&e))?;
        let name = file.name().to_owned();
        let Some(rel) = entry_path(&name, file.is_dir())? else {
            continue;
        };
        if file.is_dir() {
            ensure_dir(dir, &rel, ORIGIN_ENTRY, &name)?;
        } else if file.is_symlink() {
            let mut target = Vec::new();
            file.read_to_end(&mut target).map_err(|e| broken(&e))?;
            let target = String::from_utf8_lossy(&target).into_owned();
            write_symlink(dir, &rel, &target, ORIGIN_ENTRY, &name)?;
        } else {
            let executable = file.unix_mode().is_some_and(|m| m & 0o111 != 0);
            let mut content = Vec::new();
            // Read fully first so that a corrupt entry is reported as such, not as a write error.
            file.read_to_end(&mut content).map_err(|e| broken(&e))?;
            write_file(
                dir,
                &rel,
                &mut content.as_slice(),
                executable,
                ORIGIN_ENTRY,
                &name,
            )?;
        }
    }
    Ok(())
}

/// The root is the archive's only top-level folder when it has nothing else (GitHub tarballs).
fn single_top_folder(dir: &Path) -> Result<PathBuf, SourceError> {
    let mut entries = fs::read_dir(dir)
        .map_err(|e| write_error(Path::new("."), e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| write_error(Path::new("."), e))?;
    if entries.len() == 1 {
        if let Some(only) = entries.pop() {
            if only.file_type().is_ok_and(|t| t.is_dir()) {
                return Ok(only.path());
            }
        }
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::VersionNumber;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    /// A fresh empty folder under the system's temp dir (removed when dropped).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "actor-builds-sources-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn limits() -> SourceLimits {
        SourceLimits {
            tarball_max_bytes: 1024 * 1024,
            download_timeout: Duration::from_secs(30),
        }
    }

    fn spec(source_type: SourceType) -> VersionSpec {
        VersionSpec {
            version_number: VersionNumber::parse("0.1").unwrap(),
            source_type,
            build_tag: "latest".into(),
            env_vars: vec![],
            apply_env_vars_to_build: false,
            source_files: vec![],
            git_repo_url: None,
            tarball_url: None,
        }
    }

    fn files_spec(files: serde_json::Value) -> VersionSpec {
        let mut spec = spec(SourceType::SourceFiles);
        spec.source_files = serde_json::from_value(files).unwrap();
        spec
    }

    fn read(path: impl AsRef<Path>) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[tokio::test]
    async fn source_files_text_base64_and_folders() {
        let tmp = TempDir::new("files");
        let spec = files_spec(serde_json::json!([
            {"name": "src/main.js", "format": "TEXT", "content": "console.log(1);\n"},
            {"name": "data/bin.dat", "format": "BASE64", "content": "aGVs\nbG8g d29y\tbGQ="},
            {"name": "nopad.txt", "format": "BASE64", "content": "aGk"},
            {"name": "empty/folder", "folder": true},
            {"name": "./.actor/actor.json", "format": "TEXT", "content": "{}"},
        ]));
        let root = materialize(&spec, tmp.path(), &limits()).await.unwrap();
        assert_eq!(root, tmp.path());
        assert_eq!(read(root.join("src/main.js")), "console.log(1);\n");
        assert_eq!(read(root.join("data/bin.dat")), "hello world");
        assert_eq!(read(root.join("nopad.txt")), "hi");
        assert!(root.join("empty/folder").is_dir());
        assert_eq!(read(root.join(".actor/actor.json")), "{}");
    }

    #[tokio::test]
    async fn source_files_bad_names_and_content_are_refused() {
        for (name, expected) in [
            ("../x", "'..'"),
            ("src/../../x", "'..'"),
            ("/etc/passwd", "absolute"),
            ("a\0b", "NUL"),
            ("", "empty"),
        ] {
            let tmp = TempDir::new("badname");
            let spec =
                files_spec(serde_json::json!([{"name": name, "format": "TEXT", "content": "x"}]));
            let err = materialize(&spec, tmp.path(), &limits()).await.unwrap_err();
            let message = err.to_string();
            assert!(message.contains(expected), "{name:?}: {message}");
            assert!(message.starts_with("source file"), "{message}");
            assert!(!message.contains('\n'));
        }
        let tmp = TempDir::new("badb64");
        let spec = files_spec(
            serde_json::json!([{"name": "a.bin", "format": "BASE64", "content": "***"}]),
        );
        let err = materialize(&spec, tmp.path(), &limits()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "source file \"a.bin\": content is not valid base64"
        );
        // Parents that are files cannot become folders.
        let tmp = TempDir::new("fileparent");
        let spec = files_spec(serde_json::json!([
            {"name": "a", "format": "TEXT", "content": "x"},
            {"name": "a/b", "format": "TEXT", "content": "y"},
        ]));
        let err = materialize(&spec, tmp.path(), &limits()).await.unwrap_err();
        assert!(
            err.to_string().contains("already exists as a file"),
            "{err}"
        );
    }

    fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn add_file(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8], mode: u32) {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, content).unwrap();
    }

    fn add_link(
        builder: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        name: &str,
        target: &str,
    ) {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(kind);
        builder.append_link(&mut header, name, target).unwrap();
    }

    /// A tar entry whose name is written raw (the tar crate itself refuses `..` names).
    fn add_raw_name(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8]) {
        let mut header = tar::Header::new_old();
        let slot = &mut header.as_old_mut().name;
        slot[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, content).unwrap();
    }

    #[test]
    fn tar_gz_with_single_top_folder_is_unpacked_and_becomes_the_root() {
        let tmp = TempDir::new("targz");
        let bytes = tar_gz(|b| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            b.append_data(&mut header, "repo-abc123/", io::empty())
                .unwrap();
            add_file(
                b,
                "repo-abc123/.actor/actor.json",
                b"{\"actorSpecification\": 1}",
                0o644,
            );
            add_file(b, "repo-abc123/run.sh", b"#!/bin/sh\n", 0o755);
            add_link(b, tar::EntryType::Symlink, "repo-abc123/link.sh", "run.sh");
            add_link(
                b,
                tar::EntryType::Link,
                "repo-abc123/hard.sh",
                "repo-abc123/run.sh",
            );
        });
        let root = unpack_archive(&bytes, tmp.path(), "http://x/a.tgz").unwrap();
        assert_eq!(root, tmp.path().join("repo-abc123"));
        assert_eq!(
            read(root.join(".actor/actor.json")),
            "{\"actorSpecification\": 1}"
        );
        assert_eq!(read(root.join("link.sh")), "#!/bin/sh\n");
        assert_eq!(read(root.join("hard.sh")), "#!/bin/sh\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(root.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
    }

    #[test]
    fn tar_with_escaping_entries_is_refused() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "symlink out",
                tar_gz(|b| add_link(b, tar::EntryType::Symlink, "evil", "../../../etc")),
                "points outside the work directory",
            ),
            (
                "absolute symlink",
                tar_gz(|b| add_link(b, tar::EntryType::Symlink, "evil", "/etc/passwd")),
                "absolute path",
            ),
            (
                "hard link out",
                tar_gz(|b| add_link(b, tar::EntryType::Link, "evil", "/etc/passwd")),
                "not a file inside the work directory",
            ),
            (
                "dotdot name",
                tar_gz(|b| add_raw_name(b, "../escape.txt", b"x")),
                "'..'",
            ),
            (
                "absolute name",
                tar_gz(|b| add_raw_name(b, "/tmp/escape.txt", b"x")),
                "absolute path",
            ),
            (
                "write through symlink",
                tar_gz(|b| {
                    add_link(b, tar::EntryType::Symlink, "sub", ".");
                    add_file(b, "sub/x.txt", b"x", 0o644);
                }),
                "goes through the symbolic link",
            ),
            (
                "chain of links",
                tar_gz(|b| {
                    add_link(b, tar::EntryType::Symlink, "a/b", "..");
                    add_link(b, tar::EntryType::Symlink, "c", "a/b/..");
                }),
                "",
            ),
        ];
        for (what, bytes, expected) in cases {
            let tmp = TempDir::new("evil");
            let work = tmp.path().join("work");
            fs::create_dir(&work).unwrap();
            let result = unpack_archive(&bytes, &work, "http://x/a.tgz");
            let err = match result {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{what}: accepted"),
            };
            assert!(err.contains(expected), "{what}: {err}");
            assert!(err.starts_with("archive entry"), "{what}: {err}");
            assert!(!tmp.path().join("escape.txt").exists(), "{what}");
        }
    }

    fn zip_bytes() -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer.add_directory("src/", options).unwrap();
        writer.start_file("src/main.py", options).unwrap();
        writer.write_all(b"print('hi')\n").unwrap();
        writer.start_file("Dockerfile", options).unwrap();
        writer.write_all(b"FROM scratch\n").unwrap();
        writer
            .add_symlink("main-link.py", "src/main.py", options)
            .unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_is_unpacked_in_place() {
        let tmp = TempDir::new("zip");
        let root = unpack_archive(&zip_bytes(), tmp.path(), "http://x/a.zip").unwrap();
        assert_eq!(root, tmp.path());
        assert_eq!(read(root.join("src/main.py")), "print('hi')\n");
        assert_eq!(read(root.join("Dockerfile")), "FROM scratch\n");
        assert_eq!(read(root.join("main-link.py")), "print('hi')\n");

        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer.add_symlink("evil", "/etc/passwd", options).unwrap();
        let evil = writer.finish().unwrap().into_inner();
        let tmp = TempDir::new("zipevil");
        let err = unpack_archive(&evil, tmp.path(), "http://x/a.zip").unwrap_err();
        assert!(err.to_string().contains("absolute path"), "{err}");

        let tmp = TempDir::new("unknown");
        let err = unpack_archive(b"just text", tmp.path(), "http://x/a").unwrap_err();
        assert!(matches!(err, SourceError::UnknownFormat { .. }), "{err}");
    }

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[tokio::test]
    async fn git_repo_with_branch_and_subdir() {
        let tmp = TempDir::new("git");
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join("actors/one/.actor")).unwrap();
        fs::write(repo.join("README.md"), "top").unwrap();
        fs::write(repo.join("actors/one/main.py"), "print()").unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "first"]);
        git(&repo, &["checkout", "-q", "-b", "dev"]);
        fs::write(
            repo.join("actors/one/.actor/actor.json"),
            "{\"version\": \"0.1\"}",
        )
        .unwrap();
        std::os::unix::fs::symlink("/tmp", repo.join("outside")).unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "second"]);
        git(&repo, &["checkout", "-q", "main"]);
        let url = format!("file://{}", repo.display());

        let clone = |fragment: &str, tag: &str| {
            let mut spec = spec(SourceType::GitRepo);
            spec.git_repo_url = Some(format!("{url}{fragment}"));
            let work = tmp.path().join(tag);
            fs::create_dir(&work).unwrap();
            async move { (materialize(&spec, &work, &limits()).await, work) }
        };

        let (root, work) = clone("#dev:actors/one", "w1").await;
        let root = root.unwrap();
        assert_eq!(root, work.join("actors/one"));
        assert_eq!(
            read(root.join(".actor/actor.json")),
            "{\"version\": \"0.1\"}"
        );

        let (root, work) = clone("", "w2").await;
        assert_eq!(root.unwrap(), work);
        assert!(
            !work.join("actors/one/.actor/actor.json").exists(),
            "main has no actor.json"
        );

        let (root, work) = clone("#:actors", "w3").await;
        assert_eq!(root.unwrap(), work.join("actors"));

        let (err, _) = clone("#dev:missing", "w4").await;
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("\"missing\" not found"));

        let (err, _) = clone("#dev:../x", "w5").await;
        assert!(err.unwrap_err().to_string().contains("'..'"));

        let (err, _) = clone("#dev:outside", "w6").await;
        let err = err.unwrap_err().to_string();
        assert!(err.contains("outside the work directory"), "{err}");

        let (err, _) = clone("#no-such-branch", "w7").await;
        let err = err.unwrap_err().to_string();
        assert!(err.starts_with("git clone of file://"), "{err}");
        assert!(err.contains("no-such-branch"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn git_url_parsing_and_redaction() {
        assert_eq!(
            parse_git_url("https://h/r.git"),
            ("https://h/r.git", None, None)
        );
        assert_eq!(
            parse_git_url("https://h/r#dev"),
            ("https://h/r", Some("dev"), None)
        );
        assert_eq!(
            parse_git_url("https://h/r#:sub/dir"),
            ("https://h/r", None, Some("sub/dir"))
        );
        assert_eq!(
            parse_git_url("git@h:u/r.git#b:s"),
            ("git@h:u/r.git", Some("b"), Some("s"))
        );
        assert_eq!(redact_url("https://u:tok@h/r"), "https://***@h/r");
        assert_eq!(redact_url("https://h/r@x"), "https://h/r@x");
        assert_eq!(
            one_line(b"Cloning into 'x'...\nfatal: bad u:tok\n", Some("u:tok")),
            "fatal: bad ***"
        );
    }

    /// Answers one HTTP request with `body`, announcing its length or not.
    async fn serve_once(body: Vec<u8>, with_length: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let head = if with_length {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        });
        format!("http://{address}/download")
    }

    #[tokio::test]
    async fn tarball_is_downloaded_and_unpacked() {
        let bytes = tar_gz(|b| {
            add_file(b, "owner-repo-1234/.actor/actor.json", b"{}", 0o644);
            add_file(b, "owner-repo-1234/Dockerfile", b"FROM x", 0o644);
        });
        let tmp = TempDir::new("tarball");
        let mut spec = spec(SourceType::Tarball);
        spec.tarball_url = Some(serve_once(bytes, true).await);
        let root = materialize(&spec, tmp.path(), &limits()).await.unwrap();
        assert_eq!(root, tmp.path().join("owner-repo-1234"));
        assert_eq!(read(root.join("Dockerfile")), "FROM x");

        let tmp = TempDir::new("tarball-zip");
        spec.tarball_url = Some(serve_once(zip_bytes(), false).await);
        let root = materialize(&spec, tmp.path(), &limits()).await.unwrap();
        assert_eq!(root, tmp.path());
        assert_eq!(read(root.join("src/main.py")), "print('hi')\n");
    }

    #[tokio::test]
    async fn tarball_size_limit() {
        let small = SourceLimits {
            tarball_max_bytes: 1000,
            download_timeout: Duration::from_secs(30),
        };
        for with_length in [true, false] {
            let tmp = TempDir::new("limit");
            let mut spec = spec(SourceType::Tarball);
            spec.tarball_url = Some(serve_once(vec![7u8; 5000], with_length).await);
            let err = materialize(&spec, tmp.path(), &small).await.unwrap_err();
            assert!(matches!(err, SourceError::TooLarge { .. }), "{err}");
            assert!(err.to_string().contains("limit of 1000 bytes"), "{err}");
        }

        let tmp = TempDir::new("status");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        });
        let mut spec = spec(SourceType::Tarball);
        spec.tarball_url = Some(format!("http://{address}/x.tgz"));
        let err = materialize(&spec, tmp.path(), &small).await.unwrap_err();
        assert!(err.to_string().contains("HTTP 404"), "{err}");
    }
}
