//! The end of a build whose task panicked.

use chrono::Utc;

use super::{retry, Worker};
use crate::domain::BuildStatus;
use crate::storage::{logs, queue};

/// The line a build's log ends with when its task panicked.
pub(crate) const PANIC_LINE: &str = "The build failed: internal error in the worker";

/// After the build's task panicked (its processes went down with the task's state): the closing
/// line and the terminal write, fenced like any other. A RUNNING build ends FAILED; one being
/// aborted or timed out ends the way it was going.
pub(crate) async fn end_after_panic(worker: &Worker, build_id: &str) {
    tracing::error!("the build's task panicked; ending the build");
    let (pool, worker_id) = (&worker.pool, &worker.worker_id);
    let held = match retry("reading the build", || {
        queue::held_status(pool, build_id, worker_id)
    })
    .await
    {
        Ok(Some((status, _))) => status,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "could not read the build; the rescuer will end it");
            return;
        }
    };
    let to = match held {
        BuildStatus::Running => BuildStatus::Failed,
        other => match other.stop_outcome() {
            Some(to) => to,
            None => return,
        },
    };
    let line = [(Utc::now(), PANIC_LINE.to_owned())];
    if let Err(e) = retry("writing the log", || {
        logs::append(pool, build_id, worker_id, &line)
    })
    .await
    {
        tracing::error!(error = %e, "the closing line was lost");
    }
    let price = worker.settings.compute_unit_price_usd;
    match retry("finishing the build", || {
        queue::finish(pool, build_id, worker_id, (held, to), price, None)
    })
    .await
    {
        Ok(true) => tracing::info!(status = %to, "build ended"),
        Ok(false) => tracing::warn!("the build is no longer this worker's to end"),
        Err(e) => {
            tracing::error!(error = %e, "could not write the end of the build; the rescuer will end it")
        }
    }
}
