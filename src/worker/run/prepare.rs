//! Getting a claimed build ready to run: its sources in the work directory, its Actor
//! definition read and saved, and the build command with its environment.

use std::path::{Path, PathBuf};

use std::time::Duration;

use super::{BuildRun, Ending};
use crate::domain::version_spec::VersionSpec;
use crate::storage::{queue, versions};
use crate::worker::actor_definition;
use crate::worker::executor::ProcessSpec;
use crate::worker::retry;
use crate::worker::sources::{self, SourceLimits};

/// Variables of the worker's own environment that the build command may need.
const PASSED_ENV: [&str; 11] = [
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_BUILDKIT",
    "DOCKER_CERT_PATH",
];

/// The default build command: a container image from the Dockerfile and context of actor.json.
/// The version's variables (with `applyEnvVarsToBuild`) come as `"$@"`: `--build-arg NAME=VALUE`.
pub const DEFAULT_BUILD_COMMAND: &str = r#"if ! command -v docker >/dev/null 2>&1; then
  echo "docker is not installed on this worker: install it, or set BUILD_COMMAND to a command that builds without it" >&2
  exit 127
fi
if [ "$ACTOR_USE_CACHE" = 1 ]; then cache=""; else cache="--no-cache"; fi
exec docker build $cache "$@" --tag "$ACTOR_IMAGE" --file "$ACTOR_DOCKERFILE" "$ACTOR_DOCKER_CONTEXT""#;

/// The version's variables for the build (with `applyEnvVarsToBuild`), as positional parameters
/// of the build command: `--build-arg NAME=VALUE` each. They never enter the environment of the
/// process that runs the build command, so a `PATH` or `LD_PRELOAD` of the tenant's changes
/// nothing on the worker.
fn build_args(version: &VersionSpec) -> Vec<String> {
    if !version.apply_env_vars_to_build {
        return Vec::new();
    }
    version
        .env_vars
        .iter()
        .flat_map(|v| {
            [
                "--build-arg".to_owned(),
                format!("{}={}", v.name, v.value.as_deref().unwrap_or_default()),
            ]
        })
        .collect()
}

impl BuildRun {
    /// Sources in the work directory, the Actor's definition read and saved, the command ready.
    pub(super) async fn prepare(
        &mut self,
        work_dir: &Path,
        cancel: &sources::Cancel,
    ) -> Result<(ProcessSpec, PathBuf), Ending> {
        let version = retry("version lookup", || {
            versions::get(
                &self.worker.pool,
                &self.worker.settings.secrets,
                &self.build.act_id,
                &self.build.version_number,
            )
        })
        .await
        .map_err(|e| Ending::Failed(format!("The version could not be read: {e}")))?
        .ok_or_else(|| {
            Ending::Failed(format!(
                "Version {} of the Actor no longer exists",
                self.build.version_number
            ))
        })?;

        sources::workdir::create(work_dir)
            .await
            .map_err(|e| Ending::Failed(format!("The work directory could not be created: {e}")))?;
        self.log
            .system(format!("Reading {} sources", version.source_type.as_str()));
        self.log.flush().await;
        let settings = &self.worker.settings;
        let limits = SourceLimits {
            tarball_max_bytes: settings.tarball_max_bytes,
            download_timeout: Duration::from_secs(300),
            max_unpacked_bytes: settings.source_max_unpacked_bytes,
            max_entries: settings.source_max_entries,
            allow_private_targets: settings.source_allow_private_targets,
        };
        let pool = self.worker.pool.clone();
        let root = sources::materialize(&version, work_dir, &limits, Some(&pool), cancel)
            .await
            .map_err(|e| Ending::Failed(format!("The sources could not be read: {e}")))?;

        let read_root = root.clone();
        let definition = tokio::task::spawn_blocking(move || actor_definition::read(&read_root))
            .await
            .map_err(|e| Ending::Failed(format!("Reading .actor/actor.json failed: {e}")))?
            .map_err(|e| Ending::Failed(format!("Invalid Actor definition: {e}")))?;
        let input_schema = definition.input_schema.as_ref().map(|s| s.to_string());
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let found_any = definition.definition.is_some()
            || input_schema.is_some()
            || definition.readme.is_some();
        if found_any {
            retry("saving the definition", || {
                queue::save_definition(
                    pool,
                    id,
                    worker_id,
                    definition.definition.as_ref(),
                    input_schema.as_deref(),
                    definition.readme.as_deref(),
                )
            })
            .await
            .map_err(|e| Ending::Failed(format!("The Actor definition could not be saved: {e}")))?;
        }
        if definition.definition.is_some() {
            self.log.system("Read .actor/actor.json".to_owned());
        }

        let command = self
            .worker
            .settings
            .build_command
            .clone()
            .unwrap_or_else(|| DEFAULT_BUILD_COMMAND.to_owned());
        let spec = ProcessSpec {
            work_dir: root.clone(),
            command,
            args: build_args(&version),
            env: self.environment(&definition),
        };
        Ok((spec, root))
    }

    /// The build command's whole environment: the worker's `PASSED_ENV` and the `ACTOR_*`
    /// variables, never a version's variables (those are build arguments, see `build_args`).
    fn environment(&self, definition: &actor_definition::ActorDefinition) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = PASSED_ENV
            .iter()
            .filter_map(|key| Some((key.to_string(), std::env::var(key).ok()?)))
            .collect();
        let b = &self.build;
        let image = format!("{}/{}:{}", b.username, b.actor_name, b.build_number()).to_lowercase();
        let use_cache = b.options.0.use_cache;
        env.extend([
            ("ACTOR_BUILD_ID".to_owned(), b.id.to_string()),
            ("ACTOR_BUILD_NUMBER".to_owned(), b.build_number()),
            (
                "ACTOR_BUILD_TAGS".to_owned(),
                b.tag.clone().unwrap_or_default(),
            ),
            ("ACTOR_IMAGE".to_owned(), image),
            (
                "ACTOR_DOCKERFILE".to_owned(),
                definition.dockerfile.to_string_lossy().into_owned(),
            ),
            (
                "ACTOR_DOCKER_CONTEXT".to_owned(),
                definition.docker_context.to_string_lossy().into_owned(),
            ),
            (
                "ACTOR_USE_CACHE".to_owned(),
                if use_cache { "1" } else { "0" }.to_owned(),
            ),
        ]);
        env
    }
}
