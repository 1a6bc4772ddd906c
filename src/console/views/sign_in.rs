//! The sign-in page.

use maud::{html, Markup};

use super::layout::{csrf_input, layout, Chrome};
use crate::console::paths;

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
