use std::collections::BTreeSet;

use reqwest::header::LOCATION;
use serde_json::Value;

use crate::helpers::{data, error_type, is_timestamp, spawn_app, str_at};

#[tokio::test]
async fn create_build_answers_a_ready_build() {
    let app = spawn_app().await;
    let actor = app.create_actor("build-shape").await;
    let actor_id = str_at(&actor, "/id");
    let res = app
        .post(&format!(
            "/v2/actors/{actor_id}/builds?version=0.1&useCache=1&betaPackages=TRUE&tag=beta"
        ))
        .header("X-Apify-Request-Origin", "CLI")
        .header("User-Agent", "ApifyClient/2.9.0")
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 201);
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let build = data(res).await;
    let id = str_at(&build, "/id");
    assert_eq!(location, Some(format!("/v2/actor-builds/{id}")));
    assert_eq!(id.len(), 17);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(build["actId"], actor_id);
    assert_eq!(build["userId"], app.user_id.as_str());
    assert_eq!(build["status"], "READY");
    assert!(is_timestamp(&build["startedAt"]), "{build}");
    assert!(build["finishedAt"].is_null());
    assert_eq!(build["buildNumber"], "0.1.1");
    assert_eq!(build["buildNumberInt"], 1);
    assert_eq!(build["meta"]["origin"], "CLI");
    assert_eq!(build["meta"]["clientIp"], "127.0.0.1");
    assert_eq!(build["meta"]["userAgent"], "ApifyClient/2.9.0");
    assert_eq!(build["options"]["useCache"], true);
    assert_eq!(build["options"]["betaPackages"], true);
    assert_eq!(build["options"]["memoryMbytes"], 4096);
    assert_eq!(build["options"]["diskMbytes"], 8192);
    assert_eq!(build["usage"]["ACTOR_COMPUTE_UNITS"], 0);
    assert_eq!(build["usageTotalUsd"], 0.0);
    assert_eq!(build["usageUsd"]["ACTOR_COMPUTE_UNITS"], 0);
    assert!(build["stats"].is_object());
    assert_eq!(build["actVersion"]["versionNumber"], "0.1");
    assert_eq!(build["actVersion"]["sourceType"], "SOURCE_FILES");
    assert_eq!(build["actVersion"]["buildTag"], "latest");
    assert!(build["actorDefinition"].is_null());
    let tag: Option<String> = sqlx::query_scalar("SELECT tag FROM builds WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("tag");
    assert_eq!(tag.as_deref(), Some("beta"));

    // Unknown origins fall back to API; the version's buildTag is the default tag.
    let res = app
        .post(&format!("/v2/actors/{actor_id}/builds?version=0.1"))
        .header("X-Apify-Request-Origin", "SPACESHIP")
        .send()
        .await
        .expect("build");
    let build = data(res).await;
    assert_eq!(build["meta"]["origin"], "API");
    assert_eq!(build["buildNumber"], "0.1.2");
    let tag: Option<String> = sqlx::query_scalar("SELECT tag FROM builds WHERE id = $1")
        .bind(build["id"].as_str())
        .fetch_one(&app.pool)
        .await
        .expect("tag");
    assert_eq!(tag.as_deref(), Some("latest"));
}

#[tokio::test]
async fn create_build_errors() {
    let app = spawn_app().await;
    let actor = app.create_actor("build-errors").await;
    let actor_id = str_at(&actor, "/id");
    for (query, status, kind) in [
        ("", 400, "invalid-parameter"),
        ("?version=1", 400, "invalid-parameter"),
        ("?version=0.1&useCache=maybe", 400, "invalid-parameter"),
        ("?version=0.1&betaPackages=2", 400, "invalid-parameter"),
        ("?version=0.1&waitForFinish=soon", 400, "invalid-parameter"),
        ("?version=0.1&tag=no%20spaces", 400, "invalid-parameter"),
        ("?version=9.9", 404, "record-not-found"),
    ] {
        let res = app
            .post(&format!("/v2/actors/{actor_id}/builds{query}"))
            .send()
            .await
            .expect("build");
        assert_eq!(res.status(), status, "{query}");
        assert_eq!(error_type(res).await, kind, "{query}");
    }
    let res = app
        .post("/v2/actors/AAAAAAAAAAAAAAAAA/builds?version=0.1")
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM builds")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "no failed request created a build");
}

/// 20 builds of one version at once: numbers 1..20, no gaps, no duplicates.
#[tokio::test]
async fn concurrent_builds_are_numbered_without_gaps() {
    let app = spawn_app().await;
    let actor = app.create_actor("build-numbers").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let creations = (0..20).map(|_| {
        let req = app.post(&format!("/v2/actors/{actor_id}/builds?version=0.1"));
        async move {
            let res = req.send().await.expect("build");
            assert_eq!(res.status(), 201);
            data(res).await
        }
    });
    let builds: Vec<Value> = futures_util::future::join_all(creations).await;
    let numbers: BTreeSet<i64> = builds
        .iter()
        .filter_map(|b| b["buildNumberInt"].as_i64())
        .collect();
    assert_eq!(numbers, (1..=20).collect::<BTreeSet<i64>>());
    for b in &builds {
        assert_eq!(b["buildNumber"], format!("0.1.{}", b["buildNumberInt"]));
    }
}

#[tokio::test]
async fn get_build_with_and_without_token() {
    let app = spawn_app().await;
    let actor = app.create_actor("build-get").await;
    let actor_id = str_at(&actor, "/id");
    let build = app.create_build(actor_id).await;
    let id = str_at(&build, "/id");

    let got = data(
        app.get(&format!("/v2/actor-builds/{id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(got, build);

    // Deprecated alias under the Actor.
    let alias = data(
        app.get(&format!("/v2/acts/{actor_id}/builds/{id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(alias, build);

    // Without a token: readable, but without usage in USD.
    let res = app
        .client
        .get(app.url(&format!("/v2/actor-builds/{id}")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let anonymous = data(res).await;
    assert_eq!(anonymous["id"], id);
    assert!(anonymous.get("usageTotalUsd").is_none());
    assert!(anonymous.get("usageUsd").is_none());

    // A bad token is still 401; another user's build is 404.
    let res = app
        .client
        .get(app.url(&format!("/v2/actor-builds/{id}")))
        .bearer_auth("nope")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "user-or-token-not-found");
    let stranger = app.other_user("mallory").await;
    let res = app
        .client
        .get(app.url(&format!("/v2/actor-builds/{id}")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");

    let res = app
        .get("/v2/actor-builds/AAAAAAAAAAAAAAAAA")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
}

#[tokio::test]
async fn list_builds_of_user_and_of_actor() {
    let app = spawn_app().await;
    let first = app.create_actor("list-one").await;
    let second = app.create_actor("list-two").await;
    let first_id = str_at(&first, "/id");
    let second_id = str_at(&second, "/id");
    let a = app.create_build(first_id).await;
    let b = app.create_build(second_id).await;
    let c = app.create_build(first_id).await;

    let all = data(app.get("/v2/actor-builds").send().await.expect("list")).await;
    assert_eq!(all["total"], 3);
    let ids: Vec<&Value> = all["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {all}"))
        .iter()
        .map(|b| &b["id"])
        .collect();
    assert_eq!(ids, vec![&a["id"], &b["id"], &c["id"]]);
    let item = &all["items"][0];
    for field in [
        "id",
        "actId",
        "userId",
        "status",
        "startedAt",
        "finishedAt",
        "buildNumber",
        "buildNumberInt",
        "usageTotalUsd",
        "meta",
    ] {
        assert!(
            item.get(field).is_some(),
            "BuildShort lacks {field}: {item}"
        );
    }
    assert_eq!(item["usageTotalUsd"], 0.0);

    let of_first = data(
        app.get(&format!("/v2/actors/{first_id}/builds?desc=true"))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(of_first["total"], 2);
    assert_eq!(of_first["items"][0]["id"], c["id"]);
    assert_eq!(of_first["items"][1]["id"], a["id"]);

    let stranger = app.other_user("mallory").await;
    let theirs = data(
        app.client
            .get(app.url("/v2/actor-builds"))
            .bearer_auth(&stranger)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(theirs["total"], 0);
    let res = app
        .client
        .get(app.url(&format!("/v2/actors/{first_id}/builds")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn delete_build_only_when_finished_and_untagged() {
    let app = spawn_app().await;
    let actor = app.create_actor("build-delete").await;
    let actor_id = str_at(&actor, "/id");
    let build = app.create_build(actor_id).await;
    let id = str_at(&build, "/id");
    let delete = |id: String| {
        app.request(reqwest::Method::DELETE, &format!("/v2/actor-builds/{id}"))
            .send()
    };

    let res = delete(id.into()).await.expect("delete");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "deleting-unfinished-build");

    app.force_status(id, "SUCCEEDED").await;
    let res = app
        .request(reqwest::Method::PUT, &format!("/v2/actors/{actor_id}"))
        .json(&serde_json::json!({"taggedBuilds": {"latest": {"buildId": id}}}))
        .send()
        .await
        .expect("tag");
    assert_eq!(res.status(), 200);
    let res = delete(id.into()).await.expect("delete");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "deleting-default-build");

    let stranger = app.other_user("mallory").await;
    let res = app
        .client
        .delete(app.url(&format!("/v2/actor-builds/{id}")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 404);

    let res = app
        .request(reqwest::Method::PUT, &format!("/v2/actors/{actor_id}"))
        .json(&serde_json::json!({"taggedBuilds": {"latest": null}}))
        .send()
        .await
        .expect("untag");
    assert_eq!(res.status(), 200);
    let list = data(app.get("/v2/actor-builds").send().await.expect("list")).await;
    assert_eq!(list["total"], 1);
    let res = delete(id.into()).await.expect("delete");
    assert_eq!(res.status(), 204);
    let list = data(app.get("/v2/actor-builds").send().await.expect("list")).await;
    assert_eq!(list["total"], 0, "the total follows deletions");
    let of_actor = data(
        app.get(&format!("/v2/actors/{actor_id}/builds"))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(of_actor["total"], 0);
    assert!(res.bytes().await.map(|b| b.is_empty()).unwrap_or(false));
    let res = app
        .get(&format!("/v2/actor-builds/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    let res = delete(id.into()).await.expect("delete");
    assert_eq!(res.status(), 404);
}

/// Without a User-Agent `meta.userAgent` is absent, never null: Apify's document types it as a
/// string.
#[tokio::test]
async fn a_build_without_a_user_agent_has_none_in_its_meta() {
    let app = spawn_app().await;
    let actor = app.create_actor("plain").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    assert!(build["meta"].get("userAgent").is_none(), "{build}");
    assert_eq!(build["meta"]["origin"], "API");
    let got = data(
        app.get(&format!("/v2/actor-builds/{}", str_at(&build, "/id")))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert!(got["meta"].get("userAgent").is_none(), "{got}");
}
