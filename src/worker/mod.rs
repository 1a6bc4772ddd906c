//! Build workers: claim READY builds, run them through an executor, stop them on abort or
//! timeout, keep their leases, and rescue the builds of workers that were lost.

pub mod actor_definition;
pub mod executor;
mod run;
pub mod sources;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::build_events::{BuildEvent, BuildEvents};
use crate::domain::{new_id, BuildStatus};
use crate::settings::WorkerSettings;
use crate::storage::queue;
use executor::{Executor, LocalExecutor};

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

/// When a build's lease was last renewed, so that the worker stops the build (and writes nothing
/// more for it) before the lease can lapse and another worker's rescuer takes it.
pub(crate) struct Fence {
    renewed: Mutex<Instant>,
    /// Past this age of the last renewal the build is given up: a lease less one heartbeat.
    limit: Duration,
    lost: AtomicBool,
}

tokio::task_local! {
    /// The fence of the build whose task this is: its retries give up when the build is lost.
    static FENCE: Arc<Fence>;
}

impl Fence {
    fn new(settings: &WorkerSettings) -> Self {
        Fence {
            renewed: Mutex::new(Instant::now()),
            limit: settings.lease().saturating_sub(settings.heartbeat),
            lost: AtomicBool::new(false),
        }
    }

    fn renewed_at(&self, at: Instant) {
        if let Ok(mut renewed) = self.renewed.lock() {
            *renewed = (*renewed).max(at);
        }
    }

    /// Until when this worker may still act for the build.
    fn deadline(&self) -> Instant {
        let renewed = self.renewed.lock().map(|r| *r).unwrap_or_else(|_| Instant::now());
        renewed + self.limit
    }

    fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst) || Instant::now() >= self.deadline()
    }
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
        Self::start_with(pool, events, settings, Arc::new(LocalExecutor))
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
                run::end_after_panic(&task_worker, &build.id).await;
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

/// Renews the leases of the builds this worker runs and passes on aborts and losses (also the
/// fallback for notifications that never arrived). False when the database did not answer.
async fn check_held(worker: &Worker) -> bool {
    let ids = worker.renewable_ids();
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
                match held.iter().find(|(held_id, _)| held_id == id) {
                    Some((_, status)) => {
                        if let Ok(running) = worker.running.lock() {
                            if let Some(h) = running.get(id) {
                                h.fence.renewed_at(sent);
                            }
                        }
                        if *status == BuildStatus::Aborting {
                            worker.request_stop(id, StopRequest::Abort);
                        }
                    }
                    None => worker.request_stop(id, StopRequest::Lost),
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
async fn heartbeat_loop(worker: Arc<Worker>) {
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

/// Self-fencing: a build whose lease could not be renewed for a lease less one heartbeat is
/// stopped (its processes killed, nothing more written) before another worker can rescue it.
async fn fence_loop(worker: Arc<Worker>) {
    let mut tick = tokio::time::interval((worker.settings.heartbeat / 10).max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stale: Vec<String> = worker
            .running
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, held)| {
                        !held.fence.lost.load(Ordering::SeqCst) && held.fence.is_lost()
                    })
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for build_id in stale {
            tracing::error!(%build_id, "the lease could not be renewed; stopping the build and writing nothing more for it");
            worker.request_stop(&build_id, StopRequest::Lost);
        }
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
