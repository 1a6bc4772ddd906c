use actix_web::{web, HttpResponse};

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::models::{UserInfo, UserPublicInfo};
use super::service_openapi::ApiErrors;
use crate::http::error::ApiError;
use crate::http::extract::Caller;
use crate::http::respond;
use crate::state::AppState;

/// `GET /v2/users/me`
#[utoipa::path(
    operation_id = "users_me",
    get,
    path = "/v2/users/me",
    tag = "users",
    responses(
        (status = 200, description = "The token's owner", body = Data<UserInfo>),
        ApiErrors
    )
)]
pub async fn me(Caller(user): Caller) -> Result<HttpResponse, ApiError> {
    Ok(respond::ok(UserInfo::from(&user)))
}

/// `GET /v2/users/{userId}`: a user's public information, by id or username; no token needed.
#[utoipa::path(
    operation_id = "user_get",
    get,
    path = "/v2/users/{userId}",
    tag = "users",
    params(("userId" = String, Path, description = "The user's id or username")),
    responses(
        (status = 200, description = "The user's public information", body = Data<UserPublicInfo>),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = crate::storage::users::find_by_id_or_username(&state.pool, &path)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    Ok(respond::ok(UserPublicInfo::from(&user)))
}
