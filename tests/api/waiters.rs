//! `waitForFinish`: a waiter whose client hung up is gone at once, and every waiter of a build
//! shares one reading of it per event.
//!
//! The gauges are read relative to a reading taken before the test starts its waiters, so the
//! tests hold even if the gauges come to be shared between applications.

use std::time::{Duration, Instant};

use crate::helpers::{data, spawn_app, str_at, TestApp};

const WAITERS: usize = 200;

async fn ready_build(app: &TestApp, name: &str) -> String {
    let actor = app.create_actor(name).await;
    str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned()
}

async fn wait_for_metric(app: &TestApp, series: &str, wanted: f64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let value = app.metric(series).await;
        if value == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {value}, not {wanted}, after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn start_waiters(app: &TestApp, id: &str) -> Vec<tokio::task::JoinHandle<serde_json::Value>> {
    (0..WAITERS)
        .map(|_| {
            let request = app.get(&format!("/v2/actor-builds/{id}?waitForFinish=60"));
            tokio::spawn(async move { data(request.send().await.expect("wait")).await })
        })
        .collect()
}

#[tokio::test]
async fn waiters_of_clients_that_hung_up_are_gone() {
    let app = spawn_app().await;
    let id = ready_build(&app, "hung-up").await;
    let idle = app.metric("build_waiters_active").await;
    let waiters = start_waiters(&app, &id);
    wait_for_metric(&app, "build_waiters_active", idle + WAITERS as f64, 20).await;
    for waiter in &waiters {
        waiter.abort();
    }
    // Their connections closed: the server drops every one of them, long before 60 s.
    wait_for_metric(&app, "build_waiters_active", idle, 5).await;
}

#[tokio::test]
async fn waiters_of_one_build_share_one_reload_per_event() {
    let app = spawn_app().await;
    let id = ready_build(&app, "shared-wait").await;
    let before = app.metric("build_waiter_reloads_total").await;
    let idle = app.metric("build_waiters_active").await;
    let waiters = start_waiters(&app, &id);
    wait_for_metric(&app, "build_waiters_active", idle + WAITERS as f64, 20).await;
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(data(res).await["status"], "ABORTED");
    for waiter in waiters {
        assert_eq!(waiter.await.expect("waiter")["status"], "ABORTED");
    }
    let reloads = app.metric("build_waiter_reloads_total").await - before;
    // One read when the first waiter came, one for the abort; a resync may add one.
    assert!(
        (1.0..=3.0).contains(&reloads),
        "{reloads} reloads for {WAITERS} waiters"
    );
    wait_for_metric(&app, "build_waiters_active", idle, 5).await;
}

/// A log stream (`stream=1`) of a build that writes nothing ends with its client.
#[tokio::test]
async fn log_streams_of_clients_that_hung_up_are_gone() {
    let app = spawn_app().await;
    let id = ready_build(&app, "quiet-stream").await;
    let idle = app.metric("log_streams_active").await;
    let streams: Vec<_> = (0..20)
        .map(|_| {
            let request = app.get(&format!("/v2/actor-builds/{id}/log?stream=1"));
            tokio::spawn(async move {
                let res = request.send().await.expect("stream");
                let _ = res.bytes().await;
            })
        })
        .collect();
    wait_for_metric(&app, "log_streams_active", idle + 20.0, 20).await;
    for stream in &streams {
        stream.abort();
    }
    wait_for_metric(&app, "log_streams_active", idle, 5).await;
}
