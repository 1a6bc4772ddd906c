//! Builds that really run: success, failure, timeout, abort that kills the whole process group.

use std::time::{Duration, Instant};

use actor_builds::worker::executor::process_alive;
use serde_json::Value;

use crate::helpers::{data, spawn_app_with, str_at, TestApp};

async fn build(app: &TestApp, actor_id: &str) -> String {
    str_at(&app.create_build(actor_id).await, "/id").to_owned()
}

fn is_log_line(line: &str) -> bool {
    line.split_once(' ')
        .is_some_and(|(ts, _)| ts.len() == 24 && chrono::DateTime::parse_from_rfc3339(ts).is_ok())
}

#[tokio::test]
async fn a_build_that_succeeds() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_COMMAND", "echo one; echo two >&2; sleep 0.2; echo \"three $ACTOR_BUILD_NUMBER $ACTOR_BUILD_TAGS\"; printf '\\033[31mred\\033[0m\\n'"),
    ])
    .await;
    let actor = app.create_actor("succeeds").await;
    let actor_id = str_at(&actor, "/id");
    let res = app
        .post(&format!(
            "/v2/actors/{actor_id}/builds?version=0.1&waitForFinish=60"
        ))
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 201);
    let build = data(res).await;
    let id = str_at(&build, "/id");
    assert_eq!(build["status"], "SUCCEEDED", "{build}");
    assert!(build["finishedAt"].is_string());
    assert!(
        build["stats"]["durationMillis"]
            .as_f64()
            .is_some_and(|d| d >= 200.0),
        "{build}"
    );
    assert!(
        build["stats"]["runTimeSecs"]
            .as_f64()
            .is_some_and(|d| d >= 0.2),
        "{build}"
    );
    let units = build["stats"]["computeUnits"].as_f64().unwrap_or(0.0);
    assert!(units > 0.0);
    assert_eq!(build["usage"]["ACTOR_COMPUTE_UNITS"].as_f64(), Some(units));
    let usd = build["usageTotalUsd"].as_f64().unwrap_or(0.0);
    assert!((usd - units * 0.25).abs() < 1e-12, "{usd} vs {units}");
    assert_eq!(build["usageUsd"]["ACTOR_COMPUTE_UNITS"].as_f64(), Some(usd));

    let log = app.log(id).await;
    assert!(log.lines().all(is_log_line), "{log}");
    let lines = app.log_lines(id).await;
    let pos = |needle: &str| lines.iter().position(|l| l == needle);
    assert!(pos("one").is_some() && pos("two").is_some(), "{lines:?}");
    assert!(pos("one") < pos("three 0.1.1 latest"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "red"),
        "ANSI stripped by default: {lines:?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("exit code 0")),
        "{lines:?}"
    );
    let raw = app
        .get(&format!("/v2/logs/{id}?raw=1"))
        .send()
        .await
        .expect("log")
        .text()
        .await
        .unwrap_or_default();
    assert!(raw.contains("\u{1b}[31mred"), "{raw}");

    let actor = data(
        app.get(&format!("/v2/actors/{actor_id}"))
            .send()
            .await
            .expect("actor"),
    )
    .await;
    assert_eq!(
        actor["taggedBuilds"]["latest"]["buildId"], id,
        "the tag moved to the build"
    );
    assert_eq!(actor["taggedBuilds"]["latest"]["buildNumber"], "0.1.1");

    let default = data(
        app.get(&format!("/v2/actors/{actor_id}/builds/default"))
            .send()
            .await
            .expect("default"),
    )
    .await;
    assert_eq!(default["id"], id);
}

#[tokio::test]
async fn a_build_that_fails_and_one_that_times_out() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_TIMEOUT_SECS", "2"),
        ("ABORT_GRACE_SECS", "1"),
        (
            "BUILD_COMMAND",
            "if [ -f slow ]; then echo slow; sleep 30; else echo failing; exit 3; fi",
        ),
    ])
    .await;
    let failing = app.create_actor("fails").await;
    let slow = app.create_actor_with_files("slow", &[("slow", "")]).await;
    let failing_id = build(&app, str_at(&failing, "/id")).await;
    let slow_id = build(&app, str_at(&slow, "/id")).await;

    let failed = app.wait_for_status(&failing_id, &["FAILED"], 30).await;
    assert!(failed["finishedAt"].is_string());
    let lines = app.log_lines(&failing_id).await;
    assert!(lines.iter().any(|l| l == "failing"));
    assert!(
        lines.last().is_some_and(|l| l.contains("exit code 3")),
        "{lines:?}"
    );
    let actor = data(
        app.get(&format!("/v2/actors/{}", str_at(&failing, "/id")))
            .send()
            .await
            .expect("actor"),
    )
    .await;
    assert!(
        actor["taggedBuilds"].get("latest").is_none(),
        "a failed build is not tagged"
    );

    let started = Instant::now();
    let timed_out = app.wait_for_status(&slow_id, &["TIMED-OUT"], 30).await;
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(timed_out["finishedAt"].is_string());
    let lines = app.log_lines(&slow_id).await;
    assert!(
        lines.last().is_some_and(|l| l.contains("timed out")),
        "{lines:?}"
    );
}

/// Abort of a running build whose command started a child and a grandchild: ABORTING at once,
/// then ABORTED, and no process of the group is left. The grace is far longer than the test may
/// wait, so ABORTED means that SIGTERM alone ended the group.
#[tokio::test]
async fn abort_kills_the_whole_process_group() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("ABORT_GRACE_SECS", "600"),
        // Pids read from inside the build are the host's only without a PID namespace.
        ("BUILD_ISOLATION", "processes"),
        ("BUILD_COMMAND", "echo $$ > pids; sleep 300 & echo $! >> pids; (sleep 300 & echo $! >> pids; wait) & echo $! >> pids; sleep 0.1; cp pids ../../pids-$ACTOR_BUILD_ID; echo started; wait"),
    ])
    .await;
    let actor = app.create_actor("abortable").await;
    let id = build(&app, str_at(&actor, "/id")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.log_lines(&id).await.iter().any(|l| l == "started") {
        assert!(Instant::now() < deadline, "the build never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pids: Vec<i32> = std::fs::read_to_string(app.work_dir.join(format!("pids-{id}")))
        .expect("pids")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert!(
        pids.iter().all(|p| process_alive(*p)),
        "all running before the abort"
    );

    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    assert_eq!(data(res).await["status"], "ABORTING");
    // sleep exits on SIGTERM: ABORTED long before the grace would let SIGKILL come.
    let build = app.wait_for_status(&id, &["ABORTED"], 120).await;
    assert!(build["finishedAt"].is_string());
    assert_eq!(build["abortedBy"], app.user_id.as_str());
    for pid in &pids {
        assert!(
            !process_alive(*pid),
            "process {pid} of the build survived the abort"
        );
    }
    let lines = app.log_lines(&id).await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Build aborted by jane"),
        "{lines:?}"
    );
}

/// A command that ignores SIGTERM is killed after the grace period.
#[tokio::test]
async fn abort_kills_a_command_that_traps_term() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("ABORT_GRACE_SECS", "3"),
        ("BUILD_ISOLATION", "processes"),
        ("BUILD_COMMAND", "trap '' TERM; sleep 300 & echo $! > ../../pid-$ACTOR_BUILD_ID; echo started; while true; do sleep 0.1; done"),
    ])
    .await;
    let actor = app.create_actor("stubborn").await;
    let id = build(&app, str_at(&actor, "/id")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.log_lines(&id).await.iter().any(|l| l == "started") {
        assert!(Instant::now() < deadline, "the build never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid: i32 = std::fs::read_to_string(app.work_dir.join(format!("pid-{id}")))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    let aborted_at = Instant::now();
    app.post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    // Still ABORTING during the grace period.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.db_status(&id).await, "ABORTING");
    app.wait_for_status(&id, &["ABORTED"], 60).await;
    assert!(
        aborted_at.elapsed() >= Duration::from_secs(3),
        "SIGKILL came only after the grace"
    );
    assert!(
        pid > 0 && !process_alive(pid),
        "the background child is gone too"
    );
}

/// The abort/finish race, 200 times: each build ends in exactly one terminal status.
#[tokio::test]
async fn abort_racing_the_finish() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "4"),
        ("BUILD_COMMAND", "sleep 0.0$((RANDOM % 5))"),
    ])
    .await;
    let actor = app.create_actor("racing").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for batch in 0..20 {
        let runs = (0..10).map(|i| {
            let actor_id = actor_id.clone();
            let app = &app;
            async move {
                let id = build(app, &actor_id).await;
                // Abort at different moments around the command's exit.
                tokio::time::sleep(Duration::from_millis(((batch * 10 + i) % 12) * 5)).await;
                let answer = data(
                    app.post(&format!("/v2/actor-builds/{id}/abort"))
                        .send()
                        .await
                        .expect("abort"),
                )
                .await;
                (id, answer)
            }
        });
        for (id, answer) in futures_util::future::join_all(runs).await {
            let end = app
                .wait_for_status(&id, &["SUCCEEDED", "ABORTED", "FAILED"], 60)
                .await;
            let status = str_at(&end, "/status").to_owned();
            assert_ne!(status, "FAILED", "{id}");
            let lines = app.log_lines(&id).await;
            let aborted_lines = lines
                .iter()
                .filter(|l| l.starts_with("Build aborted by"))
                .count();
            match status.as_str() {
                // Aborted while READY: never claimed, so no log at all.
                "ABORTED" if answer["status"] == "ABORTED" => {
                    assert!(lines.is_empty(), "{lines:?}")
                }
                "ABORTED" => assert_eq!(aborted_lines, 1, "{lines:?}"),
                _ => {
                    assert_eq!(aborted_lines, 0, "{lines:?}");
                    assert_eq!(
                        answer["status"], "SUCCEEDED",
                        "the abort found the build finished: {answer}"
                    );
                }
            }
            assert!(end["finishedAt"].is_string());
            *outcomes
                .entry(format!("{} -> {status}", str_at(&answer, "/status")))
                .or_default() += 1;
        }
    }
    let still_active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM builds WHERE finished_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(still_active, 0);
    println!("abort/finish outcomes: {outcomes:?}");
}

/// The log streams while the build runs and the response ends when the build ends.
#[tokio::test]
async fn streamed_log() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        (
            "BUILD_COMMAND",
            "for i in 1 2 3 4; do echo line $i; sleep 0.4; done",
        ),
    ])
    .await;
    let actor = app.create_actor("streaming").await;
    let id = build(&app, str_at(&actor, "/id")).await;
    let mut res = app
        .get(&format!("/v2/actor-builds/{id}/log?stream=1"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
    let mut text = String::new();
    let mut seen_while_running = false;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("line 1")
            && !text.contains("line 4")
            && app.db_status(&id).await == "RUNNING"
        {
            seen_while_running = true;
        }
    }
    assert!(seen_while_running, "lines arrived while the build ran");
    assert_eq!(
        app.db_status(&id).await,
        "SUCCEEDED",
        "the stream ended with the build"
    );
    for i in 1..=4 {
        assert!(text.contains(&format!("line {i}")), "{text}");
    }
    assert!(
        text.contains("exit code 0"),
        "the stream carries the last line: {text}"
    );

    let res = app
        .get(&format!("/v2/logs/{id}?download=true"))
        .send()
        .await
        .expect("download");
    assert_eq!(
        res.headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(format!("attachment; filename=\"{id}.log\"").as_str())
    );
}

#[tokio::test]
async fn log_cap_and_log_errors() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("LOG_MAX_BYTES", "1000"),
        (
            "BUILD_COMMAND",
            "i=0; while [ $i -lt 200 ]; do echo \"line number $i\"; i=$((i+1)); done",
        ),
    ])
    .await;
    let actor = app.create_actor("chatty").await;
    let id = build(&app, str_at(&actor, "/id")).await;
    app.wait_for_status(&id, &["SUCCEEDED"], 30).await;
    let lines = app.log_lines(&id).await;
    assert!(lines.iter().any(|l| l.contains("log was cut")), "{lines:?}");
    assert!(!lines.iter().any(|l| l == "line number 199"));
    assert!(
        lines.last().is_some_and(|l| l.contains("exit code 0")),
        "the worker's own lines still get in"
    );

    let res = app
        .get("/v2/actor-builds/AAAAAAAAAAAAAAAAA/log")
        .send()
        .await
        .expect("log");
    assert_eq!(res.status(), 404);
    // A build with no log yet: 200 and an empty body.
    let other = spawn_app_with(&[]).await;
    let actor = other.create_actor("quiet").await;
    let quiet = build(&other, str_at(&actor, "/id")).await;
    let res = other
        .get(&format!("/v2/actor-builds/{quiet}/log"))
        .send()
        .await
        .expect("log");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap_or_default(), "");
}

/// Shutdown gives running builds the grace, then aborts them as SYSTEM: nothing stays RUNNING.
#[tokio::test]
async fn shutdown_aborts_what_is_left() {
    let mut app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("SHUTDOWN_GRACE_SECS", "2"),
        (
            "BUILD_COMMAND",
            "if [ -f quick ]; then sleep 0.2; else sleep 300; fi",
        ),
    ])
    .await;
    let slow = app.create_actor("slow-at-shutdown").await;
    let quick = app
        .create_actor_with_files("quick-at-shutdown", &[("quick", "")])
        .await;
    let slow_id = build(&app, str_at(&slow, "/id")).await;
    let quick_id = build(&app, str_at(&quick, "/id")).await;
    app.wait_for_status(&slow_id, &["RUNNING"], 30).await;
    app.wait_for_status(&quick_id, &["RUNNING", "SUCCEEDED"], 30)
        .await;
    if let Some(workers) = app.workers.take() {
        tokio::time::timeout(Duration::from_secs(20), workers.shutdown())
            .await
            .expect("shutdown in time");
    }
    let slow: Value = data(
        app.get(&format!("/v2/actor-builds/{slow_id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(slow["status"], "ABORTED");
    assert_eq!(slow["abortedBy"], "SYSTEM");
    assert_eq!(
        app.db_status(&quick_id).await,
        "SUCCEEDED",
        "the quick build finished within the grace"
    );
    let lines = app.log_lines(&slow_id).await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Build aborted by SYSTEM")
    );
}
