//! Golden JSON: the answers for an Actor, its version and its builds, compared as text with
//! recorded fixtures in `tests/fixtures/json/`, so that a change of a key, of a key's place or
//! of a value fails. Volatile values (ids, timestamps, measured numbers, the server's address)
//! become placeholders first, the same way every run.
//!
//! `UPDATE_FIXTURES=1 cargo test --test api fixtures` records the fixtures from the server as it
//! answers now.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Number, Value};

use crate::helpers::{is_timestamp, spawn_app, spawn_app_with, str_at, TestApp};

/// JSON as it was served: unlike `serde_json::Value`, objects keep their keys in the order of
/// the text (duplicates included).
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;

        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Number::from_f64(v)
                    .map(Node::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Node>()? {
                    entries.push((key, value));
                }
                Ok(Node::Object(entries))
            }
        }

        deserializer.deserialize_any(NodeVisitor)
    }
}

fn scalar_text<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("a scalar serializes")
}

impl Node {
    /// The compact text, written the way the server's serializer writes it.
    fn compact(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Number(n) => out.push_str(&scalar_text(n)),
            Node::String(s) => out.push_str(&scalar_text(s)),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.compact(out);
                }
                out.push(']');
            }
            Node::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&scalar_text(key));
                    out.push(':');
                    value.compact(out);
                }
                out.push('}');
            }
        }
    }

    /// The text indented by two spaces a level, keys in their order: the fixtures' form.
    fn pretty(&self, indent: usize, out: &mut String) {
        let pad = |out: &mut String, level: usize| {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
        };
        match self {
            Node::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, indent + 1);
                    item.pretty(indent + 1, out);
                }
                pad(out, indent);
                out.push(']');
            }
            Node::Object(entries) if !entries.is_empty() => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, indent + 1);
                    out.push_str(&scalar_text(key));
                    out.push_str(": ");
                    value.pretty(indent + 1, out);
                }
                pad(out, indent);
                out.push('}');
            }
            other => other.compact(out),
        }
    }
}

/// Numbers that are measured, not given: replaced wherever these keys hold a number.
const MEASURED: [&str; 5] = [
    "durationMillis",
    "runTimeSecs",
    "computeUnits",
    "ACTOR_COMPUTE_UNITS",
    "usageTotalUsd",
];

/// Turns volatile values into placeholders, keeping what kind of value each was.
struct Normaliser {
    /// Values known to change from run to run (ids, the token, the server's address) and their
    /// placeholders, replaced wherever they occur in a string.
    known: Vec<(String, String)>,
}

impl Normaliser {
    fn new(app: &TestApp) -> Self {
        let mut known = vec![
            (app.token.clone(), "<token>".to_owned()),
            (app.address.clone(), "<address>".to_owned()),
            (app.metrics_address.clone(), "<metrics-address>".to_owned()),
        ];
        known.push((app.user_id.clone(), "<userId>".to_owned()));
        Normaliser { known }
    }

    /// `value` is written `<placeholder>` from now on.
    fn know(&mut self, value: &str, placeholder: &str) {
        assert!(!value.is_empty(), "an empty value for {placeholder}");
        self.known
            .push((value.to_owned(), format!("<{placeholder}>")));
    }

    fn text(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (value, placeholder) in &self.known {
            s = s.replace(value.as_str(), placeholder);
        }
        s
    }

    fn node(&self, key: Option<&str>, node: &Node) -> Node {
        match node {
            Node::String(s) if is_timestamp(&Value::String(s.clone())) => {
                Node::String("<timestamp>".into())
            }
            Node::String(s) => Node::String(self.text(s)),
            Node::Number(n) if key.is_some_and(|k| MEASURED.contains(&k)) => {
                Node::String(if n.is_f64() { "<float>" } else { "<int>" }.into())
            }
            Node::Array(items) => Node::Array(items.iter().map(|i| self.node(None, i)).collect()),
            Node::Object(entries) => Node::Object(
                entries
                    .iter()
                    .map(|(k, v)| (self.text(k), self.node(Some(k), v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The fixture text of a response body: checked to be exactly what the compact form of its
    /// parsed tree is, so that the placeholders' text stands for the served bytes.
    fn fixture_text(&self, raw: &str) -> String {
        let tree: Node = serde_json::from_str(raw)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {raw}"));
        let mut again = String::new();
        tree.compact(&mut again);
        assert_eq!(
            again, raw,
            "the body is not in the serializer's compact form"
        );
        let mut out = String::new();
        self.node(None, &tree).pretty(0, &mut out);
        out.push('\n');
        out
    }
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/json")
        .join(format!("{name}.json"))
}

fn updating() -> bool {
    std::env::var("UPDATE_FIXTURES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the fixture `name`, or records it with `UPDATE_FIXTURES=1`.
fn check_fixture(name: &str, actual: &str) {
    let path = fixture_path(name);
    if updating() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("fixture directory");
        std::fs::write(&path, actual).expect("write fixture");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no fixture {} ({e}); record it with UPDATE_FIXTURES=1. The answer was:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let mut diff = String::new();
        let (exp, act): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
        for i in 0..exp.len().max(act.len()) {
            let (e, a) = (exp.get(i), act.get(i));
            if e != a {
                let _ = writeln!(diff, "line {}:\n  - {:?}\n  + {:?}", i + 1, e, a);
            }
        }
        panic!(
            "{name} differs from {}:\n{diff}\nthe answer, normalised:\n{actual}",
            path.display()
        );
    }
}

/// Sends the request, checks its status and compares its body with the fixture `name`.
async fn golden(
    normaliser: &Normaliser,
    name: &str,
    request: reqwest::RequestBuilder,
    status: u16,
) -> Value {
    let res = request.send().await.expect("request");
    assert_eq!(res.status(), status, "{name}");
    let raw = res.text().await.expect("body");
    check_fixture(name, &normaliser.fixture_text(&raw));
    serde_json::from_str(&raw).expect("JSON")
}

fn golden_version() -> Value {
    let actor_json = json!({
        "actorSpecification": 1, "name": "golden", "version": "0.1", "buildTag": "beta",
        "input": "./input_schema.json", "readme": "../README.md",
    })
    .to_string();
    let input_schema = json!({
        "title": "Input", "type": "object", "schemaVersion": 1,
        "properties": {"url": {"type": "string", "title": "URL", "editor": "textfield"}},
    })
    .to_string();
    json!({
        "versionNumber": "0.1",
        "sourceType": "SOURCE_FILES",
        "buildTag": "beta",
        "applyEnvVarsToBuild": true,
        "envVars": [
            {"name": "PLAIN", "value": "plain-value"},
            {"name": "SECRET", "value": "secret-value", "isSecret": true},
        ],
        "sourceFiles": [
            {"name": ".actor", "folder": true},
            {"name": ".actor/actor.json", "format": "TEXT", "content": actor_json},
            {"name": ".actor/input_schema.json", "format": "TEXT", "content": input_schema},
            {"name": "README.md", "format": "TEXT", "content": "# Golden"},
            {"name": "main.sh", "format": "TEXT", "content": "echo golden"},
            {"name": "data.bin", "format": "BASE64", "content": "Z29sZGVu"},
        ],
    })
}

/// Creates the Actor and compares the answer and the reads of its version with the fixtures
/// (`actor-created`, `version`, `versions`).
async fn golden_actor(app: &TestApp, n: &mut Normaliser) -> String {
    let res = app
        .post("/v2/actors")
        .json(&json!({
            "name": "golden",
            "title": "Golden",
            "description": "Answers kept byte for byte",
            "defaultRunOptions": {"build": "beta", "timeoutSecs": 60, "memoryMbytes": 1024},
            "versions": [golden_version()],
        }))
        .send()
        .await
        .expect("create actor");
    assert_eq!(res.status(), 201);
    let raw = res.text().await.expect("body");
    let created: Value = serde_json::from_str(&raw).expect("JSON");
    let actor_id = str_at(&created, "/data/id").to_owned();
    n.know(&actor_id, "actorId");
    check_fixture("actor-created", &n.fixture_text(&raw));

    golden(
        n,
        "version",
        app.get(&format!("/v2/actors/{actor_id}/versions/0.1")),
        200,
    )
    .await;
    golden(
        n,
        "versions",
        app.get(&format!("/v2/actors/{actor_id}/versions")),
        200,
    )
    .await;
    actor_id
}

/// A build nobody runs: the Actor, its version, the READY build and the lists it is in.
#[tokio::test]
async fn answers_for_a_ready_build_match_the_fixtures() {
    let app = spawn_app().await;
    let mut n = Normaliser::new(&app);
    let actor_id = golden_actor(&app, &mut n).await;

    let res = app
        .post(&format!("/v2/actors/{actor_id}/builds?version=0.1"))
        .send()
        .await
        .expect("create build");
    assert_eq!(res.status(), 201);
    let raw = res.text().await.expect("body");
    let created: Value = serde_json::from_str(&raw).expect("JSON");
    let build_id = str_at(&created, "/data/id").to_owned();
    n.know(&build_id, "buildId");
    check_fixture("build-created", &n.fixture_text(&raw));

    golden(
        &n,
        "build-ready",
        app.get(&format!("/v2/actor-builds/{build_id}")),
        200,
    )
    .await;
    golden(
        &n,
        "build-ready-by-actor",
        app.get(&format!("/v2/actors/{actor_id}/builds/{build_id}")),
        200,
    )
    .await;
    let list = golden(&n, "builds-list", app.get("/v2/actor-builds"), 200).await;
    assert_eq!(list["data"]["items"][0]["id"], build_id.as_str());
    golden(
        &n,
        "actor-builds-list",
        app.get(&format!("/v2/actors/{actor_id}/builds")),
        200,
    )
    .await;
    golden(&n, "actor", app.get(&format!("/v2/actors/{actor_id}")), 200).await;
    golden(&n, "actors-list", app.get("/v2/actors"), 200).await;
}

/// A build a worker ran to SUCCEEDED: stats, usage and meta as a finished build has them, and
/// the Actor with its tagged build.
#[tokio::test]
async fn answers_for_a_finished_build_match_the_fixtures() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", "sh main.sh")]).await;
    let mut n = Normaliser::new(&app);
    let actor_id = golden_actor(&app, &mut n).await;

    let res = app
        .post(&format!(
            "/v2/actors/{actor_id}/builds?version=0.1&waitForFinish=60"
        ))
        .send()
        .await
        .expect("create build");
    assert_eq!(res.status(), 201);
    let raw = res.text().await.expect("body");
    let created: Value = serde_json::from_str(&raw).expect("JSON");
    let build_id = str_at(&created, "/data/id").to_owned();
    n.know(&build_id, "buildId");
    // The wait may end before the build does on a loaded machine; the reads below come after
    // the build is SUCCEEDED.
    let build = app.wait_for_status(&build_id, &["SUCCEEDED"], 120).await;
    assert!(app.log_lines(&build_id).await.iter().any(|l| l == "golden"));
    assert_eq!(build["status"], "SUCCEEDED", "{build}");

    golden(
        &n,
        "build-succeeded",
        app.get(&format!("/v2/actor-builds/{build_id}")),
        200,
    )
    .await;
    golden(
        &n,
        "build-succeeded-tokenless",
        app.client
            .get(app.url(&format!("/v2/actor-builds/{build_id}"))),
        200,
    )
    .await;
    golden(
        &n,
        "build-default",
        app.get(&format!("/v2/actors/{actor_id}/builds/default")),
        200,
    )
    .await;
    golden(
        &n,
        "builds-list-succeeded",
        app.get("/v2/actor-builds"),
        200,
    )
    .await;
    golden(
        &n,
        "actor-with-tagged-build",
        app.get(&format!("/v2/actors/{actor_id}")),
        200,
    )
    .await;
}

/// The normaliser itself: key order survives, placeholders keep the kind of value.
#[test]
fn the_normaliser_keeps_key_order_and_kinds() {
    let n = Normaliser {
        known: vec![("AbCdEfGhIjKlMnOpQ".into(), "<buildId>".into())],
    };
    let raw = r#"{"z":1,"a":{"id":"AbCdEfGhIjKlMnOpQ","at":"2026-01-02T03:04:05.678Z","stats":{"durationMillis":12,"computeUnits":0.5}},"url":"http://x/AbCdEfGhIjKlMnOpQ/log","n":[true,null,-1.5]}"#;
    assert_eq!(
        n.fixture_text(raw),
        r#"{
  "z": 1,
  "a": {
    "id": "<buildId>",
    "at": "<timestamp>",
    "stats": {
      "durationMillis": "<int>",
      "computeUnits": "<float>"
    }
  },
  "url": "http://x/<buildId>/log",
  "n": [
    true,
    null,
    -1.5
  ]
}
"#
    );
    let swapped = r#"{"a":1,"z":2}"#;
    assert_ne!(n.fixture_text(swapped), n.fixture_text(r#"{"z":2,"a":1}"#));
}
