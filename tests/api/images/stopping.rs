//! Stopping a real build in the middle of a `RUN` step: abort, timeout, shutdown; nothing left.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::helpers::str_at;

/// A `RUN` step that starts a background child and then waits; `marker` tells its processes.
fn stuck_step(marker: u32) -> String {
    format!(
        "FROM apify/actor-node:24\nRUN (sleep {marker} &) ; echo step-started; sleep {}\n",
        marker + 1
    )
}

/// Nothing of build `id` is left: no process, no working container, no image, no tag, no work
/// directory.
async fn assert_nothing_left(t: &ImageApp, actor: &str, id: &str, marker: u32, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(&format!("sleep {marker}"), &t.app.work_dir);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes left: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(leftovers(&format!("sleep {}", marker + 1), &t.app.work_dir).is_empty());
    assert_eq!(t.cached_containers(), Vec::<String>::new());
    assert_eq!(
        t.images.manifest(&format!("actors/jane/{name}:0.1.1")),
        None
    );
    assert_eq!(
        t.images.manifest(&format!("actors/jane/{name}:latest")),
        None
    );
    assert_eq!(t.tagged_latest(actor).await, None);
    wait_removed(&t.app.work_dir.join(id)).await;
}

#[tokio::test]
async fn abort_in_the_middle_of_a_run_step_leaves_nothing() {
    let t = image_app(&[("ABORT_GRACE_SECS", "3")]).await;
    for (use_cache, marker) in [(false, 31411), (true, 31421)] {
        let name = format!("abortable-{use_cache}");
        let actor = t
            .actor(&name, &[("Dockerfile", &stuck_step(marker))], json!({}))
            .await;
        let id = t.build(&actor, use_cache).await;
        t.wait_for_line(&id, "step-started").await;
        assert!(!leftovers(&format!("sleep {marker}"), Path::new("/nowhere")).is_empty());
        let res = t
            .app
            .post(&format!("/v2/actor-builds/{id}/abort"))
            .send()
            .await
            .expect("abort");
        assert_eq!(res.status(), 200);
        let build = t.ended(&id, "ABORTED").await;
        assert_eq!(build["imageName"], Value::Null);
        assert_nothing_left(&t, &actor, &id, marker, &name).await;
    }
}

#[tokio::test]
async fn a_timeout_in_the_middle_of_a_run_step_leaves_nothing() {
    let t = image_app(&[("BUILD_TIMEOUT_SECS", "6"), ("ABORT_GRACE_SECS", "2")]).await;
    let marker = 31431;
    let actor = t
        .actor("slow", &[("Dockerfile", &stuck_step(marker))], json!({}))
        .await;
    let id = t.build(&actor, true).await;
    t.wait_for_line(&id, "step-started").await;
    t.ended(&id, "TIMED-OUT").await;
    assert_nothing_left(&t, &actor, &id, marker, "slow").await;
}

#[tokio::test]
async fn shutdown_in_the_middle_of_a_run_step_aborts_it_and_leaves_nothing() {
    let t = image_app(&[("SHUTDOWN_GRACE_SECS", "0"), ("ABORT_GRACE_SECS", "2")]).await;
    let marker = 31441;
    let actor = t
        .actor("stopped", &[("Dockerfile", &stuck_step(marker))], json!({}))
        .await;
    let id = t.build(&actor, false).await;
    t.wait_for_line(&id, "step-started").await;
    t.app.workers.as_ref().expect("slots").shutdown().await;
    let build = t.ended(&id, "ABORTED").await;
    assert_eq!(str_at(&build, "/abortedBy"), "SYSTEM");
    assert_nothing_left(&t, &actor, &id, marker, "stopped").await;
}

#[tokio::test]
async fn a_cached_build_first_clears_what_a_dead_worker_left_in_its_cache() {
    let t = image_app(&[("WORKER_CONCURRENCY", "1")]).await;
    // A working container, as a build of a worker killed mid-build leaves it.
    let cache = t.app.work_dir.join(".images/cache-0");
    run(buildah(&cache).args(["from", "scratch"]), "buildah");
    assert_eq!(t.cached_containers().len(), 1);
    let dockerfile = "FROM apify/actor-node:24\nCOPY . /app\n";
    let actor = t
        .actor("after-a-crash", &[("Dockerfile", dockerfile)], json!({}))
        .await;
    let id = t.build(&actor, true).await;
    t.ended(&id, "SUCCEEDED").await;
    assert_eq!(t.cached_containers(), Vec::<String>::new());
}
