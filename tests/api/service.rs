//! Service endpoints: metrics.

use crate::helpers::{data, metric_sum, spawn_app, str_at};

/// The recorder is shared with the other tests' apps: the counts this test's requests and
/// builds make are read as differences from a reading taken before.
#[tokio::test]
async fn metrics_in_prometheus_text() {
    let app = spawn_app().await;
    let aborts = [
        ("method", "POST"),
        ("route", "/v2/actor-builds/{buildId}/abort"),
        ("status", "200"),
    ];
    let creates = [
        ("method", "POST"),
        ("route", "/v2/actors/{actorId}/builds"),
        ("status", "201"),
    ];
    let creates_inf = [
        ("method", "POST"),
        ("route", "/v2/actors/{actorId}/builds"),
        ("status", "201"),
        ("le", "+Inf"),
    ];
    let ready_to_aborted = [("from", "READY"), ("to", "ABORTED")];
    let before = app.metrics().await;
    let actor = app.create_actor("measured").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(data(res).await["status"], "ABORTED");
    app.create_build(str_at(&actor, "/id")).await;

    let res = app
        .client
        .get(format!("{}/metrics", app.metrics_address))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = res.text().await.expect("text");
    let more = |name: &str, labels: &[(&str, &str)]| {
        metric_sum(&text, name, labels) - metric_sum(&before, name, labels)
    };
    assert!(more("http_requests_total", &aborts) >= 1.0, "{text}");
    assert!(
        more("http_request_duration_seconds_count", &creates) >= 2.0,
        "{text}"
    );
    assert!(
        more("http_request_duration_seconds_bucket", &creates_inf) >= 2.0,
        "{text}"
    );
    assert!(
        more("build_status_transitions_total", &ready_to_aborted) >= 1.0,
        "{text}"
    );
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(has("builds_queue_depth "), "{text}");
    assert!(has("builds_running "), "{text}");
    assert!(has("db_pool_connections "), "{text}");
    assert!(!text.contains(&app.token), "no secrets in metrics");
}

#[tokio::test]
async fn rate_limit_per_token() {
    let app = crate::helpers::spawn_app_with(&[("RATE_LIMIT_PER_SECOND", "5")]).await;
    let mut limited = 0;
    for _ in 0..20 {
        let res = app.get("/v2/users/me").send().await.expect("me");
        if res.status() == 429 {
            assert_eq!(crate::helpers::error_type(res).await, "rate-limit-exceeded");
            limited += 1;
        } else {
            assert_eq!(res.status(), 200);
        }
    }
    assert!(limited >= 10, "{limited} of 20 requests were limited");
    let other = app.other_user("bob").await;
    let res = app
        .client
        .get(app.url("/v2/users/me"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200, "another token has its own budget");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert_eq!(res.status(), 200, "the budget refills");
}

/// The service's own OpenAPI document names every /v2 route, with its parameters, body and errors.
#[tokio::test]
async fn openapi_document_of_the_service() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    let routes = [
        ("/v2/users/me", "get"),
        ("/v2/actors", "get"),
        ("/v2/actors", "post"),
        ("/v2/actors/{actorId}", "get"),
        ("/v2/actors/{actorId}", "put"),
        ("/v2/actors/{actorId}", "delete"),
        ("/v2/actors/{actorId}/versions", "get"),
        ("/v2/actors/{actorId}/versions", "post"),
        ("/v2/actors/{actorId}/versions/{versionNumber}", "get"),
        ("/v2/actors/{actorId}/versions/{versionNumber}", "put"),
        ("/v2/actors/{actorId}/versions/{versionNumber}", "post"),
        ("/v2/actors/{actorId}/versions/{versionNumber}", "delete"),
        ("/v2/actors/{actorId}/builds", "get"),
        ("/v2/actors/{actorId}/builds", "post"),
        ("/v2/actors/{actorId}/builds/default", "get"),
        ("/v2/actors/{actorId}/builds/{buildId}", "get"),
        ("/v2/actors/{actorId}/builds/{buildId}/abort", "post"),
        ("/v2/actors/{actorId}/builds/{buildId}/openapi.json", "get"),
        ("/v2/actor-builds", "get"),
        ("/v2/actor-builds/{buildId}", "get"),
        ("/v2/actor-builds/{buildId}", "delete"),
        ("/v2/actor-builds/{buildId}/abort", "post"),
        ("/v2/actor-builds/{buildId}/log", "get"),
        ("/v2/actor-builds/{buildId}/openapi.json", "get"),
        ("/v2/logs/{buildId}", "get"),
    ];
    let mut operation_ids = std::collections::HashSet::new();
    for (path, method) in routes {
        let legacy = path.replacen("/v2/actors", "/v2/acts", 1);
        let paths = if legacy == path {
            vec![legacy]
        } else {
            vec![path.to_owned(), legacy]
        };
        for path in paths {
            let op = &doc["paths"][&path][method];
            assert!(op.is_object(), "{method} {path} is missing");
            assert!(
                op["responses"]["404"].is_object() && op["responses"]["401"].is_object(),
                "{method} {path}"
            );
            assert!(
                operation_ids.insert(op["operationId"].to_string()),
                "{method} {path}: duplicate operationId"
            );
        }
    }
    // The image a build made, in the Build schema.
    let build = &doc["components"]["schemas"]["Build"]["properties"];
    for field in ["imageName", "imageDigest", "stats"] {
        assert!(build[field].is_object(), "Build.{field}: {build}");
    }
    let create = &doc["paths"]["/v2/actors/{actorId}/builds"]["post"];
    let params: Vec<&str> = create["parameters"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        params,
        [
            "actorId",
            "version",
            "useCache",
            "betaPackages",
            "tag",
            "waitForFinish"
        ]
    );
    assert_eq!(
        doc["paths"]["/v2/actors"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/ActorInput"
    );
    let build = &doc["components"]["schemas"]["Build"]["properties"];
    for field in [
        "id",
        "actId",
        "status",
        "buildNumber",
        "actorDefinition",
        "abortRequestedAt",
        "abortedBy",
    ] {
        assert!(build[field].is_object(), "Build.{field}");
    }
}

/// The query parameters are documented from the structs the handlers read them with, and the
/// error answers from `ApiError`'s own table.
#[tokio::test]
async fn openapi_documents_query_parameters_and_every_error_type() {
    use actor_builds::http::error::ApiError;

    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.expect("json");

    let op = &doc["paths"]["/v2/actor-builds"]["get"];
    let params = op["parameters"].as_array().expect("parameters");
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not documented"))
    };
    for (name, kind) in [
        ("offset", "integer"),
        ("limit", "integer"),
        ("desc", "boolean"),
    ] {
        let p = param(name);
        assert_eq!(p["in"], "query", "{name}");
        assert_eq!(p["required"], false, "{name}");
        assert_eq!(p["schema"]["type"], kind, "{name}");
        assert!(p["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(param("offset")["schema"]["minimum"], 0);
    assert_eq!(param("limit")["schema"]["minimum"], 0);
    assert_eq!(params.len(), 3, "{params:?}");

    let create = doc["paths"]["/v2/actors/{actorId}/builds"]["post"]["parameters"]
        .as_array()
        .expect("parameters of a new build");
    let of = |name: &str| create.iter().find(|p| p["name"] == name).cloned();
    assert_eq!(of("version").expect("version")["required"], true);
    assert_eq!(
        of("useCache").expect("useCache")["schema"]["type"],
        "boolean"
    );
    let wait = of("waitForFinish").expect("waitForFinish");
    assert_eq!(wait["schema"]["type"], "number");
    assert_eq!(wait["schema"]["minimum"], 0);
    assert_eq!(wait["schema"]["maximum"], 60);

    let responses = op["responses"].as_object().expect("responses");
    let described: String = responses
        .iter()
        .filter(|(status, _)| !status.starts_with('2'))
        .map(|(status, r)| format!("{status} {}\n", r["description"].as_str().unwrap_or("")))
        .collect();
    let known = [
        "token-not-provided",
        "user-or-token-not-found",
        "record-not-found",
        "page-not-found",
        "method-not-allowed",
        "invalid-parameter",
        "invalid-input",
        "version-already-exists",
        "actor-name-not-unique",
        "deleting-unfinished-build",
        "deleting-default-build",
        "request-too-large",
        "unsupported-content-encoding",
        "rate-limit-exceeded",
        "service-unavailable",
        "internal-server-error",
    ];
    let types = ApiError::ALL.iter().map(|k| k.error_type).chain(known);
    for kind in types {
        assert!(
            described.contains(kind),
            "{kind} is not described:\n{described}"
        );
    }
    for kind in ApiError::ALL {
        let status = kind.status.as_u16().to_string();
        let response = &responses[&status];
        assert!(
            response["description"]
                .as_str()
                .is_some_and(|d| d.contains(kind.error_type)),
            "{} is not under {status}",
            kind.error_type
        );
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }
}
