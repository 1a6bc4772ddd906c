//! The application as `serve` builds it: its build slots driven to idle without a clock, its
//! shutdown through the future `run_until` is handed, and rules shared by its layers.

use actor_builds::app::App;
use actor_builds::settings::Settings;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::helpers::{data, drop_database, fresh_database, spawn_app_with, TEST_SECRETS_KEY};

/// Settings of a whole service on `url` with one build slot and no metrics listener, and `extra`.
fn settings_of(url: &str, work_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL", url),
        ("WORK_DIR", work_dir.to_str().expect("work dir")),
        ("WORKER_CONCURRENCY", "1"),
        ("METRICS_BIND_ADDR", "off"),
        ("SECRETS_KEY", TEST_SECRETS_KEY),
    ];
    vars.extend_from_slice(extra);
    Settings::from_lookup(|key| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    })
    .expect("settings")
}

/// `run_until_idle` returns once every build that was READY has ended: no polling, no sleep.
#[tokio::test]
async fn slots_run_the_queue_until_idle() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        (
            "BUILD_COMMAND",
            "if [ -f fail ]; then exit 3; fi; echo built",
        ),
    ])
    .await;
    let good = app.create_actor("idle-good").await;
    let bad = app
        .create_actor_with_files("idle-bad", &[("fail", "")])
        .await;
    let mut ids = Vec::new();
    for actor in [&good, &bad, &good] {
        let build = app
            .create_build(actor["id"].as_str().expect("actor id"))
            .await;
        ids.push(build["id"].as_str().expect("build id").to_owned());
    }
    let workers = app.workers.as_ref().expect("build slots");
    workers.run_until_idle().await.expect("idle");
    let statuses: Vec<String> = {
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(app.db_status(id).await);
        }
        statuses
    };
    assert_eq!(statuses, ["SUCCEEDED", "FAILED", "SUCCEEDED"]);
    // Idle stays idle: nothing is READY, so it returns at once.
    workers.run_until_idle().await.expect("idle again");
}

/// The whole service from `App::build`, stopped through the future given to `run_until`: a
/// running build is aborted by SYSTEM and the HTTP listener closes. The workers' writes come after
/// the HTTP servers (and their runtimes) have stopped: they must not need a connection of theirs.
#[tokio::test]
async fn run_until_stops_the_whole_service() {
    let (db, url) = fresh_database().await;
    let work_dir = std::env::temp_dir().join(format!("actor-builds-app-{}", uuid::Uuid::new_v4()));
    let settings = settings_of(
        &url,
        &work_dir,
        &[
            ("SHUTDOWN_GRACE_SECS", "0.2"),
            ("ABORT_GRACE_SECS", "1"),
            ("BUILD_COMMAND", "echo started; sleep 300"),
            ("SOURCE_ALLOW_PRIVATE_TARGETS", "true"),
        ],
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = App::build(Arc::new(settings), Some(listener))
        .await
        .expect("app");
    assert_eq!(app.metrics_port(), None, "METRICS_BIND_ADDR=off");
    let base = format!("http://127.0.0.1:{}", app.port().expect("port"));
    let pool = app.pool().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let user = actor_builds::storage::users::create_user(&pool, "jane")
        .await
        .expect("user");
    let token = actor_builds::storage::users::create_token(&pool, &user.id)
        .await
        .expect("token");
    let client = reqwest::Client::new();
    let actor: Value = data(
        client
            .post(format!("{base}/v2/actors"))
            .bearer_auth(&token)
            .json(
                &json!({"name": "stopped", "versions": [{"versionNumber": "0.1",
                "sourceType": "SOURCE_FILES", "sourceFiles": []}]}),
            )
            .send()
            .await
            .expect("create actor"),
    )
    .await;
    let actor_id = actor["id"].as_str().expect("actor id");
    let build: Value = data(
        client
            .post(format!("{base}/v2/actors/{actor_id}/builds?version=0.1"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("create build"),
    )
    .await;
    let build_id = build["id"].as_str().expect("build id").to_owned();
    let mut status = String::new();
    for _ in 0..300 {
        status = sqlx::query_scalar("SELECT status FROM builds WHERE id = $1")
            .bind(&build_id)
            .fetch_one(&pool)
            .await
            .expect("status");
        if status == "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "RUNNING");

    stop.send(()).expect("stop");
    running.await.expect("run task").expect("run_until");
    let (status, aborted_by): (String, Option<String>) =
        sqlx::query_as("SELECT status, aborted_by FROM builds WHERE id = $1")
            .bind(&build_id)
            .fetch_one(&pool)
            .await
            .expect("build");
    assert_eq!(status, "ABORTED");
    assert_eq!(aborted_by.as_deref(), Some("SYSTEM"));
    assert!(
        client.get(format!("{base}/health")).send().await.is_err(),
        "the listener is closed"
    );
    pool.close().await;
    drop_database(&db).await;
    let _ = std::fs::remove_dir_all(&work_dir);
}

/// Base64 source files follow one rule, when checked and when written: padding optional and
/// whitespace (line-wrapped output) ignored.
#[tokio::test]
async fn base64_sources_accepted_are_the_ones_written() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILD_COMMAND", "cat wrapped.txt; echo; cat unpadded.txt"),
    ])
    .await;
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "b64", "versions": [{"versionNumber": "0.1",
        "sourceType": "SOURCE_FILES", "sourceFiles": [
            {"name": "wrapped.txt", "format": "BASE64", "content": "aGVs\nbG8g\nd29y\nbGQ=\n"},
            {"name": "unpadded.txt", "format": "BASE64", "content": "aGk"}
        ]}]}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let actor = data(res).await;
    let build = app
        .create_build(actor["id"].as_str().expect("actor id"))
        .await;
    let build_id = build["id"].as_str().expect("build id");
    app.workers
        .as_ref()
        .expect("slots")
        .run_until_idle()
        .await
        .expect("idle");
    assert_eq!(app.db_status(build_id).await, "SUCCEEDED");
    let lines = app.log_lines(build_id).await;
    assert!(lines.iter().any(|l| l == "hello world"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "hi"), "{lines:?}");

    let res = app
        .post("/v2/actors")
        .json(
            &json!({"name": "b64-bad", "versions": [{"versionNumber": "0.1",
            "sourceType": "SOURCE_FILES", "sourceFiles": [
                {"name": "bad.bin", "format": "BASE64", "content": "not*base64"}
            ]}]}),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid-input");
}

/// A process with no listener at all (`actor-builds worker` with `METRICS_BIND_ADDR=off`) runs
/// until its shutdown future completes, and then stops.
#[tokio::test]
async fn a_process_without_listeners_runs_until_shutdown() {
    let (db, url) = fresh_database().await;
    let work_dir = std::env::temp_dir().join(format!("actor-builds-app-{}", uuid::Uuid::new_v4()));
    let settings = settings_of(&url, &work_dir, &[("BUILD_COMMAND", "true")]);
    let app = App::build(Arc::new(settings), None).await.expect("app");
    let pool = app.pool().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!running.is_finished(), "it runs until told to stop");
    stop.send(()).expect("stop");
    running.await.expect("run task").expect("run_until");
    pool.close().await;
    drop_database(&db).await;
    let _ = std::fs::remove_dir_all(&work_dir);
}
