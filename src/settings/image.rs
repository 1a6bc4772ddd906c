//! Settings of image builds: which builder, where images go, how `RUN` steps are isolated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Reader, SettingsError};

/// `BUILDER`: what turns a build's sources into an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderChoice {
    /// A docker daemon that answers, else podman, else buildah.
    Auto,
    Buildah,
    Podman,
    Docker,
    /// `BUILD_COMMAND`, run by `sh -c`.
    Command,
}

/// How `RUN` steps are kept apart from the host and from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunIsolation {
    /// Each step in its own namespaces, by an OCI runtime (`OCI_RUNTIME`, runc).
    Oci,
    /// chroot only: a step sees the host's processes. An operator's explicit choice.
    Chroot,
}

#[derive(Clone, Debug)]
pub struct ImageSettings {
    pub builder: BuilderChoice,
    /// `BUILD_COMMAND`, for `BUILDER=command`.
    pub build_command: Option<String>,
    /// Where images are pushed (`IMAGE_REPOSITORY`, e.g. `registry.example.com/actors`); `None`
    /// keeps them in the worker's local image store.
    pub repository: Option<String>,
    /// Registry credentials in the containers auth.json format (`REGISTRY_AUTH_FILE`).
    pub auth_file: Option<PathBuf>,
    /// `REGISTRY_TLS_VERIFY=false` for plain-HTTP registries.
    pub tls_verify: bool,
    /// `CONTAINERS_REGISTRIES_CONF`: where base images are looked for.
    pub registries_conf: Option<PathBuf>,
    pub run_isolation: RunIsolation,
    /// The OCI runtime of `RUN` steps (`OCI_RUNTIME`).
    pub oci_runtime: String,
    /// The worker's image stores (`IMAGE_STORE_DIR`): its local images and its layer caches.
    pub store_dir: PathBuf,
    /// How long pushing a tag may take (`REGISTRY_PUSH_TIMEOUT_SECS`); an abort waits for it.
    pub push_timeout: Duration,
}

impl ImageSettings {
    pub(super) fn read<F: Fn(&str) -> Option<String>>(
        read: &Reader<'_, F>,
        work_dir: &Path,
    ) -> Result<Self, SettingsError> {
        let build_command = read.string("BUILD_COMMAND");
        let builder = match read.string("BUILDER").as_deref() {
            None if build_command.is_some() => BuilderChoice::Command,
            None | Some("auto") => BuilderChoice::Auto,
            Some("buildah") => BuilderChoice::Buildah,
            Some("podman") => BuilderChoice::Podman,
            Some("docker") => BuilderChoice::Docker,
            Some("command") => BuilderChoice::Command,
            Some(other) => {
                return Err(SettingsError {
                    key: "BUILDER",
                    problem: format!(
                        "{other:?} is not one of \"auto\", \"buildah\", \"podman\", \"docker\", \"command\""
                    ),
                })
            }
        };
        if builder == BuilderChoice::Command && build_command.is_none() {
            return Err(SettingsError {
                key: "BUILD_COMMAND",
                problem: "BUILDER=command needs BUILD_COMMAND, the command that builds".into(),
            });
        }
        let run_isolation = match (
            read.string("RUN_ISOLATION").as_deref(),
            read.string("BUILD_ISOLATION").as_deref(),
        ) {
            (Some("chroot"), _) | (None, Some("chroot")) => RunIsolation::Chroot,
            (None | Some("oci"), _) => RunIsolation::Oci,
            (Some(other), _) => {
                return Err(SettingsError {
                    key: "RUN_ISOLATION",
                    problem: format!("{other:?} is neither \"oci\" nor \"chroot\""),
                })
            }
        };
        let repository = read
            .string("IMAGE_REPOSITORY")
            .map(|r| r.trim_end_matches('/').to_owned());
        if let Some(repository) = &repository {
            check_repository(repository)?;
        }
        let oci_runtime = read.string("OCI_RUNTIME").unwrap_or_else(|| {
            let debian = "/usr/sbin/runc";
            if Path::new(debian).exists() {
                debian.to_owned()
            } else {
                "runc".to_owned()
            }
        });
        Ok(ImageSettings {
            builder,
            build_command,
            repository,
            auth_file: read.string("REGISTRY_AUTH_FILE").map(PathBuf::from),
            tls_verify: read.parse("REGISTRY_TLS_VERIFY", true)?,
            registries_conf: read.string("CONTAINERS_REGISTRIES_CONF").map(PathBuf::from),
            run_isolation,
            oci_runtime,
            store_dir: read
                .string("IMAGE_STORE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| work_dir.join(".images")),
            push_timeout: Duration::from_secs_f64(
                read.parse_secs("REGISTRY_PUSH_TIMEOUT_SECS", 30.0)?,
            ),
        })
    }
}

/// An image repository is `host[:port]/path` of lower-case name parts, as registries take them.
fn check_repository(repository: &str) -> Result<(), SettingsError> {
    let fail = |problem: String| SettingsError {
        key: "IMAGE_REPOSITORY",
        problem,
    };
    if repository.contains("://") {
        return Err(fail(format!(
            "{repository:?}: give the repository without a scheme, as registry.example.com/actors"
        )));
    }
    let mut parts = repository.split('/');
    let host = parts.next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let path_ok = parts.all(|p| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
    });
    if host_ok && path_ok {
        Ok(())
    } else {
        Err(fail(format!(
            "{repository:?} is not a repository name such as registry.example.com/actors (lower case)"
        )))
    }
}
