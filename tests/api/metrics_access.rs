//! `/metrics`: labels from a closed set, served on a listener of its own, not on the API's.

use reqwest::Method;

use crate::helpers::{metric_sum, spawn_app};

/// Made-up HTTP methods all count as `OTHER`: they make no series of their own. The recorder is
/// shared with the other tests' apps, so counts are compared before and after.
#[tokio::test]
async fn made_up_methods_make_no_new_series() {
    let app = spawn_app().await;
    let other_health = [("method", "OTHER"), ("route", "/health")];
    let unmatched = [
        ("method", "GET"),
        ("route", "<unmatched>"),
        ("status", "404"),
    ];
    let before = app.metrics().await;
    // Unique to this run: no other test can have made a series of these.
    let run = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let methods: Vec<String> = (0..50).map(|n| format!("XQZ{n}MADEUP{run}")).collect();
    for method in &methods {
        let method = Method::from_bytes(method.as_bytes()).expect("a method token");
        let res = app
            .client
            .request(method, app.url("/health"))
            .send()
            .await
            .expect("request");
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let text = app.metrics().await;
    for method in &methods {
        assert!(!text.contains(method.as_str()), "{method} made a series");
    }
    let counted = metric_sum(&text, "http_requests_total", &other_health)
        - metric_sum(&before, "http_requests_total", &other_health);
    assert!(
        counted >= methods.len() as f64,
        "made-up methods are counted as OTHER: {counted} more of them: {text}"
    );
    // Paths that match no route share one label, whatever they are.
    let path = format!("/no/such/path/zqxv{run}");
    let res = app
        .client
        .get(app.url(&path))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    let after = app.metrics().await;
    assert!(!after.contains(&run), "a raw path made a series");
    let counted = metric_sum(&after, "http_requests_total", &unmatched)
        - metric_sum(&text, "http_requests_total", &unmatched);
    assert!(counted >= 1.0, "{path} is counted as <unmatched>: {after}");
}

/// The public listener does not serve metrics (queue depth and running builds of every tenant);
/// the metrics listener does.
#[tokio::test]
async fn metrics_are_not_served_on_the_api_listener() {
    let app = spawn_app().await;
    for res in [
        app.client.get(app.url("/metrics")).send().await,
        app.get("/metrics").send().await,
    ] {
        let res = res.expect("request");
        assert_eq!(res.status(), 404);
        let text = res.text().await.expect("text");
        assert!(!text.contains("builds_queue_depth"), "{text}");
    }
    let text = app.metrics().await;
    assert!(text.contains("builds_queue_depth"), "{text}");
    // The metrics listener serves nothing else.
    let res = app
        .client
        .get(format!("{}/v2/users/me", app.metrics_address))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
}

#[test]
fn metric_sum_matches_whole_labels() {
    let text = "# TYPE http_requests_total counter\n\
        http_requests_total{method=\"GET\",route=\"/v2/actors/{actorId}/builds\",status=\"200\"} 3\n\
        http_requests_total{method=\"GET\",route=\"/v2/actors/{actorId}/builds/default\",status=\"200\"} 5\n\
        http_requests_total{method=\"POST\",route=\"/v2/actors/{actorId}/builds\",status=\"201\"} 7\n\
        http_requests_total_other{method=\"GET\"} 11\n\
        builds_running 2\n";
    let builds = [("route", "/v2/actors/{actorId}/builds")];
    assert_eq!(metric_sum(text, "http_requests_total", &builds), 10.0);
    assert_eq!(
        metric_sum(text, "http_requests_total", &[("method", "GET")]),
        8.0
    );
    assert_eq!(metric_sum(text, "builds_running", &[]), 2.0);
    assert_eq!(
        metric_sum(text, "http_requests_total", &[("method", "PUT")]),
        0.0
    );
}
