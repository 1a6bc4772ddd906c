//! Reading an Actor's definition (`.actor/actor.json`) and the files it points to.
//!
//! Rules (LIFECYCLE.md, "Reading the Actor's definition"):
//! - paths inside actor.json are relative to `.actor/` and must stay inside the Actor root;
//! - the input schema is `input` or its alias `inputSchema` (a path or an inline object), else
//!   `INPUT_SCHEMA.json` at the root or in `.actor/`; `output`/`outputSchema` and the storages'
//!   schemas are resolved the same way when they are paths;
//! - the README is the `readme` path (from `.actor/`, then from the root), else `README.md` at the
//!   root, then `.actor/README.md`;
//! - the Dockerfile is `dockerfile`, else `.actor/Dockerfile`, else `Dockerfile` at the root; the
//!   Docker context is `dockerContextDir`, else the root.
//!
//! In the returned definition, `input` holds the input schema object (the alias `inputSchema` is
//! removed), `output` the output schema object (the alias `outputSchema` is removed), `readme` the
//! README text, and storage schema paths are replaced by the objects they name. Every other key is
//! kept as it is.

mod docker;
mod reader;
mod readme;
mod schemas;
#[cfg(test)]
mod tests;
mod validate;

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use reader::Reader;

/// What a build learns from its sources before it runs the build command.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorDefinition {
    /// The `actorDefinition` object, or `None` when the sources have no `.actor/actor.json`.
    pub definition: Option<Value>,
    pub input_schema: Option<Value>,
    pub readme: Option<String>,
    /// Absolute. When actor.json names no Dockerfile and `.actor/Dockerfile` does not exist, this is
    /// `Dockerfile` at the root, whether or not it exists (a custom build command may not need it).
    pub dockerfile: PathBuf,
    /// Absolute.
    pub docker_context: PathBuf,
}

/// Why the definition could not be read. `Display` is one line that names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file} is not valid JSON: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file} must contain a JSON object, not {found}")]
    NotObject { file: String, found: &'static str },
    #[error("{file}: {field} names {path:?} ({resolved}), which does not exist")]
    Missing {
        file: String,
        field: String,
        path: String,
        resolved: String,
    },
    #[error("{file}: {field} {path:?} points outside the Actor root")]
    Escapes {
        file: String,
        field: String,
        path: String,
    },
    #[error("{file} resolves outside the Actor root (through a symbolic link)")]
    LinkEscapes { file: String },
    #[error("{file}: {field} {problem}")]
    Invalid {
        file: String,
        field: String,
        problem: String,
    },
}

const ACTOR_DIR: &str = ".actor";
const ACTOR_JSON: &str = ".actor/actor.json";

/// Reads the Actor's definition from the Actor root `root` (blocking file I/O).
pub fn read(root: &Path) -> Result<ActorDefinition, DefinitionError> {
    let canonical = root.canonicalize().map_err(|source| DefinitionError::Io {
        file: root.display().to_string(),
        source,
    })?;
    let reader = Reader { root: canonical };

    let mut definition = match reader.existing(Path::new(ACTOR_JSON))? {
        Some(_) => Some(reader.read_json_object(Path::new(ACTOR_JSON))?),
        None => None,
    };
    if let Some(def) = &definition {
        validate::validate(def)?;
    }

    let input_schema = match definition.as_mut() {
        Some(def) => schemas::resolve_input(&reader, def)?,
        None => reader.conventional_input()?,
    };
    let readme = match definition.as_mut() {
        Some(def) => readme::resolve_readme(&reader, def)?,
        None => reader.default_readme()?,
    };
    if let Some(def) = definition.as_mut() {
        schemas::resolve_output(&reader, def)?;
        schemas::resolve_storages(&reader, def)?;
    }
    let empty = Map::new();
    let def = definition.as_ref().map_or(&empty, |d| d);
    let dockerfile = reader.dockerfile(def)?;
    let docker_context = reader.docker_context(def)?;

    Ok(ActorDefinition {
        definition: definition.map(Value::Object),
        input_schema,
        readme,
        dockerfile,
        docker_context,
    })
}

fn invalid(field: &str, problem: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid {
        file: ACTOR_JSON.into(),
        field: field.into(),
        problem: problem.into(),
    }
}

/// Present and not null.
fn given<'a>(def: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    def.get(key).filter(|v| !v.is_null())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(rel: &Path) -> String {
    rel.display().to_string()
}
