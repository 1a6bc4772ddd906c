//! The Actors list, an Actor's page, and starting a build of one of its versions.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::{chrome, find_actor, page_of, pages};
use crate::console::error::ConsoleError;
use crate::console::paths;
use crate::console::session::{Form, Session};
use crate::console::views::{self, Nav};
use crate::console::{html, redirect};
use crate::domain::VersionNumber;
use crate::http::extract::Query;
use crate::state::AppState;
use crate::storage::actors;
use crate::storage::builds::{self, BuildFilter, BuildRequest};
use crate::storage::versions;

/// Actors on a page of the Actors list.
const ACTORS_PER_PAGE: i64 = 50;
/// Latest builds on an Actor's page.
const LATEST_BUILDS: i64 = 10;

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
    let build = crate::service::builds::start(
        &state.pool,
        &state.settings.secrets,
        &actor,
        &session.user.id,
        &version_number,
        request,
    )
    .await?;
    Ok(redirect(&paths::build(&build.id)))
}
