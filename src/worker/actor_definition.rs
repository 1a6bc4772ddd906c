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

use std::io;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

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
        validate(def)?;
    }

    let input_schema = match definition.as_mut() {
        Some(def) => resolve_input(&reader, def)?,
        None => reader.conventional_input()?,
    };
    let readme = match definition.as_mut() {
        Some(def) => resolve_readme(&reader, def)?,
        None => reader.default_readme()?,
    };
    if let Some(def) = definition.as_mut() {
        resolve_output(&reader, def)?;
        resolve_storages(&reader, def)?;
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

/// The checks the Apify Python client makes on an actor definition.
fn validate(def: &Map<String, Value>) -> Result<(), DefinitionError> {
    if let Some(spec) = given(def, "actorSpecification") {
        if spec.as_f64() != Some(1.0) {
            return Err(invalid(
                "actorSpecification",
                format!("must be 1, found {spec}"),
            ));
        }
    }
    if let Some(version) = given(def, "version") {
        let ok = version.as_str().is_some_and(|v| {
            let parts: Vec<&str> = v.split('.').collect();
            parts.len() >= 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if !ok {
            return Err(invalid(
                "version",
                format!(
                    "must be a string like \"0.0\" (numbers separated by dots), found {version}"
                ),
            ));
        }
    }
    for key in ["minMemoryMbytes", "maxMemoryMbytes"] {
        if let Some(memory) = given(def, key) {
            let ok = memory
                .as_f64()
                .is_some_and(|m| m.fract() == 0.0 && m >= 128.0);
            if !ok {
                return Err(invalid(
                    key,
                    format!("must be a whole number of megabytes, at least 128, found {memory}"),
                ));
            }
        }
    }
    Ok(())
}

fn resolve_input(
    reader: &Reader,
    def: &mut Map<String, Value>,
) -> Result<Option<Value>, DefinitionError> {
    let named = ["input", "inputSchema"]
        .into_iter()
        .find_map(|key| given(def, key).map(|v| (key, v.clone())));
    let schema = match named {
        Some((key, value)) => Some(reader.schema(key, &value)?),
        None => reader.conventional_input()?,
    };
    def.remove("inputSchema");
    if let Some(schema) = &schema {
        def.insert("input".into(), schema.clone());
    }
    Ok(schema)
}

fn resolve_output(reader: &Reader, def: &mut Map<String, Value>) -> Result<(), DefinitionError> {
    let named = ["output", "outputSchema"]
        .into_iter()
        .find_map(|key| given(def, key).map(|v| (key, v.clone())));
    if let Some((key, value)) = named {
        let schema = reader.schema(key, &value)?;
        def.remove("outputSchema");
        def.insert("output".into(), schema);
    }
    Ok(())
}

fn resolve_storages(reader: &Reader, def: &mut Map<String, Value>) -> Result<(), DefinitionError> {
    let Some(Value::Object(storages)) = def.get_mut("storages") else {
        return Ok(());
    };
    for key in ["dataset", "keyValueStore"] {
        if let Some(Value::String(path)) = storages.get(key) {
            let field = format!("storages.{key}");
            let schema = reader.schema_file(&field, &path.clone())?;
            storages.insert(key.into(), schema);
        }
    }
    for key in ["datasets", "keyValueStores"] {
        match storages.get_mut(key) {
            Some(Value::Object(named)) => {
                for (name, value) in named.iter_mut() {
                    if let Value::String(path) = value {
                        let field = format!("storages.{key}.{name}");
                        *value = reader.schema_file(&field, &path.clone())?;
                    }
                }
            }
            Some(Value::Array(list)) => {
                for (i, value) in list.iter_mut().enumerate() {
                    if let Value::String(path) = value {
                        let field = format!("storages.{key}[{i}]");
                        *value = reader.schema_file(&field, &path.clone())?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn resolve_readme(
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

struct Reader {
    /// The Actor root, canonical.
    root: PathBuf,
}

impl Reader {
    /// `value` (a path from actor.json) taken from `base` (relative to the root), normalized by
    /// its names, as a path relative to the root; refused when absolute or when it climbs out.
    fn normalize(&self, field: &str, base: &Path, value: &str) -> Result<PathBuf, DefinitionError> {
        let escapes = || DefinitionError::Escapes {
            file: ACTOR_JSON.into(),
            field: field.into(),
            path: value.into(),
        };
        if value.trim().is_empty() || value.contains('\0') {
            return Err(invalid(field, format!("{value:?} is not a usable path")));
        }
        let mut parts: Vec<&std::ffi::OsStr> = base.components().map(|c| c.as_os_str()).collect();
        for component in Path::new(value).components() {
            match component {
                Component::Normal(part) => parts.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(escapes());
                    }
                }
                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        Ok(parts.iter().collect())
    }

    /// `Some(absolute path)` when `rel` exists; refused when it resolves (through symbolic links)
    /// outside the root.
    fn existing(&self, rel: &Path) -> Result<Option<PathBuf>, DefinitionError> {
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

    fn read_text(&self, rel: &Path) -> Result<String, DefinitionError> {
        let bytes = std::fs::read(self.root.join(rel)).map_err(|source| DefinitionError::Io {
            file: shown(rel),
            source,
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn read_json(&self, rel: &Path) -> Result<Value, DefinitionError> {
        let text = self.read_text(rel)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        serde_json::from_str(text).map_err(|source| DefinitionError::Json {
            file: shown(rel),
            source,
        })
    }

    fn read_json_object(&self, rel: &Path) -> Result<Map<String, Value>, DefinitionError> {
        match self.read_json(rel)? {
            Value::Object(map) => Ok(map),
            other => Err(DefinitionError::NotObject {
                file: shown(rel),
                found: kind(&other),
            }),
        }
    }

    /// A schema given in actor.json under `field`: a path to a JSON file, or the object itself.
    fn schema(&self, field: &str, value: &Value) -> Result<Value, DefinitionError> {
        match value {
            Value::String(path) => self.schema_file(field, path),
            Value::Object(_) => Ok(value.clone()),
            other => Err(invalid(
                field,
                format!(
                    "must be a path to a JSON file or an object, found {}",
                    kind(other)
                ),
            )),
        }
    }

    fn schema_file(&self, field: &str, path: &str) -> Result<Value, DefinitionError> {
        let rel = self.normalize(field, Path::new(ACTOR_DIR), path)?;
        if self.existing(&rel)?.is_none() {
            return Err(DefinitionError::Missing {
                file: ACTOR_JSON.into(),
                field: field.into(),
                path: path.into(),
                resolved: shown(&rel),
            });
        }
        self.read_json_object(&rel).map(Value::Object)
    }

    /// `INPUT_SCHEMA.json` at the root, then in `.actor/`.
    fn conventional_input(&self) -> Result<Option<Value>, DefinitionError> {
        for rel in ["INPUT_SCHEMA.json", ".actor/INPUT_SCHEMA.json"] {
            if self.existing(Path::new(rel))?.is_some() {
                return self
                    .read_json_object(Path::new(rel))
                    .map(|o| Some(Value::Object(o)));
            }
        }
        Ok(None)
    }

    /// `README.md` at the root, then `.actor/README.md`.
    fn default_readme(&self) -> Result<Option<String>, DefinitionError> {
        for rel in ["README.md", ".actor/README.md"] {
            if self.existing(Path::new(rel))?.is_some() {
                return self.read_text(Path::new(rel)).map(Some);
            }
        }
        Ok(None)
    }

    fn dockerfile(&self, def: &Map<String, Value>) -> Result<PathBuf, DefinitionError> {
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

    fn docker_context(&self, def: &Map<String, Value>) -> Result<PathBuf, DefinitionError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;
    use std::sync::atomic::{AtomicU32, Ordering};

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    /// A fresh Actor root under the system's temp dir (removed when dropped).
    struct Root(PathBuf);

    impl Root {
        fn new(tag: &str) -> Root {
            let path = std::env::temp_dir().join(format!(
                "actor-builds-definition-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Root(path.canonicalize().unwrap())
        }
        fn write(&self, rel: &str, content: &str) -> &Root {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
            self
        }
        fn actor_json(&self, value: Value) -> &Root {
            self.write(ACTOR_JSON, &value.to_string())
        }
        fn read(&self) -> Result<ActorDefinition, DefinitionError> {
            read(&self.0)
        }
        fn error(&self) -> String {
            match self.read() {
                Ok(def) => panic!("accepted: {def:?}"),
                Err(e) => {
                    let message = e.to_string();
                    assert!(!message.contains('\n'), "{message}");
                    message
                }
            }
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn base() -> Value {
        json!({"actorSpecification": 1, "name": "a", "version": "0.0"})
    }

    fn with(mut value: Value, extra: Value) -> Value {
        if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        value
    }

    fn corpus() -> PathBuf {
        std::env::var_os("ACTOR_TEMPLATES_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/actor-templates")
            })
    }

    #[test]
    fn all_template_definitions_are_read() {
        let corpus = corpus();
        let mut templates: Vec<PathBuf> = fs::read_dir(&corpus)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", corpus.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        templates.sort();
        assert_eq!(templates.len(), 44, "templates in {}", corpus.display());
        for template in templates {
            let name = template.file_name().unwrap().to_string_lossy().into_owned();
            let root = Root::new("template");
            fs::create_dir_all(root.0.join(ACTOR_DIR)).unwrap();
            for entry in fs::read_dir(template.join(ACTOR_DIR)).unwrap() {
                let entry = entry.unwrap();
                fs::copy(entry.path(), root.0.join(ACTOR_DIR).join(entry.file_name())).unwrap();
            }
            let raw: Value =
                serde_json::from_str(&fs::read_to_string(root.0.join(ACTOR_JSON)).unwrap())
                    .unwrap();
            // The corpus holds only the JSON files: non-JSON files it names get placeholders.
            for key in ["dockerfile", "readme"] {
                if let Some(path) = raw.get(key).and_then(Value::as_str) {
                    let target = root.0.join(ACTOR_DIR).join(path);
                    if !target.exists() {
                        fs::write(&target, format!("placeholder {key}")).unwrap();
                    }
                }
            }

            let read = root.read().unwrap_or_else(|e| panic!("{name}: {e}"));
            let def = read.definition.as_ref().unwrap_or_else(|| panic!("{name}"));
            assert_eq!(def["$schema"], raw["$schema"], "{name}");
            assert_eq!(def["meta"], raw["meta"], "{name}");
            assert_eq!(def["dockerfile"], raw["dockerfile"], "{name}");
            assert!(def.get("inputSchema").is_none(), "{name}");
            assert!(def.get("outputSchema").is_none(), "{name}");
            if raw.get("input").or(raw.get("inputSchema")).is_some() {
                assert!(def["input"].is_object(), "{name}: input");
                assert_eq!(read.input_schema.as_ref(), Some(&def["input"]), "{name}");
            } else {
                assert!(read.input_schema.is_none(), "{name}");
            }
            if raw.get("output").or(raw.get("outputSchema")).is_some() {
                assert!(def["output"].is_object(), "{name}: output");
            }
            for key in ["dataset", "keyValueStore"] {
                if raw["storages"].get(key).is_some() {
                    assert!(def["storages"][key].is_object(), "{name}: storages.{key}");
                }
            }
            if let Some(key) = raw.get("webServerMcpPath") {
                assert_eq!(&def["webServerMcpPath"], key, "{name}");
            }
            assert_eq!(read.dockerfile, root.0.join("Dockerfile"), "{name}");
            assert!(read.dockerfile.is_file(), "{name}");
            assert_eq!(read.docker_context, root.0, "{name}");
            if raw.get("readme").is_some() {
                assert_eq!(read.readme.as_deref(), Some("placeholder readme"), "{name}");
                assert_eq!(def["readme"], "placeholder readme", "{name}");
            }
        }
    }

    #[test]
    fn without_actor_json_conventions_apply() {
        let root = Root::new("conventions");
        root.write("README.md", "# Hello")
            .write("INPUT_SCHEMA.json", r#"{"title": "in", "type": "object"}"#)
            .write("Dockerfile", "FROM x");
        let read = root.read().unwrap();
        assert_eq!(read.definition, None);
        assert_eq!(
            read.input_schema,
            Some(json!({"title": "in", "type": "object"}))
        );
        assert_eq!(read.readme.as_deref(), Some("# Hello"));
        assert_eq!(read.dockerfile, root.0.join("Dockerfile"));
        assert_eq!(read.docker_context, root.0);

        // `.actor/` variants, and `.actor/Dockerfile` before the root's.
        let root = Root::new("conventions2");
        root.write(".actor/README.md", "actor readme")
            .write(".actor/INPUT_SCHEMA.json", r#"{"title": "in2"}"#)
            .write(".actor/Dockerfile", "FROM y")
            .write("Dockerfile", "FROM x");
        let read = root.read().unwrap();
        assert_eq!(read.input_schema, Some(json!({"title": "in2"})));
        assert_eq!(read.readme.as_deref(), Some("actor readme"));
        assert_eq!(read.dockerfile, root.0.join(".actor/Dockerfile"));

        // Nothing at all: still readable.
        let root = Root::new("nothing");
        let read = root.read().unwrap();
        assert_eq!(read.input_schema, None);
        assert_eq!(read.readme, None);
        assert_eq!(read.dockerfile, root.0.join("Dockerfile"));

        // Conventions also apply when actor.json names no input and no README.
        let root = Root::new("conventions3");
        root.actor_json(base())
            .write("INPUT_SCHEMA.json", r#"{"title": "conv"}"#)
            .write("README.md", "root readme");
        let read = root.read().unwrap();
        let def = read.definition.unwrap();
        assert_eq!(def["input"], json!({"title": "conv"}));
        assert_eq!(def["readme"], "root readme");
    }

    #[test]
    fn inline_input_and_unknown_keys_are_kept() {
        let root = Root::new("inline");
        let schema =
            json!({"title": "Inline", "type": "object", "schemaVersion": 1, "properties": {}});
        root.actor_json(with(
            base(),
            json!({"input": schema, "$schema": "s", "meta": {"x": 1}, "webServerMcpPath": "/mcp",
                   "environmentVariables": {"A": "b"}}),
        ));
        let read = root.read().unwrap();
        let def = read.definition.unwrap();
        assert_eq!(def["input"], schema);
        assert_eq!(read.input_schema, Some(schema));
        assert_eq!(def["$schema"], "s");
        assert_eq!(def["meta"], json!({"x": 1}));
        assert_eq!(def["webServerMcpPath"], "/mcp");
        assert_eq!(def["environmentVariables"], json!({"A": "b"}));
        assert_eq!(def["version"], "0.0");
    }

    #[test]
    fn input_output_and_storage_paths_are_resolved() {
        let root = Root::new("paths");
        root.actor_json(with(
            base(),
            json!({"inputSchema": "./input_schema.json", "outputSchema": "schemas/out.json",
                   "storages": {"dataset": "./dataset_schema.json", "keyValueStore": {"inline": true},
                                "datasets": {"extra": "../extra_dataset.json"}},
                   "dockerfile": "../Dockerfile", "dockerContextDir": "../"}),
        ))
        .write(".actor/input_schema.json", "\u{feff}{\"title\": \"from file\"}")
        .write(".actor/schemas/out.json", r#"{"actorOutputSchemaVersion": 1}"#)
        .write(".actor/dataset_schema.json", r#"{"actorSpecification": 1, "views": {}}"#)
        .write("extra_dataset.json", r#"{"fields": {}}"#)
        .write("Dockerfile", "FROM x");
        let read = root.read().unwrap();
        let def = read.definition.unwrap();
        assert_eq!(def["input"], json!({"title": "from file"}));
        assert!(def.get("inputSchema").is_none());
        assert_eq!(def["output"], json!({"actorOutputSchemaVersion": 1}));
        assert!(def.get("outputSchema").is_none());
        assert_eq!(def["storages"]["dataset"]["views"], json!({}));
        assert_eq!(def["storages"]["keyValueStore"], json!({"inline": true}));
        assert_eq!(def["storages"]["datasets"]["extra"], json!({"fields": {}}));
        assert_eq!(read.dockerfile, root.0.join("Dockerfile"));
        assert_eq!(read.docker_context, root.0);
    }

    #[test]
    fn readme_falls_back_to_the_root() {
        let root = Root::new("readme");
        root.actor_json(with(base(), json!({"readme": "README.md"})))
            .write("README.md", "root text");
        let read = root.read().unwrap();
        assert_eq!(read.readme.as_deref(), Some("root text"));
        assert_eq!(read.definition.unwrap()["readme"], "root text");

        // Found in `.actor/` first.
        root.write(".actor/README.md", "actor text");
        assert_eq!(root.read().unwrap().readme.as_deref(), Some("actor text"));

        let root = Root::new("readme-missing");
        root.actor_json(with(base(), json!({"readme": "./DOCS.md"})));
        let err = root.error();
        assert_eq!(
            err,
            ".actor/actor.json: readme names \"./DOCS.md\" (.actor/DOCS.md), which does not exist"
        );
    }

    #[test]
    fn invalid_json_names_the_file_and_the_error() {
        let root = Root::new("badjson");
        root.actor_json(with(base(), json!({"input": "./input_schema.json"})))
            .write(".actor/input_schema.json", "{\"title\": \"x\",\n}");
        let err = root.error();
        assert!(
            err.starts_with(".actor/input_schema.json is not valid JSON: trailing comma at line 2"),
            "{err}"
        );

        let root = Root::new("badactorjson");
        root.write(ACTOR_JSON, "{not json");
        assert!(root
            .error()
            .starts_with(".actor/actor.json is not valid JSON: key must be a string at line 1"));

        let root = Root::new("array");
        root.write(ACTOR_JSON, "[]");
        assert_eq!(
            root.error(),
            ".actor/actor.json must contain a JSON object, not an array"
        );

        let root = Root::new("missing-input");
        root.actor_json(with(base(), json!({"inputSchema": "./nope.json"})));
        assert_eq!(
            root.error(),
            ".actor/actor.json: inputSchema names \"./nope.json\" (.actor/nope.json), which does not exist"
        );

        let root = Root::new("missing-dockerfile");
        root.actor_json(with(base(), json!({"dockerfile": "../Dockerfile"})));
        assert!(root
            .error()
            .contains("dockerfile names \"../Dockerfile\" (Dockerfile), which does not exist"));
    }

    #[test]
    fn values_the_python_client_rejects_fail() {
        let cases = [
            (
                json!({"actorSpecification": 2}),
                "actorSpecification must be 1, found 2",
            ),
            (
                json!({"version": "1"}),
                "version must be a string like \"0.0\"",
            ),
            (json!({"version": "v1.0"}), "found \"v1.0\""),
            (json!({"version": 1.0}), "version must be"),
            (
                json!({"minMemoryMbytes": 64}),
                "minMemoryMbytes must be a whole number of megabytes, at least 128, found 64",
            ),
            (json!({"maxMemoryMbytes": 127}), "maxMemoryMbytes"),
            (json!({"maxMemoryMbytes": 256.5}), "maxMemoryMbytes"),
            (
                json!({"input": 5}),
                "input must be a path to a JSON file or an object, found a number",
            ),
        ];
        for (extra, expected) in cases {
            let root = Root::new("reject");
            root.actor_json(with(base(), extra.clone()));
            let err = root.error();
            assert!(err.starts_with(".actor/actor.json: "), "{extra}: {err}");
            assert!(err.contains(expected), "{extra}: {err}");
        }
        // Accepted: absent actorSpecification, longer versions, memory at the bounds.
        let root = Root::new("accept");
        root.actor_json(
            json!({"version": "1.2.3", "minMemoryMbytes": 128, "maxMemoryMbytes": 4096}),
        );
        assert!(root.read().is_ok());
    }

    #[test]
    fn escaping_paths_are_refused() {
        for extra in [
            json!({"dockerfile": "../../Dockerfile"}),
            json!({"inputSchema": "/etc/passwd"}),
            json!({"readme": "../../../README.md"}),
            json!({"storages": {"dataset": "../../x.json"}}),
            json!({"dockerContextDir": "../.."}),
        ] {
            let root = Root::new("escape");
            root.actor_json(with(base(), extra.clone()));
            let err = root.error();
            assert!(
                err.contains("points outside the Actor root"),
                "{extra}: {err}"
            );
        }

        // Through a symbolic link.
        let outside = Root::new("outside");
        outside.write("secret.json", r#"{"secret": true}"#);
        let root = Root::new("symlink");
        root.actor_json(with(base(), json!({"inputSchema": "./input_schema.json"})));
        std::os::unix::fs::symlink(
            outside.0.join("secret.json"),
            root.0.join(".actor/input_schema.json"),
        )
        .unwrap();
        assert_eq!(
            root.error(),
            ".actor/input_schema.json resolves outside the Actor root (through a symbolic link)"
        );

        let root = Root::new("symlink-readme");
        std::os::unix::fs::symlink(outside.0.join("secret.json"), root.0.join("README.md"))
            .unwrap();
        assert_eq!(
            root.error(),
            "README.md resolves outside the Actor root (through a symbolic link)"
        );
    }
}
