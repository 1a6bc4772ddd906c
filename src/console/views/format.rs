//! Values as the pages show them: times, durations, numbers, sizes, status badges.

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde_json::Value;

use crate::domain::timestamp::timestamp;
use crate::domain::BuildStatus;
use crate::storage::builds::BuildRecord;

pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn time(t: &DateTime<Utc>) -> Markup {
    html! { time datetime=(timestamp(t)) { (time_text(t)) } }
}

pub(super) fn opt_time_text(t: Option<&DateTime<Utc>>) -> String {
    t.map(time_text).unwrap_or_else(|| "—".into())
}

/// `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`.
pub fn duration_text(millis: i64) -> String {
    let millis = millis.max(0);
    if millis < 1000 {
        return format!("{millis} ms");
    }
    let secs = millis / 1000;
    if secs < 60 {
        return format!("{:.1} s", millis as f64 / 1000.0);
    }
    if secs < 3600 {
        return format!("{} min {} s", secs / 60, secs % 60);
    }
    format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
}

/// How long the build took, or has taken so far.
pub(super) fn build_duration(b: &BuildRecord) -> String {
    let end = b.finished_at.unwrap_or_else(Utc::now);
    let text = duration_text((end - b.started_at).num_milliseconds());
    if b.finished_at.is_some() {
        text
    } else {
        format!("{text} so far")
    }
}

/// A JSON value as plain text: strings as they are, `—` for null or absent.
pub(super) fn json_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(other) => other.to_string(),
    }
}

/// A number with at most six decimals, without trailing zeros; anything else as `json_text`.
pub(super) fn number_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) if n.is_f64() => match n.as_f64() {
            Some(f) => {
                let text = format!("{f:.6}");
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            None => n.to_string(),
        },
        other => json_text(other),
    }
}

pub(super) fn bytes_text(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(n) if n >= 1024.0 * 1024.0 * 1024.0 => {
            format!("{:.1} GB", n / (1024.0 * 1024.0 * 1024.0))
        }
        Some(n) if n >= 1024.0 * 1024.0 => format!("{:.1} MB", n / (1024.0 * 1024.0)),
        Some(n) if n >= 1024.0 => format!("{:.1} kB", n / 1024.0),
        Some(n) => format!("{n} B"),
        None => "—".into(),
    }
}

pub(super) fn megabytes_text(mb: u64) -> String {
    format!("{mb} MB")
}

/// A measured number of a build document as a JSON value, for the texts above.
pub(super) fn number(n: &Option<serde_json::Number>) -> Option<Value> {
    n.clone().map(Value::Number)
}

/// An optional text of a build document.
pub(super) fn opt_text(text: Option<&str>) -> String {
    text.unwrap_or("—").to_owned()
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn status_class(status: BuildStatus) -> String {
    format!("badge badge-{}", status.as_str().to_ascii_lowercase())
}

pub(super) fn badge(status: BuildStatus) -> Markup {
    html! { span class=(status_class(status)) data-field="status" data-badge { (status.as_str()) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(12_345), "12.3 s");
        assert_eq!(duration_text(245_000), "4 min 5 s");
        assert_eq!(duration_text(7_380_000), "2 h 3 min");
        assert_eq!(duration_text(-5), "0 ms");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number_text(Some(&json!(0.0033619655555))), "0.003362");
        assert_eq!(number_text(Some(&json!(3.0))), "3");
        assert_eq!(number_text(Some(&json!(12))), "12");
        assert_eq!(number_text(None), "—");
    }
}
