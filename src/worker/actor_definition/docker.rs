//! The Dockerfile and the Docker context.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::reader::Reader;
use super::{given, invalid, kind, shown, DefinitionError, ACTOR_DIR, ACTOR_JSON};

impl Reader {
    pub(super) fn dockerfile(&self, def: &Map<String, Value>) -> Result<PathBuf, DefinitionError> {
        match given(def, "dockerfile") {
            Some(Value::String(path)) => {
                let rel = self.normalize("dockerfile", Path::new(ACTOR_DIR), path)?;
                match self.existing(&rel)? {
                    Some(full) if full.is_file() => Ok(full),
                    Some(_) => Err(invalid(
                        "dockerfile",
                        format!("{path:?} ({}) is not a file", shown(&rel)),
                    )),
                    None => Err(DefinitionError::Missing {
                        file: ACTOR_JSON.into(),
                        field: "dockerfile".into(),
                        path: path.clone(),
                        resolved: shown(&rel),
                    }),
                }
            }
            Some(other) => Err(invalid(
                "dockerfile",
                format!("must be a path to the Dockerfile, found {}", kind(other)),
            )),
            None => {
                let in_actor_dir = Path::new(".actor/Dockerfile");
                if let Some(full) = self.existing(in_actor_dir)? {
                    if full.is_file() {
                        return Ok(full);
                    }
                }
                // Checked for a link out of the root even though it may not exist.
                self.existing(Path::new("Dockerfile"))?;
                Ok(self.root.join("Dockerfile"))
            }
        }
    }

    pub(super) fn docker_context(
        &self,
        def: &Map<String, Value>,
    ) -> Result<PathBuf, DefinitionError> {
        match given(def, "dockerContextDir") {
            Some(Value::String(path)) => {
                let rel = self.normalize("dockerContextDir", Path::new(ACTOR_DIR), path)?;
                match self.existing(&rel)? {
                    Some(full) if full.is_dir() => Ok(full),
                    Some(_) => Err(invalid(
                        "dockerContextDir",
                        format!("{path:?} ({}) is not a folder", shown(&rel)),
                    )),
                    None => Err(DefinitionError::Missing {
                        file: ACTOR_JSON.into(),
                        field: "dockerContextDir".into(),
                        path: path.clone(),
                        resolved: shown(&rel),
                    }),
                }
            }
            Some(other) => Err(invalid(
                "dockerContextDir",
                format!("must be a path to a folder, found {}", kind(other)),
            )),
            None => Ok(self.root.clone()),
        }
    }
}
