//! Workers wake on notifications, and lose nothing when a notification never comes.

use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::helpers::{data, spawn_app_with, str_at, TestApp};

async fn wait_started(app: &TestApp, id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !app.log_lines(id).await.iter().any(|l| l == "started") {
        assert!(
            Instant::now() < deadline,
            "build {id} did not start within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With polls and heartbeats a minute apart, a new build is picked up and an abort reaches the
/// worker at once: both come by notification. Both are awaited as long as the test likes, as
/// long as that is well short of the first poll or heartbeat that could have found them.
#[tokio::test]
async fn notifications_wake_the_worker() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("POLL_INTERVAL_MS", "60000"),
        ("HEARTBEAT_SECS", "60"),
        ("BUILD_COMMAND", "echo started; exec sleep 300"),
    ])
    .await;
    let actor = app.create_actor("notified").await;
    // Let the worker's first poll pass, so that only a notification can wake it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The worker's next poll and the build's first heartbeat after its claim are 60 s away.
    let before_any_timer = Instant::now() + Duration::from_secs(45);
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    wait_started(
        &app,
        &id,
        before_any_timer.saturating_duration_since(Instant::now()),
    )
    .await;
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(data(res).await["status"], "ABORTING");
    // ABORTED before any heartbeat: the abort arrived by notification.
    let left = before_any_timer.saturating_duration_since(Instant::now());
    app.wait_for_status(&id, &["ABORTED"], left.as_secs().max(1))
        .await;
}

/// Writes made without notifications (triggers off for the session) are found by the poll
/// (new builds) and by the heartbeat (aborts).
#[tokio::test]
async fn lost_notifications_only_delay() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("POLL_INTERVAL_MS", "300"),
        ("HEARTBEAT_SECS", "1"),
        ("BUILD_COMMAND", "echo started; exec sleep 300"),
    ])
    .await;
    let actor = app.create_actor("unnotified").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let mut conn = app.pool.acquire().await.expect("connection");
    conn.execute("SET session_replication_role = replica")
        .await
        .expect("triggers off");
    let id = "Silent0000000000A";
    sqlx::query(
        "INSERT INTO builds (id, act_id, user_id, version_number, build_number_int, tag, meta, options, act_version)
         VALUES ($1, $2, $3, '0.1', 1, 'latest', '{\"origin\":\"API\"}', '{\"memoryMbytes\":4096}', '{}')",
    )
    .bind(id)
    .bind(&actor_id)
    .bind(&app.user_id)
    .execute(&mut *conn)
    .await
    .expect("insert without a notification");
    wait_started(&app, id, Duration::from_secs(60)).await;

    sqlx::query("UPDATE builds SET status = 'ABORTING', abort_requested_at = now(), aborted_by = $2 WHERE id = $1")
        .bind(id)
        .bind(&app.user_id)
        .execute(&mut *conn)
        .await
        .expect("abort without a notification");
    conn.execute("RESET session_replication_role")
        .await
        .expect("triggers on");
    drop(conn);
    // Found at a heartbeat: nothing else tells the worker.
    app.wait_for_status(id, &["ABORTED"], 60).await;
    let lines = app.log_lines(id).await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Build aborted by jane")
    );
}
