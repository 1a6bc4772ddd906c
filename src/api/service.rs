//! Service endpoints outside /v2.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::state::{AppState, MetricsState};

pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// Prometheus text format; served on the metrics listener only.
pub async fn metrics(state: web::Data<MetricsState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(
            &state.pool,
            crate::storage::queue::depth(&state.pool).await,
            &state.waiters.render(),
        ))
}

/// 200 only when the database answers within a second.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let ping = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready"),
        _ => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("database unavailable"),
    }
}
