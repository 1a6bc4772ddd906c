//! Success answers: `{"data": ...}` as `application/json; charset=utf-8`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;

use super::envelope::Data;

pub const JSON: &str = "application/json; charset=utf-8";

pub fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    match serde_json::to_string(body) {
        Ok(text) => HttpResponse::build(status).content_type(JSON).body(text),
        Err(e) => {
            tracing::error!(error = %e, "a response could not be serialized");
            HttpResponse::InternalServerError().content_type(JSON).body(
                r#"{"error":{"type":"internal-server-error","message":"Internal server error"}}"#,
            )
        }
    }
}

/// A JSON document as it is, without the `data` envelope.
pub fn raw_json(body: &impl Serialize) -> HttpResponse {
    json(StatusCode::OK, body)
}

pub fn ok(value: impl Serialize) -> HttpResponse {
    json(StatusCode::OK, &Data { data: value })
}

/// 201 with `Location` pointing at the new record.
pub fn created(location: &str, value: impl Serialize) -> HttpResponse {
    let mut response = json(StatusCode::CREATED, &Data { data: value });
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, value);
    }
    response
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
