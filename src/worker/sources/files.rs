//! `SOURCE_FILES`: the version's files, written as they are listed.

use std::io;
use std::path::Path;

use super::paths::{ensure_dir, relative_path, unsafe_path, write_file};
use super::{Budget, SourceError};
use crate::domain::version_spec::{FileFormat, SourceFile};

pub(super) fn write_source_files(
    files: &[SourceFile],
    root: &Path,
    budget: &mut Budget,
) -> Result<(), SourceError> {
    const ORIGIN: &str = "source file";
    for file in files {
        budget.add_entry()?;
        let name = file.name();
        let rel = relative_path(name).map_err(|reason| unsafe_path(ORIGIN, name, reason))?;
        let broken = |e: &io::Error| SourceError::Internal(e.to_string());
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
                write_file(
                    root,
                    &rel,
                    &mut io::empty(),
                    false,
                    ORIGIN,
                    name,
                    budget,
                    &broken,
                )?;
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
                        crate::domain::base64::decode(content).ok_or_else(|| {
                            SourceError::InvalidBase64 {
                                name: name.to_owned(),
                            }
                        })?
                    }
                };
                write_file(
                    root,
                    &rel,
                    &mut bytes.as_slice(),
                    false,
                    ORIGIN,
                    name,
                    budget,
                    &broken,
                )?;
            }
        }
    }
    Ok(())
}
