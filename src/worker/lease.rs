//! Leases: renewing them every heartbeat, rescuing the builds of lost workers, and fencing this
//! worker itself: a build whose lease could not be renewed is stopped, and its writes given up,
//! before the lease can lapse.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{sources, StopRequest, Worker};
use crate::domain::BuildStatus;
use crate::settings::WorkerSettings;
use crate::storage::queue;

/// When a build's lease was last renewed, so that the worker stops the build (and writes nothing
/// more for it) before the lease can lapse and another worker's rescuer takes it.
pub(crate) struct Fence {
    renewed: Mutex<Instant>,
    /// Past this age of the last renewal the build is given up: a lease less one heartbeat.
    limit: Duration,
    pub(super) lost: AtomicBool,
}

tokio::task_local! {
    /// The fence of the build whose task this is: its retries give up when the build is lost.
    pub(super) static FENCE: Arc<Fence>;
}

impl Fence {
    pub(super) fn new(settings: &WorkerSettings) -> Self {
        Fence {
            renewed: Mutex::new(Instant::now()),
            limit: settings.lease().saturating_sub(settings.heartbeat),
            lost: AtomicBool::new(false),
        }
    }

    pub(super) fn renewed_at(&self, at: Instant) {
        if let Ok(mut renewed) = self.renewed.lock() {
            *renewed = (*renewed).max(at);
        }
    }

    /// Until when this worker may still act for the build.
    pub(super) fn deadline(&self) -> Instant {
        let renewed = self
            .renewed
            .lock()
            .map(|r| *r)
            .unwrap_or_else(|_| Instant::now());
        renewed + self.limit
    }

    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst) || Instant::now() >= self.deadline()
    }
}

/// Renews the leases of the builds this worker runs and passes on aborts and losses (also the
/// fallback for notifications that never arrived). False when the database did not answer.
pub(super) async fn check_held(worker: &Worker) -> bool {
    let ids = worker.running.renewable_ids();
    let sent = Instant::now();
    let renewal = queue::heartbeat(
        &worker.pool,
        &worker.worker_id,
        &ids,
        worker.settings.lease(),
    );
    match tokio::time::timeout(worker.settings.heartbeat, renewal).await {
        Ok(Ok(held)) => {
            for id in &ids {
                match held.iter().find(|h| &h.id == id) {
                    Some(h) => {
                        if h.renewed {
                            worker.running.renewed(id, sent);
                        }
                        if h.status == BuildStatus::Aborting {
                            worker.running.request_stop(id, StopRequest::Abort);
                        }
                    }
                    None => worker.running.request_stop(id, StopRequest::Lost),
                }
            }
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "heartbeat failed; leases are renewed at the next one");
            false
        }
        Err(_) => {
            tracing::warn!("heartbeat timed out; leases are renewed at the next one");
            false
        }
    }
}

/// Renews leases every heartbeat (sooner again after a failure), and rescues the builds of
/// lost workers.
pub(super) async fn heartbeat_loop(worker: Arc<Worker>) {
    let heartbeat = worker.settings.heartbeat;
    loop {
        let renewed = check_held(&worker).await;
        if renewed {
            let rescue = queue::rescue(&worker.pool, worker.settings.compute_unit_price_usd);
            match tokio::time::timeout(heartbeat, rescue).await {
                Ok(Ok(rescued)) => {
                    for (build_id, status) in rescued {
                        tracing::warn!(%build_id, %status, "rescued a build whose worker was lost");
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "rescue failed; retrying at the next heartbeat")
                }
                Err(_) => tracing::warn!("rescue timed out; retrying at the next heartbeat"),
            }
        }
        let retry_soon = (heartbeat / 4).min(Duration::from_millis(250));
        tokio::time::sleep(if renewed { heartbeat } else { retry_soon }).await;
    }
}

/// Removes the work directories that ended builds left on this host (a rescued build's, say),
/// at start and every heartbeat; apart from the heartbeat, so that a slow removal never delays
/// the renewal of a lease.
pub(super) async fn leftovers_loop(worker: Arc<Worker>) {
    let mut tick = tokio::time::interval(worker.settings.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sources::workdir::remove_leftovers(&worker.pool, &worker.settings.work_dir, || {
            worker.running.ids()
        })
        .await;
    }
}

/// Self-fencing: a build whose lease could not be renewed for a lease less one heartbeat is
/// stopped (its processes killed, nothing more written) before another worker can rescue it.
pub(super) async fn fence_loop(worker: Arc<Worker>) {
    let mut tick =
        tokio::time::interval((worker.settings.heartbeat / 10).max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stale = worker.running.stale_ids();
        for build_id in stale {
            tracing::error!(%build_id, "the lease could not be renewed; stopping the build and writing nothing more for it");
            worker.running.request_stop(&build_id, StopRequest::Lost);
        }
    }
}

/// Retries a database write through short outages, so that a build's end is not lost. Within a
/// build's task it gives up once the build's lease may lapse (or it was lost): what the worker
/// could not write by then, the rescuer decides, and nothing is written after it.
pub(crate) async fn retry<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let fence = FENCE.try_with(Arc::clone).ok();
    let mut delay = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let result = match &fence {
            Some(fence) if fence.is_lost() => {
                tracing::warn!("{what} given up: the build's lease could not be kept");
                return Err(sqlx::Error::PoolTimedOut);
            }
            Some(fence) => tokio::time::timeout_at(fence.deadline(), attempt())
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut)),
            None => attempt().await,
        };
        match result {
            Ok(value) => return Ok(value),
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
                if tokio::time::Instant::now() < give_up =>
            {
                tracing::warn!(error = %e, "{what} failed; retrying");
                let mut until = Instant::now() + delay;
                if let Some(fence) = &fence {
                    until = until.min(fence.deadline());
                }
                tokio::time::sleep_until(until).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}
