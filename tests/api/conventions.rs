use std::io::Write;

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde_json::json;

use crate::helpers::{data, error_type, spawn_app};

fn actor_body(name: &str) -> Vec<u8> {
    json!({"name": name, "versions": [{"versionNumber": "0.0", "sourceType": "SOURCE_FILES",
        "sourceFiles": [{"name": "README.md", "format": "TEXT", "content": "x".repeat(4000)}]}]})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn gzip_and_brotli_bodies() {
    let app = spawn_app().await;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&actor_body("gzipped")).expect("gzip");
    let res = app
        .post("/v2/actors")
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_eq!(data(res).await["name"], "gzipped");

    let mut br = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
        writer.write_all(&actor_body("brotlied")).expect("br");
    }
    let res = app
        .post("/v2/actors")
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "br")
        .body(br)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    let actor = data(res).await;
    assert_eq!(
        actor["versions"][0]["sourceFiles"][0]["content"]
            .as_str()
            .map(str::len),
        Some(4000)
    );

    let res = app
        .post("/v2/actors")
        .header(CONTENT_ENCODING, "zstd")
        .body(actor_body("zstd"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 415);
    assert_eq!(error_type(res).await, "unsupported-content-encoding");

    let res = app
        .post("/v2/actors")
        .header(CONTENT_ENCODING, "gzip")
        .body("not gzip")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-input");
}

#[tokio::test]
async fn body_limit() {
    let app = spawn_app().await;
    let big = vec![b' '; 10_000_000];
    let res = app
        .post("/v2/actors")
        .header(CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    assert_eq!(error_type(res).await, "request-too-large");

    // A small gzip body that inflates past the limit is refused too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 10_000_000]).expect("gzip");
    let res = app
        .post("/v2/actors")
        .header(CONTENT_ENCODING, "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    assert_eq!(error_type(res).await, "request-too-large");
}

#[tokio::test]
async fn invalid_json_names_the_field() {
    let app = spawn_app().await;
    let res = app
        .post("/v2/actors")
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-input");

    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "x-y-z", "title": 5}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.expect("json");
    assert_eq!(err["error"]["type"], "invalid-input");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("title")),
        "{err}"
    );

    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "x-y-z", "versions": [{"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "applyEnvVarsToBuild": "no"}]}))
        .send()
        .await
        .expect("post");
    let err: serde_json::Value = res.json().await.expect("json");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("versions[0].applyEnvVarsToBuild")),
        "{err}"
    );

    let res = app.post("/v2/actors").send().await.expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-input");

    // NUL characters cannot be stored: a 400 that names the field, not a 500.
    let res = app
        .post("/v2/actors")
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"name": "nul-test", "defaultRunOptions": {"x": {"y": "a\u0000b"}}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.expect("json");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("defaultRunOptions.x.y")),
        "{err}"
    );
    for path in [
        "/v2/actors/~a%00b",
        "/v2/actor-builds/a%00b",
        "/v2/actors/~nul-test/versions/0.%00",
    ] {
        let res = app.get(path).send().await.expect("get");
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    let res = app.get("/v2/no-such-thing").send().await.expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "page-not-found");
    let res = app.client.get(app.url("/")).send().await.expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "page-not-found");

    for (method, path) in [
        (reqwest::Method::DELETE, "/v2/actor-builds"),
        (
            reqwest::Method::GET,
            "/v2/actor-builds/AAAAAAAAAAAAAAAAA/abort",
        ),
        (reqwest::Method::PATCH, "/v2/actors"),
        (reqwest::Method::POST, "/v2/users/me"),
    ] {
        let res = app.request(method.clone(), path).send().await.expect("req");
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(error_type(res).await, "method-not-allowed");
    }
}

#[tokio::test]
async fn health_and_ready_and_request_ids() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(res.status(), 200);
    let res = app
        .get("/v2/users/me")
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .expect("me");
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert!(res.headers().get("x-request-id").is_some());
}
