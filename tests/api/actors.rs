use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{data, error_type, is_timestamp, spawn_app, str_at};

#[tokio::test]
async fn create_and_get_an_actor_every_way() {
    let app = spawn_app().await;
    let res = app
        .post("/v2/actors")
        .json(&json!({
            "name": "my-actor",
            "title": "My Actor",
            "description": "Does things",
            "isPublic": false,
            "defaultRunOptions": {"build": "beta", "memoryMbytes": 1024},
            "versions": [{"versionNumber": "0.0", "sourceType": "GIT_REPO", "gitRepoUrl": "https://example.com/r.git#main:sub"}],
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let actor = data(res).await;
    let id = str_at(&actor, "/id").to_owned();
    assert_eq!(id.len(), 17);
    assert_eq!(actor["name"], "my-actor");
    assert_eq!(actor["username"], "jane");
    assert_eq!(actor["userId"], app.user_id.as_str());
    assert_eq!(actor["title"], "My Actor");
    assert_eq!(actor["description"], "Does things");
    assert_eq!(actor["isPublic"], false);
    assert!(is_timestamp(&actor["createdAt"]) && is_timestamp(&actor["modifiedAt"]));
    assert_eq!(actor["stats"]["totalBuilds"], 0);
    assert_eq!(
        actor["defaultRunOptions"],
        json!({"build": "beta", "timeoutSecs": 3600, "memoryMbytes": 1024})
    );
    assert_eq!(actor["taggedBuilds"], json!({}));
    assert_eq!(actor["versions"][0]["versionNumber"], "0.0");
    assert_eq!(
        actor["versions"][0]["gitRepoUrl"],
        "https://example.com/r.git#main:sub"
    );

    for path in [
        format!("/v2/actors/{id}"),
        format!("/v2/acts/{id}"),
        "/v2/actors/jane~my-actor".to_owned(),
        "/v2/actors/~my-actor".to_owned(),
        "/v2/acts/jane~my-actor".to_owned(),
    ] {
        let res = app.get(&path).send().await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(data(res).await, actor, "{path}");
    }

    let stranger = app.other_user("mallory").await;
    for path in [
        format!("/v2/actors/{id}"),
        "/v2/actors/jane~my-actor".to_owned(),
        "/v2/actors/~my-actor".to_owned(),
    ] {
        let res = app
            .client
            .get(app.url(&path))
            .bearer_auth(&stranger)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(error_type(res).await, "record-not-found");
    }
}

#[tokio::test]
async fn create_actor_errors() {
    let app = spawn_app().await;
    app.create_actor("taken").await;
    for (body, kind, needle) in [
        (json!({"name": "taken"}), "actor-name-not-unique", "taken"),
        (json!({"name": "-bad"}), "invalid-input", "name"),
        (json!({"name": "ab"}), "invalid-input", "name"),
        (json!({}), "invalid-input", "name"),
        (
            json!({"name": "fine", "isPublic": "yes"}),
            "invalid-input",
            "isPublic",
        ),
        (
            json!({"name": "fine", "defaultRunOptions": {"memoryMbytes": 1}}),
            "invalid-input",
            "memoryMbytes",
        ),
        (
            json!({"name": "fine", "versions": [{"versionNumber": "01.0", "sourceType": "SOURCE_FILES"}]}),
            "invalid-input",
            "versionNumber",
        ),
        (
            json!({"name": "fine", "versions": [{"versionNumber": "0.1", "sourceType": "GITHUB_GIST"}]}),
            "invalid-input",
            "GITHUB_GIST",
        ),
        (
            json!({"name": "fine", "versions": [
                {"versionNumber": "0.1", "sourceType": "SOURCE_FILES"},
                {"versionNumber": "0.1", "sourceType": "SOURCE_FILES"}]}),
            "version-already-exists",
            "0.1",
        ),
    ] {
        let res = app
            .post("/v2/actors")
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 400, "{body}");
        let err: serde_json::Value = res.json().await.expect("json");
        assert_eq!(err["error"]["type"], kind, "{body}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body}: {err}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM actors")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 1, "a refused creation leaves nothing behind");
}

#[tokio::test]
async fn list_actors() {
    let app = spawn_app().await;
    let a = app.create_actor("first-actor").await;
    let b = app.create_actor("second-actor").await;
    app.create_build(str_at(&a, "/id")).await;
    let list = data(
        app.get("/v2/actors?my=1&sortBy=createdAt&desc=1")
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["count"], 2);
    assert_eq!(list["items"][0]["id"], b["id"]);
    assert_eq!(list["items"][1]["id"], a["id"]);
    assert_eq!(list["items"][1]["stats"]["totalBuilds"], 1);
    for field in ["id", "createdAt", "modifiedAt", "name", "username", "stats"] {
        assert!(list["items"][0].get(field).is_some(), "{field}");
    }
    // Apify's document types `title` and `stats.lastRunStartedAt` as strings: absent, never null.
    for item in list["items"].as_array().expect("items") {
        assert!(item.get("title").is_none_or(Value::is_string), "{item}");
        assert!(item["stats"].get("lastRunStartedAt").is_none(), "{item}");
    }
    let res = app
        .get("/v2/actors?sortBy=name")
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-parameter");
    let stranger = app.other_user("mallory").await;
    let theirs = data(
        app.client
            .get(app.url("/v2/actors"))
            .bearer_auth(&stranger)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(theirs["total"], 0);
}

#[tokio::test]
async fn update_actor_and_its_tags() {
    let app = spawn_app().await;
    let actor = app.create_actor("to-update").await;
    let id = str_at(&actor, "/id");
    let build = app.create_build(id).await;
    let build_id = str_at(&build, "/id");

    let res = app
        .request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(
            &json!({"title": "New title", "defaultRunOptions": {"timeoutSecs": 60},
                      "taggedBuilds": {"beta": {"buildId": build_id}}}),
        )
        .send()
        .await
        .expect("update");
    assert_eq!(res.status(), 200);
    let updated = data(res).await;
    assert_eq!(updated["title"], "New title");
    assert_eq!(updated["name"], "to-update");
    assert_eq!(updated["defaultRunOptions"]["timeoutSecs"], 60);
    assert_eq!(updated["defaultRunOptions"]["memoryMbytes"], 4096);
    assert_eq!(updated["taggedBuilds"]["beta"]["buildId"], build_id);
    assert_eq!(updated["taggedBuilds"]["beta"]["buildNumber"], "0.1.1");
    assert_eq!(updated["taggedBuilds"]["beta"]["buildNumberInt"], 1);
    assert!(updated["modifiedAt"].as_str() > actor["modifiedAt"].as_str());

    // Tags merge: adding one keeps the other; null removes.
    let res = app
        .request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(&json!({"taggedBuilds": {"latest": {"buildId": build_id}}}))
        .send()
        .await
        .expect("update");
    let updated = data(res).await;
    assert_eq!(
        updated["taggedBuilds"].as_object().map(|t| t.len()),
        Some(2)
    );
    let res = app
        .request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(&json!({"taggedBuilds": {"beta": null}, "title": null}))
        .send()
        .await
        .expect("update");
    let updated = data(res).await;
    assert_eq!(
        updated["taggedBuilds"].as_object().map(|t| t.len()),
        Some(1)
    );
    assert!(updated["title"].is_null());

    let res = app
        .request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(&json!({"taggedBuilds": {"x": {"buildId": "AAAAAAAAAAAAAAAAA"}}}))
        .send()
        .await
        .expect("update");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-input");

    app.create_actor("other-name").await;
    let res = app
        .request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(&json!({"name": "other-name"}))
        .send()
        .await
        .expect("update");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "actor-name-not-unique");
}

#[tokio::test]
async fn delete_actor_takes_its_builds() {
    let app = spawn_app().await;
    let actor = app.create_actor("to-delete").await;
    let id = str_at(&actor, "/id");
    let build = app.create_build(id).await;
    let build_id = str_at(&build, "/id");
    app.force_status(build_id, "SUCCEEDED").await;
    app.request(Method::PUT, &format!("/v2/actors/{id}"))
        .json(&json!({"taggedBuilds": {"latest": {"buildId": build_id}}}))
        .send()
        .await
        .expect("tag");

    let stranger = app.other_user("mallory").await;
    let res = app
        .client
        .delete(app.url(&format!("/v2/actors/{id}")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 404);

    let res = app
        .request(Method::DELETE, &format!("/v2/actors/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let res = app
        .get(&format!("/v2/actors/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    let res = app
        .get(&format!("/v2/actor-builds/{build_id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
}
