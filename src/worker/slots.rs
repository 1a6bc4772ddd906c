//! The builds a worker runs: one task each in one `JoinSet`, known by build id. The main loop
//! owns the set (it spawns and joins); the heartbeat, fence and leftover loops read the builds
//! through the shared `Running` view. Every task's end is looked at: a panic inside a build's
//! task is caught there and ends the build cleanly (see `panicked`), and a task that ended any
//! other way is logged.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::sync::{watch, Notify};
use tokio::task::{Id, JoinError, JoinSet};
use tracing::Instrument;

use super::lease::{Fence, FENCE};
use super::{panicked, StopRequest, Worker};

/// A build this worker runs.
struct Held {
    stop: watch::Sender<StopRequest>,
    fence: Arc<Fence>,
    task: Id,
}

/// The running builds as the worker's loops see them.
#[derive(Default)]
pub(crate) struct Running {
    builds: Mutex<HashMap<String, Held>>,
    /// Woken whenever a build ends (for `WorkerPool::run_until_idle`).
    pub ended: Notify,
}

impl Running {
    fn with<T>(&self, read: impl FnOnce(&HashMap<String, Held>) -> T, poisoned: T) -> T {
        self.builds.lock().map(|m| read(&m)).unwrap_or(poisoned)
    }

    pub fn ids(&self) -> Vec<String> {
        self.with(|m| m.keys().cloned().collect(), Vec::new())
    }

    pub fn len(&self) -> usize {
        self.with(HashMap::len, 0)
    }

    /// The builds whose leases are to be renewed: those not given up.
    pub fn renewable_ids(&self) -> Vec<String> {
        self.ids_where(|fence| !fence.lost.load(Ordering::SeqCst))
    }

    /// The builds whose lease could not be renewed in time and that are not given up yet.
    pub fn stale_ids(&self) -> Vec<String> {
        self.ids_where(|fence| !fence.lost.load(Ordering::SeqCst) && fence.is_lost())
    }

    fn ids_where(&self, keep: impl Fn(&Fence) -> bool) -> Vec<String> {
        self.with(
            |m| {
                m.iter()
                    .filter(|(_, held)| keep(&held.fence))
                    .map(|(id, _)| id.clone())
                    .collect()
            },
            Vec::new(),
        )
    }

    /// Notes that the build's lease was renewed by a statement sent at `sent`.
    pub fn renewed(&self, build_id: &str, sent: tokio::time::Instant) {
        self.with(
            |m| {
                if let Some(held) = m.get(build_id) {
                    held.fence.renewed_at(sent);
                }
            },
            (),
        )
    }

    pub fn request_stop(&self, build_id: &str, request: StopRequest) {
        self.with(
            |m| {
                let Some(held) = m.get(build_id) else { return };
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
            },
            (),
        )
    }
}

/// The set of running builds' tasks, owned by the main loop.
pub(crate) struct Slots {
    tasks: JoinSet<()>,
    running: Arc<Running>,
}

impl Slots {
    pub fn new(running: Arc<Running>) -> Self {
        Slots {
            tasks: JoinSet::new(),
            running,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Runs `run` (given the build's stop requests) as the build's task, in `span`, fenced by
    /// the build's lease; a panic in it ends the build after the fact.
    pub fn spawn<F>(
        &mut self,
        worker: &Arc<Worker>,
        build_id: String,
        span: tracing::Span,
        run: impl FnOnce(watch::Receiver<StopRequest>) -> F,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(mut builds) = self.running.builds.lock() else {
            tracing::error!(%build_id, "the worker's state is poisoned; the rescuer will end the build");
            return;
        };
        let (stop, stop_rx) = watch::channel(StopRequest::None);
        // The claim set the lease: it counts from before the claim was sent, at the latest now.
        let fence = Arc::new(Fence::new(&worker.settings));
        let run = run(stop_rx);
        let task_worker = worker.clone();
        let id = build_id.clone();
        let task = FENCE.scope(fence.clone(), async move {
            if AssertUnwindSafe(run).catch_unwind().await.is_err() {
                panicked::end_after_panic(&task_worker, &id).await;
            }
        });
        let handle = self.tasks.spawn(task.instrument(span));
        builds.insert(
            build_id,
            Held {
                stop,
                fence,
                task: handle.id(),
            },
        );
    }

    /// Waits for the next build's task to end and forgets the build; `None` when none runs.
    pub async fn join_next(&mut self) -> Option<String> {
        let joined = self.tasks.join_next_with_id().await?;
        Some(self.ended(joined))
    }

    fn ended(&mut self, joined: Result<(Id, ()), JoinError>) -> String {
        let task = match &joined {
            Ok((task, ())) => *task,
            Err(e) => e.id(),
        };
        let build_id = self
            .running
            .builds
            .lock()
            .ok()
            .and_then(|mut m| {
                let id = m
                    .iter()
                    .find(|(_, held)| held.task == task)
                    .map(|(id, _)| id.clone())?;
                m.remove(&id);
                Some(id)
            })
            .unwrap_or_default();
        match joined {
            Ok(_) => tracing::debug!(%build_id, "a build's task ended"),
            // Panics are caught inside the task: this one was cancelled or its panic escaped
            // the handler.
            Err(e) => tracing::error!(%build_id, error = %e, "a build task ended abnormally"),
        }
        self.running.ended.notify_waiters();
        build_id
    }
}
