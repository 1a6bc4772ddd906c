//! Running one claimed build: sources, definition, the build command, and exactly one terminal
//! write at the end.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::build_log::BuildLog;
use super::builder::{BuiltImage, CacheStore, ImageBuilder, ImageJob};
use super::executor::{Exit, ProcessHandle};
use super::sources;
use super::{retry, StopRequest, Worker};
use crate::domain::BuildStatus;
use crate::storage::queue::{self, ClaimedBuild};

mod end;
mod image;
mod prepare;

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
    let work_dir = worker.settings.work_dir.join(build.id.as_str());
    let mut run = BuildRun {
        log: BuildLog::new(worker.clone(), build.id.to_string()),
        worker,
        build,
        stop,
        deadline: Instant::now(),
        stop_noticed: None,
        image: None,
        built: None,
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
    /// The image the build is to make, once its sources are read.
    image: Option<ImageRun>,
    /// The image it made, once its process succeeded and the result was read back.
    built: Option<BuiltImage>,
}

/// The image a build is to make, and with what.
struct ImageRun {
    builder: Arc<dyn ImageBuilder>,
    job: ImageJob,
    /// The layer cache lent to the build; given back when the build ends.
    cache: Option<CacheStore>,
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
        let spec = match prepared {
            Ok(prepared) => {
                self.image = Some(prepared.image);
                prepared.spec
            }
            Err(ending) => {
                self.stopping(&ending).await;
                return ending;
            }
        };
        // A lent cache may hold what a build of a worker that died left behind.
        self.clean_cache().await;
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
        self.after_process(ending).await
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
}
