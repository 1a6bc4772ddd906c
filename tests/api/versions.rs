use reqwest::Method;
use serde_json::json;

use crate::helpers::{data, error_type, spawn_app, str_at};

#[tokio::test]
async fn version_lifecycle() {
    let app = spawn_app().await;
    let actor = app.create_actor("versions").await;
    let id = str_at(&actor, "/id");
    let base = format!("/v2/actors/{id}/versions");

    let res = app
        .post(&base)
        .json(&json!({
            "versionNumber": "1.2",
            "sourceType": "SOURCE_FILES",
            "buildTag": "beta",
            "applyEnvVarsToBuild": true,
            "envVars": [{"name": "PLAIN", "value": "1"}, {"name": "SECRET", "value": "s3cr3t", "isSecret": true}],
            "sourceFiles": [
                {"name": "src", "folder": true},
                {"name": "src/main.js", "format": "TEXT", "content": "console.log(1)"},
                {"name": "logo.bin", "format": "BASE64", "content": "AAEC"},
            ],
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let version = data(res).await;
    assert_eq!(version["versionNumber"], "1.2");
    assert_eq!(version["buildTag"], "beta");
    assert_eq!(version["applyEnvVarsToBuild"], true);
    assert_eq!(
        version["envVars"][0],
        json!({"name": "PLAIN", "value": "1", "isSecret": false})
    );
    assert_eq!(
        version["envVars"][1],
        json!({"name": "SECRET", "isSecret": true}),
        "secret values are never returned"
    );
    assert_eq!(
        version["sourceFiles"][0],
        json!({"name": "src", "folder": true})
    );
    assert_eq!(version["sourceFiles"][2]["format"], "BASE64");

    let res = app
        .post(&base)
        .json(&json!({"versionNumber": "1.2", "sourceType": "SOURCE_FILES"}))
        .send()
        .await
        .expect("dup");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "version-already-exists");

    // PUT changes only what it names, without versionNumber in the body (as the CLI sends it).
    let res = app
        .request(Method::PUT, &format!("{base}/1.2"))
        .json(&json!({"sourceFiles": [{"name": "main.js", "format": "TEXT", "content": "2"}]}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let updated = data(res).await;
    assert_eq!(updated["buildTag"], "beta");
    assert_eq!(
        updated["sourceFiles"],
        json!([{"name": "main.js", "format": "TEXT", "content": "2"}])
    );
    let actor_id: String =
        sqlx::query_scalar("SELECT actor_id FROM versions WHERE version_number = '1.2'")
            .fetch_one(&app.pool)
            .await
            .expect("actor id");
    let kept =
        actor_builds::storage::versions::get(&app.pool, &app.settings.secrets, &actor_id, "1.2")
            .await
            .expect("get")
            .expect("version");
    assert_eq!(
        kept.env_vars[1].value.as_deref(),
        Some("s3cr3t"),
        "the secret is kept, though never shown"
    );

    // POST on the version path is PUT.
    let res = app
        .post(&format!("{base}/1.2"))
        .json(&json!({"buildTag": "latest"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    assert_eq!(data(res).await["buildTag"], "latest");

    let list = data(app.get(&base).send().await.expect("list")).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["versionNumber"], "0.1");
    assert_eq!(list["items"][1]["versionNumber"], "1.2");

    let got = data(app.get(&format!("{base}/1.2")).send().await.expect("get")).await;
    assert_eq!(got["buildTag"], "latest");

    let res = app
        .request(Method::DELETE, &format!("{base}/1.2"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let mut req = app.request(method.clone(), &format!("{base}/1.2"));
        if method == Method::PUT {
            req = req.json(&json!({}));
        }
        let res = req.send().await.expect("gone");
        assert_eq!(res.status(), 404, "{method}");
        assert_eq!(error_type(res).await, "record-not-found");
    }
}

#[tokio::test]
async fn version_validation() {
    let app = spawn_app().await;
    let actor = app.create_actor("version-checks").await;
    let base = format!("/v2/actors/{}/versions", str_at(&actor, "/id"));
    for (body, needle) in [
        (json!({"sourceType": "SOURCE_FILES"}), "versionNumber"),
        (
            json!({"versionNumber": "1.100", "sourceType": "SOURCE_FILES"}),
            "versionNumber",
        ),
        (json!({"versionNumber": "1.0"}), "sourceType"),
        (
            json!({"versionNumber": "1.0", "sourceType": "SOURCE_CODE"}),
            "not supported",
        ),
        (
            json!({"versionNumber": "1.0", "sourceType": "GIT_REPO"}),
            "gitRepoUrl",
        ),
        (
            json!({"versionNumber": "1.0", "sourceType": "TARBALL", "tarballUrl": "ftp://x"}),
            "tarballUrl",
        ),
        (
            json!({"versionNumber": "1.0", "sourceType": "SOURCE_FILES",
                "sourceFiles": [{"name": "a", "format": "BASE64", "content": "!!"}]}),
            "base64",
        ),
        (
            json!({"versionNumber": "1.0", "sourceType": "SOURCE_FILES",
                "sourceFiles": [{"name": "a", "format": "HEX", "content": "00"}]}),
            "sourceFiles",
        ),
        (
            json!({"versionNumber": "1.0", "sourceType": "SOURCE_FILES", "envVars": [{"value": "x"}]}),
            "envVars",
        ),
    ] {
        let res = app.post(&base).json(&body).send().await.expect("create");
        assert_eq!(res.status(), 400, "{body}");
        let err: serde_json::Value = res.json().await.expect("json");
        assert_eq!(err["error"]["type"], "invalid-input", "{body}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body}: {err}"
        );
    }
    let res = app.post(&base).json(&json!({"versionNumber": "1.0", "sourceType": "TARBALL", "tarballUrl": "https://example.com/a.zip"})).send().await.expect("create");
    assert_eq!(res.status(), 201);
    assert_eq!(data(res).await["tarballUrl"], "https://example.com/a.zip");
}
