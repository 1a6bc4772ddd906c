//! Service endpoints: metrics.

use crate::helpers::{data, spawn_app};

#[tokio::test]
async fn metrics_in_prometheus_text() {
    let app = spawn_app().await;
    let actor = app.create_actor("measured").await;
    let build = app
        .create_build(actor["id"].as_str().unwrap_or_default())
        .await;
    let id = build["id"].as_str().unwrap_or_default();
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(data(res).await["status"], "ABORTED");
    app.create_build(actor["id"].as_str().unwrap_or_default())
        .await;

    let res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = res.text().await.expect("text");
    let has = |needle: &str| {
        text.lines()
            .any(|l| !l.starts_with('#') && needle.split('|').all(|part| l.contains(part)))
    };
    assert!(
        has("http_requests_total{|route=\"/v2/actor-builds/{buildId}/abort\"|status=\"200\""),
        "{text}"
    );
    assert!(
        has("http_request_duration_seconds_bucket{|route=\"/v2/actors/{actorId}/builds\""),
        "{text}"
    );
    assert!(
        has("build_status_transitions_total{|from=\"READY\"|to=\"ABORTED\""),
        "{text}"
    );
    assert!(has("builds_queue_depth "), "{text}");
    assert!(has("builds_running "), "{text}");
    assert!(has("db_pool_connections "), "{text}");
    assert!(!text.contains(&app.token), "no secrets in metrics");
}

#[tokio::test]
async fn rate_limit_per_token() {
    let app = crate::helpers::spawn_app_with(&[("RATE_LIMIT_PER_SECOND", "5")]).await;
    let mut limited = 0;
    for _ in 0..20 {
        let res = app.get("/v2/users/me").send().await.expect("me");
        if res.status() == 429 {
            assert_eq!(crate::helpers::error_type(res).await, "rate-limit-exceeded");
            limited += 1;
        } else {
            assert_eq!(res.status(), 200);
        }
    }
    assert!(limited >= 10, "{limited} of 20 requests were limited");
    let other = app.other_user("bob").await;
    let res = app
        .client
        .get(app.url("/v2/users/me"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200, "another token has its own budget");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert_eq!(res.status(), 200, "the budget refills");
}
