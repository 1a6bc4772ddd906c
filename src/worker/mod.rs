//! Build workers: claim READY builds, run them through an executor, stop them on abort or
//! timeout, keep their leases, and rescue the builds of workers that were lost.

pub mod actor_definition;
mod build_log;
pub mod executor;
mod lease;
mod panicked;
mod run;
pub mod sources;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::build_events::{BuildEvent, BuildEvents};
use crate::domain::{new_id, BuildStatus};
use crate::settings::WorkerSettings;
use crate::storage::queue;
use executor::{Executor, LocalExecutor};
pub(crate) use lease::retry;
use lease::{check_held, fence_loop, heartbeat_loop, leftovers_loop, Fence, FENCE};

/// What the worker asks of a running build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// Keep going.
    None,
    /// The build is ABORTING: stop the process and end it ABORTED.
    Abort,
    /// The build is no longer this worker's (its lease lapsed and it was rescued): stop the
    /// process and write nothing.
    Lost,
}

/// State shared by the worker's loops and its running builds.
pub(crate) struct Worker {
    pub pool: PgPool,
    pub settings: WorkerSettings,
    pub worker_id: String,
    pub executor: Arc<dyn Executor>,
    /// The builds this worker runs, by id; an entry lives as long as the build's task.
    running: Mutex<HashMap<String, Held>>,
}

/// A build this worker runs.
struct Held {
    stop: watch::Sender<StopRequest>,
    fence: Arc<Fence>,
    task: Option<tokio::task::Id>,
}

impl Worker {
    /// The builds whose leases are to be renewed: those not given up.
    fn renewable_ids(&self) -> Vec<String> {
        self.running
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, held)| !held.fence.lost.load(Ordering::SeqCst))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn running_ids(&self) -> Vec<String> {
        self.running
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn running_count(&self) -> usize {
        self.running.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn request_stop(&self, build_id: &str, request: StopRequest) {
        if let Ok(running) = self.running.lock() {
            if let Some(held) = running.get(build_id) {
                if request == StopRequest::Lost {
                    held.fence.lost.store(true, Ordering::SeqCst);
                }
                held.stop.send_if_modified(|current| {
                    // Lost overrides Abort; nothing overrides Lost.
                    let changes = *current == StopRequest::None || request == StopRequest::Lost;
                    if changes && *current != request {
                        *current = request;
                        true
                    } else {
                        false
                    }
                });
            }
        }
    }

    /// Forgets the build of a task that ended.
    fn task_ended(&self, task: tokio::task::Id) -> Option<String> {
        let mut running = self.running.lock().ok()?;
        let id = running
            .iter()
            .find(|(_, held)| held.task == Some(task))
            .map(|(id, _)| id.clone())?;
        running.remove(&id);
        Some(id)
    }
}

/// The build slots of one process.
pub struct WorkerPool {
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `settings.concurrency` build slots (none when it is 0).
    pub fn start(pool: PgPool, events: BuildEvents, settings: WorkerSettings) -> Self {
        let executor = Arc::new(LocalExecutor::new(settings.build_isolation));
        Self::start_with(pool, events, settings, executor)
    }

    pub fn start_with(
        pool: PgPool,
        events: BuildEvents,
        settings: WorkerSettings,
        executor: Arc<dyn Executor>,
    ) -> Self {
        let (shutdown, shutdown_rx) = watch::channel(false);
        if settings.concurrency == 0 {
            return WorkerPool {
                shutdown,
                task: None,
            };
        }
        let worker = Arc::new(Worker {
            pool,
            settings,
            worker_id: format!("w-{}", new_id()),
            executor,
            running: Mutex::new(HashMap::new()),
        });
        let span = tracing::info_span!("worker", worker_id = %worker.worker_id);
        let task = tokio::spawn(main_loop(worker, events, shutdown_rx).instrument(span));
        WorkerPool {
            shutdown,
            task: Some(task),
        }
    }

    /// Stops claiming, gives running builds the shutdown grace, aborts what is left (by
    /// `SYSTEM`), and returns when every build of this worker has ended.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

type Tasks = tokio::task::JoinSet<()>;

async fn main_loop(worker: Arc<Worker>, events: BuildEvents, mut shutdown: watch::Receiver<bool>) {
    let settings = worker.settings.clone();
    let mut subscription = events.subscribe();
    let heartbeat = tokio::spawn(heartbeat_loop(worker.clone()).in_current_span());
    let fencing = tokio::spawn(fence_loop(worker.clone()).in_current_span());
    let leftovers = tokio::spawn(leftovers_loop(worker.clone()).in_current_span());
    let mut poll = tokio::time::interval(settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The one record of running builds' tasks; `worker.running` maps their ids to builds.
    let mut tasks = Tasks::new();
    tracing::info!(slots = settings.concurrency, "worker started");

    loop {
        let mut claim = false;
        tokio::select! {
            event = subscription.next() => match event {
                Some(BuildEvent::Status { status: BuildStatus::Ready, .. }) => claim = true,
                Some(BuildEvent::Status { build_id, status: BuildStatus::Aborting }) => {
                    worker.request_stop(&build_id, StopRequest::Abort);
                }
                Some(BuildEvent::Resync) => {
                    claim = true;
                    check_held(&worker).await;
                }
                Some(_) => {}
                None => break,
            },
            _ = poll.tick() => claim = true,
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                task_joined(&worker, joined);
                claim = true;
            }
            _ = shutdown.changed() => break,
        }
        if claim {
            claim_and_start(&worker, &mut tasks).await;
        }
    }

    shut_down(&worker, &mut tasks).await;
    heartbeat.abort();
    fencing.abort();
    leftovers.abort();
    tracing::info!("worker stopped");
}

fn task_joined(worker: &Worker, joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
    let task = match &joined {
        Ok((task, ())) => *task,
        Err(e) => e.id(),
    };
    let build_id = worker.task_ended(task);
    if let Err(e) = joined {
        // Panics are caught inside the task; this is a task that was cancelled.
        tracing::error!(build_id = ?build_id, error = %e, "a build task ended abnormally");
    }
}

async fn claim_and_start(worker: &Arc<Worker>, tasks: &mut Tasks) {
    let free = worker
        .settings
        .concurrency
        .saturating_sub(worker.running_count());
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
        let (stop_tx, stop_rx) = watch::channel(StopRequest::None);
        // The claim set the lease: it counts from before the claim was sent, at the latest now.
        let fence = Arc::new(Fence::new(&worker.settings));
        let Ok(mut running) = worker.running.lock() else {
            tracing::error!(build_id = %build.id, "the worker's state is poisoned; the rescuer will end the build");
            continue;
        };
        let id = build.id.clone();
        let span = tracing::info_span!("build", build_id = %id, worker_id = %worker.worker_id);
        let task_worker = worker.clone();
        let task = FENCE.scope(fence.clone(), async move {
            let run = run::run_build(task_worker.clone(), build.clone(), stop_rx);
            if AssertUnwindSafe(run).catch_unwind().await.is_err() {
                panicked::end_after_panic(&task_worker, &build.id).await;
            }
        });
        let handle = tasks.spawn(task.instrument(span));
        running.insert(
            id,
            Held {
                stop: stop_tx,
                fence,
                task: Some(handle.id()),
            },
        );
    }
}

async fn shut_down(worker: &Arc<Worker>, tasks: &mut Tasks) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(running = tasks.len(), grace = ?worker.settings.shutdown_grace, "waiting for running builds");
    let drained = tokio::time::timeout(worker.settings.shutdown_grace, async {
        while let Some(joined) = tasks.join_next_with_id().await {
            task_joined(worker, joined);
        }
    })
    .await;
    if drained.is_err() {
        for id in worker.running_ids() {
            match queue::move_held(
                &worker.pool,
                &id,
                &worker.worker_id,
                BuildStatus::Running,
                BuildStatus::Aborting,
                Some("SYSTEM"),
            )
            .await
            {
                Ok(true) => tracing::warn!(build_id = %id, "aborting a build at shutdown"),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(build_id = %id, error = %e, "could not abort a build at shutdown")
                }
            }
            worker.request_stop(&id, StopRequest::Abort);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            task_joined(worker, joined);
        }
    }
}
