//! The input, output and storage schemas: a path to a JSON file (from `.actor/`) or the object.

use std::path::Path;

use serde_json::{Map, Value};

use super::reader::Reader;
use super::{given, invalid, kind, shown, DefinitionError, ACTOR_DIR, ACTOR_JSON};

pub(super) fn resolve_input(
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

pub(super) fn resolve_output(
    reader: &Reader,
    def: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
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

pub(super) fn resolve_storages(
    reader: &Reader,
    def: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
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

impl Reader {
    /// A schema given in actor.json under `field`: a path to a JSON file, or the object itself.
    pub(super) fn schema(&self, field: &str, value: &Value) -> Result<Value, DefinitionError> {
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

    pub(super) fn schema_file(&self, field: &str, path: &str) -> Result<Value, DefinitionError> {
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
    pub(super) fn conventional_input(&self) -> Result<Option<Value>, DefinitionError> {
        for rel in ["INPUT_SCHEMA.json", ".actor/INPUT_SCHEMA.json"] {
            if self.existing(Path::new(rel))?.is_some() {
                return self
                    .read_json_object(Path::new(rel))
                    .map(|o| Some(Value::Object(o)));
            }
        }
        Ok(None)
    }
}
