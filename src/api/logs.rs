//! Build logs: plain text, each line prefixed by its ISO timestamp; optionally streamed until
//! the build ends, woken by the build events rather than by polling.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use sqlx::PgPool;
use utoipa::IntoParams;

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::service_openapi::ApiErrors;
use crate::events::waiters::StreamGuard;
use crate::events::{News, Watch};
use crate::http::error::ApiError;
use crate::http::extract::{self, Caller, FromQuery, Query};
use crate::service;
use crate::state::AppState;
use crate::storage::builds;
use crate::storage::logs;

const TEXT: &str = "text/plain; charset=utf-8";
/// How often a log stream looks at the database without news.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// The parameters of a build log.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Keep the response open until the build ends
    #[param(value_type = Option<bool>)]
    pub stream: bool,
    /// As an attachment
    #[param(value_type = Option<bool>)]
    pub download: bool,
    /// Keep ANSI escape sequences
    #[param(value_type = Option<bool>)]
    pub raw: bool,
}

impl FromQuery for LogQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        Ok(LogQuery {
            stream: query.bool("stream")?.unwrap_or(false),
            download: query.bool("download")?.unwrap_or(false),
            raw: query.bool("raw")?.unwrap_or(false),
        })
    }
}

/// `GET /v2/actor-builds/{buildId}/log` and `GET /v2/logs/{buildId}`
#[utoipa::path(
    operation_id = "logs_get",
    get,
    path = "/v2/actor-builds/{buildId}/log",
    tag = "logs",
    params(
        ("buildId" = String, Path, description = "The build's id"),
        LogQuery
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
    let LogQuery {
        stream,
        download,
        raw,
    } = extract::query(&req)?;
    // Watch before the first read so that no line written in between is missed.
    let watch = state.events.watch(Some(LOOK_EVERY));
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
        let text = service::logs::read_all(&state.pool, &build.id, raw).await?;
        return Ok(response.body(text));
    }
    let follower = LogFollower {
        pool: state.pool.clone(),
        watch,
        build_id: build.id.to_string(),
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
    watch: Watch,
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
            let lines =
                match logs::read_after(&self.pool, &self.build_id, self.after, service::logs::PAGE)
                    .await
                {
                    Ok(lines) => lines,
                    Err(e) => return Some(Err(e.into())),
                };
            if let Some(last) = lines.last() {
                self.after = last.id;
                let mut text = String::new();
                service::logs::render(&lines, self.raw, &mut text);
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
            if let News::Closed = self.watch.next_of(&self.build_id).await {
                // The server is stopping: what is left of the log, then the end.
                self.ended = true;
            }
        }
    }
}
