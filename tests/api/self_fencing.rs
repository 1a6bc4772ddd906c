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
