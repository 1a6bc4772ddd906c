//! Getting a claimed build ready to run: its sources in the work directory, its Actor
//! definition read and saved, and the build command with its environment.

use std::path::Path;

use std::time::Duration;

use super::{BuildRun, Ending, ImageRun};
use crate::domain::version_spec::VersionSpec;
use crate::storage::{queue, versions};
use crate::worker::actor_definition;
use crate::worker::builder::{self, ImageJob};
use crate::worker::executor::ProcessSpec;
use crate::worker::retry;
use crate::worker::sources::{self, SourceLimits};

/// Variables of the worker's own environment that the builder may need.
const PASSED_ENV: [&str; 13] = [
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_BUILDKIT",
    "DOCKER_CERT_PATH",
    "CONTAINERS_STORAGE_CONF",
];

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

/// The log line that says which of the version's variables reach the build (names only).
fn build_args_line(version: &VersionSpec) -> Option<String> {
    if version.env_vars.is_empty() {
        return None;
    }
    if !version.apply_env_vars_to_build {
        return Some(
            "The version's environment variables are not passed to the build \
             (applyEnvVarsToBuild is false)"
                .to_owned(),
        );
    }
    let names: Vec<String> = version
        .env_vars
        .iter()
        .map(|v| {
            if v.is_secret {
                format!("{} (secret)", v.name)
            } else {
                v.name.clone()
            }
        })
        .collect();
    Some(format!("Build arguments: {}", names.join(", ")))
}

/// What `prepare` hands on: the build's process, and the image it is to make.
pub(super) struct Prepared {
    pub spec: ProcessSpec,
    pub image: ImageRun,
}

impl BuildRun {
    /// Sources in the work directory, the Actor's definition read and saved, the builder's
    /// process ready.
    pub(super) async fn prepare(
        &mut self,
        work_dir: &Path,
        cancel: &sources::Cancel,
    ) -> Result<Prepared, Ending> {
        let (pool, act_id) = (&self.worker.pool, &self.build.act_id);
        let number = &self.build.version_number;
        let secrets = &self.worker.settings.secrets;
        let (version, modified_at) = retry("version lookup", || async {
            let version = versions::get(pool, secrets, act_id, number).await?;
            let modified_at = versions::modified_at(pool, act_id, number).await?;
            Ok(version.zip(modified_at))
        })
        .await
        .map_err(|e| Ending::Failed(format!("The version could not be read: {e}")))?
        .ok_or_else(|| {
            Ending::Failed(format!(
                "Version {} of the Actor no longer exists",
                self.build.version_number
            ))
        })?;
        self.log.mask_secrets(&version.env_vars);
        let builder = self.worker.images.builder().await.map_err(Ending::Failed)?;

        let sources_dir = work_dir.join("src");
        let builder_dir = builder::builder_dir(work_dir);
        for dir in [work_dir, &sources_dir, &builder_dir] {
            sources::workdir::create(dir).await.map_err(|e| {
                Ending::Failed(format!("The work directory could not be created: {e}"))
            })?;
        }
        self.log
            .system(format!("Reading {} sources", version.source_type.as_str()));
        self.log.flush().await;
        let worker = self.worker.clone();
        let settings = &worker.settings;
        let limits = SourceLimits {
            tarball_max_bytes: settings.tarball_max_bytes,
            download_timeout: Duration::from_secs(300),
            max_unpacked_bytes: settings.source_max_unpacked_bytes,
            max_entries: settings.source_max_entries,
            allow_private_targets: settings.source_allow_private_targets,
        };
        let pool = self.worker.pool.clone();
        let root = sources::materialize(&version, &sources_dir, &limits, Some(&pool), cancel)
            .await
            .map_err(|e| Ending::Failed(format!("The sources could not be read: {e}")))?;

        let definition = self.read_definition(&root).await?;
        if builder.makes_images() && !definition.dockerfile.is_file() {
            return Err(Ending::Failed(
                "No Dockerfile was found: add a Dockerfile at the root of the sources or in \
                 .actor/, or name one with \"dockerfile\" in .actor/actor.json"
                    .to_owned(),
            ));
        }
        if let Some(line) = build_args_line(&version) {
            self.log.system(line);
        }

        let b = &self.build;
        let images = &settings.image;
        let (repository, image) =
            builder::image_names(images, &b.username, &b.actor_name, &b.build_number());
        let use_cache = b.options.0.use_cache;
        let cache = (use_cache && builder.keeps_layer_caches())
            .then(|| self.worker.images.caches.lend())
            .flatten();
        let job = ImageJob {
            dir: builder_dir,
            context: definition.docker_context.clone(),
            dockerfile: definition.dockerfile.clone(),
            image,
            repository,
            use_cache,
            build_args: build_args(&version),
            secret_args: version.apply_env_vars_to_build
                && version.env_vars.iter().any(|v| v.is_secret),
            timestamp: modified_at.timestamp(),
            cache_store: cache.as_ref().map(|c| c.path.clone()),
        };
        if builder.makes_images() {
            self.log.system(format!(
                "Building {} with {} ({})",
                job.image,
                builder.name(),
                if job.cache_store.is_some() {
                    "reusing cached layers of this worker"
                } else {
                    "a clean build: the base image is pulled again, no layer is reused"
                }
            ));
            if job.secret_args && builder.keeps_layer_caches() {
                self.log.system(
                    "The image gets no history: it would hold the values of the secret build \
                     arguments"
                        .to_owned(),
                );
            }
            if images.repository.is_none() {
                self.log.system(format!(
                    "IMAGE_REPOSITORY is not set: the image stays in this worker's {}",
                    builder.local_store()
                ));
            }
        }
        let plan = builder.build(&job);
        let mut env = self.environment(&job);
        env.extend(plan.env);
        let spec = ProcessSpec {
            work_dir: root,
            command: plan.command,
            args: plan.args,
            env,
        };
        Ok(Prepared {
            spec,
            image: ImageRun {
                builder,
                job,
                cache,
            },
        })
    }

    /// Reads `.actor/actor.json` (and what it names) and saves it with the build.
    async fn read_definition(
        &mut self,
        root: &Path,
    ) -> Result<actor_definition::ActorDefinition, Ending> {
        let read_root = root.to_path_buf();
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
        Ok(definition)
    }

    /// The build process's environment: the worker's `PASSED_ENV` and the `ACTOR_*` variables,
    /// never a version's variables (those are build arguments, see `build_args`); the builder
    /// adds its own.
    pub(super) fn environment(&self, job: &ImageJob) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = PASSED_ENV
            .iter()
            .filter_map(|key| Some((key.to_string(), std::env::var(key).ok()?)))
            .collect();
        let b = &self.build;
        let path = |p: &Path| p.to_string_lossy().into_owned();
        env.extend([
            ("ACTOR_BUILD_ID".to_owned(), b.id.to_string()),
            ("ACTOR_BUILD_NUMBER".to_owned(), b.build_number()),
            (
                "ACTOR_BUILD_TAGS".to_owned(),
                b.tag.clone().unwrap_or_default(),
            ),
            ("ACTOR_IMAGE".to_owned(), job.image.clone()),
            ("ACTOR_DOCKERFILE".to_owned(), path(&job.dockerfile)),
            ("ACTOR_DOCKER_CONTEXT".to_owned(), path(&job.context)),
            (
                "ACTOR_USE_CACHE".to_owned(),
                if job.use_cache { "1" } else { "0" }.to_owned(),
            ),
        ]);
        env
    }
}
