use actix_web::HttpResponse;
use serde_json::json;

use super::extract::Caller;
use super::respond;
use crate::error::ApiError;
use crate::json::timestamp;

/// `GET /v2/users/me`
pub async fn me(Caller(user): Caller) -> Result<HttpResponse, ApiError> {
    Ok(respond::ok(json!({
        "id": user.id,
        "username": user.username,
        "createdAt": timestamp(&user.created_at),
    })))
}
