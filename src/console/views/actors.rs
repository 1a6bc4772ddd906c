//! The list of Actors and an Actor's page.

use maud::{html, Markup};

use super::builds::builds_table;
use super::format::{opt_time_text, time};
use super::layout::{csrf_input, layout, pager, Chrome};
use crate::console::paths;
use crate::domain::version_spec::VersionSpec;
use crate::storage::actors::{ActorListRow, ActorRecord, TagRow};
use crate::storage::builds::BuildWithActor;

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
