//! Build workers: claim READY builds, run them through an executor, stop them on abort or
//! timeout, keep their leases, and rescue the builds of workers that were lost.

pub mod actor_definition;
mod build_log;
pub mod builder;
pub mod executor;
mod lease;
mod main_loop;
mod panicked;
mod run;
mod slots;
pub mod sources;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

use crate::domain::WorkerId;
use crate::events::BuildEvents;
use crate::settings::WorkerSettings;
use crate::storage::queue;
use executor::{Executor, LocalExecutor};
pub(crate) use lease::retry;
use slots::Running;

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
    pub worker_id: WorkerId,
    pub executor: Arc<dyn Executor>,
    /// The image builder and its layer caches.
    pub images: builder::Images,
    /// The builds this worker runs.
    running: Arc<Running>,
}

/// The build slots of one process; clones are handles to the same slots.
#[derive(Clone)]
pub struct WorkerPool {
    shutdown: watch::Sender<bool>,
    /// True once the main loop ended (or when no slots run at all).
    stopped: watch::Receiver<bool>,
    worker: Option<Arc<Worker>>,
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
            let (_, stopped) = watch::channel(true);
            return WorkerPool {
                shutdown,
                stopped,
                worker: None,
            };
        }
        let images = builder::Images::new(settings.image.clone());
        let worker = Arc::new(Worker {
            images,
            pool,
            settings,
            worker_id: WorkerId::generate(),
            executor,
            running: Arc::default(),
        });
        let (stopped_tx, stopped) = watch::channel(false);
        let span = tracing::info_span!("worker", worker_id = %worker.worker_id);
        let main = main_loop::main_loop(worker.clone(), events, shutdown_rx);
        tokio::spawn(
            async move {
                main.await;
                let _ = stopped_tx.send(true);
            }
            .instrument(span),
        );
        WorkerPool {
            shutdown,
            stopped,
            worker: Some(worker),
        }
    }

    /// Stops claiming, gives running builds the shutdown grace, aborts what is left (by
    /// `SYSTEM`), and returns when every build of this worker has ended. Calling it again
    /// (from another handle) waits for the same end.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    /// Returns once no build is READY and none runs on these slots (at once when there are no
    /// slots): what tests wait on instead of a clock.
    pub async fn run_until_idle(&self) -> Result<(), sqlx::Error> {
        let Some(worker) = &self.worker else {
            return Ok(());
        };
        loop {
            let ended = worker.running.ended.notified();
            if worker.running.len() == 0
                && !queue::ready_or_held(&worker.pool, &worker.worker_id).await?
            {
                return Ok(());
            }
            // A build's end wakes this early; the tick covers claims and other workers.
            let _ = tokio::time::timeout(Duration::from_millis(50), ended).await;
        }
    }
}
