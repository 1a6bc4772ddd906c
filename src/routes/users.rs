use actix_web::HttpResponse;

use super::extract::Caller;
use super::models::UserInfo;
use super::respond;
use crate::error::ApiError;

/// `GET /v2/users/me`
pub async fn me(Caller(user): Caller) -> Result<HttpResponse, ApiError> {
    Ok(respond::ok(UserInfo::from(&user)))
}
