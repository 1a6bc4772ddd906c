//! The console's pages and form actions, one module a resource; the shared helpers are here.

mod actors;
mod builds;
mod sign_in;

use actix_web::HttpResponse;

use super::error::ConsoleError;
use super::paths;
use super::redirect;
use super::session::Session;
use super::views::{Chrome, Nav};
use crate::domain::is_id;
use crate::http::extract::Query;
use crate::state::AppState;
use crate::storage::actors::ActorRecord;
use crate::storage::builds::{get_for_user, BuildRecord};
use crate::storage::users::User;

pub use actors::{actor_page, actors_list, start_build};
pub use builds::{abort, build_log, build_page, builds_list};
pub use sign_in::{sign_in, sign_in_form, sign_out};

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
    Ok(crate::service::actors::load(&state.pool, user, actor).await?)
}

/// The user's build by id, or 404.
async fn find_build(state: &AppState, user: &User, id: &str) -> Result<BuildRecord, ConsoleError> {
    if !is_id(id) {
        return Err(ConsoleError::NotFound("Build"));
    }
    get_for_user(&state.pool, id, &user.id)
        .await?
        .ok_or(ConsoleError::NotFound("Build"))
}

/// `GET /console`
pub async fn root() -> HttpResponse {
    redirect(paths::BUILDS)
}

/// Any other address under `/console`.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::PageNotFound)
}

/// A known console address with a method it does not take.
pub async fn method_not_allowed() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::MethodNotAllowed)
}
