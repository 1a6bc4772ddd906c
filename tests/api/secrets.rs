//! Issue 11, defect 15: a secret env var is never made readable by an update that omits it.

use serde_json::{json, Value};

use crate::helpers::{data, spawn_app};

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
