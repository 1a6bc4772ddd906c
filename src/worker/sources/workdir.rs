//! Build work directories: created private (0700, the `WORK_DIR` root too), removed without
//! recursion (a tree of any depth is flattened by moving each folder up to the top before it is
//! emptied, so no path grows long and no stack grows deep), and the leftovers of builds that
//! ended elsewhere removed by the next worker that looks.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sqlx::PgPool;

use crate::domain::is_id;

/// Creates the build's work directory (removing any earlier one of that name), 0700, with the
/// `WORK_DIR` root 0700 when it is created.
pub async fn create(dir: &Path) -> io::Result<()> {
    remove(dir).await;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
    })
    .await
    .map_err(io::Error::other)?
}

/// Removes a work directory and everything in it; a failure is logged, never fatal.
pub async fn remove(dir: &Path) {
    let path = dir.to_path_buf();
    let result = tokio::task::spawn_blocking(move || remove_tree(&path)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(dir = %dir.display(), error = %e, "the work directory could not be removed")
        }
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "removing the work directory failed")
        }
    }
}

/// A name for a folder moved up to the top of the tree being removed, free there.
fn free_name(top: &Path, counter: &mut u64) -> PathBuf {
    loop {
        *counter += 1;
        let candidate = top.join(format!(".rm-{counter}"));
        if fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
    }
}

/// Removes `top` without recursion: every folder is first moved directly under `top`, so that
/// each one is emptied through a short path, one directory handle at a time.
pub(crate) fn remove_tree(top: &Path) -> io::Result<()> {
    match fs::symlink_metadata(top) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(meta) if !meta.is_dir() => return fs::remove_file(top),
        Ok(_) => {}
    }
    let mut counter = 0;
    let mut pending: Vec<PathBuf> = vec![top.to_path_buf()];
    let mut first_error: Option<io::Error> = None;
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
                match fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let mut moved = Vec::new();
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir {
                if let Err(e) = fs::remove_file(&path) {
                    if e.kind() != io::ErrorKind::NotFound {
                        first_error.get_or_insert(e);
                    }
                }
            } else if dir == top {
                moved.push(path);
            } else {
                let to = free_name(top, &mut counter);
                match fs::rename(&path, &to) {
                    Ok(()) => moved.push(to),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if dir != top {
            if let Err(e) = fs::remove_dir(&dir) {
                if e.kind() != io::ErrorKind::NotFound {
                    first_error.get_or_insert(e);
                }
            }
        }
        pending.extend(moved);
    }
    match fs::remove_dir(top) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(first_error.unwrap_or(e)),
    }
}

/// Removes the work directories under `root` of builds that have ended (or are unknown to the
/// database): what a worker that was lost left behind. The directories of builds that are still
/// running, here (`running`, asked after the listing) or on another worker, stay.
pub async fn remove_leftovers(pool: &PgPool, root: &Path, running: impl FnOnce() -> Vec<String>) {
    let listed = {
        let root = root.to_path_buf();
        tokio::task::spawn_blocking(move || -> Vec<String> {
            fs::read_dir(&root)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|name| is_id(name))
                        .collect()
                })
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default()
    };
    if listed.is_empty() {
        return;
    }
    let here = running();
    let candidates: Vec<String> = listed.into_iter().filter(|id| !here.contains(id)).collect();
    if candidates.is_empty() {
        return;
    }
    let active = match crate::storage::queue::unfinished_among(pool, &candidates).await {
        Ok(active) => active,
        Err(e) => {
            tracing::warn!(error = %e, "could not check the work directories left behind");
            return;
        }
    };
    for id in candidates.iter().filter(|id| !active.contains(id)) {
        tracing::info!(build_id = %id, "removing the work directory of a build that ended elsewhere");
        remove(&root.join(id)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_deeper_than_path_max() {
        let top = std::env::temp_dir().join(format!("actor-builds-deep-{}", std::process::id()));
        let _ = remove_tree(&top);
        fs::create_dir_all(&top).unwrap();
        // Built with relative steps so that no path is longer than PATH_MAX.
        let mut current = top.clone();
        for level in 0..3000 {
            let next = current.join("deeper-folder-name");
            fs::create_dir(&next).unwrap();
            fs::write(next.join("f"), "x").unwrap();
            if level % 100 == 99 {
                // Move the chain's deep end up to keep the creating path short.
                let short = top.join(format!("chain-{level}"));
                fs::rename(&next, &short).unwrap();
                current = short;
            } else {
                current = next;
            }
        }
        remove_tree(&top).unwrap();
        assert!(!top.exists());
        remove_tree(&top).unwrap();
    }
}
