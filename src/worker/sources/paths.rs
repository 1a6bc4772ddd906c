//! The one place that decides where a user-given name lands in the work directory, and the
//! writes that go there: nothing through symbolic links, nothing outside the work directory.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::{Budget, SourceError};

/// What [`normalize`] does with a `..` component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parents {
    /// `..` takes away the name before it; refused only when no name is left to take away.
    Climb,
    /// Any `..` is refused, even one that would stay inside.
    Refuse,
}

/// Why [`normalize`] refused a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// A `..` climbs above the start (with [`Parents::Refuse`]: a `..` at all).
    Parent,
    /// The path is absolute.
    Absolute,
}

/// `path` taken from `base` by its names alone, without looking at the disk: `.` parts are
/// dropped, `..` parts are taken as `parents` says, and an absolute path is refused. `base` is a
/// relative path, taken as it is; the result is relative to the same start, and empty when it
/// names the start itself.
pub(crate) fn normalize(base: &Path, path: &Path, parents: Parents) -> Result<PathBuf, Escape> {
    let mut parts: Vec<&OsStr> = base.components().map(|c| c.as_os_str()).collect();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if parents == Parents::Refuse || parts.pop().is_none() {
                    return Err(Escape::Parent);
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(Escape::Absolute),
        }
    }
    Ok(parts.iter().collect())
}

/// Checks a user-given name and returns it as a path relative to the work directory
/// (`Ok(None)` for names that mean the directory itself, like `.` or `./`).
pub(super) fn relative_path(name: &str) -> Result<Option<PathBuf>, String> {
    if name.contains('\0') {
        return Err("the name contains a NUL byte".into());
    }
    if name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    let out = normalize(Path::new(""), Path::new(name), Parents::Refuse).map_err(|escape| {
        match escape {
            Escape::Parent => {
                "its path contains a '..' component, which could escape the work directory"
            }
            Escape::Absolute => {
                "it is an absolute path; names must be relative to the work directory"
            }
        }
        .to_owned()
    })?;
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
    let base = link.parent().unwrap_or(Path::new(""));
    normalize(base, Path::new(target), Parents::Climb).map_err(|escape| {
        match escape {
            Escape::Parent => "points outside the work directory",
            Escape::Absolute => "is an absolute path, outside the work directory",
        }
        .to_owned()
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn climb(base: &str, path: &str) -> Result<PathBuf, Escape> {
        normalize(Path::new(base), Path::new(path), Parents::Climb)
    }

    fn refuse(base: &str, path: &str) -> Result<PathBuf, Escape> {
        normalize(Path::new(base), Path::new(path), Parents::Refuse)
    }

    #[test]
    fn parent_parts_climb_but_never_out() {
        assert_eq!(
            climb(".actor", "../Dockerfile"),
            Ok(PathBuf::from("Dockerfile"))
        );
        assert_eq!(climb("a/b", "../../c"), Ok(PathBuf::from("c")));
        assert_eq!(climb("", "a/../b"), Ok(PathBuf::from("b")));
        assert_eq!(climb("", "a/.."), Ok(PathBuf::new()));
        assert_eq!(climb(".actor", "../../Dockerfile"), Err(Escape::Parent));
        assert_eq!(climb("", ".."), Err(Escape::Parent));
        assert_eq!(climb("", "a/../../b"), Err(Escape::Parent));
    }

    #[test]
    fn parent_parts_can_be_refused_outright() {
        assert_eq!(refuse("", "a/../b"), Err(Escape::Parent));
        assert_eq!(refuse("a", "../b"), Err(Escape::Parent));
        assert_eq!(refuse("", "a/b"), Ok(PathBuf::from("a/b")));
    }

    #[test]
    fn absolute_paths_are_refused() {
        assert_eq!(climb("", "/etc/passwd"), Err(Escape::Absolute));
        assert_eq!(climb(".actor", "/x.json"), Err(Escape::Absolute));
        assert_eq!(refuse("", "/"), Err(Escape::Absolute));
        // The root comes first, before any `..`.
        assert_eq!(refuse("", "/../x"), Err(Escape::Absolute));
    }

    #[test]
    fn dot_parts_are_dropped() {
        assert_eq!(climb("", "./a/./b/."), Ok(PathBuf::from("a/b")));
        assert_eq!(
            climb(".actor", "./input_schema.json"),
            Ok(PathBuf::from(".actor/input_schema.json"))
        );
        assert_eq!(refuse("", "."), Ok(PathBuf::new()));
        assert_eq!(refuse("", "./"), Ok(PathBuf::new()));
        assert_eq!(climb("", "a//b/"), Ok(PathBuf::from("a/b")));
    }

    #[test]
    fn an_empty_path_is_the_base() {
        assert_eq!(climb("", ""), Ok(PathBuf::new()));
        assert_eq!(refuse(".actor", ""), Ok(PathBuf::from(".actor")));
    }

    #[test]
    fn callers_keep_their_messages() {
        assert_eq!(relative_path("./"), Ok(None));
        assert_eq!(relative_path("./a/b"), Ok(Some(PathBuf::from("a/b"))));
        assert_eq!(
            relative_path("a/../b"),
            Err("its path contains a '..' component, which could escape the work directory".into())
        );
        assert_eq!(
            relative_path("/a"),
            Err("it is an absolute path; names must be relative to the work directory".into())
        );
        assert_eq!(relative_path(""), Err("the name is empty".into()));
        assert_eq!(
            link_destination(Path::new("a/link"), "../b"),
            Ok(PathBuf::from("b"))
        );
        assert_eq!(
            link_destination(Path::new("link"), "../b"),
            Err("points outside the work directory".into())
        );
        assert_eq!(
            link_destination(Path::new("a/link"), "/b"),
            Err("is an absolute path, outside the work directory".into())
        );
        assert_eq!(
            link_destination(Path::new("link"), ""),
            Err("is empty".into())
        );
    }
}
