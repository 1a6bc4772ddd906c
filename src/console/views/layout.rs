//! The frame of every page: head, top bar with navigation and account, and shared parts of forms.

use maud::{html, Markup, DOCTYPE};

use crate::console::session::CSRF_FIELD;
use crate::console::{asset_url, paths};
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

pub(super) fn csrf_input(csrf: &str) -> Markup {
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
                link rel="icon" type="image/svg+xml" href=(asset_url("favicon.svg"));
                link rel="stylesheet" href=(asset_url("console.css"));
                script src=(asset_url("console.js")) defer {}
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

pub(super) fn pager(page: i64, pages: i64, link: impl Fn(i64) -> String) -> Markup {
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
