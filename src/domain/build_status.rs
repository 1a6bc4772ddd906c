use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The eight statuses of a build. This type owns the table of allowed moves; the database
/// trigger `builds_guard_status_move` mirrors it, and a test checks that the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum BuildStatus {
    Ready,
    Running,
    Aborting,
    TimingOut,
    Succeeded,
    Failed,
    Aborted,
    TimedOut,
}

impl BuildStatus {
    pub const ALL: [BuildStatus; 8] = [
        BuildStatus::Ready,
        BuildStatus::Running,
        BuildStatus::Aborting,
        BuildStatus::TimingOut,
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::Aborted,
        BuildStatus::TimedOut,
    ];

    /// Statuses from which a user's abort makes a move (READY→ABORTED, RUNNING→ABORTING).
    pub const ABORTABLE: [BuildStatus; 2] = [BuildStatus::Ready, BuildStatus::Running];

    /// Statuses a worker holds under a lease.
    pub const LEASED: [BuildStatus; 3] = [
        BuildStatus::Running,
        BuildStatus::Aborting,
        BuildStatus::TimingOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Ready => "READY",
            BuildStatus::Running => "RUNNING",
            BuildStatus::Aborting => "ABORTING",
            BuildStatus::TimingOut => "TIMING-OUT",
            BuildStatus::Succeeded => "SUCCEEDED",
            BuildStatus::Failed => "FAILED",
            BuildStatus::Aborted => "ABORTED",
            BuildStatus::TimedOut => "TIMED-OUT",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BuildStatus::Succeeded
                | BuildStatus::Failed
                | BuildStatus::Aborted
                | BuildStatus::TimedOut
        )
    }

    /// The table of moves of LIFECYCLE.md, and no others.
    pub fn can_move_to(self, next: BuildStatus) -> bool {
        use BuildStatus::*;
        match self {
            // claim; abort of a build that never started
            Ready => matches!(next, Running | Aborted),
            // finish; abort; timeout; rescue of a lost worker's build
            Running => matches!(
                next,
                Succeeded | Failed | Aborting | TimingOut | Aborted | TimedOut
            ),
            // the worker stops the process; the rescuer may also end it
            Aborting | TimingOut => matches!(next, Aborted | Failed | TimedOut),
            Succeeded | Failed | Aborted | TimedOut => false,
        }
    }

    /// What abort does to a build in this status, if anything.
    pub fn after_abort(self) -> Option<BuildStatus> {
        match self {
            BuildStatus::Ready => Some(BuildStatus::Aborted),
            BuildStatus::Running => Some(BuildStatus::Aborting),
            _ => None,
        }
    }

    /// The terminal status that ends a stop in progress (ABORTING→ABORTED, TIMING-OUT→TIMED-OUT).
    pub fn stop_outcome(self) -> Option<BuildStatus> {
        match self {
            BuildStatus::Aborting => Some(BuildStatus::Aborted),
            BuildStatus::TimingOut => Some(BuildStatus::TimedOut),
            _ => None,
        }
    }

    /// What the rescuer writes when the worker holding a build in this status was lost.
    pub fn after_worker_lost(self) -> Option<BuildStatus> {
        match self {
            BuildStatus::Running => Some(BuildStatus::Failed),
            BuildStatus::Aborting => Some(BuildStatus::Aborted),
            BuildStatus::TimingOut => Some(BuildStatus::TimedOut),
            _ => None,
        }
    }
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown build status {0:?}")]
pub struct UnknownStatus(String);

impl FromStr for BuildStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BuildStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl TryFrom<String> for BuildStatus {
    type Error = UnknownStatus;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_never_move() {
        for from in BuildStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in BuildStatus::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn named_moves_are_in_the_table() {
        for s in BuildStatus::ALL {
            for next in [s.after_abort(), s.stop_outcome(), s.after_worker_lost()]
                .into_iter()
                .flatten()
            {
                assert!(s.can_move_to(next), "{s} -> {next}");
            }
        }
    }

    #[test]
    fn round_trips_through_text() {
        for s in BuildStatus::ALL {
            assert_eq!(s.as_str().parse::<BuildStatus>().ok(), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
    }
}
