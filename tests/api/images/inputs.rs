//! What goes into an image build: the cache, build arguments and their secrets, the registry.

use serde_json::{json, Value};

use super::*;
use crate::helpers::{spawn_app_with, str_at};
use crate::registry::{Registry, BUSYBOX_BASE};

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
            // Builds load the disk: leases of three heartbeats of 5 s, as by default.
            ("HEARTBEAT_SECS", "5"),
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
