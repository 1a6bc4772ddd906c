//! One `LISTEN build_status` connection per process (payloads `<build id> <STATUS>` for new builds
//! and status changes, `<build id> LOG` for new log lines), fanned out in memory: waiting requests,
//! log streams and workers are woken by it instead of each polling the database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;

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
