//! Key-value stores: get-or-create by name, records with their content type, compressed bodies,
//! the size limit, signed and unsigned reads, ownership, and a TARBALL build from a signed record
//! URL (what `apify push` does for large Actors).

use std::io::Write;

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{data, error_type, is_timestamp, spawn_app, spawn_app_with, str_at, TestApp};

/// A URL-signing secret and signatures computed for it by node with @apify/utilities 2.35.11:
/// `createHmacSignature(SECRET, "version-0.0.zip")` and
/// `createStorageContentSignature({resourceId: "WkzbQMuFYuamGv3YF", urlSigningSecretKey: SECRET})`.
const SECRET: &str = "Qs9Bv0sYxR2hL7pW4nKd8eTzA1mC6uFj";
const RECORD_SIGNATURE: &str = "kT8Bv3GkBc89hdVSXS5n";
const STORE_ID: &str = "WkzbQMuFYuamGv3YF";
const STORE_SIGNATURE: &str = "MC4wLjNVVUYxTURkeHlGTjlCa2ZOazFn";

async fn create_store(app: &TestApp, name: &str) -> Value {
    let res = app
        .post(&format!("/v2/key-value-stores?name={name}"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    data(res).await
}

fn record_path(store_id: &str, key: &str) -> String {
    format!("/v2/key-value-stores/{store_id}/records/{key}")
}

async fn put(app: &TestApp, store_id: &str, key: &str, content_type: &str, body: Vec<u8>) {
    let res = app
        .request(Method::PUT, &record_path(store_id, key))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201, "put {key}");
}

/// Gives the store a known id and secret, so that signatures computed elsewhere apply.
async fn known_store(app: &TestApp) -> String {
    let store = create_store(app, "signed").await;
    sqlx::query("UPDATE key_value_stores SET id = $2, url_signing_secret_key = $3 WHERE id = $1")
        .bind(str_at(&store, "/id"))
        .bind(STORE_ID)
        .bind(SECRET)
        .execute(&app.pool)
        .await
        .expect("update store");
    STORE_ID.to_owned()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        writer.write_all(bytes).expect("brotli");
    }
    out
}

#[tokio::test]
async fn get_or_create_by_name() {
    let app = spawn_app().await;
    let store = create_store(&app, "actor-abc-source").await;
    let id = str_at(&store, "/id").to_owned();
    assert_eq!(id.len(), 17);
    assert_eq!(store["name"], "actor-abc-source");
    assert_eq!(store["userId"], app.user_id.as_str());
    assert_eq!(store["username"], "jane");
    for field in ["createdAt", "modifiedAt", "accessedAt"] {
        assert!(is_timestamp(&store[field]), "{field}: {store}");
    }
    assert_eq!(store["actId"], Value::Null);
    assert_eq!(store["actRunId"], Value::Null);
    assert_eq!(store["stats"]["writeCount"], 0);
    let secret = str_at(&store, "/urlSigningSecretKey");
    assert!(secret.len() >= 20, "{store}");

    // The same name again: the same store, 200.
    let res = app
        .post("/v2/key-value-stores?name=actor-abc-source")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    let again = data(res).await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["urlSigningSecretKey"], secret);

    // Without a name: a new unnamed store every time.
    let res = app.post("/v2/key-value-stores").send().await.expect("post");
    assert_eq!(res.status(), 201);
    let unnamed = data(res).await;
    assert_eq!(unnamed["name"], Value::Null);
    assert_ne!(unnamed["id"], id.as_str());

    // Found by id, by `username~name` and by `~name`.
    for path in [
        id.clone(),
        "jane~actor-abc-source".into(),
        "~actor-abc-source".into(),
    ] {
        let res = app
            .get(&format!("/v2/key-value-stores/{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(data(res).await["id"], id.as_str(), "{path}");
    }

    // Another user has a store of the same name of their own.
    let other = app.other_user("joe").await;
    let res = app
        .client
        .post(app.url("/v2/key-value-stores?name=actor-abc-source"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_ne!(data(res).await["id"], id.as_str());

    let res = app
        .post("/v2/key-value-stores?name=-bad-")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-parameter");

    let res = app
        .client
        .post(app.url("/v2/key-value-stores?name=x"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "token-not-provided");

    let res = app
        .get("/v2/key-value-stores/AbCdEfGhIjKlMnOpQ")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
}

#[tokio::test]
async fn records_round_trip_with_their_content_type() {
    let app = spawn_app().await;
    let store = create_store(&app, "files").await;
    let id = str_at(&store, "/id");

    put(
        &app,
        id,
        "page.html",
        "text/html; charset=utf-8",
        b"<p>hi</p>".to_vec(),
    )
    .await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    put(&app, id, "blob", "application/x-custom", binary.clone()).await;

    let res = app
        .get(&record_path(id, "page.html"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(res.text().await.expect("text"), "<p>hi</p>");

    let res = app
        .get(&format!(
            "{}?disableRedirect=true&attachment=true",
            record_path(id, "blob")
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/x-custom");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .is_ok_and(|v| v.starts_with("attachment")));
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), binary);

    // HEAD tells whether a record is there.
    let res = app
        .request(Method::HEAD, &record_path(id, "blob"))
        .send()
        .await
        .expect("head");
    assert_eq!(res.status(), 200);

    // A write replaces the value and its content type; without one it is octet-stream.
    put(&app, id, "page.html", "text/plain", b"plain".to_vec()).await;
    let res = app
        .get(&record_path(id, "page.html"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.headers()[CONTENT_TYPE], "text/plain");
    assert_eq!(res.text().await.expect("text"), "plain");
    let res = app
        .request(Method::PUT, &record_path(id, "raw"))
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201);
    let res = app.get(&record_path(id, "raw")).send().await.expect("get");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/octet-stream");

    let store = data(
        app.get(&format!("/v2/key-value-stores/{id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(store["stats"]["writeCount"], 4, "{store}");
    assert_eq!(store["stats"]["readCount"], 5, "{store}");
    assert_eq!(store["stats"]["s3StorageBytes"], 70_000 + 5 + 1, "{store}");

    let res = app
        .request(Method::DELETE, &record_path(id, "page.html"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let res = app
        .get(&record_path(id, "page.html"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
    // Deleting what is not there is fine too.
    let res = app
        .request(Method::DELETE, &record_path(id, "page.html"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);

    let res = app
        .request(Method::PUT, &record_path(id, "no%20spaces"))
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(res).await, "invalid-parameter");
}

#[tokio::test]
async fn compressed_bodies_are_stored_decoded() {
    let app = spawn_app().await;
    let store = create_store(&app, "compressed").await;
    let id = str_at(&store, "/id");
    let value: Vec<u8> = b"PK\x03\x04 pretend zip ".repeat(500);

    let res = app
        .request(Method::PUT, &record_path(id, "version-0.0.zip"))
        .header(CONTENT_TYPE, "application/zip")
        .header(CONTENT_ENCODING, "br")
        .body(brotli(&value))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201);
    let res = app
        .get(&record_path(id, "version-0.0.zip"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/zip");
    assert!(res.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), value);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"gzipped").expect("gzip");
    let res = app
        .request(Method::PUT, &record_path(id, "g"))
        .header(CONTENT_ENCODING, "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201);
    let res = app.get(&record_path(id, "g")).send().await.expect("get");
    assert_eq!(res.text().await.expect("text"), "gzipped");

    let res = app
        .request(Method::PUT, &record_path(id, "z"))
        .header(CONTENT_ENCODING, "zstd")
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 415);
    assert_eq!(error_type(res).await, "unsupported-content-encoding");
}

#[tokio::test]
async fn records_larger_than_the_limit_are_refused() {
    let app = spawn_app().await;
    let store = create_store(&app, "big").await;
    let id = str_at(&store, "/id");
    const LIMIT: usize = 9_437_184;

    // Exactly the limit fits.
    put(
        &app,
        id,
        "fits",
        "application/octet-stream",
        vec![1u8; LIMIT],
    )
    .await;

    let res = app
        .request(Method::PUT, &record_path(id, "too-big"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(vec![1u8; LIMIT + 1])
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 413);
    assert_eq!(error_type(res).await, "request-too-large");

    // A small brotli body that inflates past the limit.
    let res = app
        .request(Method::PUT, &record_path(id, "bomb"))
        .header(CONTENT_ENCODING, "br")
        .body(brotli(&vec![0u8; LIMIT + 1]))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 413);
    assert_eq!(error_type(res).await, "request-too-large");

    let res = app
        .get(&record_path(id, "too-big"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn records_are_read_without_a_token_only_with_a_valid_signature() {
    let app = spawn_app().await;
    let id = known_store(&app).await;
    put(
        &app,
        &id,
        "version-0.0.zip",
        "application/zip",
        b"zip bytes".to_vec(),
    )
    .await;
    put(&app, &id, "other", "text/plain", b"other".to_vec()).await;
    let anonymous = |query: &str| {
        app.client
            .get(app.url(&format!("{}{query}", record_path(&id, "version-0.0.zip"))))
            .send()
    };

    // The signature the CLI puts in a tarballUrl: over the record's key.
    let res = anonymous(&format!(
        "?disableRedirect=true&signature={RECORD_SIGNATURE}"
    ))
    .await
    .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/zip");
    assert_eq!(res.text().await.expect("text"), "zip bytes");

    // A signature of the whole store, as `createStorageContentSignature` makes it.
    let res = anonymous(&format!("?signature={STORE_SIGNATURE}"))
        .await
        .expect("get");
    assert_eq!(res.status(), 200);

    for query in [
        "".to_owned(),
        "?disableRedirect=true".to_owned(),
        "?signature=".to_owned(),
        "?signature=kT8Bv3GkBc89hdVSXS5m".to_owned(),
        "?signature=notbase64%21".to_owned(),
    ] {
        let res = anonymous(&query).await.expect("get");
        assert_eq!(res.status(), 401, "{query}");
        assert_eq!(error_type(res).await, "token-not-provided", "{query}");
    }

    // A record signature is good for its own key only.
    let res = app
        .client
        .get(app.url(&format!(
            "{}?signature={RECORD_SIGNATURE}",
            record_path(&id, "other")
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);

    // A token that is present but invalid is a 401 whatever the signature.
    let res = app
        .client
        .get(app.url(&format!(
            "{}?signature={RECORD_SIGNATURE}",
            record_path(&id, "version-0.0.zip")
        )))
        .bearer_auth("apify_api_not-a-token")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "user-or-token-not-found");

    // The owner reads without a signature.
    let res = app
        .get(&record_path(&id, "version-0.0.zip"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);

    // A signed URL of a record that is not there.
    let res = app
        .client
        .get(app.url(&format!(
            "{}?signature={STORE_SIGNATURE}",
            record_path(&id, "missing")
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
}

#[tokio::test]
async fn another_users_store_is_not_found() {
    let app = spawn_app().await;
    let store = create_store(&app, "private").await;
    let id = str_at(&store, "/id");
    put(&app, id, "secret", "text/plain", b"mine".to_vec()).await;
    let other = app.other_user("joe").await;
    let as_other = |method: Method, path: String| {
        app.client
            .request(method, app.url(&path))
            .bearer_auth(&other)
    };

    for (method, path) in [
        (Method::GET, format!("/v2/key-value-stores/{id}")),
        (Method::GET, "/v2/key-value-stores/jane~private".to_owned()),
        (Method::GET, record_path(id, "secret")),
        (Method::PUT, record_path(id, "secret")),
        (Method::DELETE, record_path(id, "secret")),
    ] {
        let res = as_other(method.clone(), path.clone())
            .body("theirs")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_eq!(error_type(res).await, "record-not-found", "{method} {path}");
    }
    // Nothing changed.
    let res = app
        .get(&record_path(id, "secret"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.text().await.expect("text"), "mine");
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn tarball_build_from_a_signed_record_url() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        (
            "BUILD_COMMAND",
            "cat marker.txt; echo; echo \"dockerfile=$ACTOR_DOCKERFILE\"",
        ),
    ])
    .await;
    let actor_json = json!({"actorSpecification": 1, "name": "big", "version": "0.1",
        "dockerfile": "../Dockerfile"})
    .to_string();
    let archive = zip_of(&[
        (".actor/actor.json", &actor_json),
        ("Dockerfile", "FROM scratch\n"),
        ("marker.txt", "from the key-value store"),
    ]);

    // What `apify push` does for large sources: a store per Actor, the zip uploaded brotli
    // compressed, and a tarballUrl signed with the store's secret.
    let store = create_store(&app, "actor-big-source").await;
    let store_id = str_at(&store, "/id");
    let secret = str_at(&store, "/urlSigningSecretKey");
    let res = app
        .request(Method::PUT, &record_path(store_id, "version-0.1.zip"))
        .header(CONTENT_TYPE, "application/zip")
        .header(CONTENT_ENCODING, "br")
        .body(brotli(&archive))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201);
    let signature = actor_builds::domain::signature::hmac_signature(secret, "version-0.1.zip");
    let unsigned = app.url(&format!(
        "{}?disableRedirect=true",
        record_path(store_id, "version-0.1.zip")
    ));
    let signed = format!("{unsigned}&signature={signature}");

    let res = app
        .post("/v2/actors")
        .json(&json!({"name": "big", "versions": [
            {"versionNumber": "0.1", "sourceType": "TARBALL", "tarballUrl": signed},
            {"versionNumber": "0.2", "sourceType": "TARBALL", "tarballUrl": unsigned},
        ]}))
        .send()
        .await
        .expect("actor");
    assert_eq!(res.status(), 201);

    let res = app
        .post("/v2/actors/jane~big/builds?version=0.1&waitForFinish=60")
        .send()
        .await
        .expect("build");
    assert_eq!(res.status(), 201);
    let build = data(res).await;
    assert_eq!(build["status"], "SUCCEEDED", "{build}");
    assert_eq!(build["actorDefinition"]["name"], "big");
    let id = str_at(&build, "/id");
    let lines = app.log_lines(id).await;
    assert!(
        lines.iter().any(|l| l == "from the key-value store"),
        "{lines:?}"
    );

    // Without the signature the worker, which has no token, is refused.
    let res = app
        .post("/v2/actors/jane~big/builds?version=0.2&waitForFinish=60")
        .send()
        .await
        .expect("build");
    let build = data(res).await;
    assert_eq!(build["status"], "FAILED", "{build}");
    let log = app.log(str_at(&build, "/id")).await;
    assert!(log.contains("HTTP 401"), "{log}");
}

/// The store routes are in the service's OpenAPI document, with their errors.
#[tokio::test]
async fn key_value_store_routes_are_documented() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let records = "/v2/key-value-stores/{storeId}/records/{key}";
    for (path, method, success) in [
        ("/v2/key-value-stores", "post", "201"),
        ("/v2/key-value-stores", "post", "200"),
        ("/v2/key-value-stores/{storeId}", "get", "200"),
        (records, "put", "201"),
        (records, "get", "200"),
        (records, "head", "200"),
        (records, "delete", "204"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is missing");
        for status in [success, "400", "401", "404", "413"] {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path}: {status}"
            );
        }
    }
    let store = &doc["components"]["schemas"]["KeyValueStore"]["properties"];
    for field in [
        "id",
        "name",
        "userId",
        "username",
        "stats",
        "urlSigningSecretKey",
    ] {
        assert!(store[field].is_object(), "KeyValueStore.{field}");
    }
}
