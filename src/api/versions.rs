use actix_web::{web, HttpResponse};

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::models::{Version, VersionList};
use super::service_openapi::ApiErrors;
use crate::domain::version_spec::{VersionInput, VersionSpec};
use crate::http::error::ApiError;
use crate::http::extract::{Caller, JsonBody};
use crate::http::respond;
use crate::service::actors::load;
use crate::state::AppState;
use crate::storage::{actors, is_unique_violation, versions};

/// Maps a clash of version numbers to `version-already-exists`.
pub(super) fn version_taken(spec: &VersionSpec) -> impl FnOnce(sqlx::Error) -> ApiError + '_ {
    move |e| {
        if is_unique_violation(&e, "versions_pkey") {
            ApiError::VersionAlreadyExists(spec.version_number.to_string())
        } else {
            e.into()
        }
    }
}

/// `GET /v2/actors/{actorId}/versions` (not paginated)
#[utoipa::path(
    operation_id = "versions_list",
    get,
    path = "/v2/actors/{actorId}/versions",
    tag = "versions",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`")
    ),
    responses(
        (status = 200, description = "The Actor's versions", body = Data<VersionList>),
        ApiErrors
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    let items: Vec<Version> = versions::list(&state.pool, &state.settings.secrets, &actor.id)
        .await?
        .iter()
        .map(Version::from)
        .collect();
    Ok(respond::ok(VersionList {
        total: items.len(),
        items,
    }))
}

/// `POST /v2/actors/{actorId}/versions`
#[utoipa::path(
    operation_id = "versions_create",
    post,
    path = "/v2/actors/{actorId}/versions",
    tag = "versions",
    request_body = VersionInput,
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`")
    ),
    responses(
        (status = 201, description = "The new version", body = Data<Version>),
        ApiErrors
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    JsonBody(input): JsonBody<VersionInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    let spec = VersionSpec::build(input, None).map_err(ApiError::InvalidInput)?;
    let mut tx = state.pool.begin().await?;
    versions::insert(&mut *tx, &state.settings.secrets, &actor.id, &spec)
        .await
        .map_err(version_taken(&spec))?;
    actors::touch(&mut *tx, &actor.id).await?;
    tx.commit().await?;
    let location = format!("/v2/actors/{}/versions/{}", actor.id, spec.version_number);
    Ok(respond::created(&location, Version::from(&spec)))
}

/// `GET /v2/actors/{actorId}/versions/{versionNumber}`
#[utoipa::path(
    operation_id = "versions_get",
    get,
    path = "/v2/actors/{actorId}/versions/{versionNumber}",
    tag = "versions",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("versionNumber" = String, Path, description = "MAJOR.MINOR")
    ),
    responses(
        (status = 200, description = "The version", body = Data<Version>),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (actor_id, number) = path.into_inner();
    let actor = load(&state.pool, &user, &actor_id).await?;
    let spec = versions::get(&state.pool, &state.settings.secrets, &actor.id, &number)
        .await?
        .ok_or(ApiError::NotFound("Actor version"))?;
    Ok(respond::ok(Version::from(&spec)))
}

/// `PUT` (and `POST`) `/v2/actors/{actorId}/versions/{versionNumber}`: changes only the given fields.
#[utoipa::path(
    operation_id = "versions_update",
    put,
    path = "/v2/actors/{actorId}/versions/{versionNumber}",
    tag = "versions",
    request_body = VersionInput,
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("versionNumber" = String, Path, description = "MAJOR.MINOR")
    ),
    responses(
        (status = 200, description = "The updated version", body = Data<Version>),
        ApiErrors
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
    JsonBody(input): JsonBody<VersionInput>,
) -> Result<HttpResponse, ApiError> {
    let (actor_id, number) = path.into_inner();
    let actor = load(&state.pool, &user, &actor_id).await?;
    let mut tx = state.pool.begin().await?;
    let existing = versions::get(&mut *tx, &state.settings.secrets, &actor.id, &number)
        .await?
        .ok_or(ApiError::NotFound("Actor version"))?;
    let spec = VersionSpec::build(input, Some(existing)).map_err(ApiError::InvalidInput)?;
    if !versions::update(&mut *tx, &state.settings.secrets, &actor.id, &spec).await? {
        return Err(ApiError::NotFound("Actor version"));
    }
    actors::touch(&mut *tx, &actor.id).await?;
    tx.commit().await?;
    Ok(respond::ok(Version::from(&spec)))
}

/// `DELETE /v2/actors/{actorId}/versions/{versionNumber}`
#[utoipa::path(
    operation_id = "versions_delete",
    delete,
    path = "/v2/actors/{actorId}/versions/{versionNumber}",
    tag = "versions",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("versionNumber" = String, Path, description = "MAJOR.MINOR")
    ),
    responses(
        (status = 204, description = "Deleted"),
        ApiErrors
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (actor_id, number) = path.into_inner();
    let actor = load(&state.pool, &user, &actor_id).await?;
    if !versions::delete(&state.pool, &actor.id, &number).await? {
        return Err(ApiError::NotFound("Actor version"));
    }
    actors::touch(&state.pool, &actor.id).await?;
    Ok(respond::no_content())
}
