//! The console's HTML, as maud templates: checked at compile time, every value escaped.

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use serde_json::{json, Map, Value};

use super::paths;
use super::session::CSRF_FIELD;
use crate::domain::timestamp::timestamp;
use crate::domain::version_spec::VersionSpec;
use crate::domain::BuildStatus;
use crate::storage::actors::{ActorListRow, ActorRecord, TagRow};
use crate::storage::builds::{BuildRecord, BuildWithActor};
use crate::storage::logs::LogLine;
use crate::storage::users::User;

/// Which part of the console a page belongs to, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Builds,
    Actors,
    None,
}

/// The signed-in user and the CSRF token of their forms, when there is one.
pub struct Chrome<'a> {
    pub user: Option<&'a User>,
    pub csrf: Option<&'a str>,
    pub nav: Nav,
}

impl Chrome<'_> {
    pub const ANONYMOUS: Chrome<'static> = Chrome {
        user: None,
        csrf: None,
        nav: Nav::None,
    };
}

fn csrf_input(csrf: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(csrf); }
}

pub fn layout(title: &str, chrome: &Chrome, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · actor-builds console" }
                link rel="icon" type="image/svg+xml" href=(super::asset_url("favicon.svg"));
                link rel="stylesheet" href=(super::asset_url("console.css"));
                script src=(super::asset_url("console.js")) defer {}
            }
            body {
                header.topbar {
                    a.brand href=(paths::BUILDS) { "actor-builds" }
                    @if let Some(user) = chrome.user {
                        nav.main-nav {
                            a.active[chrome.nav == Nav::Builds] href=(paths::BUILDS) { "Builds" }
                            a.active[chrome.nav == Nav::Actors] href=(paths::ACTORS) { "Actors" }
                        }
                        div.account {
                            span.username title="Signed in as" { (user.username) }
                            @if let Some(csrf) = chrome.csrf {
                                form.inline method="post" action=(paths::SIGN_OUT) {
                                    (csrf_input(csrf))
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

// --- formatting ------------------------------------------------------------------------------

pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn time(t: &DateTime<Utc>) -> Markup {
    html! { time datetime=(timestamp(t)) { (time_text(t)) } }
}

fn opt_time_text(t: Option<&DateTime<Utc>>) -> String {
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
fn build_duration(b: &BuildRecord) -> String {
    let end = b.finished_at.unwrap_or_else(Utc::now);
    let text = duration_text((end - b.started_at).num_milliseconds());
    if b.finished_at.is_some() {
        text
    } else {
        format!("{text} so far")
    }
}

/// A JSON value as plain text: strings as they are, `—` for null or absent.
fn json_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(other) => other.to_string(),
    }
}

/// A number with at most six decimals, without trailing zeros; anything else as `json_text`.
fn number_text(v: Option<&Value>) -> String {
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

fn bytes_text(v: Option<&Value>) -> String {
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

fn megabytes_text(v: Option<&Value>) -> String {
    match v.and_then(Value::as_u64) {
        Some(mb) => format!("{mb} MB"),
        None => json_text(v),
    }
}

fn status_class(status: BuildStatus) -> String {
    format!("badge badge-{}", status.as_str().to_ascii_lowercase())
}

fn badge(status: BuildStatus) -> Markup {
    html! { span class=(status_class(status)) data-field="status" data-badge { (status.as_str()) } }
}

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
            b.aborted_by.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "durationMillis",
            match stats.get("durationMillis").and_then(Value::as_i64) {
                Some(ms) => duration_text(ms),
                None => "—".into(),
            },
        ),
        ("runTimeSecs", number_text(stats.get("runTimeSecs"))),
        ("computeUnits", number_text(stats.get("computeUnits"))),
        ("imageSize", bytes_text(stats.get("imageSizeBytes"))),
        (
            "usageComputeUnits",
            number_text(b.usage.0.get("ACTOR_COMPUTE_UNITS")),
        ),
        ("usageTotalUsd", format!("${:.6}", b.usage_total_usd)),
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

fn field(fields: &[(&'static str, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

// --- sign-in and errors ----------------------------------------------------------------------

pub fn sign_in_page(csrf: &str, next: Option<&str>, error: Option<&str>) -> Markup {
    let body = html! {
        section.card.narrow {
            h1 { "Sign in" }
            p.muted {
                "Sign in with an API token of this service. Create one with "
                code { "actor-builds users create <name>" } " or "
                code { "actor-builds tokens create <name>" } "."
            }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.stack method="post" action=(paths::SIGN_IN) {
                (csrf_input(csrf))
                @if let Some(next) = next {
                    input type="hidden" name="next" value=(next);
                }
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="off" required autofocus;
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    layout("Sign in", &Chrome::ANONYMOUS, body)
}

pub fn error_page(code: u16, title: &str, message: &str) -> Markup {
    let body = html! {
        section.card.narrow.error-page {
            h1 { (code) " · " (title) }
            p { (message) }
            p { a href=(paths::BUILDS) { "Go to your builds" } }
        }
    };
    layout(title, &Chrome::ANONYMOUS, body)
}

// --- builds ----------------------------------------------------------------------------------

/// The live URL of a list of builds: status changes of these ids, and new builds when `new`.
fn list_live_url(rows: &[BuildWithActor], new: bool) -> Option<String> {
    if rows.is_empty() && !new {
        return None;
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.build.id.as_str()).collect();
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("ids", &ids.join(","));
    if new {
        query.append_pair("new", "1");
    }
    Some(format!("{}?{}", paths::LIVE_BUILDS, query.finish()))
}

pub fn builds_table(rows: &[BuildWithActor], watch_new: bool) -> Markup {
    html! {
        @if watch_new {
            p #new-builds .notice hidden {
                "New builds were started. " a href="" { "Show them" }
            }
        }
        @if rows.is_empty() {
            p.empty { "No builds here yet. Start one from an Actor's page." }
        } @else {
            table.builds data-builds-live=[list_live_url(rows, watch_new)] {
                thead {
                    tr {
                        th { "Status" }
                        th { "Actor" }
                        th { "Build" }
                        th { "Started" }
                        th { "Duration" }
                    }
                }
                tbody {
                    @for row in rows {
                        @let b = &row.build;
                        tr data-build-id=(b.id) {
                            td { (badge(b.status)) }
                            td {
                                a href=(paths::actor(&b.act_id)) { (row.actor_name) }
                                @if let Some(title) = &row.actor_title {
                                    span.muted.small { " " (title) }
                                }
                            }
                            td { a.mono href=(paths::build(&b.id)) { (b.build_number()) } }
                            td { (time(&b.started_at)) }
                            td data-field="duration" { (build_duration(b)) }
                        }
                    }
                }
            }
        }
    }
}

pub struct BuildsListView<'a> {
    pub rows: &'a [BuildWithActor],
    pub actors: &'a [ActorListRow],
    pub status: Option<BuildStatus>,
    pub actor_id: Option<&'a str>,
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

fn list_query(status: Option<BuildStatus>, actor_id: Option<&str>, page: i64) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(status) = status {
        query.append_pair("status", status.as_str());
    }
    if let Some(actor_id) = actor_id {
        query.append_pair("actor", actor_id);
    }
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        paths::BUILDS.to_owned()
    } else {
        format!("{}?{query}", paths::BUILDS)
    }
}

fn pager(page: i64, pages: i64, link: impl Fn(i64) -> String) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 1 {
                    a rel="prev" href=(link(page - 1)) { "← Newer" }
                } @else {
                    span.disabled { "← Newer" }
                }
                span.page-of { "Page " (page) " of " (pages) }
                @if page < pages {
                    a rel="next" href=(link(page + 1)) { "Older →" }
                } @else {
                    span.disabled { "Older →" }
                }
            }
        }
    }
}

pub fn builds_page(chrome: &Chrome, view: &BuildsListView) -> Markup {
    let filtered = view.status.is_some() || view.actor_id.is_some();
    let body = html! {
        div.page-head {
            h1 { "Builds" }
            span.muted { (view.total) " " (if view.total == 1 { "build" } else { "builds" }) }
        }
        form.filters method="get" action=(paths::BUILDS) {
            label {
                "Status "
                select name="status" {
                    option value="" { "Any status" }
                    @for s in BuildStatus::ALL {
                        option value=(s.as_str()) selected[view.status == Some(s)] { (s.as_str()) }
                    }
                }
            }
            label {
                "Actor "
                select name="actor" {
                    option value="" { "Any Actor" }
                    @for a in view.actors {
                        option value=(a.actor.id) selected[view.actor_id == Some(a.actor.id.as_str())] {
                            (a.actor.name)
                        }
                    }
                }
            }
            button type="submit" { "Filter" }
            @if filtered {
                a href=(paths::BUILDS) { "Clear" }
            }
        }
        (builds_table(view.rows, view.page == 1 && !filtered))
        (pager(view.page, view.pages, |p| list_query(view.status, view.actor_id, p)))
    };
    layout("Builds", chrome, body)
}

pub struct BuildView<'a> {
    pub build: &'a BuildRecord,
    pub actor: &'a ActorRecord,
    /// Tags of the Actor that now point at this build.
    pub tags: Vec<&'a str>,
    pub lines: &'a [LogLine],
    /// More lines exist than are shown.
    pub truncated: bool,
}

fn log_line(line: &LogLine) -> Markup {
    html! {
        div.line {
            span.ts { (timestamp(&line.at)) }
            " "
            span.text { (crate::service::logs::strip_ansi(&line.line)) }
        }
    }
}

fn definition_summary(definition: Option<&Value>) -> Markup {
    let Some(Value::Object(def)) = definition else {
        return html! { p.muted { "Not read yet: the worker reads .actor/actor.json when the build starts." } };
    };
    const SHOWN: [(&str, &str); 9] = [
        ("name", "Name"),
        ("title", "Title"),
        ("version", "Version"),
        ("buildTag", "Build tag"),
        ("dockerfile", "Dockerfile"),
        ("dockerContextDir", "Docker context"),
        ("minMemoryMbytes", "Min memory (MB)"),
        ("maxMemoryMbytes", "Max memory (MB)"),
        ("actorSpecification", "Specification"),
    ];
    let input = def.get("input").or_else(|| def.get("inputSchema"));
    let other: Vec<&str> = def
        .keys()
        .map(String::as_str)
        .filter(|k| {
            !SHOWN.iter().any(|(s, _)| s == k) && !matches!(*k, "input" | "inputSchema" | "readme")
        })
        .collect();
    html! {
        dl.grid {
            @for (key, label) in SHOWN {
                @if let Some(value) = def.get(key) {
                    dt { (label) }
                    dd { (json_text(Some(value))) }
                }
            }
            dt { "Input schema" }
            dd {
                @match input {
                    Some(Value::Object(schema)) => {
                        (schema.get("title").and_then(Value::as_str).unwrap_or("untitled"))
                        @let properties = schema.get("properties").and_then(Value::as_object).map_or(0, Map::len);
                        " · " (properties) " " (if properties == 1 { "property" } else { "properties" })
                    }
                    Some(other) => { (json_text(Some(other))) }
                    None => { "none" }
                }
            }
            dt { "README" }
            dd {
                @match def.get("readme").and_then(Value::as_str) {
                    Some(text) => { (text.chars().count()) " characters" }
                    None => { "none" }
                }
            }
            @if !other.is_empty() {
                dt { "Other keys" }
                dd { (other.join(", ")) }
            }
        }
    }
}

pub fn build_page(chrome: &Chrome, view: &BuildView) -> Markup {
    let b = view.build;
    let fields = live_fields(b);
    let f = |name: &str| field(&fields, name);
    let meta = &b.meta.0;
    let options = &b.options.0;
    let version = &b.act_version.0;
    let source = version
        .get("gitRepoUrl")
        .or_else(|| version.get("tarballUrl"))
        .map(|v| json_text(Some(v)))
        .or_else(|| {
            version
                .get("sourceFilesCount")
                .map(|n| format!("{} source files", json_text(Some(n))))
        });
    let after = view.lines.last().map_or(0, |l| l.id);
    let live =
        (!b.status.is_terminal()).then(|| format!("{}?after={after}", paths::live_build(&b.id)));
    let actor_label = view.actor.title.as_deref().unwrap_or(&view.actor.name);
    let body = html! {
        p.breadcrumb {
            a href=(paths::BUILDS) { "Builds" } " › "
            a href=(paths::actor(&view.actor.id)) { (view.actor.name) } " › "
            span.mono { (b.build_number()) }
        }
        div.page-head #build data-build-live=[live] {
            h1 { "Build " span.mono { (b.build_number()) } " of " (actor_label) }
            (badge(b.status))
            @if is_abortable(b.status) {
                @if let Some(csrf) = chrome.csrf {
                    form #abort-form .inline method="post" action=(paths::abort(&b.id))
                        data-confirm=(format!("Abort build {}? Its process will be stopped.", b.build_number())) {
                        (csrf_input(csrf))
                        button.danger type="submit" { "Abort" }
                    }
                }
            }
        }
        div.columns {
            section.card {
                h2 { "Build" }
                dl.grid {
                    dt { "Status" } dd data-field="status" { (b.status.as_str()) }
                    dt { "Build id" } dd.mono { (b.id) }
                    dt { "Actor" } dd { a href=(paths::actor(&view.actor.id)) { (view.actor.username) "/" (view.actor.name) } }
                    dt { "Version" } dd { (json_text(version.get("versionNumber"))) " · " (json_text(version.get("sourceType"))) }
                    @if let Some(source) = &source {
                        dt { "Source" } dd.wrap { (source) }
                    }
                    dt { "Started" } dd { (time(&b.started_at)) }
                    dt { "Finished" } dd data-field="finished" { (f("finished")) }
                    dt { "Duration" } dd data-field="duration" { (f("duration")) }
                    dt { "Origin" } dd { (json_text(meta.get("origin"))) }
                    dt { "Client IP" } dd { (json_text(meta.get("clientIp"))) }
                    dt { "User agent" } dd.wrap { (json_text(meta.get("userAgent"))) }
                    dt { "Abort requested" } dd data-field="abortRequested" { (f("abortRequested")) }
                    dt { "Aborted by" } dd data-field="abortedBy" { (f("abortedBy")) }
                }
            }
            section.card {
                h2 { "Tags" }
                dl.grid {
                    dt { "Tag on success" } dd { (b.tag.as_deref().unwrap_or("—")) }
                    dt { "Tags pointing here" }
                    dd {
                        @if view.tags.is_empty() { "none" } @else { (view.tags.join(", ")) }
                    }
                }
                h2 { "Options" }
                dl.grid {
                    dt { "Use cache" } dd { (json_text(options.get("useCache"))) }
                    dt { "Beta packages" } dd { (json_text(options.get("betaPackages"))) }
                    dt { "Memory" } dd { (megabytes_text(options.get("memoryMbytes"))) }
                    dt { "Disk" } dd { (megabytes_text(options.get("diskMbytes"))) }
                }
                h2 { "Stats and usage" }
                dl.grid {
                    dt { "Build time" } dd data-field="durationMillis" { (f("durationMillis")) }
                    dt { "Run time (s)" } dd data-field="runTimeSecs" { (f("runTimeSecs")) }
                    dt { "Compute units" } dd data-field="computeUnits" { (f("computeUnits")) }
                    dt { "Image size" } dd data-field="imageSize" { (f("imageSize")) }
                    dt { "Usage (compute units)" } dd data-field="usageComputeUnits" { (f("usageComputeUnits")) }
                    dt { "Usage (USD)" } dd data-field="usageTotalUsd" { (f("usageTotalUsd")) }
                }
            }
        }
        section.card {
            h2 { "Actor definition" }
            (definition_summary(b.actor_definition.as_ref().map(|d| &d.0)))
        }
        section.card {
            div.log-head {
                h2 { "Log" }
                span #log-state .muted {
                    @if b.status.is_terminal() { "complete" } @else { "live" }
                }
                a href=(paths::build_log(&b.id)) { "Download" }
            }
            @if view.truncated {
                p.notice { "The log is long; only its beginning is shown here. Download it to read it all." }
            }
            div #log .log role="log" aria-live="polite" {
                @for line in view.lines { (log_line(line)) }
                @if view.lines.is_empty() {
                    div.placeholder { "No log lines yet." }
                }
            }
        }
    };
    layout(&format!("Build {}", b.build_number()), chrome, body)
}

// --- actors ----------------------------------------------------------------------------------

pub fn actors_page(
    chrome: &Chrome,
    rows: &[ActorListRow],
    total: i64,
    page: i64,
    pages: i64,
) -> Markup {
    let body = html! {
        div.page-head {
            h1 { "Actors" }
            span.muted { (total) " " (if total == 1 { "Actor" } else { "Actors" }) }
        }
        @if rows.is_empty() {
            p.empty { "No Actors yet. Create one with the API (POST /v2/actors) or an Apify client." }
        } @else {
            table.actors {
                thead { tr { th { "Name" } th { "Title" } th { "Builds" } th { "Created" } th { "Modified" } } }
                tbody {
                    @for row in rows {
                        @let a = &row.actor;
                        tr {
                            td { a href=(paths::actor(&a.id)) { (a.name) } }
                            td { (a.title.as_deref().unwrap_or("—")) }
                            td { (row.total_builds) }
                            td { (time(&a.created_at)) }
                            td { (time(&a.modified_at)) }
                        }
                    }
                }
            }
        }
        (pager(page, pages, |p| format!("{}?page={p}", paths::ACTORS)))
    };
    layout("Actors", chrome, body)
}

pub struct ActorView<'a> {
    pub actor: &'a ActorRecord,
    pub versions: &'a [VersionSpec],
    pub tags: &'a [TagRow],
    pub latest: &'a [BuildWithActor],
    pub total_builds: i64,
}

pub fn actor_page(chrome: &Chrome, view: &ActorView) -> Markup {
    let a = view.actor;
    let heading = a.title.as_deref().unwrap_or(&a.name);
    let body = html! {
        p.breadcrumb { a href=(paths::ACTORS) { "Actors" } " › " (a.name) }
        div.page-head {
            h1 { (heading) }
            span.muted.mono { (a.username) "/" (a.name) }
        }
        @if let Some(description) = &a.description {
            p.description { (description) }
        }
        section.card {
            h2 { "Versions" }
            @if view.versions.is_empty() {
                p.empty { "No versions. Add one with the API to build this Actor." }
            } @else {
                table {
                    thead { tr { th { "Version" } th { "Source" } th { "Build tag" } th {} } }
                    tbody {
                        @for v in view.versions {
                            @let number = v.version_number.as_str();
                            tr {
                                td.mono { (number) }
                                td { (v.source_type.as_str()) }
                                td { (v.build_tag) }
                                td.actions {
                                    @if let Some(csrf) = chrome.csrf {
                                        form.inline method="post" action=(paths::start_build(&a.id)) {
                                            (csrf_input(csrf))
                                            input type="hidden" name="version" value=(number);
                                            button.primary type="submit" { "Build version " (number) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Tagged builds" }
            @if view.tags.is_empty() {
                p.empty { "No tags yet: a build that succeeds takes its version's build tag." }
            } @else {
                table {
                    thead { tr { th { "Tag" } th { "Build" } th { "Finished" } } }
                    tbody {
                        @for t in view.tags {
                            tr {
                                td { (t.tag) }
                                td { a.mono href=(paths::build(&t.build_id)) { (t.version_number) "." (t.build_number_int) } }
                                td { (opt_time_text(t.finished_at.as_ref())) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            div.log-head {
                h2 { "Latest builds" }
                a href=(format!("{}?actor={}", paths::BUILDS, a.id)) { "All " (view.total_builds) " builds" }
            }
            (builds_table(view.latest, false))
        }
    };
    layout(heading, chrome, body)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn values_are_escaped() {
        let page = error_page(404, "Not found", "<script>alert(1)</script>").into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }
}
