//! Requests that wait on a build (`waitForFinish`) share one reading of it: the first waiter of
//! a build starts a watch that re-reads the build once per status event, every other waiter of
//! that build reads the same watch, and the watch ends with its last waiter (or the build's
//! end). So 2,000 waiters of one build cost one query per event, not 2,000.
//!
//! The counts here are the process's own, rendered on the metrics listener:
//! `build_waiters_active`, `build_waiter_reloads_total` and `log_streams_active`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::{BuildEvent, BuildEvents, News, Watch};
use crate::storage::builds::{self, BuildRecord};

/// The latest reading of a build: `None` until the first read, `Some(None)` once it is gone.
type Reading = Option<Option<Arc<BuildRecord>>>;

#[derive(Clone)]
pub struct Waiters {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    events: BuildEvents,
    watches: Mutex<HashMap<String, watch::Sender<Reading>>>,
    active: AtomicUsize,
    reloads: AtomicU64,
    streams: AtomicUsize,
}

/// Counts something while it lives.
struct Counted(Arc<Inner>, fn(&Inner) -> &AtomicUsize);

impl Counted {
    fn new(inner: &Arc<Inner>, counter: fn(&Inner) -> &AtomicUsize) -> Self {
        counter(inner).fetch_add(1, Ordering::Relaxed);
        Counted(inner.clone(), counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Held by a log stream while it lives, so that `log_streams_active` counts it.
pub struct StreamGuard(#[allow(dead_code)] Counted);

impl Waiters {
    pub fn new(pool: PgPool, events: BuildEvents) -> Self {
        Waiters {
            inner: Arc::new(Inner {
                pool,
                events,
                watches: Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                reloads: AtomicU64::new(0),
                streams: AtomicUsize::new(0),
            }),
        }
    }

    /// Marks a log stream as open until the guard is dropped.
    pub fn stream_guard(&self) -> StreamGuard {
        StreamGuard(Counted::new(&self.inner, |i| &i.streams))
    }

    /// Waits until the build is terminal or `deadline` passes, and returns the build as last
    /// read (`build` itself when nothing newer was read); `None` when it was deleted meanwhile.
    /// `build` must have been read by the caller before this call.
    pub async fn wait(&self, build: BuildRecord, deadline: Instant) -> Option<BuildRecord> {
        if build.status.is_terminal() {
            return Some(build);
        }
        let _counted = Counted::new(&self.inner, |i| &i.active);
        let mut reading = self.join(&build.id);
        let mut current = Some(build);
        loop {
            if let Some(seen) = reading.borrow_and_update().clone() {
                current = seen.map(|b| (*b).clone());
            }
            match &current {
                Some(b) if !b.status.is_terminal() => {}
                _ => return current,
            }
            match tokio::time::timeout_at(deadline, reading.changed()).await {
                Ok(Ok(())) => {}
                // The watch ended (server stopping) or the time is up: the build as it is.
                Ok(Err(_)) | Err(_) => return current,
            }
        }
    }

    /// A receiver of the build's watch, started by the first waiter.
    fn join(&self, build_id: &str) -> watch::Receiver<Reading> {
        let Ok(mut watches) = self.inner.watches.lock() else {
            // A poisoned registry: this waiter gets a watch of its own.
            return self.start(build_id);
        };
        if let Some(sender) = watches.get(build_id) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        watches.insert(build_id.to_owned(), sender.clone());
        drop(watches);
        self.start_reading(build_id, sender);
        receiver
    }

    /// A watch of the build of its own, outside the registry.
    fn start(&self, build_id: &str) -> watch::Receiver<Reading> {
        let (sender, receiver) = watch::channel(None);
        self.start_reading(build_id, sender);
        receiver
    }

    /// Starts reading the build for the watch's receivers. The events are watched before the
    /// first read, so that no move made in between is missed.
    fn start_reading(&self, build_id: &str, sender: watch::Sender<Reading>) {
        tokio::spawn(follow(
            self.inner.clone(),
            build_id.to_owned(),
            sender,
            self.inner.events.watch(None),
        ));
    }

    /// Prometheus text of the counts kept here.
    pub fn render(&self) -> String {
        let active = self.inner.active.load(Ordering::Relaxed);
        let reloads = self.inner.reloads.load(Ordering::Relaxed);
        let streams = self.inner.streams.load(Ordering::Relaxed);
        format!(
            "# TYPE build_waiters_active gauge\nbuild_waiters_active {active}\n\
             # TYPE build_waiter_reloads_total counter\nbuild_waiter_reloads_total {reloads}\n\
             # TYPE log_streams_active gauge\nlog_streams_active {streams}\n"
        )
    }
}

/// Reads the build now and after each of its status events, until it is terminal or gone, or
/// nobody waits any more.
async fn follow(
    inner: Arc<Inner>,
    build_id: String,
    sender: watch::Sender<Reading>,
    mut watch: Watch,
) {
    let mut read = true;
    loop {
        if read {
            read = false;
            inner.reloads.fetch_add(1, Ordering::Relaxed);
            match builds::get(&inner.pool, &build_id).await {
                Ok(found) => {
                    let done = found.as_ref().is_none_or(|b| b.status.is_terminal());
                    sender.send_replace(Some(found.map(Arc::new)));
                    if done {
                        break;
                    }
                }
                // Waiters keep what they have; the next event reads again.
                Err(e) => {
                    tracing::warn!(%build_id, error = %e, "a waited-on build could not be read")
                }
            }
        }
        tokio::select! {
            // Status moves only: log lines do not change the build's row.
            news = watch.next(|e| match e {
                BuildEvent::Status { build_id: id, .. } => **id == *build_id,
                BuildEvent::Resync => true,
                BuildEvent::Log { .. } => false,
            }) => match news {
                News::Event(_) | News::Quiet => read = true,
                News::Closed => break,
            },
            _ = sender.closed() => {
                // Unless a waiter joined in the meantime, nobody waits any more.
                if let Ok(mut watches) = inner.watches.lock() {
                    if sender.receiver_count() > 0 {
                        continue;
                    }
                    forget(&mut watches, &build_id, &sender);
                }
                return;
            }
        }
    }
    if let Ok(mut watches) = inner.watches.lock() {
        forget(&mut watches, &build_id, &sender);
    }
}

fn forget(
    watches: &mut HashMap<String, watch::Sender<Reading>>,
    build_id: &str,
    sender: &watch::Sender<Reading>,
) {
    if watches
        .get(build_id)
        .is_some_and(|s| s.same_channel(sender))
    {
        watches.remove(build_id);
    }
}
