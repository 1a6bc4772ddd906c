//! Image builders behind one interface. A builder decides the command lines that turn a build's
//! sources into an image (build, push, read back what was pushed), that point a tag at it, and
//! that clean up after it; the executor decides where those commands run.
//!
//! - `buildah` and `podman` (`containers`): no daemon, the build's own image store, `RUN` steps
//!   in OCI isolation (runc) unless the operator chose chroot, pushed with a digest file and read
//!   back with skopeo.
//! - `docker`: the daemon builds and pushes.
//! - `command`: `BUILD_COMMAND`, as it is; it makes no image the service knows of.
//!
//! A build's process writes its phase (`build`, `push`, `inspect`) and results (`digest`,
//! `manifest.json` or `size`) into the build's builder directory, which `result` reads back.

mod command;
mod containers;
mod diagnose;
mod docker;
mod stores;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::settings::{BuilderChoice, ImageSettings, RunIsolation};

pub use crate::domain::build_document::BuiltImage;
pub use diagnose::{diagnose, Phase};
pub use stores::{CacheStore, CacheStores};

/// What a builder needs to know of one build.
#[derive(Debug, Clone)]
pub struct ImageJob {
    /// The build's own builder directory (outside the sources), removed with the build.
    pub dir: PathBuf,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    /// The image's full name with the build number as its tag.
    pub image: String,
    /// The image's name without a tag, to which the build's tag is added.
    pub repository: String,
    pub use_cache: bool,
    /// `--build-arg NAME=VALUE` pairs, passed as positional parameters, never in the environment.
    pub build_args: Vec<String>,
    /// Some build argument is secret: the image gets no history, in which builders record the
    /// values of build arguments.
    pub secret_args: bool,
    /// Seconds since the epoch given to every file and the image's creation (reproducible builds).
    pub timestamp: i64,
    /// The layer cache lent to this build (`useCache`), when the builder keeps one.
    pub cache_store: Option<PathBuf>,
}

/// A command for the executor: `sh -c command sh args...` with `env` added to the build's own.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub trait ImageBuilder: Send + Sync {
    /// For logs: `buildah`, `podman`, `docker`, `command`.
    fn name(&self) -> &'static str;

    /// Whether builds make an image (and so need a Dockerfile, and get `imageName`).
    fn makes_images(&self) -> bool {
        true
    }

    /// Whether a build with `useCache` gets a layer cache of the worker's lent to it.
    fn keeps_layer_caches(&self) -> bool {
        false
    }

    /// The process that builds the image and pushes it (or keeps it in the local store).
    fn build(&self, job: &ImageJob) -> Plan;

    /// The process that points `repository:tag` at the build's image; `None` when there is
    /// nothing to tag.
    fn tag(&self, job: &ImageJob, image: &BuiltImage, tag: &str) -> Option<Plan>;

    /// After a build that did not succeed: what removes its leftovers from a store it shared.
    fn clean_up(&self, _job: &ImageJob) -> Option<Plan> {
        None
    }

    /// What the build made, read from the files its process wrote.
    fn result(&self, job: &ImageJob) -> Result<Option<BuiltImage>, String> {
        read_result(job).map(Some)
    }

    /// Where images stay when no repository is set, for the log.
    fn local_store(&self) -> String;
}

/// The worker's builder, chosen at its first build, and its layer caches.
pub struct Images {
    settings: ImageSettings,
    chosen: tokio::sync::OnceCell<Result<Arc<dyn ImageBuilder>, String>>,
    pub caches: CacheStores,
}

impl Images {
    /// Logs at once how `RUN` steps will be isolated.
    pub fn new(settings: ImageSettings) -> Self {
        match settings.run_isolation {
            RunIsolation::Oci => tracing::info!(
                runtime = %settings.oci_runtime,
                "RUN steps of image builds run in OCI isolation, each in its own namespaces"
            ),
            RunIsolation::Chroot => tracing::warn!(
                "RUN steps of image builds are isolated by chroot only (BUILD_ISOLATION=chroot): \
                 a step sees the host's processes; this does not keep tenants apart"
            ),
        }
        let caches = CacheStores::new(settings.store_dir.clone());
        Images {
            settings,
            chosen: tokio::sync::OnceCell::new(),
            caches,
        }
    }

    /// The builder, or the line that says why there is none.
    pub async fn builder(&self) -> Result<Arc<dyn ImageBuilder>, String> {
        self.chosen
            .get_or_init(|| async {
                let chosen = choose(&self.settings).await;
                match &chosen {
                    Ok(builder) => tracing::info!(builder = builder.name(), "image builder chosen"),
                    Err(problem) => tracing::error!(%problem, "no image builder"),
                }
                chosen
            })
            .await
            .clone()
    }
}

/// Picks the builder `BUILDER` names (probing the host for `auto`), or says what to install.
pub async fn choose(settings: &ImageSettings) -> Result<Arc<dyn ImageBuilder>, String> {
    let containers = |tool| -> Arc<dyn ImageBuilder> {
        Arc::new(containers::Containers::new(tool, settings.clone()))
    };
    match settings.builder {
        BuilderChoice::Command => Ok(Arc::new(command::Command::new(
            settings.build_command.clone().unwrap_or_default(),
        ))),
        BuilderChoice::Docker => Ok(Arc::new(docker::Docker::new(settings.clone()))),
        BuilderChoice::Buildah => {
            need(&["buildah", "skopeo"], "BUILDER=buildah").await?;
            Ok(containers(containers::Tool::Buildah))
        }
        BuilderChoice::Podman => {
            need(&["podman", "skopeo"], "BUILDER=podman").await?;
            Ok(containers(containers::Tool::Podman))
        }
        BuilderChoice::Auto => {
            if answers("docker", &["version", "--format", "{{.Server.Version}}"]).await {
                Ok(Arc::new(docker::Docker::new(settings.clone())))
            } else if answers("podman", &["--version"]).await
                && answers("skopeo", &["--version"]).await
            {
                Ok(containers(containers::Tool::Podman))
            } else if answers("buildah", &["--version"]).await
                && answers("skopeo", &["--version"]).await
            {
                Ok(containers(containers::Tool::Buildah))
            } else {
                Err(NO_BUILDER.to_owned())
            }
        }
    }
}

/// The log line of a worker without any builder.
pub const NO_BUILDER: &str =
    "No image builder was found on this worker (no docker daemon answers, \
    and neither podman nor buildah with skopeo is installed): install buildah, skopeo and runc \
    (Debian, Ubuntu: apt-get install buildah skopeo runc), or podman, or run a docker daemon; or \
    set BUILD_COMMAND to a command of your own";

async fn need(tools: &[&str], chosen: &str) -> Result<(), String> {
    for tool in tools {
        if !answers(tool, &["--version"]).await {
            return Err(format!(
                "{chosen}, but {tool} is not installed on this worker: install it \
                 (Debian, Ubuntu: apt-get install buildah skopeo runc)"
            ));
        }
    }
    Ok(())
}

/// Whether `program args` runs and succeeds within a few seconds.
async fn answers(program: &str, args: &[&str]) -> bool {
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(Duration::from_secs(5), run).await,
        Ok(Ok(status)) if status.success()
    )
}

/// The part of an image manifest read here.
#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    size: u64,
}

/// Reads `digest` and the size (the pushed manifest's layers, or `size`) of the builder
/// directory.
fn read_result(job: &ImageJob) -> Result<BuiltImage, String> {
    let read = |name: &str| -> Result<String, String> {
        std::fs::read_to_string(job.dir.join(name))
            .map(|text| text.trim().to_owned())
            .map_err(|e| format!("the builder wrote no {name}: {e}"))
    };
    let digest = read("digest")?;
    if !is_digest(&digest) {
        return Err(format!("the builder wrote {digest:?}, not an image digest"));
    }
    let size_bytes = match std::fs::read(job.dir.join("manifest.json")) {
        Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes)
            .map_err(|e| format!("the pushed manifest could not be read: {e}"))?
            .layers
            .iter()
            .map(|l| l.size)
            .sum(),
        Err(_) => read("size")?
            .parse()
            .map_err(|e| format!("the builder wrote a size that is no number: {e}"))?,
    };
    Ok(BuiltImage {
        name: job.image.clone(),
        digest,
        size_bytes,
    })
}

/// `sha256:` and 64 lower-case hex digits.
fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The builder directory of a build's work directory.
pub fn builder_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("image")
}

/// The image's repository (without tag) and full name: `{IMAGE_REPOSITORY}/{user}/{actor}` or,
/// with no repository, `localhost/{user}/{actor}`; lower case, as registries want names.
pub fn image_names(
    settings: &ImageSettings,
    username: &str,
    actor_name: &str,
    build_number: &str,
) -> (String, String) {
    let base = settings.repository.as_deref().unwrap_or("localhost");
    let repository = format!("{base}/{username}/{actor_name}").to_lowercase();
    let image = format!("{repository}:{build_number}");
    (repository, image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        assert!(is_digest(&format!("sha256:{}", "a1".repeat(32))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest(&format!("sha256:{}", "A1".repeat(32))));
        assert!(!is_digest(&"a1".repeat(32)));
    }

    #[test]
    fn sizes_come_from_the_manifest_layers() {
        let dir = std::env::temp_dir().join(format!("builder-result-{}", crate::domain::new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let digest = format!("sha256:{}", "0f".repeat(32));
        std::fs::write(dir.join("digest"), format!("{digest}\n")).expect("digest");
        std::fs::write(
            dir.join("manifest.json"),
            r#"{"schemaVersion":2,"config":{"size":7},"layers":[{"size":100},{"size":23}]}"#,
        )
        .expect("manifest");
        let job = ImageJob {
            dir: dir.clone(),
            context: dir.clone(),
            dockerfile: dir.join("Dockerfile"),
            image: "r/u/a:0.0.1".into(),
            repository: "r/u/a".into(),
            use_cache: false,
            build_args: vec![],
            secret_args: false,
            timestamp: 0,
            cache_store: None,
        };
        let built = read_result(&job).expect("result");
        assert_eq!(built.size_bytes, 123);
        assert_eq!(built.digest, digest);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
