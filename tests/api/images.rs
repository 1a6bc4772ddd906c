//! Real image builds through the API: buildah with RUN steps in OCI isolation (runc), pushed to
//! a real registry on loopback, read back with skopeo. Base images are made here from
//! busybox-static and served by a registry of the test's own, as `docker.io` is resolved there.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, str_at, TestApp};
use crate::registry::{Registry, BUSYBOX_BASE};

/// The app with the buildah builder, its base images from `bases`, pushing to `images`.
struct ImageApp {
    app: TestApp,
    /// Serves the base images; kept alive with the app.
    _bases: Registry,
    images: Registry,
}

async fn image_app(env: &[(&str, &str)]) -> ImageApp {
    let bases = Registry::start();
    bases.push_base_image("apify/actor-node:24", BUSYBOX_BASE);
    let images = Registry::start();
    let conf = bases.registries_conf();
    let repository = format!("{}/actors", images.host());
    let mut all = vec![
        ("WORKER_CONCURRENCY", "2"),
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
            let out = std::process::Command::new("buildah")
                .arg("--root")
                .arg(store.join("root"))
                .arg("--runroot")
                .arg(store.join("run"))
                .args(["--storage-driver", "vfs", "containers", "--quiet"])
                .output()
                .expect("buildah containers");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
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

const MULTI_STAGE: &str = "FROM apify/actor-node:24 AS builder
WORKDIR /build
COPY src ./src
RUN echo \"compiled $(cat src/main.txt)\" > out.txt && echo builder-step-ran
FROM apify/actor-node:24
COPY --from=builder --chown=myuser:myuser /build/out.txt /app/out.txt
COPY . /app
RUN cat /app/out.txt && echo final-step-ran
USER myuser
";

#[tokio::test]
async fn a_multi_stage_dockerfile_becomes_a_pushed_image() {
    let t = image_app(&[]).await;
    let actor = t
        .actor(
            "multi-stage",
            &[("Dockerfile", MULTI_STAGE), ("src/main.txt", "hello")],
            json!({}),
        )
        .await;
    let id = t.build(&actor, false).await;
    let build = t.ended(&id, "SUCCEEDED").await;
    let name = format!("{}/actors/jane/multi-stage:0.1.1", t.images.host());
    assert_eq!(str_at(&build, "/imageName"), name);
    let (digest, size) = t
        .images
        .manifest("actors/jane/multi-stage:0.1.1")
        .expect("the image is in the registry");
    assert_eq!(str_at(&build, "/imageDigest"), digest);
    assert_eq!(build["stats"]["imageSizeBytes"], json!(size));
    assert!(size > 1_000_000, "busybox is in it: {size}");
    // The build's tag was pushed with the move of taggedBuilds.
    let latest = t.images.manifest("actors/jane/multi-stage:latest");
    assert_eq!(latest.map(|(d, _)| d), Some(digest.clone()));
    assert_eq!(t.tagged_latest(&actor).await.as_deref(), Some(id.as_str()));
    let lines = t.app.log_lines(&id).await;
    for expected in ["builder-step-ran", "compiled hello", "final-step-ran"] {
        assert!(lines.iter().any(|l| l == expected), "{expected}: {lines:?}");
    }
    // The console's build page shows the image.
    let console = crate::console::Console::sign_in(&t.app, &t.app.token).await;
    let page = console.page(&format!("/console/builds/{id}")).await;
    assert!(
        page.contains(&format!(r#"data-field="imageName">{name}<"#)),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"data-field="imageDigest">{digest}<"#)),
        "{page}"
    );
    wait_removed(&t.app.work_dir.join(&id)).await;
}

#[tokio::test]
async fn a_failing_run_step_fails_the_build_and_pushes_nothing() {
    let t = image_app(&[]).await;
    let dockerfile = "FROM apify/actor-node:24\nRUN echo about-to-fail && exit 3\n";
    let actor = t
        .actor("failing", &[("Dockerfile", dockerfile)], json!({}))
        .await;
    let id = t.build(&actor, false).await;
    let build = t.ended(&id, "FAILED").await;
    assert_eq!(build["imageName"], Value::Null);
    assert_eq!(build["imageDigest"], Value::Null);
    let lines = t.app.log_lines(&id).await;
    assert!(lines.iter().any(|l| l == "about-to-fail"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("A RUN step of the Dockerfile failed")),
        "{lines:?}"
    );
    assert_eq!(t.images.manifest("actors/jane/failing:0.1.1"), None);
    assert_eq!(t.tagged_latest(&actor).await, None);
}

/// A `RUN` step that starts a background child and then waits; `marker` tells its processes.
fn stuck_step(marker: u32) -> String {
    format!(
        "FROM apify/actor-node:24\nRUN (sleep {marker} &) ; echo step-started; sleep {}\n",
        marker + 1
    )
}

/// Nothing of build `id` is left: no process, no working container, no image, no tag, no work
/// directory.
async fn assert_nothing_left(t: &ImageApp, actor: &str, id: &str, marker: u32, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(&format!("sleep {marker}"), &t.app.work_dir);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes left: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(leftovers(&format!("sleep {}", marker + 1), &t.app.work_dir).is_empty());
    assert_eq!(t.cached_containers(), Vec::<String>::new());
    assert_eq!(
        t.images.manifest(&format!("actors/jane/{name}:0.1.1")),
        None
    );
    assert_eq!(
        t.images.manifest(&format!("actors/jane/{name}:latest")),
        None
    );
    assert_eq!(t.tagged_latest(actor).await, None);
    wait_removed(&t.app.work_dir.join(id)).await;
}

#[tokio::test]
async fn abort_in_the_middle_of_a_run_step_leaves_nothing() {
    let t = image_app(&[("ABORT_GRACE_SECS", "3")]).await;
    for (use_cache, marker) in [(false, 31411), (true, 31421)] {
        let name = format!("abortable-{use_cache}");
        let actor = t
            .actor(&name, &[("Dockerfile", &stuck_step(marker))], json!({}))
            .await;
        let id = t.build(&actor, use_cache).await;
        t.wait_for_line(&id, "step-started").await;
        assert!(!leftovers(&format!("sleep {marker}"), Path::new("/nowhere")).is_empty());
        let res = t
            .app
            .post(&format!("/v2/actor-builds/{id}/abort"))
            .send()
            .await
            .expect("abort");
        assert_eq!(res.status(), 200);
        let build = t.ended(&id, "ABORTED").await;
        assert_eq!(build["imageName"], Value::Null);
        assert_nothing_left(&t, &actor, &id, marker, &name).await;
    }
}

#[tokio::test]
async fn a_timeout_in_the_middle_of_a_run_step_leaves_nothing() {
    let t = image_app(&[("BUILD_TIMEOUT_SECS", "6"), ("ABORT_GRACE_SECS", "2")]).await;
    let marker = 31431;
    let actor = t
        .actor("slow", &[("Dockerfile", &stuck_step(marker))], json!({}))
        .await;
    let id = t.build(&actor, true).await;
    t.wait_for_line(&id, "step-started").await;
    t.ended(&id, "TIMED-OUT").await;
    assert_nothing_left(&t, &actor, &id, marker, "slow").await;
}

#[tokio::test]
async fn shutdown_in_the_middle_of_a_run_step_aborts_it_and_leaves_nothing() {
    let t = image_app(&[("SHUTDOWN_GRACE_SECS", "0"), ("ABORT_GRACE_SECS", "2")]).await;
    let marker = 31441;
    let actor = t
        .actor("stopped", &[("Dockerfile", &stuck_step(marker))], json!({}))
        .await;
    let id = t.build(&actor, false).await;
    t.wait_for_line(&id, "step-started").await;
    t.app.workers.as_ref().expect("slots").shutdown().await;
    let build = t.ended(&id, "ABORTED").await;
    assert_eq!(str_at(&build, "/abortedBy"), "SYSTEM");
    assert_nothing_left(&t, &actor, &id, marker, "stopped").await;
}

#[tokio::test]
async fn clean_rebuilds_give_the_same_digest_and_cached_ones_reuse_layers() {
    let t = image_app(&[]).await;
    let dockerfile = "FROM apify/actor-node:24\nARG FOO\nRUN echo \"foo=$FOO\" > /foo && echo ran-the-step\nCOPY . /app\n";
    let version =
        json!({"applyEnvVarsToBuild": true, "envVars": [{"name": "FOO", "value": "one"}]});
    let actor = t
        .actor("repeatable", &[("Dockerfile", dockerfile)], version)
        .await;
    let mut digests = Vec::new();
    for _ in 0..2 {
        let id = t.build(&actor, false).await;
        let build = t.ended(&id, "SUCCEEDED").await;
        let lines = t.app.log_lines(&id).await;
        assert!(
            lines.iter().any(|l| l
                .ends_with("(a clean build: the base image is pulled again, no layer is reused)")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l == "ran-the-step"), "{lines:?}");
        digests.push(str_at(&build, "/imageDigest").to_owned());
    }
    assert_eq!(digests[0], digests[1], "clean builds are reproducible");

    // Cached: the second build reuses the first one's layers.
    let first = t.build(&actor, true).await;
    t.ended(&first, "SUCCEEDED").await;
    let second = t.build(&actor, true).await;
    t.ended(&second, "SUCCEEDED").await;
    let lines = t.app.log_lines(&second).await;
    assert!(
        lines.iter().any(|l| l.starts_with("--> Using cache")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "ran-the-step"), "{lines:?}");

    // A changed build argument never reuses the layer that used it.
    let res = t
        .app
        .request(
            reqwest::Method::PUT,
            &format!("/v2/acts/{actor}/versions/0.1"),
        )
        .json(&json!({"envVars": [{"name": "FOO", "value": "two"}]}))
        .send()
        .await
        .expect("update version");
    assert_eq!(res.status(), 200);
    let third = t.build(&actor, true).await;
    t.ended(&third, "SUCCEEDED").await;
    let lines = t.app.log_lines(&third).await;
    assert!(lines.iter().any(|l| l == "ran-the-step"), "{lines:?}");
}

#[tokio::test]
async fn build_arguments_reach_run_steps_and_secret_values_are_masked() {
    let t = image_app(&[]).await;
    let dockerfile = "FROM apify/actor-node:24\nARG FOO\nARG TOKEN\nRUN echo \"foo=$FOO\" && echo \"token=$TOKEN\" && echo \"$TOKEN\" > /t\n";
    let vars = json!([
        {"name": "FOO", "value": "bar"},
        {"name": "TOKEN", "value": "tok-5ecret-value", "isSecret": true}
    ]);
    let applied = t
        .actor(
            "with-args",
            &[("Dockerfile", dockerfile)],
            json!({"applyEnvVarsToBuild": true, "envVars": vars}),
        )
        .await;
    let id = t.build(&applied, false).await;
    t.ended(&id, "SUCCEEDED").await;
    let log = t.app.log(&id).await;
    let lines = t.app.log_lines(&id).await;
    assert!(lines.iter().any(|l| l == "foo=bar"), "{log}");
    assert!(lines.iter().any(|l| l == "token=********"), "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l == "Build arguments: FOO, TOKEN (secret)"),
        "{log}"
    );
    assert!(!log.contains("tok-5ecret-value"), "{log}");
    // Nor does the image: its history, where build arguments are recorded, is left out.
    let config = t.images.config("actors/jane/with-args:0.1.1");
    assert!(!config.contains("tok-5ecret-value"), "{config}");

    let not_applied = t
        .actor(
            "without-args",
            &[("Dockerfile", dockerfile)],
            json!({"applyEnvVarsToBuild": false, "envVars": vars}),
        )
        .await;
    let id = t.build(&not_applied, false).await;
    t.ended(&id, "SUCCEEDED").await;
    let lines = t.app.log_lines(&id).await;
    assert!(lines.iter().any(|l| l == "foo="), "{lines:?}");
    assert!(lines.iter().any(|l| l == "token="), "{lines:?}");
}

#[tokio::test]
async fn a_registry_that_is_down_fails_the_build_and_moves_no_tag() {
    let mut t = image_app(&[]).await;
    let dockerfile = "FROM apify/actor-node:24\nCOPY . /app\n";
    let actor = t
        .actor("unpushable", &[("Dockerfile", dockerfile)], json!({}))
        .await;
    let first = t.build(&actor, false).await;
    t.ended(&first, "SUCCEEDED").await;
    assert_eq!(
        t.tagged_latest(&actor).await.as_deref(),
        Some(first.as_str())
    );

    t.images.stop();
    let second = t.build(&actor, false).await;
    let build = t.ended(&second, "FAILED").await;
    assert_eq!(build["imageName"], Value::Null);
    let lines = t.app.log_lines(&second).await;
    assert!(
        lines.iter().any(|l| l.contains("could not be reached")),
        "{lines:?}"
    );
    assert_eq!(
        t.tagged_latest(&actor).await.as_deref(),
        Some(first.as_str())
    );
}

#[tokio::test]
async fn failures_say_what_to_do() {
    let t = image_app(&[]).await;
    let cases = [
        (
            "no-dockerfile",
            "README.md",
            "no Dockerfile here",
            "No Dockerfile was found",
        ),
        (
            "no-base-image",
            "Dockerfile",
            "FROM apify/actor-nothing:1\n",
            "apify/actor-nothing:1 was not found",
        ),
        (
            "bad-dockerfile",
            "Dockerfile",
            "FROMM apify/actor-node:24\n",
            "The Dockerfile is not valid",
        ),
    ];
    for (name, file, content, expected) in cases {
        let actor = t.actor(name, &[(file, content)], json!({})).await;
        let id = t.build(&actor, false).await;
        t.ended(&id, "FAILED").await;
        let lines = t.app.log_lines(&id).await;
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "{name}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_builder_fails_builds_saying_what_to_install() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILDER", "podman")]).await;
    let actor = app
        .create_actor_with_files("no-builder", &[("Dockerfile", "FROM scratch\n")])
        .await;
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    let build = app.wait_for_status(&id, &["FAILED", "SUCCEEDED"], 60).await;
    assert_eq!(str_at(&build, "/status"), "FAILED");
    let lines = app.log_lines(&id).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("BUILDER=podman, but podman is not installed on this worker")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn without_a_repository_the_image_stays_in_the_local_store() {
    let bases = Registry::start();
    bases.push_base_image("apify/actor-node:24", BUSYBOX_BASE);
    let conf = bases.registries_conf();
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILDER", "buildah"),
        ("CONTAINERS_REGISTRIES_CONF", conf.to_str().expect("path")),
    ])
    .await;
    let actor = app
        .create_actor_with_files(
            "local-only",
            &[("Dockerfile", "FROM apify/actor-node:24\nCOPY . /app\n")],
        )
        .await;
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    let build = app
        .wait_for_status(&id, &["FAILED", "SUCCEEDED"], 120)
        .await;
    assert_eq!(
        str_at(&build, "/status"),
        "SUCCEEDED",
        "{}",
        app.log(&id).await
    );
    assert_eq!(
        str_at(&build, "/imageName"),
        "localhost/jane/local-only:0.1.1"
    );
    let lines = app.log_lines(&id).await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("IMAGE_REPOSITORY is not set: the image stays")),
        "{lines:?}"
    );
    let local = app.work_dir.join(".images/local");
    let out = std::process::Command::new("buildah")
        .arg("--root")
        .arg(local.join("root"))
        .arg("--runroot")
        .arg(local.join("run"))
        .args([
            "--storage-driver",
            "vfs",
            "images",
            "--digests",
            "--format",
            "{{.Name}}:{{.Tag}} {{.Digest}}",
        ])
        .output()
        .expect("buildah images");
    let images: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    let digest = str_at(&build, "/imageDigest").to_owned();
    for name in [
        "localhost/jane/local-only:0.1.1",
        "localhost/jane/local-only:latest",
    ] {
        assert!(
            images.contains(&vec![name.to_owned(), digest.clone()]),
            "{name} {digest}: {images:?}"
        );
    }
}

#[tokio::test]
async fn registry_credentials_come_from_the_auth_file_and_never_reach_the_log() {
    use crate::registry::PUSHER;
    let bases = Registry::start();
    bases.push_base_image("apify/actor-node:24", BUSYBOX_BASE);
    let conf = bases.registries_conf();
    let images = Registry::start_with_login();
    let repository = format!("{}/actors", images.host());
    let dockerfile = "FROM apify/actor-node:24\nCOPY . /app\n";
    for (password, expected) in [(PUSHER.1, "SUCCEEDED"), ("wrong-password", "FAILED")] {
        let auth = images.auth_file(password);
        let app = spawn_app_with(&[
            ("WORKER_CONCURRENCY", "1"),
            ("BUILDER", "buildah"),
            ("IMAGE_REPOSITORY", &repository),
            ("REGISTRY_TLS_VERIFY", "false"),
            ("CONTAINERS_REGISTRIES_CONF", conf.to_str().expect("path")),
            ("REGISTRY_AUTH_FILE", auth.to_str().expect("path")),
        ])
        .await;
        let actor = app
            .create_actor_with_files("guarded", &[("Dockerfile", dockerfile)])
            .await;
        let actor_id = str_at(&actor, "/id").to_owned();
        let id = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
        let build = app
            .wait_for_status(&id, &["FAILED", "SUCCEEDED"], 120)
            .await;
        let log = app.log(&id).await;
        assert_eq!(str_at(&build, "/status"), expected, "{log}");
        assert!(!log.contains(password), "{log}");
        let tagged = &build["imageDigest"];
        if expected == "SUCCEEDED" {
            let pushed = images
                .manifest("actors/jane/guarded:latest")
                .map(|(d, _)| d);
            assert_eq!(pushed.as_deref(), tagged.as_str());
        } else {
            assert!(log.contains("refused the credentials"), "{log}");
            assert_eq!(tagged, &Value::Null);
        }
    }
}

#[tokio::test]
async fn a_cached_build_first_clears_what_a_dead_worker_left_in_its_cache() {
    let t = image_app(&[("WORKER_CONCURRENCY", "1")]).await;
    // A working container, as a build of a worker killed mid-build leaves it.
    let cache = t.app.work_dir.join(".images/cache-0");
    let out = std::process::Command::new("buildah")
        .arg("--root")
        .arg(cache.join("root"))
        .arg("--runroot")
        .arg(cache.join("run"))
        .args(["--storage-driver", "vfs", "from", "scratch"])
        .output()
        .expect("buildah from");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.cached_containers().len(), 1);
    let dockerfile = "FROM apify/actor-node:24\nCOPY . /app\n";
    let actor = t
        .actor("after-a-crash", &[("Dockerfile", dockerfile)], json!({}))
        .await;
    let id = t.build(&actor, true).await;
    t.ended(&id, "SUCCEEDED").await;
    assert_eq!(t.cached_containers(), Vec::<String>::new());
}
