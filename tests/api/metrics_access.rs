//! `/metrics`: labels from a closed set, served on a listener of its own, not on the API's.

use reqwest::Method;

use crate::helpers::spawn_app;

/// Made-up HTTP methods all count as `OTHER`: they make no series of their own.
#[tokio::test]
async fn made_up_methods_make_no_new_series() {
    let app = spawn_app().await;
    let _ = app.metrics().await;
    let methods: Vec<String> = (0..50).map(|n| format!("XQZ{n}MADEUP")).collect();
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
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("method=\"OTHER\"")
            && l.contains("route=\"/health\"")),
        "made-up methods are counted as OTHER: {text}"
    );
    // Paths that match no route share one label, whatever they are.
    let res = app
        .client
        .get(app.url("/no/such/path/zqxv"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    let text = app.metrics().await;
    assert!(!text.contains("zqxv"), "a raw path made a series");
    assert!(text.contains("route=\"<unmatched>\""), "{text}");
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
