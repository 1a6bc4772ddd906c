//! Issue 11, defect 1: what a caller who is not an Actor's owner learns of it.

use serde_json::{json, Value};

use crate::helpers::{data, spawn_app, TestApp};

const GIT_URL: &str = "https://deploy:hunter2@git.example.com/jane/private.git#main";
const TARBALL_URL: &str =
    "http://127.0.0.1:9/v2/key-value-stores/abcdefghijklmnopq/records/src.tgz?signature=s3cr3tsig";

/// A private Actor with a GIT_REPO version 0.1 (credentials in its URL) and a TARBALL version
/// 0.2 (a signed record URL), a build of each, the git one tagged `latest`.
async fn private_actor(app: &TestApp) -> (String, String, String) {
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "hidden", "versions": [
            {"versionNumber": "0.1", "sourceType": "GIT_REPO", "gitRepoUrl": GIT_URL},
            {"versionNumber": "0.2", "sourceType": "TARBALL", "tarballUrl": TARBALL_URL},
        ]}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    let actor_id = data(res).await["id"].as_str().expect("id").to_owned();
    let git_build = app.create_build(&actor_id).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let res = app
        .post(&format!("/v2/actors/{actor_id}/builds?version=0.2"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    let tarball_build = data(res).await["id"].as_str().expect("id").to_owned();
    app.force_status(&git_build, "SUCCEEDED").await;
    sqlx::query("INSERT INTO actor_tags (actor_id, tag, build_id) VALUES ($1, 'latest', $2)")
        .bind(&actor_id)
        .bind(&git_build)
        .execute(&app.pool)
        .await
        .expect("tag");
    (actor_id, git_build, tarball_build)
}

fn actor_routes(build_id: &str) -> Vec<String> {
    [
        "",
        "/versions",
        "/versions/0.1",
        "/builds",
        "/builds/default",
        "/builds/default/openapi.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("/builds/{build_id}"),
        format!("/builds/{build_id}/openapi.json"),
    ])
    .collect()
}

#[tokio::test]
async fn a_private_actor_named_by_username_and_name_is_absent_to_others() {
    let app = spawn_app().await;
    let (_, build_id, _) = private_actor(&app).await;
    let other = app.other_user("mallory").await;
    for prefix in ["/v2/actors/jane~hidden", "/v2/acts/jane~hidden"] {
        for route in actor_routes(&build_id) {
            let path = format!("{prefix}{route}");
            let res = app.client.get(app.url(&path)).send().await.expect("get");
            let status = res.status().as_u16();
            let body = res.text().await.expect("body");
            assert!(
                status == 404 || status == 401,
                "tokenless {path}: {status} {body}"
            );
            assert!(
                !body.contains(&build_id) && !body.contains("hunter2"),
                "{path}: {body}"
            );
            let res = app
                .client
                .get(app.url(&path))
                .bearer_auth(&other)
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), 404, "{path} with another user's token");
        }
    }
    // The owner reads the openapi.json by name.
    let res = app
        .get("/v2/actors/jane~hidden/builds/default/openapi.json")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_public_actor_gives_its_openapi_json_to_anyone() {
    let app = spawn_app().await;
    let (actor_id, build_id, _) = private_actor(&app).await;
    let res = app
        .request(reqwest::Method::PUT, &format!("/v2/actors/{actor_id}"))
        .json(&json!({"isPublic": true}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/v2/actors/jane~hidden/builds/default/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("json");
    assert_eq!(doc["info"]["x-build-id"], build_id.as_str());
}

#[tokio::test]
async fn tokenless_reads_by_id_show_no_credentials_nor_signatures() {
    let app = spawn_app().await;
    let (actor_id, git_build, tarball_build) = private_actor(&app).await;
    // Reads keyed by unguessable ids stay tokenless, as Apify documents them.
    let res = app
        .client
        .get(app.url(&format!(
            "/v2/actors/{actor_id}/builds/default/openapi.json"
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);

    let tokenless = |id: String| {
        let app = &app;
        async move {
            let res = app
                .client
                .get(app.url(&format!("/v2/actor-builds/{id}")))
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), 200);
            data(res).await
        }
    };
    let git = tokenless(git_build.clone()).await;
    assert_eq!(
        git["actVersion"]["gitRepoUrl"],
        "https://git.example.com/jane/private.git#main"
    );
    let tarball = tokenless(tarball_build.clone()).await;
    let url = tarball["actVersion"]["tarballUrl"].as_str().expect("url");
    assert!(
        !url.contains("signature") && !url.contains("s3cr3tsig"),
        "{url}"
    );
    assert!(!tarball.to_string().contains("s3cr3tsig"));
    assert!(!git.to_string().contains("hunter2"));

    // Another user's token sees nothing at all; the owner sees the URLs as given.
    let other = app.other_user("mallory").await;
    let res = app
        .client
        .get(app.url(&format!("/v2/actor-builds/{git_build}")))
        .bearer_auth(&other)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    let owner = data(
        app.get(&format!("/v2/actor-builds/{git_build}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(owner["actVersion"]["gitRepoUrl"], GIT_URL);
    let owner = data(
        app.get(&format!("/v2/actor-builds/{tarball_build}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(owner["actVersion"]["tarballUrl"], TARBALL_URL);
}
