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
            serde_json::from_str(&fs::read_to_string(root.0.join(ACTOR_JSON)).unwrap()).unwrap();
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
    let schema = json!({"title": "Inline", "type": "object", "schemaVersion": 1, "properties": {}});
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
    .write(
        ".actor/input_schema.json",
        "\u{feff}{\"title\": \"from file\"}",
    )
    .write(
        ".actor/schemas/out.json",
        r#"{"actorOutputSchemaVersion": 1}"#,
    )
    .write(
        ".actor/dataset_schema.json",
        r#"{"actorSpecification": 1, "views": {}}"#,
    )
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
    root.actor_json(json!({"version": "1.2.3", "minMemoryMbytes": 128, "maxMemoryMbytes": 4096}));
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
    std::os::unix::fs::symlink(outside.0.join("secret.json"), root.0.join("README.md")).unwrap();
    assert_eq!(
        root.error(),
        "README.md resolves outside the Actor root (through a symbolic link)"
    );
}
