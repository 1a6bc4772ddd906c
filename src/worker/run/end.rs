//! The end of a build: exactly one terminal write, with its closing log line. A SUCCEEDED
//! build's tag is pushed in the same transaction that moves `taggedBuilds`, with the build's row
//! locked, so that an abort comes either before it (nothing is tagged) or after the end.

use super::image::StepOutput;
use super::{BuildRun, Ending};
use crate::domain::BuildStatus;
use crate::storage::queue;
use crate::worker::builder::Plan;
use crate::worker::{retry, StopRequest};

/// How pushing the tag ended.
enum Tagged {
    /// Tagged, and the build ended SUCCEEDED.
    Ended,
    /// The build was not RUNNING any more (an abort came first): nothing was tagged.
    NotHeld,
    /// The push failed; the build is still RUNNING.
    Failed(StepOutput),
}

impl BuildRun {
    /// Exactly one terminal write. A natural end (SUCCEEDED, FAILED) is written only while the
    /// build is RUNNING; when an abort or timeout came first, the build goes down that path.
    pub(super) async fn end(&mut self, ending: Ending) {
        let natural = match ending {
            Ending::Exited(exit) => {
                self.log
                    .system(format!("The build command ended with {exit}"));
                if exit.success() {
                    Some(BuildStatus::Succeeded)
                } else {
                    if let Some(hint) = self.failure_hint() {
                        self.log.system(hint);
                    }
                    self.repeat_tail();
                    Some(BuildStatus::Failed)
                }
            }
            Ending::Failed(reason) => {
                self.log.system(reason);
                self.repeat_tail();
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
            let ended = if status == BuildStatus::Succeeded {
                self.succeed().await
            } else {
                self.log.flush().await;
                self.finish(BuildStatus::Running, status).await
            };
            if ended {
                tracing::info!(%status, "build ended");
                return;
            }
        }
        self.end_stopped().await;
    }

    /// When output was left out of a failed build's log (it reached its limit), its last lines
    /// are written after all, so that the failure can be read.
    fn repeat_tail(&mut self) {
        if !self.log.was_cut() {
            return;
        }
        let tail = self.log.tail();
        self.log
            .system(format!("The last {} lines of the output were:", tail.len()));
        for line in tail {
            self.log.system(line);
        }
    }

    /// SUCCEEDED, with the image and, when the build has a tag, the tag pushed with the move;
    /// a failed tag push ends it FAILED. `false` when the build was not RUNNING any more.
    async fn succeed(&mut self) -> bool {
        let tag_plan = match (&self.image, &self.built, &self.build.tag) {
            (Some(image), Some(built), Some(tag)) => image
                .builder
                .tag(&image.job, built, tag)
                .map(|plan| (plan, format!("{}:{tag}", image.job.repository))),
            _ => None,
        };
        if let Some(built) = &self.built {
            self.log.system(format!(
                "Built {}@{} ({} bytes)",
                built.name, built.digest, built.size_bytes
            ));
        }
        let Some((plan, target)) = tag_plan else {
            self.log.flush().await;
            return self
                .finish(BuildStatus::Running, BuildStatus::Succeeded)
                .await;
        };
        self.log.system(format!("Tagging {target}"));
        self.log.flush().await;
        let tagged = retry("tagging and finishing the build", || {
            self.tag_and_finish(&plan)
        })
        .await;
        match tagged {
            Ok(Tagged::Ended) => true,
            Ok(Tagged::NotHeld) => false,
            Ok(Tagged::Failed(step)) => {
                for line in step.lines {
                    self.log.output(line);
                }
                let reason = step.result.err().unwrap_or_default();
                self.log.system(format!(
                    "Pushing the tag {target} failed: {reason}; no tag was moved"
                ));
                self.log.flush().await;
                self.finish(BuildStatus::Running, BuildStatus::Failed).await
            }
            Err(e) => {
                tracing::error!(error = %e, "could not end the build; the rescuer will end it");
                false
            }
        }
    }

    /// In one transaction, with the build's row locked while it is RUNNING: the tag pushed,
    /// then the terminal write that moves `taggedBuilds`. The push must end within
    /// `REGISTRY_PUSH_TIMEOUT_SECS`: an abort of the build waits for the lock meanwhile. (The
    /// heartbeat and the rescuer pass over the locked row; its lease is not renewed, nor can it
    /// be taken, until the transaction ends.)
    async fn tag_and_finish(&self, plan: &Plan) -> Result<Tagged, sqlx::Error> {
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let mut tx = pool.begin().await?;
        if !queue::lock_held(&mut *tx, id, worker_id, BuildStatus::Running).await? {
            return Ok(Tagged::NotHeld);
        }
        let settings = &self.worker.settings;
        let step = self
            .run_step(plan.clone(), settings.image.push_timeout)
            .await;
        if step.result.is_err() {
            tx.rollback().await?;
            return Ok(Tagged::Failed(step));
        }
        let moves = (BuildStatus::Running, BuildStatus::Succeeded);
        let price = settings.compute_unit_price_usd;
        let ended =
            queue::finish(&mut *tx, id, worker_id, moves, price, self.built.as_ref()).await?;
        tx.commit().await?;
        Ok(if ended {
            Tagged::Ended
        } else {
            Tagged::NotHeld
        })
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

    /// The terminal write `from` → `to`; a SUCCEEDED build's image goes with it.
    async fn finish(&self, from: BuildStatus, to: BuildStatus) -> bool {
        let (pool, id, worker_id) = (&self.worker.pool, &self.build.id, &self.worker.worker_id);
        let price = self.worker.settings.compute_unit_price_usd;
        let image = self.built.as_ref().filter(|_| to == BuildStatus::Succeeded);
        match retry("finishing the build", || {
            queue::finish(pool, id, worker_id, (from, to), price, image)
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
