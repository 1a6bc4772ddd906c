//! Builds: creation, reads, lists, abort and delete. The worker's queue statements (claim,
//! heartbeat, finish, rescue) live in `storage::queue`, beside these, as the contract between
//! the API and the workers.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

use super::status_sql;
use crate::domain::build_document::{ActVersion, BuildMeta, BuildOptions, BuildStats, Usage};
use crate::domain::version_spec::VersionSpec;
use crate::domain::{new_id, AbortedBy, ActorId, BuildId, BuildStatus, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct BuildRecord {
    pub id: BuildId,
    pub act_id: ActorId,
    pub user_id: UserId,
    #[sqlx(try_from = "String")]
    pub status: BuildStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub version_number: String,
    pub build_number_int: i32,
    pub tag: Option<String>,
    pub meta: Json<BuildMeta>,
    pub options: Json<BuildOptions>,
    pub stats: Json<BuildStats>,
    pub usage: Json<Usage>,
    pub usage_total_usd: f64,
    pub usage_usd: Json<Usage>,
    pub act_version: Json<ActVersion>,
    pub actor_definition: Option<Json<Value>>,
    pub input_schema: Option<String>,
    pub readme: Option<String>,
    pub abort_requested_at: Option<DateTime<Utc>>,
    pub aborted_by: Option<AbortedBy>,
    /// The image a SUCCEEDED build made, and its manifest's digest.
    pub image_name: Option<String>,
    pub image_digest: Option<String>,
}

impl BuildRecord {
    pub fn build_number(&self) -> String {
        format!("{}.{}", self.version_number, self.build_number_int)
    }
}

pub struct NewBuild {
    pub act_id: ActorId,
    pub user_id: UserId,
    pub version_number: String,
    pub tag: String,
    pub meta: BuildMeta,
    pub options: BuildOptions,
    pub act_version: ActVersion,
}

/// What a request to build says, besides the Actor and the version.
pub struct BuildRequest<'a> {
    pub origin: &'a str,
    pub client_ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub use_cache: bool,
    pub beta_packages: bool,
    /// The tag the build takes when it succeeds; the version's `buildTag` when not given.
    pub tag: Option<String>,
}

impl NewBuild {
    pub fn of_version(
        actor_id: &str,
        user_id: &UserId,
        version: &VersionSpec,
        request: BuildRequest<'_>,
    ) -> Self {
        NewBuild {
            act_id: ActorId::from(actor_id.to_owned()),
            user_id: user_id.clone(),
            version_number: version.version_number.to_string(),
            tag: request.tag.unwrap_or_else(|| version.build_tag.clone()),
            meta: BuildMeta {
                origin: request.origin.to_owned(),
                client_ip: request.client_ip,
                user_agent: request.user_agent.map(str::to_owned),
            },
            options: BuildOptions {
                use_cache: request.use_cache,
                beta_packages: request.beta_packages,
                ..BuildOptions::default()
            },
            act_version: super::versions::snapshot(version),
        }
    }
}

/// The next number of a version's builds, taken under the counter's row lock.
pub(super) const NEXT_NUMBER: &str =
    "INSERT INTO version_build_counters (actor_id, version_number, last_number) VALUES ($1, $2, 1)
     ON CONFLICT (actor_id, version_number)
     DO UPDATE SET last_number = version_build_counters.last_number + 1
     RETURNING last_number";

/// A new READY build; `usage` and `usage_usd` both start at `$9`.
pub(super) const INSERT: &str =
    "INSERT INTO builds (id, act_id, user_id, version_number, build_number_int, tag, meta, options,
        usage, usage_usd, act_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
     RETURNING id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest";

/// Creates a READY build with the next number of its version. The counter's row lock orders
/// concurrent creations, so numbers have no gaps and no duplicates.
pub async fn create(pool: &PgPool, new: NewBuild) -> Result<BuildRecord, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let number: i32 = sqlx::query_scalar(NEXT_NUMBER)
        .bind(&new.act_id)
        .bind(&new.version_number)
        .fetch_one(&mut *tx)
        .await?;
    let build: BuildRecord = sqlx::query_as(INSERT)
        .bind(new_id())
        .bind(&new.act_id)
        .bind(&new.user_id)
        .bind(&new.version_number)
        .bind(number)
        .bind(&new.tag)
        .bind(Json(&new.meta))
        .bind(Json(&new.options))
        .bind(Json(Usage::none()))
        .bind(Json(&new.act_version))
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(build)
}

pub(super) const GET: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE id = $1";

/// Any build by id; build ids are unguessable, so the tokenless GET may use this.
pub async fn get(db: impl PgExecutor<'_>, id: &str) -> Result<Option<BuildRecord>, sqlx::Error> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

pub(super) const GET_FOR_USER: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE id = $1 AND user_id = $2";

/// The user's build by id; another user's build is absent.
pub async fn get_for_user(
    db: impl PgExecutor<'_>,
    id: &str,
    user_id: &UserId,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    sqlx::query_as(GET_FOR_USER)
        .bind(id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Which builds a list shows.
pub enum BuildScope<'a> {
    User(&'a UserId),
    Actor(&'a str),
}

// A page of a user's or an Actor's builds, in either order: one whole statement each, so that
// each keeps its index scan.
pub(super) const LIST_OF_USER_ASC: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE user_id = $1
     ORDER BY started_at ASC, id ASC LIMIT $2 OFFSET $3";
pub(super) const LIST_OF_USER_DESC: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE user_id = $1
     ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3";
pub(super) const LIST_OF_ACTOR_ASC: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE act_id = $1
     ORDER BY started_at ASC, id ASC LIMIT $2 OFFSET $3";
pub(super) const LIST_OF_ACTOR_DESC: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE act_id = $1
     ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3";
/// The totals of those lists, kept by the counting triggers.
pub(super) const COUNT_OF_USER: &str = "SELECT build_count FROM users WHERE id = $1";
pub(super) const COUNT_OF_ACTOR: &str = "SELECT build_count FROM actors WHERE id = $1";

pub async fn list(
    pool: &PgPool,
    scope: BuildScope<'_>,
    offset: i64,
    limit: i64,
    desc: bool,
) -> Result<(i64, Vec<BuildRecord>), sqlx::Error> {
    // The page in the order asked, and the counter whose `build_count` is the total.
    let (items_sql, total_sql, key) = match (scope, desc) {
        (BuildScope::User(user_id), false) => (LIST_OF_USER_ASC, COUNT_OF_USER, user_id.as_str()),
        (BuildScope::User(user_id), true) => (LIST_OF_USER_DESC, COUNT_OF_USER, user_id.as_str()),
        (BuildScope::Actor(actor_id), false) => (LIST_OF_ACTOR_ASC, COUNT_OF_ACTOR, actor_id),
        (BuildScope::Actor(actor_id), true) => (LIST_OF_ACTOR_DESC, COUNT_OF_ACTOR, actor_id),
    };
    let items = sqlx::query_as(items_sql)
        .bind(key)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total = sqlx::query_scalar(total_sql).bind(key).fetch_one(pool);
    let (items, total) = tokio::try_join!(items, total)?;
    Ok((total, items))
}

/// A build with its Actor's name and title, for lists that show both.
#[derive(Debug, Clone, FromRow)]
pub struct BuildWithActor {
    #[sqlx(flatten)]
    pub build: BuildRecord,
    pub actor_name: String,
    pub actor_title: Option<String>,
}

/// Which of a user's builds a filtered list shows: all, or only one Actor's, or only some statuses.
pub struct BuildFilter<'a> {
    pub user_id: &'a UserId,
    pub actor_id: Option<&'a str>,
    /// Empty means any status.
    pub statuses: &'a [BuildStatus],
}

/// A page of a user's builds, of one Actor (`$2`) or any (NULL), of some statuses (`$3`) or any
/// (empty), newest first, with the Actor's name and title.
pub(super) const LIST_FILTERED: &str = "SELECT b.*, a.name AS actor_name, a.title AS actor_title
     FROM (SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
               build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
               act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
           FROM builds
           WHERE user_id = $1 AND ($2::text IS NULL OR act_id = $2)
             AND (cardinality($3::text[]) = 0 OR status = ANY($3))
           ORDER BY started_at DESC, id DESC LIMIT $4 OFFSET $5) b
     JOIN actors a ON a.id = b.act_id
     ORDER BY b.started_at DESC, b.id DESC";
/// How many builds `LIST_FILTERED` pages through.
pub(super) const COUNT_FILTERED: &str = "SELECT count(*) FROM builds
     WHERE user_id = $1 AND ($2::text IS NULL OR act_id = $2)
       AND (cardinality($3::text[]) = 0 OR status = ANY($3))";

/// The user's builds matching `filter`, newest first, with the number that match.
pub async fn list_filtered(
    pool: &PgPool,
    filter: &BuildFilter<'_>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<BuildWithActor>), sqlx::Error> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let items = sqlx::query_as(LIST_FILTERED)
        .bind(filter.user_id)
        .bind(filter.actor_id)
        .bind(&statuses)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total = sqlx::query_scalar(COUNT_FILTERED)
        .bind(filter.user_id)
        .bind(filter.actor_id)
        .bind(&statuses)
        .fetch_one(pool);
    let (items, total) = tokio::try_join!(items, total)?;
    Ok((total, items))
}

pub(super) const GET_MANY_FOR_USER: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE id = ANY($1) AND user_id = $2";

/// Those of the given builds that are the user's, in no particular order.
pub async fn get_many_for_user(
    pool: &PgPool,
    ids: &[String],
    user_id: &UserId,
) -> Result<Vec<BuildRecord>, sqlx::Error> {
    sqlx::query_as(GET_MANY_FOR_USER)
        .bind(ids)
        .bind(user_id)
        .fetch_all(pool)
        .await
}

/// The conditional update of abort. The moves come from `BuildStatus` (see `status_sql`):
/// `{after_abort}` are the CASE arms READY→ABORTED, RUNNING→ABORTING, `{ended_by_abort}` the
/// statuses that abort ends (finishedAt set), `{abortable}` the statuses abort moves.
const ABORT_TEMPLATE: &str = "UPDATE builds SET status = CASE status {after_abort} END,
        finished_at = CASE WHEN status IN ({ended_by_abort}) THEN now() END,
        abort_requested_at = now(), aborted_by = $2
     WHERE id = $1 AND user_id = $2 AND status IN ({abortable})
     RETURNING id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest";
pub(super) static ABORT: LazyLock<String> = LazyLock::new(|| status_sql::fill(ABORT_TEMPLATE));

/// Abort, as LIFECYCLE.md says: in one transaction, a conditional update of an abortable build
/// (READY→ABORTED with finishedAt; RUNNING→ABORTING), then the full row. Any other status is
/// left as it is. `None` when the build is absent or another user's. The status trigger
/// notifies the workers on commit.
pub async fn abort(
    pool: &PgPool,
    id: &str,
    user_id: &UserId,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved: Option<BuildRecord> = sqlx::query_as(&ABORT)
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    let build = match moved {
        Some(build) => {
            if let Some(from) = BuildStatus::ABORTABLE
                .into_iter()
                .find(|s| s.after_abort() == Some(build.status))
            {
                crate::metrics::transition(from, build.status);
            }
            Some(build)
        }
        // Nothing moved: read the row as it is now (after any concurrent abort committed).
        None => get_for_user(&mut *tx, id, user_id).await?,
    };
    tx.commit().await?;
    Ok(build)
}

pub enum Deletion {
    Deleted,
    NotFound,
    Unfinished,
    Tagged(String),
}

pub(super) const LOCK_STATUS: &str =
    "SELECT status FROM builds WHERE id = $1 AND user_id = $2 FOR UPDATE";
pub(super) const A_TAG_OF: &str = "SELECT tag FROM actor_tags WHERE build_id = $1 LIMIT 1";
pub(super) const DELETE: &str = "DELETE FROM builds WHERE id = $1";

/// Deletes a finished build that no tag points at.
pub async fn delete(pool: &PgPool, id: &str, user_id: &UserId) -> Result<Deletion, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let status: Option<String> = sqlx::query_scalar(LOCK_STATUS)
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(status) = status else {
        return Ok(Deletion::NotFound);
    };
    if !status
        .parse::<BuildStatus>()
        .is_ok_and(BuildStatus::is_terminal)
    {
        return Ok(Deletion::Unfinished);
    }
    let tag: Option<String> = sqlx::query_scalar(A_TAG_OF)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(tag) = tag {
        return Ok(Deletion::Tagged(tag));
    }
    sqlx::query(DELETE).bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Deletion::Deleted)
}

pub(super) const FIND_BY_TAG: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE id = (SELECT build_id FROM actor_tags WHERE actor_id = $1 AND tag = $2)";
pub(super) const FIND_BY_NUMBER: &str =
    "SELECT id, act_id, user_id, status, started_at, finished_at, version_number,
        build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd,
        act_version, actor_definition, input_schema, readme, abort_requested_at, aborted_by,
        image_name, image_digest
     FROM builds WHERE act_id = $1 AND version_number = $2 AND build_number_int = $3";

/// The build that `reference` names among an Actor's builds: a tag (`latest`), else a build
/// number (`0.1.3`).
pub async fn find_by_tag_or_number(
    pool: &PgPool,
    actor_id: &str,
    reference: &str,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    let tagged: Option<BuildRecord> = sqlx::query_as(FIND_BY_TAG)
        .bind(actor_id)
        .bind(reference)
        .fetch_optional(pool)
        .await?;
    if tagged.is_some() {
        return Ok(tagged);
    }
    let Some((version, number)) = reference.rsplit_once('.') else {
        return Ok(None);
    };
    let Ok(number) = number.parse::<i32>() else {
        return Ok(None);
    };
    sqlx::query_as(FIND_BY_NUMBER)
        .bind(actor_id)
        .bind(version)
        .bind(number)
        .fetch_optional(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_sql_follows_the_status_machine() {
        let sql = ABORT.as_str();
        assert!(
            sql.contains(
                "status = CASE status WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING' END"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("finished_at = CASE WHEN status IN ('READY') THEN now() END"),
            "{sql}"
        );
        assert!(sql.contains("status IN ('READY', 'RUNNING')"), "{sql}");
    }
}
