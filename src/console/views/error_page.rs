//! The page of a console error.

use maud::{html, Markup};

use super::layout::{layout, Chrome};
use crate::console::paths;

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

#[cfg(test)]
mod tests {
    use super::*;

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
