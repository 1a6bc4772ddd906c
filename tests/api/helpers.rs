use std::str::FromStr;
use std::sync::Arc;

use actor_builds::app::App;
use actor_builds::events::BuildEvents;
use actor_builds::settings::Settings;
use actor_builds::storage::users;
use actor_builds::worker::WorkerPool;

pub use crate::chaos::ChaosProxy;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

#[allow(dead_code)] // Not every test binary module reads every field.
pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub token: String,
    pub user_id: String,
    pub client: reqwest::Client,
    pub settings: Arc<Settings>,
    pub events: BuildEvents,
    pub workers: Option<WorkerPool>,
    pub work_dir: std::path::PathBuf,
    /// `http://127.0.0.1:<port>` of the metrics listener.
    pub metrics_address: String,
    db_name: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The key of secret values in tests (processes a test starts get it too).
pub const TEST_SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A fresh database with migrations applied; dropped with the `TestApp`.
pub async fn fresh_database() -> (String, String) {
    let admin = admin_url();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to Postgres (is it running?)");
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    (name, url.to_string())
}

/// `database_url` with the proxy on 127.0.0.1:`port` in place of the server: the rest of it
/// (user, password, database, parameters) is kept.
pub fn proxied_url(database_url: &str, port: u16) -> String {
    let mut url = url::Url::parse(database_url).expect("a database URL");
    // A host or port given as a parameter would win over the URL's own.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !matches!(k.as_ref(), "host" | "hostaddr" | "port"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    url.set_host(Some("127.0.0.1")).expect("a host");
    url.set_port(Some(port)).expect("a port");
    url.to_string()
}

/// `host:port` of the Postgres server that `DATABASE_URL` names.
pub fn database_server() -> String {
    let options = PgConnectOptions::from_str(&admin_url()).expect("DATABASE_URL");
    let host = options.get_host();
    assert!(
        !host.starts_with('/'),
        "a proxy needs Postgres over TCP, not the socket {host}"
    );
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

/// Drops a database made by [`fresh_database`], whoever is still connected.
pub async fn drop_database(name: &str) {
    let mut conn = PgConnection::connect(&admin_url())
        .await
        .expect("connect to Postgres");
    conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .expect("drop test database");
}

/// The app with no build slots: builds stay READY unless a test moves them.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The app with settings overridden by `env` pairs (as the environment would give them).
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    spawn(env, None).await
}

/// The app whose build slots run builds through `executor`.
pub async fn spawn_app_with_executor(
    env: &[(&str, &str)],
    executor: Arc<dyn actor_builds::worker::executor::Executor>,
) -> TestApp {
    spawn_with(env, None, Some(executor)).await
}

/// The app with its database reached through a proxy of the test's own, which can cut it.
pub async fn spawn_app_behind_proxy(env: &[(&str, &str)]) -> (TestApp, ChaosProxy) {
    let proxy = ChaosProxy::start(&database_server()).await;
    let app = spawn(env, Some(proxy.port())).await;
    (app, proxy)
}

async fn spawn(env: &[(&str, &str)], through_port: Option<u16>) -> TestApp {
    spawn_with(env, through_port, None).await
}

async fn spawn_with(
    env: &[(&str, &str)],
    through_port: Option<u16>,
    executor: Option<Arc<dyn actor_builds::worker::executor::Executor>>,
) -> TestApp {
    let (db_name, url) = fresh_database().await;
    let work_dir = std::env::temp_dir().join(format!("actor-builds-{db_name}"));
    let app_url = match through_port {
        Some(port) => proxied_url(&url, port),
        None => url.clone(),
    };
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), app_url),
        ("WORK_DIR".into(), work_dir.to_string_lossy().into_owned()),
        ("HEARTBEAT_SECS".into(), "1".into()),
        ("ABORT_GRACE_SECS".into(), "2".into()),
        ("POLL_INTERVAL_MS".into(), "1000".into()),
        ("DATABASE_POOL_SIZE".into(), "8".into()),
        ("WORKER_CONCURRENCY".into(), "0".into()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("METRICS_BIND_ADDR".into(), "127.0.0.1:0".into()),
        // Tests serve sources from 127.0.0.1.
        ("SOURCE_ALLOW_PRIVATE_TARGETS".into(), "true".into()),
        ("SECRETS_KEY".into(), TEST_SECRETS_KEY.into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_lookup(|key| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    })
    .expect("test settings");
    let settings = Arc::new(settings);
    // The app is built and run exactly as `serve` builds and runs it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = App::build_with(settings.clone(), Some(listener), executor)
        .await
        .expect("app");
    let address = format!("http://127.0.0.1:{}", app.port().expect("HTTP listener"));
    let metrics_address = format!(
        "http://127.0.0.1:{}",
        app.metrics_port().expect("metrics listener")
    );
    let events = app.events().clone();
    let workers = (settings.worker.concurrency > 0).then(|| app.workers());
    tokio::spawn(app.run_until(std::future::pending()));
    // The test's own pool always reaches the database directly.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("pool");
    let user = users::create_user(&pool, "jane").await.expect("user");
    let token = users::create_token(&pool, &user.id).await.expect("token");
    TestApp {
        address,
        pool,
        token,
        user_id: user.id.to_string(),
        client: reqwest::Client::new(),
        settings,
        events,
        workers,
        work_dir,
        metrics_address,
        db_name,
        admin_url: admin_url(),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.db_name.clone();
        let _ = std::fs::remove_dir_all(&self.work_dir);
        // Drop the database from a thread of its own: `Drop` cannot await. FORCE ends the
        // connections the app still holds (its pool and its LISTEN connection).
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                        )
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The text of `/metrics` on the metrics listener.
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("metrics");
        assert_eq!(res.status(), 200, "metrics listener");
        res.text().await.expect("metrics text")
    }

    /// A value of the metrics text: the first sample whose line starts with `series`.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {series} in the metrics: {text}"))
    }

    /// A request with the test user's token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// A second user with a token of their own.
    pub async fn other_user(&self, username: &str) -> String {
        let user = users::create_user(&self.pool, username)
            .await
            .expect("user");
        users::create_token(&self.pool, &user.id)
            .await
            .expect("token")
    }

    /// Creates an Actor with version 0.1 of SOURCE_FILES and returns its JSON.
    pub async fn create_actor(&self, name: &str) -> Value {
        let res = self
            .post("/v2/actors")
            .json(&json!({
                "name": name,
                "versions": [{
                    "versionNumber": "0.1",
                    "sourceType": "SOURCE_FILES",
                    "sourceFiles": [{"name": "main.sh", "format": "TEXT", "content": "echo hi"}],
                }],
            }))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "create actor");
        res.json::<Value>().await.expect("json")["data"].clone()
    }

    /// Starts a build of version 0.1 and returns its JSON.
    pub async fn create_build(&self, actor_id: &str) -> Value {
        let res = self
            .post(&format!("/v2/actors/{actor_id}/builds?version=0.1"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "create build");
        res.json::<Value>().await.expect("json")["data"].clone()
    }

    /// Moves a build to `status` directly in the database, through legal moves only.
    pub async fn force_status(&self, build_id: &str, status: &str) {
        let path: &[&str] = match status {
            "READY" => &[],
            "RUNNING" => &["RUNNING"],
            "ABORTING" => &["RUNNING", "ABORTING"],
            "TIMING-OUT" => &["RUNNING", "TIMING-OUT"],
            "SUCCEEDED" => &["RUNNING", "SUCCEEDED"],
            "FAILED" => &["RUNNING", "FAILED"],
            "ABORTED" => &["ABORTED"],
            "TIMED-OUT" => &["RUNNING", "TIMING-OUT", "TIMED-OUT"],
            other => panic!("unknown status {other}"),
        };
        for step in path {
            sqlx::query(
                "UPDATE builds SET status = $2,
                    finished_at = CASE WHEN $2 IN ('SUCCEEDED','FAILED','ABORTED','TIMED-OUT') THEN now() END
                 WHERE id = $1",
            )
            .bind(build_id)
            .bind(step)
            .execute(&self.pool)
            .await
            .expect("move build");
        }
    }

    /// Creates an Actor whose version 0.1 has the given source files (name, content).
    pub async fn create_actor_with_files(&self, name: &str, files: &[(&str, &str)]) -> Value {
        let files: Vec<Value> = files
            .iter()
            .map(|(n, c)| json!({"name": n, "format": "TEXT", "content": c}))
            .collect();
        self.create_actor_with_source_files(name, "0.1", files)
            .await
    }

    /// Creates an Actor whose SOURCE_FILES version `version` holds `files` as the API takes
    /// them (`{name, format, content}`).
    pub async fn create_actor_with_source_files(
        &self,
        name: &str,
        version: &str,
        files: Vec<Value>,
    ) -> Value {
        let res = self
            .post("/v2/actors")
            .json(&json!({"name": name, "versions": [{"versionNumber": version, "sourceType": "SOURCE_FILES", "sourceFiles": files}]}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "create actor {name}");
        res.json::<Value>().await.expect("json")["data"].clone()
    }

    /// The build once it is in one of `statuses`, waiting up to `secs`.
    pub async fn wait_for_status(&self, build_id: &str, statuses: &[&str], secs: u64) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let build = data(
                self.get(&format!("/v2/actor-builds/{build_id}?waitForFinish=1"))
                    .send()
                    .await
                    .expect("get"),
            )
            .await;
            if statuses.iter().any(|s| build["status"] == *s) {
                return build;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "build {build_id} never reached {statuses:?}: {build}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The build's log as the API gives it.
    pub async fn log(&self, build_id: &str) -> String {
        let res = self
            .get(&format!("/v2/actor-builds/{build_id}/log"))
            .send()
            .await
            .expect("log");
        assert_eq!(res.status(), 200);
        res.text().await.expect("text")
    }

    /// The log's lines without their timestamps.
    pub async fn log_lines(&self, build_id: &str) -> Vec<String> {
        self.log(build_id)
            .await
            .lines()
            .map(|l| {
                l.split_once(' ')
                    .map(|(_, rest)| rest.to_owned())
                    .unwrap_or_default()
            })
            .collect()
    }

    pub async fn db_status(&self, build_id: &str) -> String {
        sqlx::query_scalar("SELECT status FROM builds WHERE id = $1")
            .bind(build_id)
            .fetch_one(&self.pool)
            .await
            .expect("status")
    }
}

/// The `{error: {type, message}}` of a response, checked for both keys.
pub async fn error_type(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("error body is JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["error"]["type"]
        .as_str()
        .expect("error.type")
        .to_owned()
}

/// The string at `pointer` (a JSON pointer: `/id`, `/data/items/0/id`). A missing field fails
/// here, naming it, rather than as an empty id and a 404 further on.
#[track_caller]
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

pub async fn data(res: reqwest::Response) -> Value {
    let body: Value = res.json().await.expect("JSON body");
    body["data"].clone()
}

/// The sum of the samples in the metrics `text` of series `name` whose labels include every one
/// of `labels` (0 when there is none). The recorder is the process's, fed by every test's app:
/// compare a reading taken before the test acts with one taken after, on series the test's own
/// requests make.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let has_label = |all: &str, key: &str, value: &str| {
        let pair = format!("{key}=\"{value}\"");
        all == pair
            || all.starts_with(&format!("{pair},"))
            || all.ends_with(&format!(",{pair}"))
            || all.contains(&format!(",{pair},"))
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (series_name, all) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            (series_name == name && labels.iter().all(|(k, v)| has_label(all, k, v)))
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// True when the text is an ISO-8601 UTC timestamp with milliseconds and `Z`.
pub fn is_timestamp(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 24
            && s.ends_with('Z')
            && s.as_bytes()[19] == b'.'
            && chrono::DateTime::parse_from_rfc3339(s).is_ok()
    })
}

/// Serves `body` over HTTP on a port of its own, to every request that comes; gives the URL of
/// `/{name}` there.
pub async fn serve_file(body: Vec<u8>, name: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}/{name}")
}
