//! Every public Actor template, unchanged, builds through the API into a real image in a
//! registry: buildah on the stand-in base images, pushed to a docker-registry of the test's own.

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{data, spawn_app_with, str_at, TestApp};
use crate::registry::{registries_conf, skopeo_manifest, template_dirs, Registry, ScratchDir};
use crate::stand_ins::StandIns;

/// How long one build may take, counted from when the test starts waiting for it.
const BUILD_TIMEOUT_SECS: u64 = 1200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_template_builds_into_the_registry() {
    let registry = Registry::start();
    StandIns::push(&registry);
    let conf_dir = ScratchDir::new("registries-conf");
    let conf = registries_conf(conf_dir.path(), &registry);
    let repository = format!("{}/actors", registry.host());
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        // Builds load the disk: leases of three heartbeats of 5 s, as by default.
        ("HEARTBEAT_SECS", "5"),
        ("BUILDER", "buildah"),
        ("IMAGE_REPOSITORY", &repository),
        ("REGISTRY_TLS_VERIFY", "false"),
        ("CONTAINERS_REGISTRIES_CONF", &conf.to_string_lossy()),
    ])
    .await;

    let mut started = Vec::new();
    for template in template_dirs() {
        let name = template
            .file_name()
            .expect("a template name")
            .to_string_lossy()
            .into_owned();
        let actor = app
            .create_actor_with_source_files(&name, "0.0", source_files(&template))
            .await;
        let build = start_build(&app, str_at(&actor, "/id")).await;
        started.push((name, str_at(&build, "/id").to_owned()));
    }

    for (name, build_id) in &started {
        let build = app
            .wait_for_status(
                build_id,
                &["SUCCEEDED", "FAILED", "ABORTED", "TIMED-OUT"],
                BUILD_TIMEOUT_SECS,
            )
            .await;
        assert_eq!(
            build["status"],
            "SUCCEEDED",
            "{name}: {build}\n{}",
            app.log(build_id).await
        );
        let build_number = str_at(&build, "/buildNumber");
        let image = format!("{repository}/jane/{name}:{build_number}").to_lowercase();
        assert_eq!(str_at(&build, "/imageName"), image, "{name}");

        let (digest, size, manifest) =
            skopeo_manifest(&registry, &format!("actors/jane/{name}:{build_number}"));
        assert_eq!(str_at(&build, "/imageDigest"), digest, "{name}: {manifest}");
        assert!(size > 0, "{name}: no layers in {manifest}");
        assert_eq!(
            build["stats"]["imageSizeBytes"].as_u64(),
            Some(size),
            "{name}: the layers of {manifest}"
        );
        // The version's build tag (latest by default) names the same image.
        let (latest, _, _) = skopeo_manifest(&registry, &format!("actors/jane/{name}:latest"));
        assert_eq!(latest, digest, "{name}: the latest tag");
    }
}

/// Starts a build of version 0.0 without the layer cache and returns its JSON.
async fn start_build(app: &TestApp, actor_id: &str) -> Value {
    let res = app
        .post(&format!(
            "/v2/acts/{actor_id}/builds?version=0.0&useCache=false"
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201, "start a build of {actor_id}");
    data(res).await
}

/// Every file under `dir` as a source file: TEXT when it is UTF-8, BASE64 otherwise.
fn source_files(dir: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files);
    files.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    files
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<Value>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_files(root, &path, files);
            continue;
        }
        let name = path
            .strip_prefix(root)
            .expect("under the template")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        files.push(match String::from_utf8(bytes) {
            Ok(text) => json!({"name": name, "format": "TEXT", "content": text}),
            Err(e) => json!({
                "name": name,
                "format": "BASE64",
                "content": base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            }),
        });
    }
}
