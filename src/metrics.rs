//! Prometheus metrics: HTTP requests by route template, build status transitions, queue depth,
//! running builds, claim and abort latencies, database pool use.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::domain::BuildStatus;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS);
            match builder.and_then(|b| b.install_recorder()) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: the recorder could not be installed");
                    None
                }
            }
        })
        .clone()
}

/// The method as a label from a closed set: the standard methods, anything else `OTHER`, so a
/// client cannot make new series by making up methods.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

/// `route` is a route template or [`UNMATCHED_ROUTE`], never a raw path.
pub fn http_request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

pub fn transition(from: BuildStatus, to: BuildStatus) {
    metrics::counter!("build_status_transitions_total", "from" => from.as_str(), "to" => to.as_str()).increment(1);
}

/// From READY to claimed by a worker.
pub fn pickup(waited: Duration) {
    metrics::histogram!("build_pickup_latency_seconds").record(waited.as_secs_f64());
}

pub fn claim_query(elapsed: Duration) {
    metrics::histogram!("build_claim_query_seconds").record(elapsed.as_secs_f64());
}

/// From the worker learning of an abort (or timeout) to the terminal write.
pub fn stop_to_end(elapsed: Duration) {
    metrics::histogram!("build_stop_to_end_seconds").record(elapsed.as_secs_f64());
}

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// The text for `GET /metrics` (on the metrics listener), with gauges read at scrape time (the
/// queue's `depth`: READY and running builds) and `more` (series kept outside the recorder).
pub fn render(pool: &PgPool, depth: Result<(i64, i64), sqlx::Error>, more: &str) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size()));
    metrics::gauge!("db_pool_idle_connections").set(pool.num_idle() as f64);
    match depth {
        Ok((ready, running)) => {
            metrics::gauge!("builds_queue_depth").set(ready as f64);
            metrics::gauge!("builds_running").set(running as f64);
        }
        Err(e) => tracing::debug!(error = %e, "queue gauges not updated"),
    }
    let mut text = handle.render();
    text.push_str(more);
    text
}
