use actix_web::HttpResponse;

use super::models::UserInfo;
#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::service_openapi::ApiErrors;
use crate::http::error::ApiError;
use crate::http::extract::Caller;
use crate::http::respond;

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
