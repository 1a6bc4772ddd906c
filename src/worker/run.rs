//! Running one claimed build: sources, definition, the build command, and exactly one terminal
//! write at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::build_log::BuildLog;
use super::executor::{Exit, ProcessHandle, ProcessSpec};
use super::sources::{self, SourceLimits};
use super::{actor_definition, retry, StopRequest, Worker};
use crate::domain::version_spec::VersionSpec;
use crate::domain::BuildStatus;
use crate::storage::queue::{self, ClaimedBuild};
use crate::storage::versions;

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

/// How the build's work ended, before the terminal write.
enum Ending {
    /// The build command exited by itself.
    Exited(Exit),
    /// Something before or around the command failed; the text says what, for the log.
    Failed(String),
    /// The build time limit passed.
    TimedOut,
    /// An abort (or the rescuer) asked the build to stop.
    Stop(StopRequest),
}

pub(crate) async fn run_build(
    worker: Arc<Worker>,
    build: ClaimedBuild,
    stop: watch::Receiver<StopRequest>,
) {
    let work_dir = worker.settings.work_dir.join(&build.id);
    let mut run = BuildRun {
        log: BuildLog::new(worker.clone(), build.id.clone()),
        worker,
        build,
        stop,
        deadline: Instant::now(),
        stop_noticed: None,
    };
    run.deadline = Instant::now() + run.worker.settings.build_timeout;
    tracing::info!(build_number = %run.build.build_number(), "build started");
    run.log.system(format!(
        "Build {} of {}/{} started on worker {}",
        run.build.build_number(),
        run.build.username,
        run.build.actor_name,
        run.worker.worker_id
    ));
    let ending = run.execute(&work_dir).await;
    run.end(ending).await;
    sources::workdir::remove(&work_dir).await;
}

struct BuildRun {
    worker: Arc<Worker>,
    build: ClaimedBuild,
    stop: watch::Receiver<StopRequest>,
    log: BuildLog,
    deadline: Instant,
    /// When the worker learned that the build must stop (abort or timeout).
    stop_noticed: Option<Instant>,
}

impl BuildRun {
    fn stop_requested(&self) -> Option<StopRequest> {
        let request = *self.stop.borrow();
        (request != StopRequest::None).then_some(request)
    }

    /// Waits for a stop request or the deadline; never returns otherwise.
    async fn interrupted(stop: &mut watch::Receiver<StopRequest>, deadline: Instant) -> Ending {
        loop {
            tokio::select! {
                changed = stop.changed() => {
                    let request = *stop.borrow_and_update();
                    if changed.is_err() {
                        return Ending::Stop(StopRequest::Lost);
                    }
                    if request != StopRequest::None {
                        return Ending::Stop(request);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Ending::TimedOut,
            }
        }
    }

    async fn execute(&mut self, work_dir: &Path) -> Ending {
        if let Some(request) = self.stop_requested() {
            return Ending::Stop(request);
        }
        let cancel = sources::Cancel::default();
        let prepared = {
            let mut stop = self.stop.clone();
            let deadline = self.deadline;
            tokio::select! {
                prepared = self.prepare(work_dir, &cancel) => prepared,
                ending = Self::interrupted(&mut stop, deadline) => Err(ending),
            }
        };
        // Writing the sources (unpacking, git) stops, and is waited for, before anything else.
        cancel.cancel_and_wait().await;
        let (spec, _root) = match prepared {
            Ok(prepared) => prepared,
            Err(ending) => {
                self.stopping(&ending).await;
                return ending;
            }
        };
        let started = match self.worker.executor.start(spec) {
            Ok(started) => started,
            Err(e) => {
                return Ending::Failed(format!("The build command could not be started: {e}"))
            }
        };
        let mut output = started.output;
        let mut handle = started.handle;
        tracing::debug!(process = %handle.describe(), "build command started");
        let mut flush = tokio::time::interval(Duration::from_millis(100));
        let mut stop = self.stop.clone();
        let ending = loop {
            tokio::select! {
                Some(line) = output.recv() => self.log.output(line),
                exit = handle.wait() => break match exit {
                    Ok(exit) => Ending::Exited(exit),
                    Err(e) => Ending::Failed(format!("Waiting for the build command failed: {e}")),
                },
                ending = Self::interrupted(&mut stop, self.deadline) => break ending,
                _ = flush.tick() => self.log.flush().await,
            }
        };
        self.stopping(&ending).await;
        self.stop_process(&ending, handle.as_mut()).await;
        // Whatever the process wrote before it ended; the pipes close once its group is gone.
        let drain_until = Instant::now() + Duration::from_millis(500);
        while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, output.recv()).await {
            self.log.output(line);
        }
        ending
    }

    /// Ends the build's processes: what it left behind after a normal exit, or all of it (with
    /// the grace period) when it is being stopped.
    async fn stop_process(&mut self, ending: &Ending, handle: &mut dyn ProcessHandle) {
        let grace = self.worker.settings.abort_grace;
        match ending {
            Ending::Exited(_) | Ending::Failed(_) => handle.reap().await,
            Ending::Stop(StopRequest::Lost) => {
                let _ = handle.stop(Duration::ZERO).await;
            }
            Ending::TimedOut | Ending::Stop(_) => {
                let _ = handle.stop(grace).await;
            }
        }
    }

    /// When the build must stop (abort or timeout), notes when that was learned; a timeout is
    /// recorded as TIMING-OUT before anything is stopped.
    async fn stopping(&mut self, ending: &Ending) {
        if matches!(ending, Ending::TimedOut | Ending::Stop(_)) {
            self.stop_noticed = Some(Instant::now());
        }
        if matches!(ending, Ending::TimedOut) {
            self.begin_timeout().await;
        }
    }

    async fn begin_timeout(&self) {
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let moved = retry("timeout", || {
            queue::move_held(
                pool,
                id,
                worker_id,
                BuildStatus::Running,
                BuildStatus::TimingOut,
                None,
            )
        })
        .await;
        if let Err(e) = moved {
            tracing::error!(error = %e, "could not record the timeout");
        }
    }

    /// Sources in the work directory, the Actor's definition read and saved, the command ready.
    async fn prepare(
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
            ("ACTOR_BUILD_ID".to_owned(), b.id.clone()),
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

    /// Exactly one terminal write. A natural end (SUCCEEDED, FAILED) is written only while the
    /// build is RUNNING; when an abort or timeout came first, the build goes down that path.
    async fn end(&mut self, ending: Ending) {
        let natural = match ending {
            Ending::Exited(exit) => {
                self.log
                    .system(format!("The build command ended with {exit}"));
                Some(if exit.success() {
                    BuildStatus::Succeeded
                } else {
                    BuildStatus::Failed
                })
            }
            Ending::Failed(reason) => {
                self.log.system(reason);
                Some(BuildStatus::Failed)
            }
            Ending::TimedOut
            | Ending::Stop(StopRequest::Abort)
            | Ending::Stop(StopRequest::None) => None,
            Ending::Stop(StopRequest::Lost) => {
                tracing::warn!("the build is no longer this worker's; its process was stopped");
                return;
            }
        };
        if let Some(status) = natural {
            self.log.flush().await;
            if self.finish(BuildStatus::Running, status).await {
                tracing::info!(%status, "build ended");
                return;
            }
        }
        self.end_stopped().await;
    }

    /// Ends a build that is being stopped: ABORTING→ABORTED, TIMING-OUT→TIMED-OUT, with the
    /// last log line written first.
    async fn end_stopped(&mut self) {
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let held = retry("reading the build", || {
            queue::held_status(pool, id, worker_id)
        })
        .await;
        let (from, line) = match held {
            Ok(Some((BuildStatus::Aborting, by))) => (
                BuildStatus::Aborting,
                format!("Build aborted by {}", by.as_deref().unwrap_or("a user")),
            ),
            Ok(Some((BuildStatus::TimingOut, _))) => (
                BuildStatus::TimingOut,
                format!(
                    "Build timed out after {} s",
                    self.worker.settings.build_timeout.as_secs_f64()
                ),
            ),
            Ok(other) => {
                tracing::warn!(held = ?other, "the build is no longer this worker's to end");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the build; the rescuer will end it");
                return;
            }
        };
        self.log.system(line);
        self.log.flush().await;
        if let Some(to) = from.stop_outcome() {
            if self.finish(from, to).await {
                if let Some(noticed) = self.stop_noticed {
                    crate::metrics::stop_to_end(noticed.elapsed());
                }
                tracing::info!(status = %to, "build ended");
            }
        }
    }

    async fn finish(&self, from: BuildStatus, to: BuildStatus) -> bool {
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let price = self.worker.settings.compute_unit_price_usd;
        match retry("finishing the build", || {
            queue::finish(pool, id, worker_id, from, to, price)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "could not write the end of the build; the rescuer will end it");
                false
            }
        }
    }
}
