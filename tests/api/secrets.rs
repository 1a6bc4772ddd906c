//! Secret env vars: never made readable by an update that omits them, sealed at rest.

use serde_json::{json, Value};

use actor_builds::domain::secret_box::SecretBox;
use actor_builds::storage::versions;

use crate::helpers::{data, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_update_without_the_value_keeps_the_secret_secret() {
    let app = spawn_app().await;
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "keeper", "versions": [{
            "versionNumber": "0.0", "sourceType": "SOURCE_FILES",
            "envVars": [{"name": "K", "value": "TOPSECRET-1", "isSecret": true}],
        }]}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let id = data(res).await["id"].as_str().expect("id").to_owned();
    let path = format!("/v2/actors/{id}/versions/0.0");
    for body in [
        json!({"envVars": [{"name": "K"}]}),
        json!({"envVars": [{"name": "K", "isSecret": false}]}),
    ] {
        let res = app
            .request(reqwest::Method::PUT, &path)
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), 200);
        let answer: Value = data(res).await;
        assert_eq!(answer["envVars"][0]["isSecret"], true, "{answer}");
        for read in [
            path.clone(),
            format!("/v2/actors/{id}/versions"),
            format!("/v2/actors/{id}"),
        ] {
            let text = app
                .get(&read)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body");
            assert!(!text.contains("TOPSECRET-1"), "{read}: {text}");
        }
    }
    // A new value may make it a plain variable: that value was given, not revealed.
    let res = app
        .request(reqwest::Method::PUT, &path)
        .json(&json!({"envVars": [{"name": "K", "value": "plain", "isSecret": false}]}))
        .send()
        .await
        .expect("put");
    assert_eq!(data(res).await["envVars"][0]["value"], "plain");
}

/// Issue 11, defect 16: secret values are sealed at rest; the build still gets them.
#[tokio::test]
async fn secret_values_are_sealed_at_rest_and_open_for_the_build() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        (
            "BUILD_COMMAND",
            r#"case "$*" in *K=TOPSECRET-2*) echo "the secret arrived";; *) echo "no secret";; esac"#,
        ),
    ])
    .await;
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "sealed", "versions": [{
            "versionNumber": "0.1", "sourceType": "SOURCE_FILES", "applyEnvVarsToBuild": true,
            "envVars": [{"name": "K", "value": "TOPSECRET-2", "isSecret": true},
                        {"name": "P", "value": "plain-value"}],
        }]}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let id = data(res).await["id"].as_str().expect("id").to_owned();
    let stored: String =
        sqlx::query_scalar("SELECT env_vars::text FROM versions WHERE actor_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert!(!stored.contains("TOPSECRET-2"), "{stored}");
    assert!(stored.contains("enc:v1:"), "{stored}");
    assert!(
        stored.contains("plain-value"),
        "plain values stay readable: {stored}"
    );

    let build = app.create_build(&id).await;
    let build_id = build["id"].as_str().expect("build id").to_owned();
    app.wait_for_status(&build_id, &["SUCCEEDED"], 30).await;
    let log = app.log(&build_id).await;
    assert!(log.contains("the secret arrived"), "{log}");

    // Under another key the value does not open: an error, never a wrong value.
    let other = SecretBox::from_text(&"ab".repeat(32)).expect("key");
    assert!(versions::get(&app.pool, &other, &id, "0.1").await.is_err());
    let opened = versions::get(&app.pool, &app.settings.secrets, &id, "0.1")
        .await
        .expect("get")
        .expect("version");
    assert_eq!(opened.env_vars[0].value.as_deref(), Some("TOPSECRET-2"));
}

/// Secret values stored in clear before sealing at rest are sealed at start.
#[tokio::test]
async fn clear_secrets_of_before_are_sealed_at_start() {
    let app = spawn_app().await;
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "legacy", "versions": [{
            "versionNumber": "0.0", "sourceType": "SOURCE_FILES",
            "envVars": [{"name": "K", "value": "x", "isSecret": true}],
        }]}))
        .send()
        .await
        .expect("create");
    let id = data(res).await["id"].as_str().expect("id").to_owned();
    sqlx::query(
        r#"UPDATE versions SET env_vars = '[{"name":"K","value":"TOPSECRET-3","isSecret":true}]'
           WHERE actor_id = $1"#,
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .expect("store in clear");
    let sealed = versions::seal_clear_secrets(&app.pool, &app.settings.secrets)
        .await
        .expect("seal");
    assert_eq!(sealed, 1);
    let stored: String =
        sqlx::query_scalar("SELECT env_vars::text FROM versions WHERE actor_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert!(!stored.contains("TOPSECRET-3"), "{stored}");
    let opened = versions::get(&app.pool, &app.settings.secrets, &id, "0.0")
        .await
        .expect("get")
        .expect("version");
    assert_eq!(opened.env_vars[0].value.as_deref(), Some("TOPSECRET-3"));
    let text = app
        .get(&format!("/v2/actors/{id}/versions/0.0"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(!text.contains("TOPSECRET-3"), "{text}");
}
