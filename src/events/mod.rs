//! One `LISTEN build_status` connection per process (payloads `<build id> <STATUS>` for new builds
//! and status changes, `<build id> LOG` for new log lines), fanned out in memory: waiting requests,
//! log streams and workers are woken by it instead of each polling the database. Followers of
//! a build wait through a `Watch`: subscribe, re-read, wait for news.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::domain::BuildStatus;

pub mod waiters;

pub const CHANNEL: &str = "build_status";

#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// A build was created or changed status.
    Status {
        build_id: Arc<str>,
        status: BuildStatus,
    },
    /// Lines were added to a build's log.
    Log { build_id: Arc<str> },
    /// Notifications may have been missed (the listener reconnected): everyone re-reads.
    Resync,
}

impl BuildEvent {
    /// Whether a waiter on `build_id` should look at the database again.
    pub fn concerns(&self, build_id: &str) -> bool {
        match self {
            BuildEvent::Status { build_id: id, .. } | BuildEvent::Log { build_id: id } => {
                &**id == build_id
            }
            BuildEvent::Resync => true,
        }
    }
}

#[derive(Clone)]
pub struct BuildEvents {
    sender: broadcast::Sender<BuildEvent>,
}

impl BuildEvents {
    /// Starts listening; the task ends when the last `BuildEvents` handle is dropped.
    pub fn start(pool: PgPool) -> Self {
        let (sender, _) = broadcast::channel(4096);
        let events = BuildEvents { sender };
        tokio::spawn(listen(pool, events.sender.downgrade()));
        events
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}

/// A subscription that also wakes on its own now and then: what every follower of builds (a
/// `waitForFinish`, a log stream, the console's live pages) waits on. Made before the
/// follower's first read, so that nothing that happens in between is missed.
pub struct Watch {
    subscription: Subscription,
    /// How often to look at the database without news (a guard against a notification that
    /// never came); `None`: only on news.
    look_every: Option<Duration>,
    next_look: Option<Instant>,
}

/// Why a watch woke.
#[derive(Debug)]
pub enum News {
    /// An event the follower asked for (`Resync` included when it asked for it).
    Event(BuildEvent),
    /// Nothing came for a while: look anyway.
    Quiet,
    /// The events ended: the process is stopping.
    Closed,
}

impl BuildEvents {
    /// A watch whose follower reads now, then waits on it.
    pub fn watch(&self, look_every: Option<Duration>) -> Watch {
        Watch {
            subscription: self.subscribe(),
            look_every,
            next_look: look_every.map(|every| Instant::now() + every),
        }
    }
}

impl Watch {
    /// Waits for an event that `wanted` keeps (others cost nothing), or the periodic look.
    /// Cancel-safe: nothing is lost when the future is dropped.
    pub async fn next(&mut self, wanted: impl Fn(&BuildEvent) -> bool) -> News {
        loop {
            let event = match self.next_look {
                Some(at) => match tokio::time::timeout_at(at, self.subscription.next()).await {
                    Ok(event) => event,
                    Err(_) => {
                        self.next_look = self.look_every.map(|every| Instant::now() + every);
                        return News::Quiet;
                    }
                },
                None => self.subscription.next().await,
            };
            match event {
                Some(event) if wanted(&event) => return News::Event(event),
                Some(_) => {}
                None => return News::Closed,
            }
        }
    }

    /// Waits for news of one build: its status moves, its log lines, or a resync.
    pub async fn next_of(&mut self, build_id: &str) -> News {
        self.next(|event| event.concerns(build_id)).await
    }
}

pub struct Subscription {
    receiver: broadcast::Receiver<BuildEvent>,
}

impl Subscription {
    /// The next event; a lagging receiver gets `Resync` rather than an error.
    pub async fn next(&mut self) -> Option<BuildEvent> {
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(BuildEvent::Resync),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

async fn listen(pool: PgPool, sender: broadcast::WeakSender<BuildEvent>) {
    loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for build events; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                if sender.upgrade().is_none() {
                    return;
                }
                continue;
            }
        };
        loop {
            let Some(strong) = sender.upgrade() else {
                return;
            };
            // Anything sent before this LISTEN took effect may be lost: everyone re-reads.
            let _ = strong.send(BuildEvent::Resync);
            drop(strong);
            // `try_recv` gives `None` when the connection dropped; the next call reconnects.
            let received = loop {
                let next = tokio::time::timeout(Duration::from_secs(1), listener.try_recv()).await;
                let Some(strong) = sender.upgrade() else {
                    return;
                };
                match next {
                    Err(_) => continue,
                    Ok(Ok(Some(n))) => {
                        if let Some(event) = parse(n.payload()) {
                            let _ = strong.send(event);
                        }
                    }
                    Ok(Ok(None)) => break Ok(()),
                    Ok(Err(e)) => break Err(e),
                }
            };
            if let Err(e) = received {
                tracing::warn!(error = %e, "build events connection failed; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
                break;
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn parse(payload: &str) -> Option<BuildEvent> {
    let (id, what) = payload.split_once(' ')?;
    if what == "LOG" {
        return Some(BuildEvent::Log {
            build_id: id.into(),
        });
    }
    Some(BuildEvent::Status {
        build_id: id.into(),
        status: BuildStatus::from_str(what).ok()?,
    })
}
