//! Log lines as text: each line after its ISO timestamp, ANSI escape sequences stripped unless
//! asked for raw. The API's plain-text log, its stream and the console's downloads render here.

use std::borrow::Cow;

use sqlx::PgPool;

use crate::domain::timestamp::timestamp;
use crate::storage::logs::{self, LogLine};

/// Lines read from the database at a time.
pub const PAGE: i64 = 1000;

/// The build's whole log, rendered.
pub async fn read_all(pool: &PgPool, build_id: &str, raw: bool) -> Result<String, sqlx::Error> {
    let mut text = String::new();
    let mut after = 0;
    loop {
        let lines = logs::read_after(pool, build_id, after, PAGE).await?;
        let Some(last) = lines.last() else {
            return Ok(text);
        };
        after = last.id;
        render(&lines, raw, &mut text);
    }
}

/// Appends `lines` to `out`, one `<timestamp> <text>\n` each.
pub fn render(lines: &[LogLine], raw: bool, out: &mut String) {
    for line in lines {
        out.push_str(&timestamp(&line.at));
        out.push(' ');
        let text = if raw {
            Cow::Borrowed(line.line.as_str())
        } else {
            strip_ansi(&line.line)
        };
        out.push_str(&text);
        out.push('\n');
    }
}

/// The text without ANSI escape sequences (colours, cursor moves, titles).
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Two-character sequences (ESC c, ESC 7, ...)
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn strips_colours_and_titles() {
        assert_eq!(strip_ansi("\u{1b}[1;32mgreen\u{1b}[0m text"), "green text");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}after"), "after");
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
