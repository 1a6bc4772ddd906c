//! Build workers: claim READY builds, run them through an executor, stop them on abort or
//! timeout, keep their leases, and rescue the builds of workers that were lost.

pub mod actor_definition;
pub mod executor;
mod run;
pub mod sources;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
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
    running: Mutex<HashMap<String, watch::Sender<StopRequest>>>,
}

impl Worker {
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
            if let Some(sender) = running.get(build_id) {
                sender.send_if_modified(|current| {
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

async fn main_loop(worker: Arc<Worker>, events: BuildEvents, mut shutdown: watch::Receiver<bool>) {
    let settings = worker.settings.clone();
    let mut subscription = events.subscribe();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let heartbeat = tokio::spawn(heartbeat_loop(worker.clone()).in_current_span());
    let mut poll = tokio::time::interval(settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
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
            Some(build_id) = done_rx.recv() => {
                if let Ok(mut running) = worker.running.lock() {
                    running.remove(&build_id);
                }
                claim = true;
            }
            _ = shutdown.changed() => break,
        }
        while tasks.try_join_next().is_some() {}
        if claim {
            claim_and_start(&worker, &done_tx, &mut tasks).await;
        }
    }

    shut_down(&worker, &mut tasks, &mut done_rx).await;
    heartbeat.abort();
    tracing::info!("worker stopped");
}

async fn claim_and_start(
    worker: &Arc<Worker>,
    done_tx: &mpsc::UnboundedSender<String>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
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
        if let Ok(mut running) = worker.running.lock() {
            running.insert(build.id.clone(), stop_tx);
        }
        let worker = worker.clone();
        let done = done_tx.clone();
        let span =
            tracing::info_span!("build", build_id = %build.id, worker_id = %worker.worker_id);
        tasks.spawn(
            async move {
                let id = build.id.clone();
                run::run_build(worker, build, stop_rx).await;
                let _ = done.send(id);
            }
            .instrument(span),
        );
    }
}

/// Asks the database for the statuses of the builds this worker runs, and passes on aborts and
/// losses: the fallback for notifications that never arrived.
async fn check_held(worker: &Worker) {
    let ids = worker.running_ids();
    match queue::heartbeat(
        &worker.pool,
        &worker.worker_id,
        &ids,
        worker.settings.lease(),
    )
    .await
    {
        Ok(held) => {
            for id in &ids {
                match held.iter().find(|(held_id, _)| held_id == id) {
                    Some((_, BuildStatus::Aborting)) => worker.request_stop(id, StopRequest::Abort),
                    Some(_) => {}
                    None => worker.request_stop(id, StopRequest::Lost),
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "heartbeat failed; leases are renewed at the next one")
        }
    }
}

/// Renews leases every heartbeat, and rescues the builds of lost workers.
async fn heartbeat_loop(worker: Arc<Worker>) {
    let mut tick = tokio::time::interval(worker.settings.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        check_held(&worker).await;
        match queue::rescue(&worker.pool, worker.settings.compute_unit_price_usd).await {
            Ok(rescued) => {
                for (build_id, status) in rescued {
                    tracing::warn!(%build_id, %status, "rescued a build whose worker was lost");
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescue failed; retrying at the next heartbeat"),
        }
    }
}

async fn shut_down(
    worker: &Arc<Worker>,
    tasks: &mut tokio::task::JoinSet<()>,
    done_rx: &mut mpsc::UnboundedReceiver<String>,
) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(running = tasks.len(), grace = ?worker.settings.shutdown_grace, "waiting for running builds");
    let drained = tokio::time::timeout(worker.settings.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        while let Ok(id) = done_rx.try_recv() {
            if let Ok(mut running) = worker.running.lock() {
                running.remove(&id);
            }
        }
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
        while tasks.join_next().await.is_some() {}
    }
}

/// Retries a database write through short outages, so that a build's end is not lost.
pub(crate) async fn retry<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
                if tokio::time::Instant::now() < give_up =>
            {
                tracing::warn!(error = %e, "{what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}
