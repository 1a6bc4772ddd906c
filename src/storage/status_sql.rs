//! The one place where SQL is generated: the CASE arms and IN lists that follow the table of
//! moves of `BuildStatus`, so that statements take their moves from the status machine rather
//! than restating them. Every other statement is written whole where it is defined.
//!
//! A statement that needs them is written whole as a template whose markers name a fragment
//! below (`CASE status {after_abort} END`); [`fill`] puts the fragments in, once per statement.

use std::sync::LazyLock;

use crate::domain::BuildStatus;

/// `WHEN 'A' THEN 'B' ...` for each status of `from` that `to` moves somewhere.
fn arms(from: &[BuildStatus], to: impl Fn(BuildStatus) -> Option<BuildStatus>) -> String {
    from.iter()
        .filter_map(|s| to(*s).map(|next| format!("WHEN '{s}' THEN '{next}'")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `'A', 'B'`; `NULL` when there are none, so that `IN (...)` stays valid and matches nothing.
fn list(statuses: impl IntoIterator<Item = BuildStatus>) -> String {
    let quoted: Vec<String> = statuses.into_iter().map(|s| format!("'{s}'")).collect();
    if quoted.is_empty() {
        "NULL".into()
    } else {
        quoted.join(", ")
    }
}

/// The fragments a template may name, by marker.
static FRAGMENTS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    let abortable = BuildStatus::ABORTABLE;
    vec![
        // The statuses a user's abort moves.
        ("{abortable}", list(abortable)),
        // Where abort moves each of them: READY→ABORTED, RUNNING→ABORTING.
        ("{after_abort}", arms(&abortable, BuildStatus::after_abort)),
        // Those of them that abort ends (they get their finishedAt in the same write).
        (
            "{ended_by_abort}",
            list(
                abortable
                    .into_iter()
                    .filter(|s| s.after_abort().is_some_and(BuildStatus::is_terminal)),
            ),
        ),
        // What the rescuer writes for each leased status when the worker was lost.
        (
            "{after_worker_lost}",
            arms(&BuildStatus::LEASED, BuildStatus::after_worker_lost),
        ),
    ]
});

/// `template` with each `{marker}` replaced by its fragment. Panics on a marker that names no
/// fragment, so a typo fails the first test that reads the statement.
pub fn fill(template: &str) -> String {
    let mut sql = template.to_owned();
    for (marker, fragment) in FRAGMENTS.iter() {
        sql = sql.replace(marker, fragment);
    }
    if let Some(start) = sql.find('{') {
        let rest = &sql[start..];
        let end = rest.find('}').map_or(rest.len(), |i| i + 1);
        panic!("unknown status_sql marker {} in: {template}", &rest[..end]);
    }
    sql
}

/// The statuses a worker holds under a lease, as bound to `status = ANY($n)`.
pub fn leased() -> Vec<&'static str> {
    BuildStatus::LEASED.iter().map(|s| s.as_str()).collect()
}

/// The terminal statuses, as bound to `status = ANY($n)`.
pub fn terminal() -> Vec<&'static str> {
    BuildStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(marker: &str) -> &'static str {
        FRAGMENTS
            .iter()
            .find(|(m, _)| *m == marker)
            .map(|(_, f)| f.as_str())
            .unwrap_or_else(|| panic!("no fragment {marker}"))
    }

    /// `WHEN 'A' THEN 'B'` pairs of an arms fragment, parsed back.
    fn parse_arms(arms: &str) -> Vec<(BuildStatus, BuildStatus)> {
        arms.split("WHEN ")
            .filter(|arm| !arm.trim().is_empty())
            .map(|arm| {
                let (from, to) = arm.trim().split_once(" THEN ").expect("an arm");
                let unquote = |s: &str| s.trim().trim_matches('\'').parse::<BuildStatus>();
                (unquote(from).expect("from"), unquote(to).expect("to"))
            })
            .collect()
    }

    fn parse_list(list: &str) -> Vec<BuildStatus> {
        if list == "NULL" {
            return Vec::new();
        }
        list.split(", ")
            .map(|s| s.trim_matches('\'').parse().expect("a status"))
            .collect()
    }

    #[test]
    fn abort_fragments_follow_the_table_of_moves() {
        let moves = parse_arms(fragment("{after_abort}"));
        let expected: Vec<_> = BuildStatus::ALL
            .into_iter()
            .filter_map(|s| s.after_abort().map(|to| (s, to)))
            .collect();
        assert_eq!(moves, expected);
        for (from, to) in &moves {
            assert!(from.can_move_to(*to), "{from} -> {to}");
        }
        assert_eq!(
            parse_list(fragment("{abortable}")),
            BuildStatus::ABORTABLE.to_vec()
        );
        let ended: Vec<_> = moves
            .iter()
            .filter(|(_, to)| to.is_terminal())
            .map(|(from, _)| *from)
            .collect();
        assert_eq!(parse_list(fragment("{ended_by_abort}")), ended);
        // As LIFECYCLE.md has it.
        assert_eq!(
            fragment("{after_abort}"),
            "WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING'"
        );
        assert_eq!(fragment("{ended_by_abort}"), "'READY'");
    }

    #[test]
    fn rescue_arms_follow_the_table_of_moves() {
        let moves = parse_arms(fragment("{after_worker_lost}"));
        assert_eq!(
            moves.iter().map(|(from, _)| *from).collect::<Vec<_>>(),
            BuildStatus::LEASED.to_vec(),
            "every leased status has a way out when its worker is lost"
        );
        for (from, to) in moves {
            assert_eq!(from.after_worker_lost(), Some(to));
            assert!(from.can_move_to(to), "{from} -> {to}");
            assert!(to.is_terminal(), "{from} -> {to}");
        }
    }

    #[test]
    fn bound_lists_follow_the_status_machine() {
        assert_eq!(leased(), ["RUNNING", "ABORTING", "TIMING-OUT"]);
        assert_eq!(terminal(), ["SUCCEEDED", "FAILED", "ABORTED", "TIMED-OUT"]);
    }

    #[test]
    fn fill_puts_in_every_marker_and_refuses_unknown_ones() {
        assert_eq!(
            fill("CASE status {after_abort} END WHERE status IN ({abortable})"),
            "CASE status WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING' END \
             WHERE status IN ('READY', 'RUNNING')"
        );
        let unknown = std::panic::catch_unwind(|| fill("CASE status {after_abrot} END"));
        assert!(unknown.is_err());
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        assert_eq!(list([]), "NULL");
    }
}
