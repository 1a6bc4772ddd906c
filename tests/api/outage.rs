//! The database goes away and comes back: quick 503s meanwhile, no restart needed, no build lost.

use std::time::{Duration, Instant};

use crate::helpers::{error_type, spawn_app_behind_proxy, str_at};

#[tokio::test]
async fn requests_answer_503_during_an_outage_and_recover() {
    let (app, proxy) = spawn_app_behind_proxy(&[("DATABASE_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert_eq!(res.status(), 200);

    proxy.cut();
    for path in ["/v2/users/me", "/v2/actor-builds", "/v2/actors"] {
        let asked = Instant::now();
        let res = app.get(path).send().await.expect("request");
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(error_type(res).await, "service-unavailable");
        assert!(
            asked.elapsed() < Duration::from_millis(2500),
            "{path} took {:?}",
            asked.elapsed()
        );
    }
    let res = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(res.status(), 503);
    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), 200, "the process is up");

    proxy.restore();
    let restored = Instant::now();
    loop {
        let ready = app
            .client
            .get(app.url("/ready"))
            .send()
            .await
            .expect("ready")
            .status()
            == 200;
        let me = app.get("/v2/users/me").send().await.expect("me").status() == 200;
        if ready && me {
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(60),
            "not recovered 60 s after the restore"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A build that finishes while the database is away is written once it is back; workers claim
/// again without a restart. The outage is shorter than the lease (five heartbeats of 5 s would
/// be needed to fence the build), so the worker keeps it.
#[tokio::test]
async fn builds_survive_an_outage() {
    let (app, proxy) = spawn_app_behind_proxy(&[
        ("WORKER_CONCURRENCY", "1"),
        ("HEARTBEAT_SECS", "5"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
        (
            "BUILD_COMMAND",
            "echo started; sleep 1.5; echo done; touch ../../done-$ACTOR_BUILD_ID",
        ),
    ])
    .await;
    let actor = app.create_actor("outlasting").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let id = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app.log_lines(&id).await.iter().any(|l| l == "started") {
        assert!(Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    proxy.cut();
    // The command finishes during the outage; its process is left alone and its writes wait.
    // The outage must stay well within the lease (15 s, the last renewal up to 5 s before the
    // cut), so the wait for the command's end is bounded by that, not by patience.
    let done = app.work_dir.join(format!("done-{id}"));
    let cut = Instant::now();
    while !done.exists() {
        assert!(
            cut.elapsed() < Duration::from_secs(4),
            "the command did not end during the outage"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Long enough for the worker's writes to meet the outage (acquire timeout 1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.db_status(&id).await,
        "RUNNING",
        "nothing was written during the outage"
    );
    proxy.restore();

    let build = app.wait_for_status(&id, &["SUCCEEDED"], 60).await;
    assert!(build["finishedAt"].is_string());
    let lines = app.log_lines(&id).await;
    assert!(
        lines.iter().any(|l| l == "done"),
        "output written during the outage is kept: {lines:?}"
    );

    // The worker claims new builds after the outage.
    let next = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    app.wait_for_status(&next, &["SUCCEEDED"], 60).await;
    let wrong: i64 = sqlx::query_scalar("SELECT count(*) FROM builds WHERE status <> 'SUCCEEDED'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(wrong, 0);
}
