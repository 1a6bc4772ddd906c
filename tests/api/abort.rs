use std::collections::HashSet;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::{data, error_type, is_timestamp, spawn_app, str_at};

/// Every row of the abort table: status before → status after, and whether finishedAt is set.
#[tokio::test]
async fn abort_of_each_status() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-table").await;
    let actor_id = str_at(&actor, "/id");
    let table = [
        ("READY", "ABORTED", true),
        ("RUNNING", "ABORTING", false),
        ("ABORTING", "ABORTING", false),
        ("TIMING-OUT", "TIMING-OUT", false),
        ("SUCCEEDED", "SUCCEEDED", true),
        ("FAILED", "FAILED", true),
        ("ABORTED", "ABORTED", true),
        ("TIMED-OUT", "TIMED-OUT", true),
    ];
    for (before, after, finished) in table {
        let build = app.create_build(actor_id).await;
        let id = str_at(&build, "/id");
        app.force_status(id, before).await;
        let finished_before: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT finished_at FROM builds WHERE id = $1")
                .bind(id)
                .fetch_one(&app.pool)
                .await
                .ok()
                .flatten();

        let res = app
            .post(&format!("/v2/actor-builds/{id}/abort"))
            .send()
            .await
            .expect("abort");
        assert_eq!(res.status(), 200, "{before}");
        assert_eq!(
            res.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json; charset=utf-8")
        );
        let body = data(res).await;
        assert_eq!(body["status"], after, "{before}");
        assert_eq!(body["id"], id);
        assert_eq!(
            is_timestamp(&body["finishedAt"]),
            finished,
            "{before}: {body}"
        );
        assert_eq!(body["finishedAt"].is_null(), !finished, "{before}");
        assert_eq!(app.db_status(id).await, after, "{before}");
        match before {
            "READY" | "RUNNING" => {
                assert!(is_timestamp(&body["abortRequestedAt"]), "{before}: {body}");
                assert_eq!(body["abortedBy"], app.user_id.as_str());
            }
            _ => {
                // Unchanged, finishedAt as it was.
                assert!(body["abortRequestedAt"].is_null(), "{before}: {body}");
                let finished_after: Option<chrono::DateTime<chrono::Utc>> =
                    sqlx::query_scalar("SELECT finished_at FROM builds WHERE id = $1")
                        .bind(id)
                        .fetch_one(&app.pool)
                        .await
                        .ok()
                        .flatten();
                assert_eq!(finished_before, finished_after, "{before}");
            }
        }

        // Repeating it changes nothing.
        let again = data(
            app.post(&format!("/v2/actor-builds/{id}/abort"))
                .send()
                .await
                .expect("abort"),
        )
        .await;
        assert_eq!(again["status"], after);
        assert_eq!(again["finishedAt"], body["finishedAt"]);
        assert_eq!(again["abortRequestedAt"], body["abortRequestedAt"]);
    }
}

#[tokio::test]
async fn abort_answers_the_full_build() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-full").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    let body = data(
        app.post(&format!("/v2/actor-builds/{id}/abort"))
            .send()
            .await
            .expect("abort"),
    )
    .await;
    for field in [
        "id",
        "actId",
        "userId",
        "startedAt",
        "finishedAt",
        "status",
        "meta",
        "stats",
        "options",
        "usage",
        "usageTotalUsd",
        "usageUsd",
        "buildNumber",
        "buildNumberInt",
        "actVersion",
        "actorDefinition",
        "inputSchema",
        "readme",
        "abortRequestedAt",
        "abortedBy",
    ] {
        assert!(body.get(field).is_some(), "missing {field}: {body}");
    }
    assert_eq!(body["meta"]["origin"], "API");
    assert_eq!(body["options"]["memoryMbytes"], 4096);
    assert_eq!(body["actVersion"]["versionNumber"], "0.1");
}

#[tokio::test]
async fn abort_refuses_strangers_and_missing_tokens() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-auth").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    let path = format!("/v2/actor-builds/{id}/abort");

    let res = app
        .post("/v2/actor-builds/AAAAAAAAAAAAAAAAA/abort")
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");

    let stranger = app.other_user("mallory").await;
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
    assert_eq!(
        app.db_status(id).await,
        "READY",
        "a stranger's abort changed nothing"
    );

    let res = app.client.post(app.url(&path)).send().await.expect("abort");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "token-not-provided");

    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth("apify_api_nonsense")
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "user-or-token-not-found");
    assert_eq!(app.db_status(id).await, "READY");

    // The token may also come in the query string.
    let res = app
        .client
        .post(app.url(&format!("{path}?token={}", app.token)))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    assert_eq!(app.db_status(id).await, "ABORTED");
}

#[tokio::test]
async fn abort_through_the_actor_path_and_with_odd_bodies() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-paths").await;
    let actor_id = str_at(&actor, "/id");

    // The JS client: a form content type and no body.
    let build = app.create_build(actor_id).await;
    let id = str_at(&build, "/id");
    let res = app
        .post(&format!("/v2/actors/{actor_id}/builds/{id}/abort"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    assert_eq!(data(res).await["status"], "ABORTED");

    // The legacy /v2/acts path with username~name, and a body that is not JSON at all.
    let build = app.create_build(actor_id).await;
    let id = str_at(&build, "/id");
    app.force_status(id, "RUNNING").await;
    let res = app
        .post(&format!("/v2/acts/jane~abort-paths/builds/{id}/abort"))
        .header(CONTENT_TYPE, "text/plain")
        .body("this is not json")
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    assert_eq!(data(res).await["status"], "ABORTING");

    // A build of another Actor is not reachable through this Actor's path.
    let other = app.create_actor("abort-paths-other").await;
    let res = app
        .post(&format!(
            "/v2/actors/{}/builds/{id}/abort",
            str_at(&other, "/id")
        ))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 404);
}

/// The Python client sends a body-less POST without Content-Length: a raw HTTP/1.1 request shows it.
#[tokio::test]
async fn abort_without_content_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let actor = app.create_actor("abort-raw").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let request = format!(
        "POST /v2/actor-builds/{id}/abort HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.token
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ABORTED\""), "{answer}");
}

/// 50 aborts of one RUNNING build at once: all 200, one move, the row ends ABORTING.
#[tokio::test]
async fn concurrent_aborts_make_one_move() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-race").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id").to_owned();
    app.force_status(&id, "RUNNING").await;

    let aborts = (0..50).map(|_| {
        let req = app.post(&format!("/v2/actor-builds/{id}/abort"));
        async move {
            let res = req.send().await.expect("abort");
            assert_eq!(res.status(), 200);
            data(res).await
        }
    });
    let answers: Vec<Value> = futures_util::future::join_all(aborts).await;
    let requested: HashSet<String> = answers
        .iter()
        .map(|b| b["abortRequestedAt"].to_string())
        .collect();
    assert!(
        answers.iter().all(|b| b["status"] == "ABORTING"),
        "every answer is consistent"
    );
    assert_eq!(requested.len(), 1, "one abort made the move: {requested:?}");
    assert_eq!(app.db_status(&id).await, "ABORTING");
}

/// The abort notifies listeners (workers) on commit.
#[tokio::test]
async fn abort_notifies_on_commit() {
    let app = spawn_app().await;
    let actor = app.create_actor("abort-notify").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    app.force_status(id, "RUNNING").await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool)
        .await
        .expect("listen");
    listener.listen("build_status").await.expect("listen");
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .expect("notification");
    assert_eq!(note.payload(), format!("{id} ABORTING"));
}
