use std::time::{Duration, Instant};

use crate::helpers::{data, error_type, spawn_app, str_at};

/// waitForFinish=999999 returns about when another task finishes the build, with the terminal build.
#[tokio::test]
async fn returns_when_the_build_finishes() {
    let app = spawn_app().await;
    let actor = app.create_actor("waiting").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id").to_owned();
    app.force_status(&id, "RUNNING").await;

    let pool = app.pool.clone();
    let finisher_id = id.clone();
    let finisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sqlx::query("UPDATE builds SET status = 'SUCCEEDED', finished_at = now() WHERE id = $1")
            .bind(&finisher_id)
            .execute(&pool)
            .await
            .expect("finish");
        Instant::now()
    });
    let started = Instant::now();
    let res = app
        .get(&format!("/v2/actor-builds/{id}?waitForFinish=999999"))
        .send()
        .await
        .expect("get");
    let answered = Instant::now();
    assert_eq!(res.status(), 200);
    let body = data(res).await;
    let finished = finisher.await.expect("finisher");
    assert_eq!(body["status"], "SUCCEEDED");
    assert!(answered >= finished, "answered before the build finished");
    assert!(
        answered.duration_since(finished) < Duration::from_millis(900),
        "answered {:?} after the move",
        answered.duration_since(finished)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// waitForFinish=1 on a build that stays READY returns it, still READY, after about a second.
#[tokio::test]
async fn returns_after_the_wait_when_nothing_happens() {
    let app = spawn_app().await;
    let actor = app.create_actor("waiting-idle").await;
    let actor_id = str_at(&actor, "/id");
    let build = app.create_build(actor_id).await;
    let id = str_at(&build, "/id");
    for path in [
        format!("/v2/actor-builds/{id}?waitForFinish=1"),
        format!("/v2/actors/{actor_id}/builds/{id}?waitForFinish=1.0"),
    ] {
        let started = Instant::now();
        let res = app.get(&path).send().await.expect("get");
        let took = started.elapsed();
        assert_eq!(res.status(), 200);
        assert_eq!(data(res).await["status"], "READY");
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_secs(3),
            "{path}: {took:?}"
        );
    }

    // Creating a build with a wait holds the request too, then answers 201.
    let started = Instant::now();
    let res = app
        .post(&format!(
            "/v2/actors/{actor_id}/builds?version=0.1&waitForFinish=0.5"
        ))
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 201);
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(data(res).await["status"], "READY");

    // Negative values clamp to 0: an immediate answer.
    let started = Instant::now();
    let res = app
        .get(&format!("/v2/actor-builds/{id}?waitForFinish=-5"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn malformed_wait_is_400() {
    let app = spawn_app().await;
    let actor = app.create_actor("waiting-bad").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    for bad in ["abc", "1s", "NaN"] {
        let res = app
            .get(&format!("/v2/actor-builds/{id}?waitForFinish={bad}"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(error_type(res).await, "invalid-parameter");
    }
}

/// Waiting requests do not poll the database: 50 waiters for 2 s cost a handful of queries.
#[tokio::test]
async fn waiters_do_not_poll() {
    let app = spawn_app().await;
    let actor = app.create_actor("waiting-many").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id").to_owned();
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&app.pool)
        .await
        .expect("db");
    let commits = || {
        let pool = app.pool.clone();
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
            )
            .bind(db)
            .fetch_one(&pool)
            .await
            .expect("stats")
        }
    };
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            app.get(&format!("/v2/actor-builds/{id}?waitForFinish=2"))
                .send()
        })
        .collect();
    let before = commits().await;
    let answers = futures_util::future::join_all(waiters).await;
    let after = commits().await;
    assert!(answers
        .iter()
        .all(|r| r.as_ref().is_ok_and(|r| r.status() == 200)));
    // Each waiter reads the build twice (before and after subscribing) and once per wake-up;
    // a poll every 100 ms would cost 50 × 20 = 1,000 transactions.
    assert!(
        after - before < 400,
        "{} transactions while 50 requests waited",
        after - before
    );
}
