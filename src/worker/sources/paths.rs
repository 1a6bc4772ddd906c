//! The one place that decides where a user-given name lands in the work directory, and the
//! writes that go there: nothing through symbolic links, nothing outside the work directory.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::{Budget, SourceError};

/// Checks a user-given name and returns it as a path relative to the work directory
/// (`Ok(None)` for names that mean the directory itself, like `.` or `./`).
pub(super) fn relative_path(name: &str) -> Result<Option<PathBuf>, String> {
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

pub(super) fn unsafe_path(
    origin: &'static str,
    name: &str,
    reason: impl Into<String>,
) -> SourceError {
    SourceError::UnsafePath {
        origin,
        name: name.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn write_error(rel: &Path, source: io::Error) -> SourceError {
    SourceError::Write {
        path: rel.display().to_string(),
        source,
    }
}

/// Creates `root/rel` and its missing parents, refusing to go through symbolic links or files.
pub(super) fn ensure_dir(
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

/// Writes `content` to `root/rel` chunk by chunk, counting what is written against the budget
/// (which also notices a cancellation between chunks). Read errors are the content's fault and
/// are reported through `broken`.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_file(
    root: &Path,
    rel: &Path,
    content: &mut dyn Read,
    executable: bool,
    origin: &'static str,
    name: &str,
    budget: &mut Budget,
    broken: &dyn Fn(&io::Error) -> SourceError,
) -> Result<(), SourceError> {
    let full = prepare_leaf(root, rel, origin, name)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(&full)
        .map_err(|e| write_error(rel, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        budget.check_cancelled()?;
        let n = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(broken(&e)),
        };
        budget.add_bytes(n as u64)?;
        file.write_all(&buf[..n]).map_err(|e| write_error(rel, e))?;
    }
    file.flush().map_err(|e| write_error(rel, e))?;
    Ok(())
}

/// Where a relative link target at `link` (relative to the root) points, relative to the root,
/// by the names alone; `Err` when it is absolute or climbs above the root.
pub(super) fn link_destination(link: &Path, target: &str) -> Result<PathBuf, String> {
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

pub(super) fn write_symlink(
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

pub(super) fn write_hard_link(
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
pub(super) fn check_links_resolve_inside(
    root: &Path,
    origin: &'static str,
) -> Result<(), SourceError> {
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
