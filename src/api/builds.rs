use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::IntoParams;

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::models::{Build, BuildShort};
use super::params::{PageQuery, WaitQuery};
use super::service_openapi::ApiErrors;
use crate::domain::version_spec::check_tag;
use crate::domain::{Origin, VersionNumber};
use crate::http::error::ApiError;
use crate::http::extract::{self, Caller, FromQuery, MaybeCaller, Query};
use crate::http::respond;
use crate::service::actors::load;
use crate::service::builds::{default_of, start, wait_for_finish};
use crate::state::AppState;
use crate::storage::builds::{self, BuildRecord, BuildRequest, BuildScope, Deletion};

/// The parameters of `POST /v2/actors/{actorId}/builds` besides `waitForFinish`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct BuildCreateQuery {
    /// The version to build, MAJOR.MINOR
    #[param(value_type = String)]
    pub version: VersionNumber,
    #[param(value_type = Option<bool>)]
    pub use_cache: bool,
    #[param(value_type = Option<bool>)]
    pub beta_packages: bool,
    /// Tag to give the build when it succeeds; default: the version's buildTag
    pub tag: Option<String>,
}

impl FromQuery for BuildCreateQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let version = match query.non_empty("version") {
            None => {
                return Err(ApiError::InvalidParameter(
                    "Parameter \"version\" is required".into(),
                ))
            }
            Some(v) => VersionNumber::parse(v).map_err(ApiError::InvalidParameter)?,
        };
        let use_cache = query.bool("useCache")?.unwrap_or(false);
        let beta_packages = query.bool("betaPackages")?.unwrap_or(false);
        let tag = query.non_empty("tag").map(str::to_owned);
        if let Some(tag) = &tag {
            check_tag(tag).map_err(ApiError::InvalidParameter)?;
        }
        Ok(BuildCreateQuery {
            version,
            use_cache,
            beta_packages,
            tag,
        })
    }
}

/// `POST /v2/actors/{actorId}/builds`
#[utoipa::path(
    operation_id = "builds_create",
    post,
    path = "/v2/actors/{actorId}/builds",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        BuildCreateQuery,
        WaitQuery
    ),
    responses(
        (status = 201, description = "The new build", body = Data<Build>, headers(("Location" = String, description = "/v2/actor-builds/{buildId}"))),
        ApiErrors
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (
        params,
        WaitQuery {
            wait_for_finish: wait,
        },
    ): (BuildCreateQuery, WaitQuery) = extract::query(&req)?;

    let actor = load(&state.pool, &user, &path).await?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let request = BuildRequest {
        origin: Origin::from_header(header("x-apify-request-origin")),
        client_ip: req.peer_addr().map(|addr| addr.ip().to_string()),
        user_agent: header(header::USER_AGENT.as_str()),
        use_cache: params.use_cache,
        beta_packages: params.beta_packages,
        tag: params.tag,
    };
    let build = start(
        &state.pool,
        &state.settings.secrets,
        &actor,
        &user.id,
        &params.version,
        request,
    )
    .await?;
    let build = wait_for_finish(&state.waiters, build, wait).await?;
    Ok(respond::created(
        &format!("/v2/actor-builds/{}", build.id),
        Build::new(&build, true),
    ))
}

/// `GET /v2/actor-builds/{buildId}`; readable without a token (usage in USD is then hidden).
#[utoipa::path(
    operation_id = "builds_get",
    get,
    path = "/v2/actor-builds/{buildId}",
    tag = "builds",
    params(
        ("buildId" = String, Path, description = "The build's id"),
        WaitQuery
    ),
    responses(
        (status = 200, description = "The build (readable without a token; usage in USD then hidden)", body = Data<Build>),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    MaybeCaller(user): MaybeCaller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let WaitQuery {
        wait_for_finish: wait,
    } = extract::query(&req)?;
    let user_id = user.as_ref().map(|u| &u.id);
    let build = match user_id {
        Some(user_id) => builds::get_for_user(&state.pool, &path, user_id).await?,
        None => builds::get(&state.pool, &path).await?,
    }
    .ok_or(ApiError::NotFound("Build"))?;
    let build = wait_for_finish(&state.waiters, build, wait).await?;
    Ok(respond::ok(Build::new(&build, user.is_some())))
}

/// The caller's build of the Actor in the path, or 404.
async fn load_of_actor(
    state: &AppState,
    user: &crate::storage::users::User,
    actor_id: &str,
    build_id: &str,
) -> Result<BuildRecord, ApiError> {
    let actor = load(&state.pool, user, actor_id).await?;
    builds::get_for_user(&state.pool, build_id, &user.id)
        .await?
        .filter(|b| b.act_id == actor.id)
        .ok_or(ApiError::NotFound("Build"))
}

/// `GET /v2/actors/{actorId}/builds/{buildId}` (deprecated alias)
#[utoipa::path(
    operation_id = "builds_get_of_actor",
    get,
    path = "/v2/actors/{actorId}/builds/{buildId}",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("buildId" = String, Path, description = "The build's id"),
        WaitQuery
    ),
    responses(
        (status = 200, description = "The build", body = Data<Build>),
        ApiErrors
    )
)]
pub async fn get_of_actor(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let WaitQuery {
        wait_for_finish: wait,
    } = extract::query(&req)?;
    let (actor_id, build_id) = path.into_inner();
    let build = load_of_actor(&state, &user, &actor_id, &build_id).await?;
    let build = wait_for_finish(&state.waiters, build, wait).await?;
    Ok(respond::ok(Build::new(&build, true)))
}

/// `GET /v2/actors/{actorId}/builds/default`
#[utoipa::path(
    operation_id = "builds_get_default",
    get,
    path = "/v2/actors/{actorId}/builds/default",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        WaitQuery
    ),
    responses(
        (status = 200, description = "The build that defaultRunOptions.build names", body = Data<Build>),
        ApiErrors
    )
)]
pub async fn get_default(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let WaitQuery {
        wait_for_finish: wait,
    } = extract::query(&req)?;
    let actor = load(&state.pool, &user, &path).await?;
    let build = default_of(&state.pool, &actor)
        .await?
        .ok_or(ApiError::NotFound("Default build"))?;
    let build = wait_for_finish(&state.waiters, build, wait).await?;
    Ok(respond::ok(Build::new(&build, true)))
}

/// `GET /v2/actor-builds`: all the caller's builds.
#[utoipa::path(
    operation_id = "builds_list_for_user",
    get,
    path = "/v2/actor-builds",
    tag = "builds",
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's builds", body = Data<Page<BuildShort>>),
        ApiErrors
    )
)]
pub async fn list_for_user(
    state: web::Data<AppState>,
    Caller(user): Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    list(&state, BuildScope::User(&user.id), &req).await
}

/// `GET /v2/actors/{actorId}/builds`
#[utoipa::path(
    operation_id = "builds_list_for_actor",
    get,
    path = "/v2/actors/{actorId}/builds",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        PageQuery
    ),
    responses(
        (status = 200, description = "The Actor's builds", body = Data<Page<BuildShort>>),
        ApiErrors
    )
)]
pub async fn list_for_actor(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    list(&state, BuildScope::Actor(&actor.id), &req).await
}

async fn list(
    state: &AppState,
    scope: BuildScope<'_>,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page: PageQuery = extract::query(req)?;
    let (total, items) =
        builds::list(&state.pool, scope, page.offset, page.limit, page.desc).await?;
    let items: Vec<BuildShort> = items.iter().map(BuildShort::from).collect();
    Ok(respond::ok(page.answer(total, items)))
}

/// `POST /v2/actor-builds/{buildId}/abort`. Reads no body, whatever its content type.
#[utoipa::path(
    operation_id = "builds_abort",
    post,
    path = "/v2/actor-builds/{buildId}/abort",
    tag = "builds",
    params(
        ("buildId" = String, Path, description = "The build's id")
    ),
    responses(
        (status = 200, description = "The build, aborted or as it was", body = Data<Build>),
        ApiErrors
    )
)]
pub async fn abort(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let build = builds::abort(&state.pool, &path, &user.id)
        .await?
        .ok_or(ApiError::NotFound("Build"))?;
    Ok(respond::ok(Build::new(&build, true)))
}

/// `POST /v2/actors/{actorId}/builds/{buildId}/abort` (deprecated alias)
#[utoipa::path(
    operation_id = "builds_abort_of_actor",
    post,
    path = "/v2/actors/{actorId}/builds/{buildId}/abort",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("buildId" = String, Path, description = "The build's id")
    ),
    responses(
        (status = 200, description = "The build, aborted or as it was", body = Data<Build>),
        ApiErrors
    )
)]
pub async fn abort_of_actor(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (actor_id, build_id) = path.into_inner();
    load_of_actor(&state, &user, &actor_id, &build_id).await?;
    let build = builds::abort(&state.pool, &build_id, &user.id)
        .await?
        .ok_or(ApiError::NotFound("Build"))?;
    Ok(respond::ok(Build::new(&build, true)))
}

/// `DELETE /v2/actor-builds/{buildId}`: only finished builds that no tag points at.
#[utoipa::path(
    operation_id = "builds_delete",
    delete,
    path = "/v2/actor-builds/{buildId}",
    tag = "builds",
    params(
        ("buildId" = String, Path, description = "The build's id")
    ),
    responses(
        (status = 204, description = "Deleted"),
        ApiErrors
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match builds::delete(&state.pool, &path, &user.id).await? {
        Deletion::Deleted => Ok(respond::no_content()),
        Deletion::NotFound => Err(ApiError::NotFound("Build")),
        Deletion::Unfinished => Err(ApiError::DeletingUnfinishedBuild),
        Deletion::Tagged(tag) => Err(ApiError::DeletingDefaultBuild(tag)),
    }
}
