//! Real image builds through the API: buildah with RUN steps in OCI isolation (runc), pushed to
//! a real registry on loopback, read back with skopeo. Base images are made here from
//! busybox-static and served by a registry of the test's own, as `docker.io` is resolved there.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, str_at, TestApp};
use crate::registry::{buildah, run, Registry, BUSYBOX_BASE};

mod inputs;
mod results;
mod stopping;
/// The app with the buildah builder, its base images from `bases`, pushing to `images`.
struct ImageApp {
    pub(super) app: TestApp,
    /// Serves the base images; kept alive with the app.
    _bases: Registry,
    pub(super) images: Registry,
}

async fn image_app(env: &[(&str, &str)]) -> ImageApp {
    let bases = Registry::start();
    bases.push_base_image("apify/actor-node:24", BUSYBOX_BASE);
    let images = Registry::start();
    let conf = bases.registries_conf();
    let repository = format!("{}/actors", images.host());
    let mut all = vec![
        ("WORKER_CONCURRENCY", "2"),
        // Builds load the disk: leases of three heartbeats of 5 s, as by default.
        ("HEARTBEAT_SECS", "5"),
        ("BUILDER", "buildah"),
        ("IMAGE_REPOSITORY", repository.as_str()),
        ("REGISTRY_TLS_VERIFY", "false"),
        ("CONTAINERS_REGISTRIES_CONF", conf.to_str().expect("path")),
    ];
    all.extend_from_slice(env);
    let app = spawn_app_with(&all).await;
    ImageApp {
        app,
        _bases: bases,
        images,
    }
}

impl ImageApp {
    /// An Actor named `name` whose version 0.1 has these files, and these version fields.
    async fn actor(&self, name: &str, files: &[(&str, &str)], version: Value) -> String {
        let files: Vec<Value> = files
            .iter()
            .map(|(n, c)| json!({"name": n, "format": "TEXT", "content": c}))
            .collect();
        let mut v =
            json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": files});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), version.as_object()) {
            v.extend(extra.clone());
        }
        let res = self
            .app
            .post("/v2/acts")
            .json(&json!({"name": name, "versions": [v]}))
            .send()
            .await
            .expect("create actor");
        assert_eq!(res.status(), 201, "create actor");
        let body: Value = res.json().await.expect("json");
        str_at(&body, "/data/id").to_owned()
    }

    async fn build(&self, actor_id: &str, use_cache: bool) -> String {
        let res = self
            .app
            .post(&format!(
                "/v2/acts/{actor_id}/builds?version=0.1&useCache={use_cache}"
            ))
            .send()
            .await
            .expect("build");
        assert_eq!(res.status(), 201, "create build");
        let body: Value = res.json().await.expect("json");
        str_at(&body, "/data/id").to_owned()
    }

    /// The build once it ended, with its log printed when it is not `expected`.
    async fn ended(&self, id: &str, expected: &str) -> Value {
        let build = self
            .app
            .wait_for_status(id, &["SUCCEEDED", "FAILED", "ABORTED", "TIMED-OUT"], 180)
            .await;
        let status = str_at(&build, "/status");
        assert_eq!(status, expected, "log:\n{}", self.app.log(id).await);
        build
    }

    async fn wait_for_line(&self, id: &str, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.app.log_lines(id).await.iter().any(|l| l == line) {
            assert!(
                Instant::now() < deadline,
                "{line:?} never came: {}",
                self.app.log(id).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn tagged_latest(&self, actor_id: &str) -> Option<String> {
        let res = self
            .app
            .get(&format!("/v2/acts/{actor_id}"))
            .send()
            .await
            .expect("actor");
        let body: Value = res.json().await.expect("json");
        body["data"]["taggedBuilds"]["latest"]["buildId"]
            .as_str()
            .map(str::to_owned)
    }

    /// Working containers in the app's layer caches.
    fn cached_containers(&self) -> Vec<String> {
        let caches = self.app.work_dir.join(".images");
        let Ok(entries) = std::fs::read_dir(&caches) else {
            return Vec::new();
        };
        let mut all = Vec::new();
        for entry in entries.flatten() {
            let store = entry.path();
            if !store.join("root").exists() {
                continue;
            }
            let out = run(buildah(&store).args(["containers", "--quiet"]), "buildah");
            all.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_owned),
            );
        }
        all
    }
}

/// Live processes whose command line holds `marker`, or whose environment names `dir` (the
/// builder's processes carry their store's path in it).
fn leftovers(marker: &str, dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let own = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == own {
            continue;
        }
        let read = |what: &str| std::fs::read(entry.path().join(what)).unwrap_or_default();
        let stat = String::from_utf8_lossy(&read("stat")).into_owned();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if zombie {
            continue;
        }
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let environ = String::from_utf8_lossy(&read("environ")).into_owned();
        if cmdline.contains(marker) || environ.contains(&dir) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// The work directory goes right after the terminal write.
async fn wait_removed(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.exists() {
        assert!(
            Instant::now() < deadline,
            "{} is not removed",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
