//! Self-fencing: a worker cut off from the database stops its build's processes before the
//! lease lapses, and writes nothing more for it; the rescuer ends it FAILED.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::helpers::{spawn_app_behind_proxy, str_at};

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(marker))
        .count()
}

#[tokio::test]
async fn a_worker_that_cannot_renew_its_lease_stops_its_build() {
    let marker = format!("fenced-{}", uuid::Uuid::new_v4().simple());
    let command = format!("echo started; while true; do echo tick; sleep 0.2; done # {marker}");
    let (app, proxy) = spawn_app_behind_proxy(&[
        ("WORKER_CONCURRENCY", "1"),
        ("HEARTBEAT_SECS", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ("BUILD_COMMAND", &command),
    ])
    .await;
    let actor = app.create_actor("fenced").await;
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app.log_lines(&id).await.iter().any(|l| l == "tick") {
        assert!(Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(processes_with(&marker) > 0, "the build runs");

    proxy.cut();
    let cut = Instant::now();
    let cut_at = Utc::now();
    // The lease is 3 s; the worker gives the build up after 2 s without a renewal.
    while processes_with(&marker) > 0 {
        assert!(
            cut.elapsed() < Duration::from_secs(3),
            "the build's processes outlived its lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the lease, then back: the worker must not take the build up again.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(cut.elapsed())).await;
    assert_eq!(
        app.db_status(&id).await,
        "RUNNING",
        "nothing written while cut"
    );
    proxy.restore();

    let build = app.wait_for_status(&id, &["FAILED"], 15).await;
    assert!(build["finishedAt"].is_string());
    let log = app.log(&id).await;
    let rescued = "The worker running this build was lost; the build is now FAILED.";
    assert!(log.lines().any(|l| l.ends_with(rescued)), "{log}");
    for line in log.lines().filter(|l| !l.ends_with(rescued)) {
        let at = line
            .split_once(' ')
            .and_then(|(at, _)| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert!(
            at < cut_at,
            "written by the fenced worker after the cut: {line}"
        );
    }
    assert_eq!(processes_with(&marker), 0);
}

/// A build whose row another transaction holds locked (the worker's own tag push at a build's
/// end, an abort) does not hold back the renewal of the worker's other leases.
#[tokio::test]
async fn a_locked_build_row_does_not_hold_back_the_other_leases() {
    let app = crate::helpers::spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("HEARTBEAT_SECS", "1"),
        ("BUILD_COMMAND", "echo started; sleep 60"),
    ])
    .await;
    let actor = app.create_actor("leased").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let locked = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    let other = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    for id in [&locked, &other] {
        app.wait_for_status(id, &["RUNNING"], 30).await;
    }
    let lease = |id: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT lease_expires_at FROM builds WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("lease")
        }
    };
    let mut tx = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM builds WHERE id = $1 FOR UPDATE")
        .bind(&locked)
        .execute(&mut *tx)
        .await
        .expect("lock");
    let before = lease(other.clone()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = lease(other.clone()).await;
    tx.rollback().await.expect("rollback");
    assert!(
        after > before,
        "the other build's lease was renewed meanwhile: {before} -> {after}"
    );
    assert_eq!(app.db_status(&other).await, "RUNNING");
}
