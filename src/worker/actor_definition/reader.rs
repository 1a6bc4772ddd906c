//! Files under the Actor root, by paths relative to it: never outside it, not even through links.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::worker::sources::paths::{normalize, Parents};

use super::{invalid, kind, shown, DefinitionError, ACTOR_JSON};

pub(super) struct Reader {
    /// The Actor root, canonical.
    pub(super) root: PathBuf,
}

impl Reader {
    /// `value` (a path from actor.json) taken from `base` (relative to the root), normalized by
    /// its names, as a path relative to the root; refused when absolute or when it climbs out.
    pub(super) fn normalize(
        &self,
        field: &str,
        base: &Path,
        value: &str,
    ) -> Result<PathBuf, DefinitionError> {
        let escapes = || DefinitionError::Escapes {
            file: ACTOR_JSON.into(),
            field: field.into(),
            path: value.into(),
        };
        if value.trim().is_empty() || value.contains('\0') {
            return Err(invalid(field, format!("{value:?} is not a usable path")));
        }
        normalize(base, Path::new(value), Parents::Climb).map_err(|_| escapes())
    }

    /// `Some(absolute path)` when `rel` exists; refused when it resolves (through symbolic links)
    /// outside the root.
    pub(super) fn existing(&self, rel: &Path) -> Result<Option<PathBuf>, DefinitionError> {
        let full = self.root.join(rel);
        match full.canonicalize() {
            Ok(resolved) if resolved.starts_with(&self.root) => Ok(Some(full)),
            Ok(_) => Err(DefinitionError::LinkEscapes { file: shown(rel) }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DefinitionError::Io {
                file: shown(rel),
                source,
            }),
        }
    }

    pub(super) fn read_text(&self, rel: &Path) -> Result<String, DefinitionError> {
        let bytes = std::fs::read(self.root.join(rel)).map_err(|source| DefinitionError::Io {
            file: shown(rel),
            source,
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub(super) fn read_json(&self, rel: &Path) -> Result<Value, DefinitionError> {
        let text = self.read_text(rel)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        serde_json::from_str(text).map_err(|source| DefinitionError::Json {
            file: shown(rel),
            source,
        })
    }

    pub(super) fn read_json_object(
        &self,
        rel: &Path,
    ) -> Result<Map<String, Value>, DefinitionError> {
        match self.read_json(rel)? {
            Value::Object(map) => Ok(map),
            other => Err(DefinitionError::NotObject {
                file: shown(rel),
                found: kind(&other),
            }),
        }
    }
}
