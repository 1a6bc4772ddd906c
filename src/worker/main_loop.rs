//! The worker's main loop: claims READY builds into free slots when woken (a READY event, the
//! poll tick, a build's end), passes aborts on, and at shutdown gives running builds their
//! grace before aborting what is left.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::Instrument;

use super::lease::{check_held, fence_loop, heartbeat_loop, leftovers_loop};
use super::slots::Slots;
use super::{run, StopRequest, Worker};
use crate::domain::{AbortedBy, BuildStatus};
use crate::events::{BuildEvent, BuildEvents};
use crate::storage::queue;

pub(super) async fn main_loop(
    worker: Arc<Worker>,
    events: BuildEvents,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = worker.settings.clone();
    let mut subscription = events.subscribe();
    let heartbeat = tokio::spawn(heartbeat_loop(worker.clone()).in_current_span());
    let fencing = tokio::spawn(fence_loop(worker.clone()).in_current_span());
    let leftovers = tokio::spawn(leftovers_loop(worker.clone()).in_current_span());
    let mut poll = tokio::time::interval(settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slots = Slots::new(worker.running.clone());
    tracing::info!(slots = settings.concurrency, "worker started");

    loop {
        let mut claim = false;
        tokio::select! {
            event = subscription.next() => match event {
                Some(BuildEvent::Status { status: BuildStatus::Ready, .. }) => claim = true,
                Some(BuildEvent::Status { build_id, status: BuildStatus::Aborting }) => {
                    worker.running.request_stop(&build_id, StopRequest::Abort);
                }
                Some(BuildEvent::Resync) => {
                    claim = true;
                    check_held(&worker).await;
                }
                Some(_) => {}
                None => break,
            },
            _ = poll.tick() => claim = true,
            Some(_) = slots.join_next(), if !slots.is_empty() => claim = true,
            _ = shutdown.changed() => break,
        }
        if claim {
            claim_and_start(&worker, &mut slots).await;
        }
    }

    shut_down(&worker, &mut slots).await;
    heartbeat.abort();
    fencing.abort();
    leftovers.abort();
    tracing::info!("worker stopped");
}

async fn claim_and_start(worker: &Arc<Worker>, slots: &mut Slots) {
    let free = worker.settings.concurrency.saturating_sub(slots.len());
    if free == 0 {
        return;
    }
    let claimed = match queue::claim(
        &worker.pool,
        &worker.worker_id,
        free,
        worker.settings.lease(),
    )
    .await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = %e, "claim failed; retrying at the next wake-up");
            return;
        }
    };
    for build in claimed {
        let id = build.id.to_string();
        let span = tracing::info_span!("build", build_id = %id, worker_id = %worker.worker_id);
        let task_worker = worker.clone();
        slots.spawn(worker, id, span, move |stop| {
            run::run_build(task_worker, build, stop)
        });
    }
}

async fn shut_down(worker: &Arc<Worker>, slots: &mut Slots) {
    if slots.is_empty() {
        return;
    }
    tracing::info!(running = slots.len(), grace = ?worker.settings.shutdown_grace, "waiting for running builds");
    let drained = tokio::time::timeout(worker.settings.shutdown_grace, async {
        while slots.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        for id in worker.running.ids() {
            match queue::move_held(
                &worker.pool,
                &id,
                &worker.worker_id,
                BuildStatus::Running,
                BuildStatus::Aborting,
                Some(&AbortedBy::System),
            )
            .await
            {
                Ok(true) => tracing::warn!(build_id = %id, "aborting a build at shutdown"),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(build_id = %id, error = %e, "could not abort a build at shutdown")
                }
            }
            worker.running.request_stop(&id, StopRequest::Abort);
        }
        while slots.join_next().await.is_some() {}
    }
}
