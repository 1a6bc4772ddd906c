//! One build's page: its values, tags, options, stats, Actor definition and log.

use maud::{html, Markup};
use serde_json::{Map, Value};

use super::format::{badge, json_text, megabytes_text, opt_text, time, yes_no};
use super::layout::{csrf_input, layout, Chrome};
use super::status::{field, is_abortable, live_fields};
use crate::console::paths;
use crate::domain::timestamp::timestamp;
use crate::storage::actors::ActorRecord;
use crate::storage::builds::BuildRecord;
use crate::storage::logs::LogLine;

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
        .git_repo_url
        .clone()
        .or_else(|| version.tarball_url.clone())
        .or_else(|| {
            version
                .source_files_count
                .map(|n| format!("{n} source files"))
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
                    dt { "Version" } dd { (version.version_number) " · " (version.source_type) }
                    @if let Some(source) = &source {
                        dt { "Source" } dd.wrap { (source) }
                    }
                    dt { "Started" } dd { (time(&b.started_at)) }
                    dt { "Finished" } dd data-field="finished" { (f("finished")) }
                    dt { "Duration" } dd data-field="duration" { (f("duration")) }
                    dt { "Origin" } dd { (meta.origin) }
                    dt { "Client IP" } dd { (opt_text(meta.client_ip.as_deref())) }
                    dt { "User agent" } dd.wrap { (opt_text(meta.user_agent.as_deref())) }
                    dt { "Abort requested" } dd data-field="abortRequested" { (f("abortRequested")) }
                    dt { "Aborted by" } dd data-field="abortedBy" { (f("abortedBy")) }
                }
            }
            section.card {
                h2 { "Image" }
                dl.grid {
                    dt { "Name" } dd { code data-field="imageName" { (f("imageName")) } }
                    dt { "Digest" } dd { code data-field="imageDigest" { (f("imageDigest")) } }
                    dt { "Size" } dd data-field="imageSize" { (f("imageSize")) }
                }
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
                    dt { "Use cache" } dd { (yes_no(options.use_cache)) }
                    dt { "Beta packages" } dd { (yes_no(options.beta_packages)) }
                    dt { "Memory" } dd { (megabytes_text(options.memory_mbytes)) }
                    dt { "Disk" } dd { (megabytes_text(options.disk_mbytes)) }
                }
                h2 { "Stats and usage" }
                dl.grid {
                    dt { "Build time" } dd data-field="durationMillis" { (f("durationMillis")) }
                    dt { "Run time (s)" } dd data-field="runTimeSecs" { (f("runTimeSecs")) }
                    dt { "Compute units" } dd data-field="computeUnits" { (f("computeUnits")) }
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
