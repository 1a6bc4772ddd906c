//! Builds from each source type, and what the worker reads from the Actor's definition.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{data, serve_file, spawn_app_with, str_at, TestApp};

const SHOW: &str =
    "cat marker.txt; echo; echo \"dockerfile=$ACTOR_DOCKERFILE\"; echo \"secret=$MY_SECRET args=$*\"";

async fn build_version(app: &TestApp, actor_name: &str, version: Value) -> Value {
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": actor_name, "versions": [version]}))
        .send()
        .await
        .expect("actor");
    assert_eq!(res.status(), 201);
    let actor = data(res).await;
    let id = str_at(&actor, "/id");
    let res = app
        .post(&format!(
            "/v2/actors/{id}/builds?version=0.1&waitForFinish=60"
        ))
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 201);
    data(res).await
}

fn actor_json() -> String {
    json!({
        "actorSpecification": 1, "name": "demo", "version": "0.1", "buildTag": "latest",
        "dockerfile": "../Dockerfile", "input": "./input_schema.json", "readme": "../README.md",
        "meta": {"templateId": "x"},
    })
    .to_string()
}

fn input_schema() -> String {
    json!({"title": "Input", "type": "object", "schemaVersion": 1,
           "properties": {"url": {"type": "string", "title": "URL", "editor": "textfield"}}, "required": ["url"]})
    .to_string()
}

#[tokio::test]
async fn source_files_with_a_definition() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", SHOW)]).await;
    let build = build_version(
        &app,
        "from-files",
        json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "applyEnvVarsToBuild": true,
        "envVars": [{"name": "MY_SECRET", "value": "hush", "isSecret": true}],
        "sourceFiles": [
            {"name": ".actor", "folder": true},
            {"name": ".actor/actor.json", "format": "TEXT", "content": actor_json()},
            {"name": ".actor/input_schema.json", "format": "TEXT", "content": input_schema()},
            {"name": "README.md", "format": "TEXT", "content": "# Demo"},
            {"name": "Dockerfile", "format": "TEXT", "content": "FROM scratch"},
            {"name": "marker.txt", "format": "BASE64", "content": "ZnJvbSBiYXNlNjQ="},
        ]}),
    )
    .await;
    assert_eq!(build["status"], "SUCCEEDED", "{build}");
    let id = str_at(&build, "/id");
    let definition = &build["actorDefinition"];
    assert_eq!(definition["actorSpecification"], 1);
    assert_eq!(definition["input"]["properties"]["url"]["type"], "string");
    assert_eq!(definition["readme"], "# Demo");
    assert_eq!(
        definition["meta"]["templateId"], "x",
        "unknown keys are kept"
    );
    assert_eq!(build["readme"], "# Demo");
    let schema: Value =
        serde_json::from_str(str_at(&build, "/inputSchema")).expect("inputSchema is JSON");
    assert_eq!(schema["required"], json!(["url"]));
    let lines = app.log_lines(id).await;
    assert!(lines.iter().any(|l| l == "from base64"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dockerfile=") && l.ends_with("/Dockerfile")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "secret= args=--build-arg MY_SECRET=********"),
        "env vars reach the build as build arguments only, and secret values are masked: {lines:?}"
    );

    // The build's OpenAPI document, without a token.
    let res = app
        .client
        .get(app.url(&format!("/v2/actor-builds/{id}/openapi.json")))
        .send()
        .await
        .expect("openapi");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("json");
    assert!(doc.get("data").is_none(), "no data envelope");
    assert_eq!(doc["openapi"], "3.0.1");
    assert_eq!(doc["info"]["version"], "0.1");
    assert_eq!(doc["info"]["x-build-id"], id);
    for path in [
        "/acts/jane~from-files/runs",
        "/acts/jane~from-files/run-sync",
        "/acts/jane~from-files/run-sync-get-dataset-items",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}: {doc}");
    }
    assert_eq!(
        doc["components"]["schemas"]["inputSchema"]["properties"]["url"]["type"],
        "string"
    );
    // The same through the Actor, with `default` naming the latest build.
    let via_actor = app
        .get("/v2/actors/jane~from-files/builds/default/openapi.json")
        .send()
        .await
        .expect("openapi");
    assert_eq!(via_actor.status(), 200);
    assert_eq!(
        via_actor.json::<Value>().await.expect("json")["info"]["x-build-id"],
        id
    );
    let missing = app
        .get("/v2/actor-builds/AAAAAAAAAAAAAAAAA/openapi.json")
        .send()
        .await
        .expect("openapi");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn bad_sources_fail_the_build_and_say_why() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "2"), ("BUILD_COMMAND", "true")]).await;
    let escaping = build_version(
        &app,
        "escaping",
        json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
               "sourceFiles": [{"name": "../outside.txt", "format": "TEXT", "content": "x"}]}),
    )
    .await;
    assert_eq!(escaping["status"], "FAILED");
    let lines = app.log_lines(str_at(&escaping, "/id")).await;
    assert!(
        lines.iter().any(|l| l.contains("../outside.txt")),
        "{lines:?}"
    );
    assert!(!app.work_dir.join("outside.txt").exists());

    let invalid = build_version(
        &app,
        "bad-definition",
        json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
               "sourceFiles": [{"name": ".actor/actor.json", "format": "TEXT",
                                "content": "{\"actorSpecification\": 2, \"name\": \"x\", \"version\": \"0.1\"}"}]}),
    )
    .await;
    assert_eq!(invalid["status"], "FAILED");
    let lines = app.log_lines(str_at(&invalid, "/id")).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(".actor/actor.json") && l.contains("actorSpecification")),
        "{lines:?}"
    );

    let broken = build_version(
        &app,
        "broken-json",
        json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
               "sourceFiles": [{"name": ".actor/actor.json", "format": "TEXT", "content": "{nope"}]}),
    )
    .await;
    assert_eq!(broken["status"], "FAILED");
    let lines = app.log_lines(str_at(&broken, "/id")).await;
    assert!(
        lines.iter().any(|l| l.contains(".actor/actor.json")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn default_docker_build_without_docker_says_so() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1")]).await;
    if Command::new("sh")
        .args(["-c", "command -v docker && docker info"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return; // A machine with a working Docker engine would really build.
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let has_docker_client = Command::new("sh")
        .args(["-c", "command -v docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    let build = build_version(
        &app,
        "needs-docker",
        json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": []}),
    )
    .await;
    assert_eq!(build["status"], "FAILED", "PATH={path}");
    let lines = app.log_lines(str_at(&build, "/id")).await;
    if !has_docker_client {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("docker is not installed") && l.contains("BUILD_COMMAND")),
            "{lines:?}"
        );
    }
}

#[tokio::test]
async fn git_repository_with_branch_and_subfolder() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", SHOW)]).await;
    let repo = app.work_dir.join("repo");
    std::fs::create_dir_all(repo.join("actor/.actor")).expect("repo dir");
    std::fs::write(repo.join("actor/marker.txt"), "from git").expect("file");
    std::fs::write(repo.join("actor/.actor/actor.json"), actor_json()).expect("file");
    std::fs::write(repo.join("actor/.actor/input_schema.json"), input_schema()).expect("file");
    std::fs::write(repo.join("actor/README.md"), "# From git").expect("file");
    std::fs::write(repo.join("actor/Dockerfile"), "FROM scratch").expect("file");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q", "-b", "release"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    // Served by `git daemon` (local paths and file:// are refused).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    // `git daemon` runs `git-daemon` as a child: the group is killed, not only `git`, and on a
    // failed assertion too.
    let _daemon = ProcessGroup(
        Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", app.work_dir.display()))
            .arg(&app.work_dir)
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let url = format!("git://127.0.0.1:{port}/repo#release:actor");
    let build = build_version(
        &app,
        "from-git",
        json!({"versionNumber": "0.1", "sourceType": "GIT_REPO", "gitRepoUrl": url}),
    )
    .await;
    assert_eq!(build["status"], "SUCCEEDED", "{build}");
    assert_eq!(build["readme"], "# From git");
    assert_eq!(build["actVersion"]["gitRepoUrl"], url);
    let lines = app.log_lines(str_at(&build, "/id")).await;
    assert!(lines.iter().any(|l| l == "from git"), "{lines:?}");
}

/// A child started in a process group of its own; the whole group is killed on drop.
struct ProcessGroup(std::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn tarball_over_http() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", SHOW)]).await;
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, content) in [
        ("project/marker.txt", "from tarball".to_owned()),
        ("project/.actor/actor.json", actor_json()),
        ("project/.actor/input_schema.json", input_schema()),
        ("project/README.md", "# From tarball".to_owned()),
        ("project/Dockerfile", "FROM scratch".to_owned()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(&mut header, name, content.as_bytes())
            .expect("append");
    }
    let gz = archive.into_inner().expect("tar").finish().expect("gzip");
    let url = serve_file(gz, "source.tar.gz").await;
    let build = build_version(
        &app,
        "from-tarball",
        json!({"versionNumber": "0.1", "sourceType": "TARBALL", "tarballUrl": url}),
    )
    .await;
    assert_eq!(build["status"], "SUCCEEDED", "{build}");
    assert_eq!(build["readme"], "# From tarball");
    let lines = app.log_lines(str_at(&build, "/id")).await;
    assert!(lines.iter().any(|l| l == "from tarball"), "{lines:?}");

    // Over the size limit: the build fails and says so.
    let small = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("TARBALL_MAX_BYTES", "100"),
        ("BUILD_COMMAND", "true"),
    ])
    .await;
    let mut big = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    big.write_all(&[7u8; 5000]).expect("gzip");
    let url = serve_file(big.finish().expect("gzip"), "source.tar.gz").await;
    let build = build_version(
        &small,
        "too-big",
        json!({"versionNumber": "0.1", "sourceType": "TARBALL", "tarballUrl": url}),
    )
    .await;
    assert_eq!(build["status"], "FAILED");
    let lines = small.log_lines(str_at(&build, "/id")).await;
    assert!(lines.iter().any(|l| l.contains("100")), "{lines:?}");
}

/// The time limit covers fetching the sources too: a download that never answers times out.
#[tokio::test]
async fn timeout_while_fetching_sources() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILD_TIMEOUT_SECS", "1"),
        ("BUILD_COMMAND", "true"),
    ])
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/never.tar.gz",
        listener.local_addr().expect("addr")
    );
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // accepted, never answered
        }
    });
    let build = build_version(
        &app,
        "never-fetched",
        json!({"versionNumber": "0.1", "sourceType": "TARBALL", "tarballUrl": url}),
    )
    .await;
    silent.abort();
    assert_eq!(build["status"], "TIMED-OUT", "{build}");
    let lines = app.log_lines(str_at(&build, "/id")).await;
    assert!(
        lines.last().is_some_and(|l| l.contains("timed out")),
        "{lines:?}"
    );
}
