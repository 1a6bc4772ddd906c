//! Builds as both faces see them: the one an Actor's settings name, and waiting for one to end.

use std::time::Duration;

use sqlx::PgPool;

use super::ServiceError;
use crate::domain::secret_box::SecretBox;
use crate::domain::UserId;
use crate::domain::VersionNumber;
use crate::events::waiters::Waiters;
use crate::storage::actors::ActorRecord;
use crate::storage::builds::{self, BuildRecord, BuildRequest, NewBuild};
use crate::storage::versions;

/// Starts a build of the Actor's version for `user_id`: a READY build with the version as it is
/// now, or `NotFound("Actor version")`.
pub async fn start(
    pool: &PgPool,
    secrets: &SecretBox,
    actor: &ActorRecord,
    user_id: &UserId,
    version_number: &VersionNumber,
    request: BuildRequest<'_>,
) -> Result<BuildRecord, ServiceError> {
    let version = versions::get(pool, secrets, &actor.id, version_number.as_str())
        .await?
        .ok_or(ServiceError::NotFound("Actor version"))?;
    let new = NewBuild::of_version(&actor.id, user_id, &version, request);
    Ok(builds::create(pool, new).await?)
}

/// The build that the Actor's `defaultRunOptions.build` names: a tag (default `latest`) or a
/// build number.
pub async fn default_of(
    pool: &PgPool,
    actor: &ActorRecord,
) -> Result<Option<BuildRecord>, ServiceError> {
    let reference = actor
        .default_run_options
        .0
        .get("build")
        .and_then(|b| b.as_str())
        .unwrap_or("latest");
    Ok(builds::find_by_tag_or_number(pool, &actor.id, reference).await?)
}

/// Holds the caller until the build is terminal or `wait` is up, then gives the build as it
/// is. Every waiter of a build shares one reading of it (see `events::waiters`); a waiter whose
/// client hung up is dropped with its connection. The shared re-reads go by id, since a build
/// never changes owner.
pub async fn wait_for_finish(
    waiters: &Waiters,
    build: BuildRecord,
    wait: Duration,
) -> Result<BuildRecord, ServiceError> {
    if wait.is_zero() || build.status.is_terminal() {
        return Ok(build);
    }
    let deadline = tokio::time::Instant::now() + wait;
    waiters
        .wait(build, deadline)
        .await
        .ok_or(ServiceError::NotFound("Build"))
}
