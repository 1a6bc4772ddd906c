//! The end of a build: exactly one terminal write, with its closing log line.

use super::{BuildRun, Ending};
use crate::domain::BuildStatus;
use crate::storage::queue;
use crate::worker::{retry, StopRequest};

impl BuildRun {
    /// Exactly one terminal write. A natural end (SUCCEEDED, FAILED) is written only while the
    /// build is RUNNING; when an abort or timeout came first, the build goes down that path.
    pub(super) async fn end(&mut self, ending: Ending) {
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
