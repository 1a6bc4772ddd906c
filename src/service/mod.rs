//! What both faces share beyond HTTP: finding the caller's Actors, the builds an Actor's
//! settings name, waiting on builds, and reading and rendering logs.

pub mod actors;
pub mod builds;
pub mod logs;

/// What a service call can fail with; each face maps it to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A record that is absent or belongs to another user; the text names what was looked for.
    #[error("{0} was not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
