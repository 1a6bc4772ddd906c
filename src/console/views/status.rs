//! A build's values that change while it runs, as the pages show them and the live endpoints send them.

use serde_json::{json, Map, Value};

use super::format::{
    build_duration, bytes_text, duration_text, number, number_text, opt_time_text,
};
use crate::domain::{AbortedBy, BuildStatus};
use crate::storage::builds::BuildRecord;

pub fn is_abortable(status: BuildStatus) -> bool {
    BuildStatus::ABORTABLE.contains(&status)
}

/// The shown values of a build that change while it runs, by the `data-field` of the elements
/// that show them; the live endpoints send the same map when the build changes.
pub fn live_fields(b: &BuildRecord) -> Vec<(&'static str, String)> {
    let stats = &b.stats.0;
    vec![
        ("status", b.status.as_str().to_owned()),
        ("finished", opt_time_text(b.finished_at.as_ref())),
        ("duration", build_duration(b)),
        (
            "abortRequested",
            opt_time_text(b.abort_requested_at.as_ref()),
        ),
        (
            "abortedBy",
            b.aborted_by
                .as_ref()
                .map_or_else(|| "—".into(), AbortedBy::to_string),
        ),
        (
            "durationMillis",
            match stats
                .duration_millis
                .as_ref()
                .and_then(serde_json::Number::as_i64)
            {
                Some(ms) => duration_text(ms),
                None => "—".into(),
            },
        ),
        (
            "runTimeSecs",
            number_text(number(&stats.run_time_secs).as_ref()),
        ),
        (
            "computeUnits",
            number_text(number(&stats.compute_units).as_ref()),
        ),
        (
            "imageSize",
            bytes_text(number(&stats.image_size_bytes).as_ref()),
        ),
        (
            "usageComputeUnits",
            number_text(number(&b.usage.0.actor_compute_units).as_ref()),
        ),
        ("usageTotalUsd", format!("${:.6}", b.usage_total_usd)),
        (
            "imageName",
            b.image_name.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "imageDigest",
            b.image_digest.clone().unwrap_or_else(|| "—".into()),
        ),
    ]
}

/// What the live endpoints and the abort answer send about a build.
pub fn status_payload(b: &BuildRecord) -> Value {
    let fields: Map<String, Value> = live_fields(b)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    json!({
        "id": b.id,
        "status": b.status.as_str(),
        "terminal": b.status.is_terminal(),
        "abortable": is_abortable(b.status),
        "fields": fields,
    })
}

pub(super) fn field(fields: &[(&'static str, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
