//! The list of builds: filters, table (also on an Actor's page), pages.

use maud::{html, Markup};

use super::format::{badge, build_duration, time};
use super::layout::{layout, pager, Chrome};
use crate::console::paths;
use crate::domain::BuildStatus;
use crate::storage::actors::ActorListRow;
use crate::storage::builds::BuildWithActor;

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
