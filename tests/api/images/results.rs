//! What image builds make, and how they fail: pushed images, failing steps, the local store.

use serde_json::{json, Value};

use super::*;
use crate::helpers::{spawn_app_with, str_at};
use crate::registry::{Registry, BUSYBOX_BASE};

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
        // Builds load the disk: leases of three heartbeats of 5 s, as by default.
        ("HEARTBEAT_SECS", "5"),
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
    let format = "{{.Name}}:{{.Tag}} {{.Digest}}";
    let out = run(
        buildah(&local).args(["images", "--digests", "--format", format]),
        "buildah",
    );
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
