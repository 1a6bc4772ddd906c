//! Unpacking a tarball (`.tar.gz`, `.tar`) or a zip archive entry by entry, straight to disk:
//! no entry is held in memory, and the bytes written and the entries made are counted against
//! the limits as they are written.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::paths::{
    check_links_resolve_inside, ensure_dir, relative_path, unsafe_path, write_error, write_file,
    write_hard_link, write_symlink,
};
use super::{error_chain, Budget, SourceError};

const ORIGIN_ENTRY: &str = "archive entry";
/// The longest GNU long name or pax record accepted (they are held in memory).
const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

enum ArchiveKind {
    TarGz,
    Tar,
    Zip,
}

fn archive_kind(head: &[u8]) -> Option<ArchiveKind> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveKind::TarGz)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(ArchiveKind::Zip)
    } else if head.get(257..262) == Some(b"ustar".as_slice()) {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

/// Unpacks an archive into `dir` and returns the Actor root.
pub(super) fn unpack_archive<R: Read + Seek>(
    mut source: R,
    dir: &Path,
    url: &str,
    budget: &mut Budget,
) -> Result<PathBuf, SourceError> {
    let broken = |e: &dyn std::error::Error| SourceError::Archive {
        url: url.to_owned(),
        detail: error_chain(e),
    };
    let mut head = Vec::with_capacity(512);
    (&mut source)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| broken(&e))?;
    source.seek(SeekFrom::Start(0)).map_err(|e| broken(&e))?;
    match archive_kind(&head) {
        Some(ArchiveKind::TarGz) => unpack_tar(
            flate2::read::GzDecoder::new(io::BufReader::new(source)),
            dir,
            &broken,
            budget,
        )?,
        Some(ArchiveKind::Tar) => unpack_tar(io::BufReader::new(source), dir, &broken, budget)?,
        Some(ArchiveKind::Zip) => unpack_zip(source, dir, &broken, budget)?,
        None => {
            return Err(SourceError::UnknownFormat {
                url: url.to_owned(),
            })
        }
    }
    check_links_resolve_inside(dir, ORIGIN_ENTRY)?;
    single_top_folder(dir)
}

/// Reads a GNU long name or pax record, refusing one longer than `MAX_EXTENSION_BYTES`.
fn read_extension(
    entry: &mut dyn Read,
    size: u64,
    broken: &dyn Fn(&dyn std::error::Error) -> SourceError,
) -> Result<Vec<u8>, SourceError> {
    if size > MAX_EXTENSION_BYTES {
        return Err(broken(&io::Error::other(format!(
            "a long name or pax record of {size} bytes is longer than the limit of {MAX_EXTENSION_BYTES}"
        ))));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_EXTENSION_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| broken(&e))?;
    Ok(bytes)
}

fn lossy(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The tar is read raw (GNU long names and pax records are applied here, bounded in size) so
/// that the tar crate never reads an extension record whole into memory.
fn unpack_tar(
    reader: impl Read,
    dir: &Path,
    broken: &dyn Fn(&dyn std::error::Error) -> SourceError,
    budget: &mut Budget,
) -> Result<(), SourceError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| broken(&e))?.raw(true);
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    let mut pax: Option<Vec<u8>> = None;
    for entry in entries {
        budget.add_entry()?;
        let mut entry = entry.map_err(|e| broken(&e))?;
        let kind = entry.header().entry_type();
        let size = entry.size();
        if kind.is_gnu_longname() {
            long_name = Some(lossy(&read_extension(&mut entry, size, broken)?));
            continue;
        }
        if kind.is_gnu_longlink() {
            long_link = Some(lossy(&read_extension(&mut entry, size, broken)?));
            continue;
        }
        if kind.is_pax_local_extensions() {
            pax = Some(read_extension(&mut entry, size, broken)?);
            continue;
        }
        if kind.is_pax_global_extensions() {
            continue;
        }
        let (mut name, mut link) = (long_name.take(), long_link.take());
        if let Some(records) = pax.take() {
            for record in tar::PaxExtensions::new(&records) {
                let record = record.map_err(|e| broken(&e))?;
                match record.key_bytes() {
                    b"path" => name = Some(lossy(record.value_bytes())),
                    b"linkpath" => link = Some(lossy(record.value_bytes())),
                    b"size"
                        if record.value().ok().and_then(|v| v.parse::<u64>().ok())
                            != Some(size) =>
                    {
                        return Err(broken(&io::Error::other(
                            "a pax size record disagrees with its entry's header",
                        )));
                    }
                    _ => {}
                }
            }
        }
        let name =
            name.unwrap_or_else(|| String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        let link_target = || {
            link.clone().unwrap_or_else(|| {
                entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default()
            })
        };
        // Devices, fifos and sparse files have no business in a source tree.
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
            let read_failed = |e: &io::Error| broken(e);
            write_file(
                dir,
                &rel,
                &mut entry,
                executable,
                ORIGIN_ENTRY,
                &name,
                budget,
                &read_failed,
            )?;
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

fn unpack_zip<R: Read + Seek>(
    source: R,
    dir: &Path,
    broken: &dyn Fn(&dyn std::error::Error) -> SourceError,
    budget: &mut Budget,
) -> Result<(), SourceError> {
    let mut archive = zip::ZipArchive::new(source).map_err(|e| broken(&e))?;
    for index in 0..archive.len() {
        budget.add_entry()?;
        let mut file = archive.by_index(index).map_err(|e| broken(&e))?;
        let name = file.name().to_owned();
        let Some(rel) = entry_path(&name, file.is_dir())? else {
            continue;
        };
        if file.is_dir() {
            ensure_dir(dir, &rel, ORIGIN_ENTRY, &name)?;
        } else if file.is_symlink() {
            let target = read_extension(&mut file, 0, broken)?;
            write_symlink(dir, &rel, &lossy(&target), ORIGIN_ENTRY, &name)?;
        } else {
            let executable = file.unix_mode().is_some_and(|m| m & 0o111 != 0);
            let read_failed = |e: &io::Error| broken(e);
            write_file(
                dir,
                &rel,
                &mut file,
                executable,
                ORIGIN_ENTRY,
                &name,
                budget,
                &read_failed,
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
