//! The README: the `readme` path (from `.actor/`, then from the root), else the conventional files.

use std::path::Path;

use serde_json::{Map, Value};

use super::reader::Reader;
use super::{given, invalid, kind, DefinitionError, ACTOR_DIR, ACTOR_JSON};

pub(super) fn resolve_readme(
    reader: &Reader,
    def: &mut Map<String, Value>,
) -> Result<Option<String>, DefinitionError> {
    let text = match given(def, "readme") {
        None => reader.default_readme()?,
        Some(Value::String(path)) => {
            let path = path.clone();
            let from_actor_dir = reader.normalize("readme", Path::new(ACTOR_DIR), &path)?;
            let found = match reader.existing(&from_actor_dir)? {
                Some(_) => Some(from_actor_dir.clone()),
                None => {
                    let from_root = reader.normalize("readme", Path::new(""), &path)?;
                    reader.existing(&from_root)?.map(|_| from_root)
                }
            };
            let Some(rel) = found else {
                return Err(DefinitionError::Missing {
                    file: ACTOR_JSON.into(),
                    field: "readme".into(),
                    path,
                    resolved: from_actor_dir.display().to_string(),
                });
            };
            Some(reader.read_text(&rel)?)
        }
        Some(other) => {
            return Err(invalid(
                "readme",
                format!("must be a path to the README, found {}", kind(other)),
            ))
        }
    };
    if let Some(text) = &text {
        def.insert("readme".into(), Value::String(text.clone()));
    }
    Ok(text)
}

impl Reader {
    /// `README.md` at the root, then `.actor/README.md`.
    pub(super) fn default_readme(&self) -> Result<Option<String>, DefinitionError> {
        for rel in ["README.md", ".actor/README.md"] {
            if self.existing(Path::new(rel))?.is_some() {
                return self.read_text(Path::new(rel)).map(Some);
            }
        }
        Ok(None)
    }
}
