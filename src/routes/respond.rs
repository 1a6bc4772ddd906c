//! Success answers: `{"data": ...}` as `application/json; charset=utf-8`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

pub const JSON: &str = "application/json; charset=utf-8";

pub fn json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(JSON)
        .body(body.to_string())
}

pub fn data(status: StatusCode, value: Value) -> HttpResponse {
    json(status, &json!({ "data": value }))
}

pub fn ok(value: Value) -> HttpResponse {
    data(StatusCode::OK, value)
}

/// 201 with `Location` pointing at the new record.
pub fn created(location: &str, value: Value) -> HttpResponse {
    HttpResponse::Created()
        .content_type(JSON)
        .insert_header((actix_web::http::header::LOCATION, location))
        .body(json!({ "data": value }).to_string())
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
