//! Worker processes of their own (the real binary) sharing one database with the test's app.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actor_builds::domain::BuildStatus;
use actor_builds::storage::{logs, queue};

use crate::helpers::{data, spawn_app, str_at, TestApp};

/// A worker process (`actor-builds worker`) over the test app's database.
fn spawn_worker(app: &TestApp, slots: &str, command: &str) -> Child {
    spawn_worker_isolated(app, slots, command, "auto")
}

/// A worker process with the given `BUILD_ISOLATION`.
pub fn spawn_worker_isolated(app: &TestApp, slots: &str, command: &str, isolation: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_actor-builds"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.settings.database_url.0)
        .env("SECRETS_KEY", crate::helpers::TEST_SECRETS_KEY)
        .env("DATABASE_POOL_SIZE", "4")
        .env("METRICS_BIND_ADDR", "127.0.0.1:0")
        .env("WORKER_CONCURRENCY", slots)
        // Two seconds: with 4 connections and 4 busy slots on a loaded machine, a 1 s heartbeat
        // can miss renewals long enough for the worker to fence its own builds.
        .env("HEARTBEAT_SECS", "2")
        .env("ABORT_GRACE_SECS", "1")
        .env("BUILD_COMMAND", command)
        .env("BUILD_ISOLATION", isolation)
        .env(
            "WORK_DIR",
            app.work_dir
                .join(format!("worker-{}", uuid::Uuid::new_v4().simple())),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start a worker process")
}

struct Reaped(Vec<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn create_builds(app: &TestApp, actor_id: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n / 20 {
        let batch = (0..20).map(|_| app.create_build(actor_id));
        ids.extend(
            futures_util::future::join_all(batch)
                .await
                .into_iter()
                .map(|b| str_at(&b, "/id").to_owned()),
        );
    }
    ids
}

/// Two worker processes, 200 builds: every build is claimed exactly once and succeeds.
#[tokio::test]
async fn two_worker_processes_claim_each_build_once() {
    let app = spawn_app().await;
    let actor = app.create_actor("shared-queue").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let _workers = Reaped(vec![
        spawn_worker(&app, "4", "sleep 0.02"),
        spawn_worker(&app, "4", "sleep 0.02"),
    ]);
    let ids = create_builds(&app, &actor_id, 200).await;
    assert_eq!(ids.len(), 200);

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM builds WHERE finished_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .expect("count");
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} builds never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let statuses: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, worker_id FROM builds")
            .fetch_all(&app.pool)
            .await
            .expect("builds");
    let mut failed = Vec::new();
    for (id, status, _) in statuses.iter().filter(|(_, s, _)| s != "SUCCEEDED") {
        failed.push(format!("{id} {status}: {:?}", app.log_lines(id).await));
    }
    assert!(
        failed.is_empty(),
        "builds that did not succeed:\n{}",
        failed.join("\n")
    );
    let workers: HashSet<&Option<String>> = statuses.iter().map(|(_, _, w)| w).collect();
    assert_eq!(workers.len(), 2, "both workers took builds");

    // Each build was started once: one "started on worker" line per build.
    let starts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT build_id, count(*) FROM build_log_lines WHERE line LIKE '% started on worker %' GROUP BY build_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("starts");
    let starts: HashMap<String, i64> = starts.into_iter().collect();
    for id in &ids {
        assert_eq!(
            starts.get(id),
            Some(&1),
            "build {id} was started {:?} times",
            starts.get(id)
        );
    }
}

/// A worker killed with SIGKILL mid-build: once its lease lapses, another worker's rescuer ends
/// its builds (RUNNING→FAILED, ABORTING→ABORTED), and a late write of the dead worker touches
/// nothing.
#[tokio::test]
async fn builds_of_a_killed_worker_are_rescued() {
    let app = spawn_app().await;
    let actor = app.create_actor("orphaned").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let pid_dir = app.work_dir.join("pids");
    std::fs::create_dir_all(&pid_dir).expect("pid dir");
    let command = format!(
        "echo $$ > {}/$ACTOR_BUILD_ID; echo started; exec sleep 300",
        pid_dir.display()
    );
    let mut doomed = spawn_worker_isolated(&app, "2", &command, "processes");

    let ids = [
        app.create_build(&actor_id).await,
        app.create_build(&actor_id).await,
    ]
    .map(|b| str_at(&b, "/id").to_owned());
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !app.log_lines(id).await.iter().any(|l| l == "started") {
            assert!(Instant::now() < deadline, "build {id} never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let dead_worker: actor_builds::domain::WorkerId =
        sqlx::query_scalar("SELECT worker_id FROM builds WHERE id = $1")
            .bind(&ids[0])
            .fetch_one(&app.pool)
            .await
            .expect("worker id");

    let pids: Vec<i32> = ids
        .iter()
        .filter_map(|id| {
            std::fs::read_to_string(pid_dir.join(id))
                .ok()?
                .trim()
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(pids.len(), 2);
    doomed.kill().expect("SIGKILL the worker");
    doomed.wait().expect("reap the worker");
    // The builds' processes do not outlive their worker: the kernel kills them with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids
        .iter()
        .any(|pid| actor_builds::worker::executor::process_alive(*pid))
    {
        if Instant::now() > deadline {
            for pid in &pids {
                let pid = nix::unistd::Pid::from_raw(*pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            panic!("the build processes outlived their worker");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = app
        .post(&format!("/v2/actor-builds/{}/abort", ids[1]))
        .send()
        .await
        .expect("abort");
    assert_eq!(data(res).await["status"], "ABORTING");

    let _rescuer = Reaped(vec![spawn_worker(&app, "1", "true")]);
    let failed = app.wait_for_status(&ids[0], &["FAILED"], 60).await;
    let aborted = app.wait_for_status(&ids[1], &["ABORTED"], 60).await;
    assert!(failed["finishedAt"].is_string() && aborted["finishedAt"].is_string());
    for id in &ids {
        let lines = app.log_lines(id).await;
        assert!(
            lines
                .last()
                .is_some_and(|l| l.contains("worker running this build was lost")),
            "{lines:?}"
        );
    }

    // Late writes of the dead worker touch 0 rows.
    let late = queue::finish(
        &app.pool,
        &ids[0],
        &dead_worker,
        (BuildStatus::Running, BuildStatus::Succeeded),
        0.25,
        None,
    )
    .await;
    assert_eq!(late.ok(), Some(false));
    let late = queue::finish(
        &app.pool,
        &ids[1],
        &dead_worker,
        (BuildStatus::Aborting, BuildStatus::Aborted),
        0.25,
        None,
    )
    .await;
    assert_eq!(late.ok(), Some(false));
    let late_log = logs::append(
        &app.pool,
        &ids[0],
        &dead_worker,
        &[(chrono::Utc::now(), "late".into())],
    )
    .await;
    assert_eq!(late_log.ok(), Some(false));
    assert_eq!(app.db_status(&ids[0]).await, "FAILED");
}

/// SIGTERM to `actor-builds serve`: it stops claiming, gives running builds the grace, aborts
/// what is left as SYSTEM, kills its processes, and exits; nothing stays RUNNING.
#[tokio::test]
async fn sigterm_ends_running_builds_before_exit() {
    let app = spawn_app().await;
    let actor = app.create_actor("at-shutdown").await;
    let pid_dir = app.work_dir.join("pids");
    std::fs::create_dir_all(&pid_dir).expect("pid dir");
    let mut server = Command::new(env!("CARGO_BIN_EXE_actor-builds"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.settings.database_url.0)
        .env("SECRETS_KEY", crate::helpers::TEST_SECRETS_KEY)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("METRICS_BIND_ADDR", "127.0.0.1:0")
        .env("WORKER_CONCURRENCY", "1")
        .env("SHUTDOWN_GRACE_SECS", "0.3")
        .env("BUILD_ISOLATION", "processes")
        .env("ABORT_GRACE_SECS", "1")
        .env(
            "BUILD_COMMAND",
            format!(
                "echo $$ > {}/$ACTOR_BUILD_ID; echo started; exec sleep 300",
                pid_dir.display()
            ),
        )
        .env("WORK_DIR", app.work_dir.join("serve"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.log_lines(&id).await.iter().any(|l| l == "started") {
        assert!(Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let build_pid: i32 = std::fs::read_to_string(pid_dir.join(&id))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);

    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.id()).unwrap_or(0));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(60),
            "serve did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    let build = data(
        app.get(&format!("/v2/actor-builds/{id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(build["status"], "ABORTED");
    assert_eq!(build["abortedBy"], "SYSTEM");
    assert!(build_pid > 0 && !actor_builds::worker::executor::process_alive(build_pid));
}
