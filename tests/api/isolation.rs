//! Build processes are isolated from the host and from each other, and nothing outlives its
//! build: abort, timeout, normal exit and a SIGKILLed worker leave no process behind.

use std::time::{Duration, Instant};

use actor_builds::worker::executor::live_with_cmdline;
use serde_json::{json, Value};

use crate::helpers::{data, spawn_app_with, str_at, TestApp};
use crate::worker_processes::spawn_worker_isolated;

fn mark() -> String {
    format!("isolation-mark-{}", uuid::Uuid::new_v4().simple())
}

/// A build command whose processes escape the process group three ways, each carrying `mark`
/// in its command line.
fn escaping_command(mark: &str, tail: &str) -> String {
    format!(
        "setsid sh -c 'sleep 300; : {mark}' & \
         perl -e 'setpgrp; sleep 300' {mark} & \
         sh -c '(setsid sh -c \"sleep 300; : {mark}\" &) ; :' & \
         sleep 0.2; echo started; {tail}"
    )
}

/// Waits up to 10 s until no process carrying `mark` is alive on the host.
async fn assert_no_survivors(mark: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive = live_with_cmdline(mark);
        if alive.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            for pid in &alive {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("{what}: processes {alive:?} outlived their build");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_started(app: &TestApp, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.log_lines(id).await.iter().any(|l| l == "started") {
        assert!(Instant::now() < deadline, "build {id} never started");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn new_build(app: &TestApp, actor_id: &str) -> String {
    str_at(&app.create_build(actor_id).await, "/id").to_owned()
}

async fn abort_escaping_builds(isolation: &str, total: usize) {
    let mark = mark();
    let command = escaping_command(&mark, "sleep 300");
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "8"),
        ("POLL_INTERVAL_MS", "100"),
        ("BUILD_ISOLATION", isolation),
        ("BUILD_COMMAND", &command),
    ])
    .await;
    let actor = app.create_actor("escapes").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    for batch in 0..total / 8 {
        let runs = (0..8).map(|_| async {
            let id = new_build(&app, &actor_id).await;
            wait_started(&app, &id).await;
            let res = app
                .post(&format!("/v2/actor-builds/{id}/abort"))
                .send()
                .await
                .expect("abort");
            assert_eq!(res.status(), 200);
            app.wait_for_status(&id, &["ABORTED"], 30).await;
        });
        futures_util::future::join_all(runs).await;
        assert_no_survivors(&mark, &format!("batch {batch} ({isolation})")).await;
    }
}

/// 200 aborts of builds that escape with setsid, setpgrp and a double fork: 0 survivors.
#[tokio::test]
async fn aborted_setsid_builds_leave_nothing() {
    abort_escaping_builds("namespaces", 200).await;
}

#[tokio::test]
async fn aborted_setsid_builds_leave_nothing_without_namespaces() {
    abort_escaping_builds("processes", 40).await;
}

async fn exit_and_timeout_leave_nothing(isolation: &str) {
    let mark = mark();
    let command = escaping_command(&mark, "if [ -e slow ]; then sleep 300; fi");
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_TIMEOUT_SECS", "3"),
        ("BUILD_ISOLATION", isolation),
        ("BUILD_COMMAND", &command),
    ])
    .await;
    let quick = app.create_actor("quick").await;
    let slow = app.create_actor_with_files("slow", &[("slow", "x")]).await;
    let quick_id = new_build(&app, str_at(&quick, "/id")).await;
    let slow_id = new_build(&app, str_at(&slow, "/id")).await;
    let quick_build = app.wait_for_status(&quick_id, &["SUCCEEDED"], 30).await;
    assert_eq!(quick_build["status"], "SUCCEEDED");
    app.wait_for_status(&slow_id, &["TIMED-OUT"], 30).await;
    assert_no_survivors(&mark, &format!("exit and timeout ({isolation})")).await;
}

#[tokio::test]
async fn exit_and_timeout_leave_nothing_in_namespaces() {
    exit_and_timeout_leave_nothing("namespaces").await;
}

#[tokio::test]
async fn exit_and_timeout_leave_nothing_without_namespaces() {
    exit_and_timeout_leave_nothing("processes").await;
}

/// A worker SIGKILLed mid-build: its builds' processes, setsid ones included, die with it.
#[tokio::test]
async fn a_killed_worker_leaves_no_build_process() {
    let app = spawn_app_with(&[]).await;
    let mark = mark();
    let mut doomed = spawn_worker_isolated(
        &app,
        "2",
        &escaping_command(&mark, "sleep 300"),
        "namespaces",
    );
    let actor = app.create_actor("orphans").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let ids = [
        new_build(&app, &actor_id).await,
        new_build(&app, &actor_id).await,
    ];
    for id in &ids {
        wait_started(&app, id).await;
    }
    assert!(live_with_cmdline(&mark).len() >= 6, "the builds run");
    doomed.kill().expect("SIGKILL the worker");
    doomed.wait().expect("reap the worker");
    assert_no_survivors(&mark, "worker SIGKILL").await;
}

/// A build sees only its own processes: not another build's, not the worker's environment.
#[tokio::test]
async fn a_build_cannot_see_other_builds_or_the_worker() {
    let mark = mark();
    // The peeker looks for the mark without carrying it whole in any command line of its own.
    let (head, tail) = mark.split_at(8);
    let command = format!(
        "if [ -e waiter ]; then sh -c 'sleep 300; : {head}'\"{tail}\" & sleep 0.2; echo started; wait; fi; \
         sleep 0.5; \
         echo \"procs=$(ls /proc | grep -c '^[0-9]')\"; \
         printf '%s%s' {head} {tail} > ../pattern-$ACTOR_BUILD_ID; \
         echo \"seen=$(grep -l -f ../pattern-$ACTOR_BUILD_ID /proc/[0-9]*/cmdline 2>/dev/null | wc -l)\"; \
         echo \"db=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c DATABASE_URL)\""
    );
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_ISOLATION", "namespaces"),
        ("BUILD_COMMAND", &command),
    ])
    .await;
    let waiter = app
        .create_actor_with_files("waiter", &[("waiter", "x")])
        .await;
    let peeker = app.create_actor("peeker").await;
    let waiter_id = new_build(&app, str_at(&waiter, "/id")).await;
    wait_started(&app, &waiter_id).await;
    assert!(!live_with_cmdline(&mark).is_empty(), "the host sees it");
    let peeker_id = new_build(&app, str_at(&peeker, "/id")).await;
    app.wait_for_status(&peeker_id, &["SUCCEEDED"], 30).await;
    let lines = app.log_lines(&peeker_id).await;
    assert!(lines.iter().any(|l| l == "seen=0"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "db=0"), "{lines:?}");
    let procs: usize = lines
        .iter()
        .find_map(|l| l.strip_prefix("procs=")?.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(procs < 10, "only the build's own processes: {lines:?}");
    app.post(&format!("/v2/actor-builds/{waiter_id}/abort"))
        .send()
        .await
        .expect("abort");
    app.wait_for_status(&waiter_id, &["ABORTED"], 30).await;
    assert_no_survivors(&mark, "waiter").await;
}

/// A version's variables never enter the builder's environment: `PATH=.:...` cannot make the
/// worker run the tenant's `./sh`; the variables arrive only as `--build-arg` parameters.
#[tokio::test]
async fn version_variables_are_build_arguments_only() {
    let outside = std::env::temp_dir().join(format!("tenant-sh-{}", uuid::Uuid::new_v4()));
    let command = "echo \"path=$PATH\"; echo \"preload=$LD_PRELOAD\"; for a in \"$@\"; do echo \"arg=$a\"; done";
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", command)]).await;
    let tenant_sh = format!("#!/bin/sh\ntouch {}\n", outside.display());
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "hostile", "versions": [{
            "versionNumber": "0.1", "sourceType": "SOURCE_FILES", "applyEnvVarsToBuild": true,
            "envVars": [
                {"name": "PATH", "value": ".:/usr/bin:/bin"},
                {"name": "LD_PRELOAD", "value": "./evil.so"},
            ],
            "sourceFiles": [
                {"name": "sh", "format": "TEXT", "content": tenant_sh},
                {"name": "unshare", "format": "TEXT", "content": tenant_sh},
            ],
        }]}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let actor: Value = data(res).await;
    let id = new_build(&app, str_at(&actor, "/id")).await;
    let build = app.wait_for_status(&id, &["SUCCEEDED", "FAILED"], 30).await;
    let lines = app.log_lines(&id).await;
    assert_eq!(build["status"], "SUCCEEDED", "{lines:?}");
    assert!(!outside.exists(), "the tenant's ./sh ran on the worker");
    let worker_path = format!("path={}", std::env::var("PATH").unwrap_or_default());
    assert!(lines.contains(&worker_path), "{lines:?}");
    assert!(lines.iter().any(|l| l == "preload="), "{lines:?}");
    let args: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("arg="))
        .collect();
    assert_eq!(
        args,
        [
            "--build-arg",
            "PATH=.:/usr/bin:/bin",
            "--build-arg",
            "LD_PRELOAD=./evil.so"
        ],
        "{lines:?}"
    );
}
