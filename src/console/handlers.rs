//! The console's pages and form actions.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::error::ConsoleError;
use super::paths;
use super::session::{
    self, cookie, csrf_matches, csrf_token, Form, Session, CSRF_FIELD, SESSION_COOKIE,
    SIGN_IN_COOKIE, SIGN_IN_PURPOSE,
};
use super::views::{self, Chrome, Nav};
use super::{html, redirect};
use crate::domain::{is_id, new_id, BuildStatus, VersionNumber};
use crate::http::extract::Query;
use crate::service;
use crate::state::AppState;
use crate::storage::actors::{self, ActorRecord};
use crate::storage::builds::{self, BuildFilter, BuildRequest, NewBuild};
use crate::storage::console_sessions;
use crate::storage::logs::{self, LogLine};
use crate::storage::users::User;
use crate::storage::versions;

/// Builds on a page of the builds list.
const BUILDS_PER_PAGE: i64 = 20;
/// Actors on a page of the Actors list.
const ACTORS_PER_PAGE: i64 = 50;
/// Latest builds on an Actor's page.
const LATEST_BUILDS: i64 = 10;
/// Log lines rendered into the build page; the rest can be downloaded.
const LOG_LINES_SHOWN: usize = 5000;
/// Log lines read at once.
const LOG_PAGE: i64 = 1000;

fn chrome<'a>(session: &'a Session, csrf: &'a str, nav: Nav) -> Chrome<'a> {
    Chrome {
        user: Some(&session.user),
        csrf: Some(csrf),
        nav,
    }
}

/// The `page` query parameter: 1 when absent, else a positive integer.
fn page_of(query: &Query) -> Result<i64, ConsoleError> {
    match query.get("page") {
        None | Some("") => Ok(1),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| ConsoleError::BadRequest(format!("{v:?} is not a page number"))),
    }
}

fn pages(total: i64, per_page: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}

/// The user's Actor named by an id or `username~name`, or 404.
async fn find_actor(
    state: &AppState,
    user: &User,
    actor: &str,
) -> Result<ActorRecord, ConsoleError> {
    Ok(service::actors::load(&state.pool, user, actor).await?)
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `GET /console`
pub async fn root() -> HttpResponse {
    redirect(paths::BUILDS)
}

fn sign_in_response(
    req: &HttpRequest,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    // A fresh random value in a cookie of its own binds the form to this browser.
    let nonce = format!("{}{}", new_id(), new_id());
    let csrf = csrf_token(SIGN_IN_PURPOSE, &nonce);
    let mut response = html(status, views::sign_in_page(&csrf, next, error));
    if let Ok(value) = session::set_cookie(req, SIGN_IN_COOKIE, &nonce).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /console/sign-in`
pub async fn sign_in_form(req: HttpRequest) -> HttpResponse {
    let query = Query::parse(&req).ok();
    let next = query
        .as_ref()
        .and_then(|q| q.get("next"))
        .and_then(session::safe_next);
    sign_in_response(&req, StatusCode::OK, next, None)
}

/// `POST /console/sign-in`: checks the token and opens a session; the cookie holds its id only.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form = Form::parse(&body);
    let nonce = cookie(&req, SIGN_IN_COOKIE);
    let bound = nonce
        .as_deref()
        .is_some_and(|n| csrf_matches(SIGN_IN_PURPOSE, n, form.get(CSRF_FIELD)));
    if !bound {
        return Err(ConsoleError::Forbidden(
            "This sign-in form has expired or did not come from the console; reload it and try again",
        ));
    }
    let next = form.get("next").and_then(session::safe_next);
    let token = form.get("token").map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Ok(sign_in_response(
            &req,
            StatusCode::BAD_REQUEST,
            next,
            Some("Enter an API token."),
        ));
    }
    if let Some(limiter) = &state.rate_limiter {
        if !limiter.allow(token) {
            return Err(ConsoleError::RateLimited);
        }
    }
    let opened = if session::is_cookie_safe(token) {
        console_sessions::create(&state.pool, token).await?
    } else {
        None
    };
    let Some((session_id, _user)) = opened else {
        return Ok(sign_in_response(
            &req,
            StatusCode::UNAUTHORIZED,
            next,
            Some("That token is unknown or was revoked."),
        ));
    };
    let mut response = redirect(next.unwrap_or(paths::BUILDS));
    let cookies = [
        session::set_cookie(&req, SESSION_COOKIE, &session_id),
        session::clear_cookie(SIGN_IN_COOKIE),
    ];
    for value in cookies {
        if let Ok(value) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// `POST /console/sign-out`
pub async fn sign_out(
    state: web::Data<AppState>,
    session: Session,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&Form::parse(&body))?;
    session.end(&state).await?;
    let mut response = redirect(paths::SIGN_IN);
    if let Ok(value) = session::clear_cookie(SESSION_COOKIE).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
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
    let id = path.into_inner();
    if !is_id(&id) {
        return Err(ConsoleError::NotFound("Build"));
    }
    let build = builds::get_for_user(&state.pool, &id, &session.user.id)
        .await?
        .ok_or(ConsoleError::NotFound("Build"))?;
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
    let id = path.into_inner();
    if !is_id(&id) {
        return Err(ConsoleError::NotFound("Build"));
    }
    let build = builds::get_for_user(&state.pool, &id, &session.user.id)
        .await?
        .ok_or(ConsoleError::NotFound("Build"))?;
    let text = service::logs::read_all(&state.pool, &build.id, false).await?;
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

/// `GET /console/actors`
pub async fn actors_list(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let page = page_of(&Query::parse(&req)?)?;
    let (total, rows) = actors::list(
        &state.pool,
        &session.user.id,
        (page - 1) * ACTORS_PER_PAGE,
        ACTORS_PER_PAGE,
        true,
    )
    .await?;
    let csrf = session.csrf();
    Ok(html(
        StatusCode::OK,
        views::actors_page(
            &chrome(&session, &csrf, Nav::Actors),
            &rows,
            total,
            page,
            pages(total, ACTORS_PER_PAGE),
        ),
    ))
}

/// `GET /console/actors/{actor}`: versions, tagged builds, latest builds.
pub async fn actor_page(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let actor = find_actor(&state, &session.user, &path).await?;
    let filter = BuildFilter {
        user_id: &session.user.id,
        actor_id: Some(&actor.id),
        statuses: &[],
    };
    let (versions, tags, (total_builds, latest)) = tokio::try_join!(
        versions::list(&state.pool, &state.settings.secrets, &actor.id),
        actors::tags(&state.pool, &actor.id),
        builds::list_filtered(&state.pool, &filter, 0, LATEST_BUILDS),
    )?;
    let csrf = session.csrf();
    let view = views::ActorView {
        actor: &actor,
        versions: &versions,
        tags: &tags,
        latest: &latest,
        total_builds,
    };
    Ok(html(
        StatusCode::OK,
        views::actor_page(&chrome(&session, &csrf, Nav::Actors), &view),
    ))
}

/// `POST /console/actors/{actor}/builds`: starts a build of the form's version and goes to it.
pub async fn start_build(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form = Form::parse(&body);
    session.check_csrf(&form)?;
    let version_number = VersionNumber::parse(form.get("version").unwrap_or_default())
        .map_err(ConsoleError::BadRequest)?;
    let actor = find_actor(&state, &session.user, &path).await?;
    let version = versions::get(
        &state.pool,
        &state.settings.secrets,
        &actor.id,
        version_number.as_str(),
    )
    .await?
    .ok_or(ConsoleError::NotFound("Actor version"))?;
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let request = BuildRequest {
        origin: "WEB",
        client_ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent,
        use_cache: false,
        beta_packages: false,
        tag: None,
    };
    let new = NewBuild::of_version(&actor.id, &session.user.id, &version, request);
    let build = builds::create(&state.pool, new).await?;
    Ok(redirect(&paths::build(&build.id)))
}

/// Any other address under `/console`.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::PageNotFound)
}

/// A known console address with a method it does not take.
pub async fn method_not_allowed() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::MethodNotAllowed)
}
