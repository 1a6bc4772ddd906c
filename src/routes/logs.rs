//! Build logs: plain text, each line prefixed by its ISO timestamp; optionally streamed until
//! the build ends, woken by the build events rather than by polling.

use std::borrow::Cow;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use sqlx::PgPool;

use super::api_doc::ApiErrors;
use super::extract::{Caller, Query};
#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use crate::build_events::Subscription;
use crate::build_watch::StreamGuard;
use crate::error::ApiError;
use crate::json::timestamp;
use crate::startup::AppState;
use crate::storage::builds;
use crate::storage::logs::{self, LogLine};

const TEXT: &str = "text/plain; charset=utf-8";
const PAGE: i64 = 1000;

/// `GET /v2/actor-builds/{buildId}/log` and `GET /v2/logs/{buildId}`
#[utoipa::path(
    operation_id = "logs_get",
    get,
    path = "/v2/actor-builds/{buildId}/log",
    tag = "logs",
    params(
        ("buildId" = String, Path, description = "The build's id"),
        ("stream" = Option<bool>, Query, description = "Keep the response open until the build ends"),
        ("download" = Option<bool>, Query, description = "As an attachment"),
        ("raw" = Option<bool>, Query, description = "Keep ANSI escape sequences")
    ),
    responses(
        (status = 200, description = "Log lines, each starting with its timestamp", content_type = "text/plain", body = String),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(&req)?;
    let stream = query.bool("stream")?.unwrap_or(false);
    let download = query.bool("download")?.unwrap_or(false);
    let raw = query.bool("raw")?.unwrap_or(false);
    // Subscribe before the first read so that no line written in between is missed.
    let events = state.events.subscribe();
    let build = builds::get_for_user(&state.pool, &path, &user.id)
        .await?
        .ok_or(ApiError::NotFound("Build"))?;
    let mut response = HttpResponse::Ok();
    response.content_type(TEXT);
    if download {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.log\"", build.id),
        ));
    }
    if !stream {
        let mut text = String::new();
        let mut after = 0;
        loop {
            let lines = logs::read_after(&state.pool, &build.id, after, PAGE).await?;
            let Some(last) = lines.last() else { break };
            after = last.id;
            render(&lines, raw, &mut text);
        }
        return Ok(response.body(text));
    }
    let follower = LogFollower {
        pool: state.pool.clone(),
        events,
        build_id: build.id,
        after: 0,
        raw,
        ended: false,
        _open: state.waiters.stream_guard(),
    };
    let body = futures_util::stream::unfold(follower, |mut follower| async move {
        follower.next_chunk().await.map(|chunk| (chunk, follower))
    });
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(body))
}

struct LogFollower {
    pool: PgPool,
    events: Subscription,
    build_id: String,
    after: i64,
    raw: bool,
    ended: bool,
    /// Counts the stream in `log_streams_active` until the body is dropped (with its client).
    _open: StreamGuard,
}

impl LogFollower {
    /// The next lines; `None` once the build is terminal and every line was sent.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, ApiError>> {
        loop {
            let lines = match logs::read_after(&self.pool, &self.build_id, self.after, PAGE).await {
                Ok(lines) => lines,
                Err(e) => return Some(Err(e.into())),
            };
            if let Some(last) = lines.last() {
                self.after = last.id;
                let mut text = String::new();
                render(&lines, self.raw, &mut text);
                return Some(Ok(Bytes::from(text)));
            }
            if self.ended {
                return None;
            }
            match builds::get(&self.pool, &self.build_id).await {
                // Terminal (or deleted): one more read picks up the last lines, then the end.
                Ok(Some(b)) if !b.status.is_terminal() => {}
                Ok(_) => {
                    self.ended = true;
                    continue;
                }
                Err(e) => return Some(Err(e.into())),
            }
            self.wait_for_news().await;
        }
    }

    async fn wait_for_news(&mut self) {
        // A periodic look guards against a notification that never came.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, self.events.next()).await {
                Ok(Some(event)) if event.concerns(&self.build_id) => return,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }
}

fn render(lines: &[LogLine], raw: bool, out: &mut String) {
    for line in lines {
        out.push_str(&timestamp(&line.at));
        out.push(' ');
        let text = if raw {
            Cow::Borrowed(line.line.as_str())
        } else {
            strip_ansi(&line.line)
        };
        out.push_str(&text);
        out.push('\n');
    }
}

/// The text without ANSI escape sequences (colours, cursor moves, titles).
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Two-character sequences (ESC c, ESC 7, ...)
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn strips_colours_and_titles() {
        assert_eq!(strip_ansi("\u{1b}[1;32mgreen\u{1b}[0m text"), "green text");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}after"), "after");
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
