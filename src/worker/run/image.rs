//! The image side of a build's run: reading back what the build process made, telling what went
//! wrong when it failed, cleaning a lent layer cache, and the builder's short steps (tagging,
//! cleaning) run through the executor.

use std::time::Duration;

use tokio::time::Instant;

use super::{BuildRun, Ending};
use crate::worker::builder::{diagnose, Phase, Plan};
use crate::worker::executor::ProcessSpec;

/// What a short step printed, and how it ended.
pub(super) struct StepOutput {
    pub lines: Vec<String>,
    pub result: Result<(), String>,
}

impl BuildRun {
    /// After the build process ended: the image read back when it succeeded; a lent cache
    /// cleaned of the build's leftovers when it did not.
    pub(super) async fn after_process(&mut self, ending: Ending) -> Ending {
        let Some(image) = &self.image else {
            return ending;
        };
        let ending = match ending {
            Ending::Exited(exit) if exit.success() => match image.builder.result(&image.job) {
                Ok(built) => {
                    self.built = built;
                    Ending::Exited(exit)
                }
                Err(e) => Ending::Failed(format!("The image could not be read back: {e}")),
            },
            other => other,
        };
        if !matches!(&ending, Ending::Exited(exit) if exit.success()) {
            self.clean_cache().await;
        }
        ending
    }

    /// Removes the working containers from the layer cache lent to the build, if any (nobody
    /// else uses it while it is lent).
    pub(super) async fn clean_cache(&self) {
        let Some(image) = self.image.as_ref().filter(|i| i.cache.is_some()) else {
            return;
        };
        if let Some(plan) = image.builder.clean_up(&image.job) {
            let done = self.run_step(plan, Duration::from_secs(60)).await;
            if let Err(e) = done.result {
                tracing::warn!(error = %e, "the layer cache could not be cleaned");
            }
        }
    }

    /// The line that says what went wrong, for a build process that failed.
    pub(super) fn failure_hint(&self) -> Option<String> {
        let image = self.image.as_ref()?;
        if !image.builder.makes_images() {
            return None;
        }
        let registry = self.worker.settings.image.repository.as_deref();
        diagnose(Phase::read(&image.job.dir), &self.log.tail(), registry)
    }

    /// Runs a short step of the builder (a tag, a clean-up) to its end, through the executor,
    /// within `limit`.
    pub(super) async fn run_step(&self, plan: Plan, limit: Duration) -> StepOutput {
        let Some(image) = &self.image else {
            return StepOutput {
                lines: Vec::new(),
                result: Ok(()),
            };
        };
        let mut env = self.environment(&image.job);
        env.extend(plan.env);
        let spec = ProcessSpec {
            work_dir: image.job.dir.clone(),
            command: plan.command,
            args: plan.args,
            env,
        };
        let started = match self.worker.executor.start(spec) {
            Ok(started) => started,
            Err(e) => {
                return StepOutput {
                    lines: Vec::new(),
                    result: Err(format!("it could not be started: {e}")),
                }
            }
        };
        let (mut output, mut handle) = (started.output, started.handle);
        let mut lines = Vec::new();
        let deadline = Instant::now() + limit;
        let exit = loop {
            tokio::select! {
                Some(line) = output.recv() => lines.push(line),
                exit = handle.wait() => break exit.map_err(|e| format!("waiting for it failed: {e}")),
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = handle.stop(Duration::ZERO).await;
                    break Err(format!("it did not end within {} s", limit.as_secs_f64()));
                }
            }
        };
        handle.reap().await;
        let drain_until = Instant::now() + Duration::from_millis(200);
        while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, output.recv()).await {
            lines.push(line);
        }
        let result = match exit {
            Ok(exit) if exit.success() => Ok(()),
            Ok(exit) => Err(format!("it ended with {exit}")),
            Err(e) => Err(e),
        };
        StepOutput { lines, result }
    }
}
