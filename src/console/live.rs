//! Live updates as server-sent events, woken by the in-process build events (the same ones that
//! wake the API's log streams), with a periodic look as a guard against a missed notification.
//!
//! - `GET /console/live/builds?ids=a,b,c[&new=1]`: `status` events when one of these builds of
//!   the user changes, `new` when the user starts another build (with `new=1`), and `end` once
//!   there is nothing left to watch.
//! - `GET /console/live/builds/{id}?after=N`: the build's log lines after line N (`log` events,
//!   whose event id is the last line's, so a reconnecting browser resumes where it was), its
//!   `status` changes, and `end` after the last line of a finished build.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::error::ConsoleError;
use super::session::Session;
use super::views;
use crate::domain::timestamp::timestamp;
use crate::domain::{is_id, BuildStatus, UserId};
use crate::events::waiters::StreamGuard;
use crate::events::{BuildEvent, News, Watch};
use crate::http::extract::Query;
use crate::state::AppState;
use crate::storage::builds::{self, BuildRecord};
use crate::storage::logs;

/// How long a stream waits for an event before it looks at the database anyway (and pings).
const LOOK_EVERY: Duration = Duration::from_secs(15);
/// Most builds one list stream watches (a page of the list holds fewer).
const MAX_WATCHED: usize = 200;
/// Log lines sent in one event.
const LOG_PAGE: i64 = 500;

fn event(name: &str, id: Option<i64>, data: &Value) -> Bytes {
    let mut text = format!("event: {name}\n");
    if let Some(id) = id {
        text.push_str(&format!("id: {id}\n"));
    }
    // JSON has no raw line breaks, so the data is one `data:` line.
    text.push_str(&format!("data: {data}\n\n"));
    Bytes::from(text)
}

const PING: &[u8] = b": ping\n\n";

fn event_stream<S>(body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<Bytes, ConsoleError>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// `GET /console/live/builds`
pub async fn builds(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(&req)?;
    let ids: Vec<String> = query
        .get("ids")
        .unwrap_or_default()
        .split(',')
        .filter(|id| is_id(id))
        .take(MAX_WATCHED)
        .map(str::to_owned)
        .collect();
    let watch_new = query.get("new") == Some("1");
    // Watch before the first read so that no change in between is missed.
    let watcher = ListWatcher {
        pool: state.pool.clone(),
        watch: state.events.watch(Some(LOOK_EVERY)),
        user_id: session.user.id,
        ids,
        shown: HashMap::new(),
        watch_new,
        started: false,
        ended: false,
        queue: VecDeque::new(),
        _open: state.waiters.stream_guard(),
    };
    let body = stream::unfold(watcher, |mut w| async move {
        w.next_chunk().await.map(|chunk| (chunk, w))
    });
    Ok(event_stream(body))
}

struct ListWatcher {
    pool: PgPool,
    watch: Watch,
    user_id: UserId,
    /// The builds on the page that are not finished yet (as far as the browser was told).
    ids: Vec<String>,
    /// What the browser was last told of each build.
    shown: HashMap<String, BuildStatus>,
    watch_new: bool,
    started: bool,
    ended: bool,
    queue: VecDeque<Bytes>,
    /// Counts the stream in `log_streams_active` until the body is dropped (with its client).
    _open: StreamGuard,
}

impl ListWatcher {
    /// Reads the watched builds and queues a `status` event for each that changed.
    async fn look(&mut self) -> Result<(), ConsoleError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let found = builds::get_many_for_user(&self.pool, &self.ids, &self.user_id).await?;
        for build in &found {
            if self.shown.get(build.id.as_str()) != Some(&build.status) {
                self.shown.insert(build.id.to_string(), build.status);
                self.queue
                    .push_back(event("status", None, &views::status_payload(build)));
            }
        }
        // Finished (or deleted) builds need no more watching.
        let live: Vec<&str> = found
            .iter()
            .filter(|b| !b.status.is_terminal())
            .map(|b| b.id.as_str())
            .collect();
        self.ids.retain(|id| live.contains(&id.as_str()));
        Ok(())
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, ConsoleError>> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(Ok(chunk));
            }
            if self.ended {
                return None;
            }
            if !self.started {
                self.started = true;
                if let Err(e) = self.look().await {
                    return Some(Err(e));
                }
                continue;
            }
            if self.ids.is_empty() && !self.watch_new {
                // Told the browser everything it will ever need: it closes instead of reconnecting.
                self.ended = true;
                return Some(Ok(event("end", None, &json!({}))));
            }
            let (ids, watch_new) = (&self.ids, self.watch_new);
            let news = self
                .watch
                .next(|event| match event {
                    BuildEvent::Status { build_id, status } => {
                        ids.iter().any(|id| **id == **build_id)
                            || (watch_new && *status == BuildStatus::Ready)
                    }
                    BuildEvent::Log { .. } => false,
                    BuildEvent::Resync => true,
                })
                .await;
            let result = match news {
                News::Closed => return None,
                News::Event(BuildEvent::Status { build_id, .. })
                    if !self.ids.iter().any(|id| **id == *build_id) =>
                {
                    self.look_new(&build_id).await
                }
                News::Event(_) => self.look().await,
                News::Quiet => match self.look().await {
                    Ok(()) if self.queue.is_empty() => return Some(Ok(Bytes::from_static(PING))),
                    other => other,
                },
            };
            if let Err(e) = result {
                return Some(Err(e));
            }
        }
    }

    /// A `new` event when a build that was just created is the user's.
    async fn look_new(&mut self, build_id: &str) -> Result<(), ConsoleError> {
        if builds::get_for_user(&self.pool, build_id, &self.user_id)
            .await?
            .is_some()
        {
            self.queue
                .push_back(event("new", None, &json!({ "id": build_id })));
        }
        Ok(())
    }
}

/// `GET /console/live/builds/{id}`
pub async fn build(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let id = path.into_inner();
    if !is_id(&id) {
        return Err(ConsoleError::NotFound("Build"));
    }
    let query = Query::parse(&req)?;
    let after_query = query.non_negative("after")?.unwrap_or(0);
    // A reconnecting EventSource says where it was.
    let after_header = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let watch = state.events.watch(Some(LOOK_EVERY));
    let build = builds::get_for_user(&state.pool, &id, &session.user.id)
        .await?
        .ok_or(ConsoleError::NotFound("Build"))?;
    let follower = BuildFollower {
        pool: state.pool.clone(),
        watch,
        user_id: session.user.id,
        build_id: build.id.to_string(),
        after: after_query.max(after_header),
        shown: None,
        look_at_build: true,
        ending: false,
        ended: false,
        _open: state.waiters.stream_guard(),
    };
    let body = stream::unfold(follower, |mut f| async move {
        f.next_chunk().await.map(|chunk| (chunk, f))
    });
    Ok(event_stream(body))
}

struct BuildFollower {
    pool: PgPool,
    watch: Watch,
    user_id: UserId,
    build_id: String,
    after: i64,
    /// The status the browser was last told.
    shown: Option<BuildStatus>,
    /// The build's row is to be read again before waiting.
    look_at_build: bool,
    /// The build is finished: send what is left of the log, then `end`.
    ending: bool,
    ended: bool,
    /// Counts the stream in `log_streams_active` until the body is dropped (with its client).
    _open: StreamGuard,
}

impl BuildFollower {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, ConsoleError>> {
        loop {
            if self.ended {
                return None;
            }
            match self.step().await {
                Ok(Some(chunk)) => return Some(Ok(chunk)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// One step: a chunk to send, or `None` to go round again.
    async fn step(&mut self) -> Result<Option<Bytes>, ConsoleError> {
        let lines = logs::read_after(&self.pool, &self.build_id, self.after, LOG_PAGE).await?;
        if let Some(last) = lines.last() {
            self.after = last.id;
            let data: Vec<Value> = lines
                .iter()
                .map(|l| json!([timestamp(&l.at), crate::service::logs::strip_ansi(&l.line)]))
                .collect();
            return Ok(Some(event("log", Some(self.after), &Value::Array(data))));
        }
        if self.ending {
            self.ended = true;
            return Ok(Some(event("end", None, &json!({}))));
        }
        if self.look_at_build {
            self.look_at_build = false;
            let build: Option<BuildRecord> =
                builds::get_for_user(&self.pool, &self.build_id, &self.user_id).await?;
            let Some(build) = build else {
                // Deleted meanwhile.
                self.ending = true;
                return Ok(None);
            };
            // Once finished, one more read picks up the last lines (written before the status).
            self.ending = build.status.is_terminal();
            if self.shown != Some(build.status) {
                self.shown = Some(build.status);
                return Ok(Some(event("status", None, &views::status_payload(&build))));
            }
            return Ok(None);
        }
        // Wait for news of this build; events of other builds cost no query.
        match self.watch.next_of(&self.build_id).await {
            News::Closed => {
                self.ended = true;
                Ok(None)
            }
            // New lines: the next step reads them.
            News::Event(BuildEvent::Log { .. }) => Ok(None),
            News::Event(_) => {
                self.look_at_build = true;
                Ok(None)
            }
            News::Quiet => {
                self.look_at_build = true;
                Ok(Some(Bytes::from_static(PING)))
            }
        }
    }
}
