//! The web console under /console: sign-in and its cookie, pages that need it, CSRF, escaping,
//! other users' builds, abort, and the live streams.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, str_at, TestApp};

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `name="csrf"` in a page.
fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field in the page") + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("CSRF value")
        .to_owned()
}

/// `name=value` of the named cookie among a response's Set-Cookie headers, and the whole header.
fn set_cookie(res: &Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_owned();
            (pair, v.to_owned())
        })
}

fn is_html(res: &Response) -> bool {
    res.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// A browser session of the console: its cookie and its CSRF token.
pub(crate) struct Console<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl<'a> Console<'a> {
    /// Signs in with `token` through the sign-in form, as a browser would.
    pub(crate) async fn sign_in(app: &'a TestApp, token: &str) -> Console<'a> {
        let client = no_redirects();
        let form = client
            .get(app.url("/console/sign-in"))
            .send()
            .await
            .expect("sign-in form");
        assert_eq!(form.status(), 200);
        let (pre, _) = set_cookie(&form, "console_sign_in").expect("sign-in cookie");
        let csrf = csrf_in(&form.text().await.expect("page"));
        let res = client
            .post(app.url("/console/sign-in"))
            .header(COOKIE, &pre)
            .form(&[("token", token), ("csrf", &csrf)])
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let (cookie, _) = set_cookie(&res, "console_session").expect("session cookie");
        let mut console = Console {
            app,
            client,
            cookie,
            csrf: String::new(),
        };
        let page = console.get("/console/builds").await;
        assert_eq!(page.status(), 200);
        console.csrf = csrf_in(&page.text().await.expect("page"));
        console
    }

    fn with_cookie(&self, req: RequestBuilder) -> RequestBuilder {
        req.header(COOKIE, &self.cookie)
    }

    async fn get(&self, path: &str) -> Response {
        self.with_cookie(self.client.get(self.app.url(path)))
            .send()
            .await
            .expect("GET")
    }

    pub(crate) async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(is_html(&res), "{path}");
        res.text().await.expect("page")
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.with_cookie(self.client.post(self.app.url(path)))
            .form(form)
            .send()
            .await
            .expect("POST")
    }
}

fn id_of(v: &Value) -> String {
    str_at(v, "/id").to_owned()
}

#[tokio::test]
async fn sign_in_sets_an_http_only_strict_cookie_and_sign_out_clears_it() {
    let app = spawn_app().await;
    let client = no_redirects();

    let form = client
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), 200);
    assert!(is_html(&form));
    let (pre, pre_header) = set_cookie(&form, "console_sign_in").expect("sign-in cookie");
    assert!(pre_header.contains("HttpOnly") && pre_header.contains("SameSite=Strict"));
    let csrf = csrf_in(&form.text().await.expect("page"));

    // A wrong token: the form again, with a message, and no session.
    let res = client
        .post(app.url("/console/sign-in"))
        .header(COOKIE, &pre)
        .form(&[("token", "apify_api_nope"), ("csrf", &csrf)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 401);
    assert!(set_cookie(&res, "console_session").is_none());
    assert!(res
        .text()
        .await
        .expect("page")
        .contains("unknown or was revoked"));

    // The right one: a session cookie the page's scripts cannot read, for the console only.
    let res = client
        .post(app.url("/console/sign-in"))
        .header(COOKIE, &pre)
        .form(&[
            ("token", app.token.as_str()),
            ("csrf", &csrf),
            ("next", "/console/actors"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/console/actors")
    );
    let (pair, header) = set_cookie(&res, "console_session").expect("session cookie");
    // The cookie names a server-side session; it never holds the API token.
    assert!(pair.starts_with("console_session="), "{pair}");
    assert!(!pair.contains(app.token.as_str()), "{pair}");
    assert!(pair.len() > "console_session=".len() + 32, "{pair}");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Strict"), "{header}");
    assert!(header.contains("Path=/console"), "{header}");

    // An address elsewhere is not followed after signing in.
    let res = client
        .post(app.url("/console/sign-in"))
        .header(COOKIE, &pre)
        .form(&[
            ("token", app.token.as_str()),
            ("csrf", &csrf),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        res.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("/console/builds")
    );

    // Sign-out clears the cookie.
    let console = Console::sign_in(&app, &app.token).await;
    let res = console
        .post("/console/sign-out", &[("csrf", &console.csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (pair, header) = set_cookie(&res, "console_session").expect("cleared cookie");
    assert_eq!(pair, "console_session=");
    assert!(header.contains("Max-Age=0"), "{header}");
}

#[tokio::test]
async fn sign_in_without_its_form_cookie_is_refused() {
    let app = spawn_app().await;
    let client = no_redirects();
    let form = client
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .expect("form");
    let csrf = csrf_in(&form.text().await.expect("page"));
    // As a form on another site would post it: no cookie (SameSite=Strict) or no matching token.
    let res = client
        .post(app.url("/console/sign-in"))
        .form(&[("token", app.token.as_str()), ("csrf", &csrf)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 403);
    assert!(is_html(&res));
    assert!(set_cookie(&res, "console_session").is_none());
}

#[tokio::test]
async fn pages_need_the_session_cookie() {
    let app = spawn_app().await;
    let actor = app.create_actor("needs-cookie").await;
    let build = app.create_build(&id_of(&actor)).await;
    let client = no_redirects();
    for path in [
        "/console/builds".to_owned(),
        "/console/actors".to_owned(),
        format!("/console/actors/{}", id_of(&actor)),
        format!("/console/builds/{}", id_of(&build)),
        format!("/console/builds/{}/log", id_of(&build)),
        format!("/console/live/builds/{}", id_of(&build)),
    ] {
        let res = client.get(app.url(&path)).send().await.expect("GET");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            location.starts_with("/console/sign-in?next=%2Fconsole%2F"),
            "{path}: {location}"
        );
        // The API token in the URL or a header is not a console session.
        let res = client
            .get(app.url(&format!("{path}?token={}", app.token)))
            .bearer_auth(&app.token)
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    // A cookie with a token that is not valid (any more) is cleared.
    let res = client
        .get(app.url("/console/builds"))
        .header(COOKIE, "console_session=apify_api_revoked")
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (pair, _) = set_cookie(&res, "console_session").expect("cleared cookie");
    assert_eq!(pair, "console_session=");

    // With the cookie, every page is HTML with a strict content security policy.
    let console = Console::sign_in(&app, &app.token).await;
    let res = console.get("/console/builds").await;
    assert_eq!(res.status(), 200);
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = res.text().await.expect("page");
    assert!(page.contains(&id_of(&build)), "the build is listed");
    // Static files are served by the binary, without a session.
    let css = client
        .get(app.url("/console/static/console.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(css.status(), 200);
    let js = client
        .get(app.url("/console/static/console.js"))
        .send()
        .await
        .expect("js");
    assert_eq!(js.status(), 200);
    assert!(js.text().await.expect("js").contains("EventSource"));
}

#[tokio::test]
async fn state_changes_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let actor = app.create_actor("csrf").await;
    let build = app.create_build(&id_of(&actor)).await;
    let build_id = id_of(&build);
    let console = Console::sign_in(&app, &app.token).await;
    let other_token = app.other_user("mallory").await;
    let other = Console::sign_in(&app, &other_token).await;
    assert_ne!(console.csrf, other.csrf);

    let abort = format!("/console/builds/{build_id}/abort");
    let start = format!("/console/actors/{}/builds", id_of(&actor));
    let refused: [(&str, Vec<(&str, &str)>); 7] = [
        (abort.as_str(), vec![]),
        (abort.as_str(), vec![("csrf", "00ff")]),
        (abort.as_str(), vec![("csrf", other.csrf.as_str())]),
        (start.as_str(), vec![("version", "0.1")]),
        (
            start.as_str(),
            vec![("version", "0.1"), ("csrf", other.csrf.as_str())],
        ),
        ("/console/sign-out", vec![]),
        ("/console/sign-out", vec![("csrf", "nonsense")]),
    ];
    for (path, form) in refused {
        let res = console.post(path, &form).await;
        assert_eq!(res.status(), 403, "{path} {form:?}");
        assert!(is_html(&res), "{path}");
        assert!(set_cookie(&res, "console_session").is_none());
    }
    assert_eq!(app.db_status(&build_id).await, "READY");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM builds")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 1, "no build was started");

    // With the token, the same requests go through.
    let res = console
        .post(&start, &[("version", "0.1"), ("csrf", &console.csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.starts_with("/console/builds/"), "{location}");
    let new_id = location.trim_start_matches("/console/builds/");
    let new_build: Value = crate::helpers::data(
        app.get(&format!("/v2/actor-builds/{new_id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(new_build["buildNumber"], "0.1.2");
    assert_eq!(new_build["meta"]["origin"], "WEB");
    let page = console.page(&location).await;
    assert!(page.contains("0.1.2"));
}

#[tokio::test]
async fn script_in_a_title_or_a_log_line_is_shown_as_text() {
    let app = spawn_app().await;
    let script = "<script>window.__xss=1</script>";
    let res = app
        .post("/v2/actors")
        .json(&json!({
            "name": "xss",
            "title": script,
            "description": "<img src=x onerror=alert(1)>",
            "versions": [{"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
                          "sourceFiles": [{"name": "a", "format": "TEXT", "content": "x"}]}],
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let actor = crate::helpers::data(res).await;
    let build = app.create_build(&id_of(&actor)).await;
    let build_id = id_of(&build);
    sqlx::query("INSERT INTO build_log_lines (build_id, at, line) VALUES ($1, now(), $2)")
        .bind(&build_id)
        .bind(format!("step 1 {script} \"quoted\" & done"))
        .execute(&app.pool)
        .await
        .expect("log line");

    let console = Console::sign_in(&app, &app.token).await;
    for path in [
        "/console/builds".to_owned(),
        "/console/actors".to_owned(),
        format!("/console/actors/{}", id_of(&actor)),
        format!("/console/builds/{build_id}"),
    ] {
        let page = console.page(&path).await;
        assert!(!page.contains("<script>window"), "{path}");
        assert!(!page.contains("<img"), "{path}");
        assert!(
            page.contains("&lt;script&gt;window.__xss=1&lt;/script&gt;"),
            "{path} shows the text"
        );
    }
    let page = console.page(&format!("/console/builds/{build_id}")).await;
    assert!(page.contains(
        "step 1 &lt;script&gt;window.__xss=1&lt;/script&gt; &quot;quoted&quot; &amp; done"
    ));
}

#[tokio::test]
async fn another_users_builds_and_actors_are_not_found() {
    let app = spawn_app().await;
    let other_token = app.other_user("other").await;
    let res = app
        .client
        .post(app.url("/v2/actors"))
        .bearer_auth(&other_token)
        .json(&json!({"name": "theirs", "versions": [{"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": []}]}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let actor = crate::helpers::data(res).await;
    let res = app
        .client
        .post(app.url(&format!("/v2/actors/{}/builds?version=0.1", id_of(&actor))))
        .bearer_auth(&other_token)
        .send()
        .await
        .expect("build");
    let build = crate::helpers::data(res).await;
    let build_id = id_of(&build);

    let console = Console::sign_in(&app, &app.token).await;
    for path in [
        format!("/console/builds/{build_id}"),
        format!("/console/builds/{build_id}/log"),
        format!("/console/live/builds/{build_id}"),
        format!("/console/actors/{}", id_of(&actor)),
        "/console/actors/other~theirs".to_owned(),
        format!("/console/builds?actor={}", id_of(&actor)),
        "/console/builds/not-an-id".to_owned(),
        "/console/no-such-page".to_owned(),
    ] {
        let res = console.get(&path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(is_html(&res), "{path}: errors are pages, not JSON");
        let page = res.text().await.expect("page");
        assert!(page.contains("Not found"), "{path}");
    }
    for path in [
        format!("/console/builds/{build_id}/abort"),
        format!("/console/actors/{}/builds", id_of(&actor)),
    ] {
        let res = console
            .post(&path, &[("csrf", &console.csrf), ("version", "0.1")])
            .await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(is_html(&res), "{path}");
    }
    assert_eq!(app.db_status(&build_id).await, "READY");
    // The list shows only the user's own builds.
    let page = console.page("/console/builds").await;
    assert!(!page.contains(&build_id));
    // A wrong method is a page too.
    let res = console.post("/console/builds", &[]).await;
    assert_eq!(res.status(), 405);
    assert!(is_html(&res));
}

#[tokio::test]
async fn builds_list_filters_and_pages() {
    let app = spawn_app().await;
    let first = app.create_actor("first").await;
    let second = app.create_actor("second").await;
    let mut first_builds = Vec::new();
    for _ in 0..22 {
        first_builds.push(id_of(&app.create_build(&id_of(&first)).await));
    }
    let second_build = id_of(&app.create_build(&id_of(&second)).await);
    app.force_status(&first_builds[0], "SUCCEEDED").await;

    let console = Console::sign_in(&app, &app.token).await;
    let page = console.page("/console/builds").await;
    assert!(page.contains("23 builds"));
    assert!(page.contains(&second_build), "newest first");
    assert!(!page.contains(&first_builds[0]), "the oldest is on page 2");
    assert!(page.contains("Page 1 of 2"));
    let page = console.page("/console/builds?page=2").await;
    assert!(page.contains(&first_builds[0]));

    let page = console
        .page(&format!("/console/builds?actor={}", id_of(&second)))
        .await;
    assert!(page.contains("1 build"));
    assert!(page.contains(&second_build));
    assert!(!page.contains(&first_builds[1]));

    let page = console.page("/console/builds?status=SUCCEEDED").await;
    assert!(page.contains("1 build"));
    assert!(page.contains(&first_builds[0]));

    let res = console.get("/console/builds?status=BOGUS").await;
    assert_eq!(res.status(), 400);
    assert!(is_html(&res));
}

/// Reads a server-sent event stream until `until` is in what was read, or fails after `secs`.
async fn read_events_until(res: Response, until: &str, secs: u64) -> String {
    let mut body = res.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !text.contains(until) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => break,
            Err(_) => panic!("{until:?} did not come within {secs} s; got:\n{text}"),
        }
    }
    text
}

#[tokio::test]
async fn abort_through_the_console() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILD_COMMAND", "echo build started; sleep 30; echo never"),
    ])
    .await;
    let actor = app.create_actor("abort-me").await;
    let console = Console::sign_in(&app, &app.token).await;

    // Start it from the Actor's page and wait until it runs.
    let page = console
        .page(&format!("/console/actors/{}", id_of(&actor)))
        .await;
    assert!(page.contains("Build version 0.1"));
    let res = console
        .post(
            &format!("/console/actors/{}/builds", id_of(&actor)),
            &[("version", "0.1"), ("csrf", &console.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let build_id = location.trim_start_matches("/console/builds/").to_owned();

    // The live stream sends the log line and the status as they come.
    let stream = console
        .get(&format!("/console/live/builds/{build_id}?after=0"))
        .await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let list_stream = console
        .get(&format!("/console/live/builds?ids={build_id}"))
        .await;
    let mut body = stream.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(seen.contains("build started") && seen.contains("\"RUNNING\"")) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("the build never showed its log running: {seen} {other:?}"),
        }
    }
    assert!(seen.contains("event: log"), "{seen}");

    // The running build's page has the Abort button.
    let page = console.page(&location).await;
    assert!(page.contains("id=\"abort-form\""));

    // Abort as the page's script does it: an answer in JSON.
    let res = console
        .with_cookie(
            console
                .client
                .post(app.url(&format!("/console/builds/{build_id}/abort"))),
        )
        .header("Accept", "application/json")
        .form(&[("csrf", console.csrf.as_str())])
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["status"], "ABORTING");
    assert_eq!(answer["abortable"], false);

    // The stream shows ABORTING, then ABORTED, then ends.
    let mut rest = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => rest.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(None) => break,
            other => panic!("the stream did not end: {rest} {other:?}"),
        }
    }
    let aborting = rest.find("\"ABORTING\"").expect("ABORTING was sent");
    let aborted = rest.find("\"ABORTED\"").expect("ABORTED was sent");
    assert!(aborting < aborted, "{rest}");
    assert!(rest.contains("Build aborted by"), "{rest}");
    assert!(
        rest.trim_end().ends_with("data: {}"),
        "ends with `end`: {rest}"
    );
    assert!(!rest.contains("never"));

    // So does the list's stream.
    let list = read_events_until(list_stream, "event: end", 10).await;
    assert!(list.contains("\"ABORTED\""), "{list}");

    // The finished build's page has no Abort button.
    let page = console.page(&location).await;
    assert!(!page.contains("id=\"abort-form\""));
    assert!(page.contains("ABORTED"));

    // A READY build aborted by the plain form goes back to its page, ABORTED at once.
    let idle = spawn_app().await;
    let actor = idle.create_actor("idle").await;
    let build_id = id_of(&idle.create_build(&id_of(&actor)).await);
    let console = Console::sign_in(&idle, &idle.token).await;
    let res = console
        .post(
            &format!("/console/builds/{build_id}/abort"),
            &[("csrf", &console.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
        Some(format!("/console/builds/{build_id}").as_str())
    );
    assert_eq!(idle.db_status(&build_id).await, "ABORTED");
}

#[tokio::test]
async fn a_signed_out_session_cookie_no_longer_works() {
    let app = spawn_app().await;
    let console = Console::sign_in(&app, &app.token).await;
    assert!(!console.cookie.contains(app.token.as_str()));
    let res = console
        .post("/console/sign-out", &[("csrf", &console.csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Replaying the old cookie: the sign-in page, never the builds.
    let res = console.get("/console/builds").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.starts_with("/console/sign-in"), "{location}");
    // The API token itself stays valid: only the session ended.
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn revoking_the_token_ends_its_sessions() {
    let app = spawn_app().await;
    let console = Console::sign_in(&app, &app.token).await;
    let res = console.get("/console/builds").await;
    assert_eq!(res.status(), 200);
    let revoked = actor_builds::storage::users::revoke_token(&app.pool, &app.token)
        .await
        .expect("revoke");
    assert_eq!(revoked, actor_builds::storage::users::Revocation::Revoked);
    let res = console.get("/console/builds").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The cookie itself cannot be used as an API token either.
    let value = console.cookie.trim_start_matches("console_session=");
    let res = app
        .client
        .get(app.url("/v2/users/me"))
        .bearer_auth(value)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 401);
}
