//! The builds list, a build's page, its log to download, and aborting it.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::{chrome, find_actor, find_build, page_of, pages};
use crate::console::error::ConsoleError;
use crate::console::paths;
use crate::console::session::{Form, Session};
use crate::console::views::{self, Nav};
use crate::console::{html, redirect};
use crate::domain::{is_id, BuildStatus};
use crate::http::extract::Query;
use crate::state::AppState;
use crate::storage::actors;
use crate::storage::builds::{self, BuildFilter};
use crate::storage::logs::{self, LogLine};

/// Builds on a page of the builds list.
const BUILDS_PER_PAGE: i64 = 20;
/// Log lines rendered into the build page; the rest can be downloaded.
const LOG_LINES_SHOWN: usize = 5000;
/// Log lines read at once.
const LOG_PAGE: i64 = 1000;

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `GET /console/builds`: the user's builds, newest first, filtered by status and Actor.
pub async fn builds_list(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = Query::parse(&req)?;
    let status = match query.get("status") {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<BuildStatus>()
                .map_err(|_| ConsoleError::BadRequest(format!("{s:?} is not a build status")))?,
        ),
    };
    let actor = match query.get("actor") {
        None | Some("") => None,
        Some(id) if is_id(id) => Some(find_actor(&state, &session.user, id).await?),
        Some(_) => return Err(ConsoleError::NotFound("Actor")),
    };
    let page = page_of(&query)?;
    let statuses: Vec<BuildStatus> = status.into_iter().collect();
    let filter = BuildFilter {
        user_id: &session.user.id,
        actor_id: actor.as_ref().map(|a| a.id.as_str()),
        statuses: &statuses,
    };
    let ((total, rows), (_, mut all_actors)) = tokio::try_join!(
        builds::list_filtered(
            &state.pool,
            &filter,
            (page - 1) * BUILDS_PER_PAGE,
            BUILDS_PER_PAGE
        ),
        actors::list(&state.pool, &session.user.id, 0, 1000, false),
    )?;
    all_actors.sort_by(|a, b| a.actor.name.cmp(&b.actor.name));
    let csrf = session.csrf();
    let view = views::BuildsListView {
        rows: &rows,
        actors: &all_actors,
        status,
        actor_id: filter.actor_id,
        page,
        pages: pages(total, BUILDS_PER_PAGE),
        total,
    };
    Ok(html(
        StatusCode::OK,
        views::builds_page(&chrome(&session, &csrf, Nav::Builds), &view),
    ))
}

/// Up to `LOG_LINES_SHOWN` lines of a build's log, and whether there are more.
async fn first_lines(
    state: &AppState,
    build_id: &str,
) -> Result<(Vec<LogLine>, bool), ConsoleError> {
    let mut lines: Vec<LogLine> = Vec::new();
    let mut after = 0;
    while lines.len() < LOG_LINES_SHOWN {
        let want = LOG_PAGE.min((LOG_LINES_SHOWN - lines.len()) as i64);
        let page = logs::read_after(&state.pool, build_id, after, want).await?;
        let Some(last) = page.last() else {
            return Ok((lines, false));
        };
        after = last.id;
        lines.extend(page);
    }
    let more = !logs::read_after(&state.pool, build_id, after, 1)
        .await?
        .is_empty();
    Ok((lines, more))
}

/// `GET /console/builds/{id}`
pub async fn build_page(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let build = find_build(&state, &session.user, &path).await?;
    let actor = find_actor(&state, &session.user, &build.act_id).await?;
    // The build was read first: when it was finished then, every line of its log is written.
    let (tags, (lines, truncated)) = tokio::try_join!(
        async { Ok::<_, ConsoleError>(actors::tags(&state.pool, &actor.id).await?) },
        first_lines(&state, &build.id),
    )?;
    let csrf = session.csrf();
    let view = views::BuildView {
        build: &build,
        actor: &actor,
        tags: tags
            .iter()
            .filter(|t| t.build_id == build.id)
            .map(|t| t.tag.as_str())
            .collect(),
        lines: &lines,
        truncated,
    };
    Ok(html(
        StatusCode::OK,
        views::build_page(&chrome(&session, &csrf, Nav::Builds), &view),
    ))
}

/// `GET /console/builds/{id}/log`: the whole log as plain text, to download.
pub async fn build_log(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let build = find_build(&state, &session.user, &path).await?;
    let text = crate::service::logs::read_all(&state.pool, &build.id, false).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"build-{}.log\"", build.id),
        ))
        .body(text))
}

/// `POST /console/builds/{id}/abort`: as the API's abort. Answers the build's new status as
/// JSON to a script, or sends a form back to the build page.
pub async fn abort(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&Form::parse(&body))?;
    let id = path.into_inner();
    if !is_id(&id) {
        return Err(ConsoleError::NotFound("Build"));
    }
    let build = builds::abort(&state.pool, &id, &session.user.id)
        .await?
        .ok_or(ConsoleError::NotFound("Build"))?;
    if wants_json(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("application/json; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(views::status_payload(&build).to_string()));
    }
    Ok(redirect(&paths::build(&build.id)))
}
