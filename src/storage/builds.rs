//! Builds: creation, reads, lists, abort and delete. The worker's queue statements (claim,
//! heartbeat, finish, rescue) live in `storage::queue`, beside these, as the contract between
//! the API and the workers.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::domain::version_spec::VersionSpec;
use crate::domain::{new_id, BuildStatus};

#[derive(Debug, Clone, FromRow)]
pub struct BuildRecord {
    pub id: String,
    pub act_id: String,
    pub user_id: String,
    #[sqlx(try_from = "String")]
    pub status: BuildStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub version_number: String,
    pub build_number_int: i32,
    pub tag: Option<String>,
    pub meta: Json<Value>,
    pub options: Json<Value>,
    pub stats: Json<Value>,
    pub usage: Json<Value>,
    pub usage_total_usd: f64,
    pub usage_usd: Json<Value>,
    pub act_version: Json<Value>,
    pub actor_definition: Option<Json<Value>>,
    pub input_schema: Option<String>,
    pub readme: Option<String>,
    pub abort_requested_at: Option<DateTime<Utc>>,
    pub aborted_by: Option<String>,
}

pub(crate) const COLUMNS: &str =
    "id, act_id, user_id, status, started_at, finished_at, version_number,
    build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd, act_version,
    actor_definition, input_schema, readme, abort_requested_at, aborted_by";

impl BuildRecord {
    pub fn build_number(&self) -> String {
        format!("{}.{}", self.version_number, self.build_number_int)
    }
}

pub struct NewBuild {
    pub act_id: String,
    pub user_id: String,
    pub version_number: String,
    pub tag: String,
    pub meta: Value,
    pub options: Value,
    pub act_version: Value,
}

/// Memory of a build, in megabytes; its disk is twice that.
pub const BUILD_MEMORY_MBYTES: u64 = 4096;

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
        user_id: &str,
        version: &VersionSpec,
        request: BuildRequest<'_>,
    ) -> Self {
        NewBuild {
            act_id: actor_id.to_owned(),
            user_id: user_id.to_owned(),
            version_number: version.version_number.to_string(),
            tag: request.tag.unwrap_or_else(|| version.build_tag.clone()),
            meta: json!({
                "origin": request.origin,
                "clientIp": request.client_ip,
                "userAgent": request.user_agent,
            }),
            options: json!({
                "useCache": request.use_cache,
                "betaPackages": request.beta_packages,
                "memoryMbytes": BUILD_MEMORY_MBYTES,
                "diskMbytes": 2 * BUILD_MEMORY_MBYTES,
            }),
            act_version: super::versions::snapshot(version),
        }
    }
}

/// Creates a READY build with the next number of its version. The counter's row lock orders
/// concurrent creations, so numbers have no gaps and no duplicates.
pub async fn create(pool: &PgPool, new: NewBuild) -> Result<BuildRecord, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let number: i32 = sqlx::query_scalar(
        "INSERT INTO version_build_counters (actor_id, version_number, last_number) VALUES ($1, $2, 1)
         ON CONFLICT (actor_id, version_number)
         DO UPDATE SET last_number = version_build_counters.last_number + 1
         RETURNING last_number",
    )
    .bind(&new.act_id)
    .bind(&new.version_number)
    .fetch_one(&mut *tx)
    .await?;
    let build: BuildRecord = sqlx::query_as(&format!(
        "INSERT INTO builds (id, act_id, user_id, version_number, build_number_int, tag, meta, options,
            usage, usage_usd, act_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
         RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(&new.act_id)
    .bind(&new.user_id)
    .bind(&new.version_number)
    .bind(number)
    .bind(&new.tag)
    .bind(Json(&new.meta))
    .bind(Json(&new.options))
    .bind(Json(json!({"ACTOR_COMPUTE_UNITS": 0})))
    .bind(Json(&new.act_version))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(build)
}

/// Any build by id; build ids are unguessable, so the tokenless GET may use this.
pub async fn get(db: impl PgExecutor<'_>, id: &str) -> Result<Option<BuildRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM builds WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The user's build by id; another user's build is absent.
pub async fn get_for_user(
    db: impl PgExecutor<'_>,
    id: &str,
    user_id: &str,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM builds WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Which builds a list shows.
pub enum BuildScope<'a> {
    User(&'a str),
    Actor(&'a str),
}

pub async fn list(
    pool: &PgPool,
    scope: BuildScope<'_>,
    offset: i64,
    limit: i64,
    desc: bool,
) -> Result<(i64, Vec<BuildRecord>), sqlx::Error> {
    // The column to filter on, and the table whose `build_count` is the total.
    let (column, counter, key) = match scope {
        BuildScope::User(user_id) => ("user_id", "users", user_id),
        BuildScope::Actor(actor_id) => ("act_id", "actors", actor_id),
    };
    let order = if desc { "DESC" } else { "ASC" };
    let items_sql = format!(
        "SELECT {COLUMNS} FROM builds WHERE {column} = $1
         ORDER BY started_at {order}, id {order} LIMIT $2 OFFSET $3"
    );
    let items = sqlx::query_as(&items_sql)
        .bind(key)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total_sql = format!("SELECT build_count FROM {counter} WHERE id = $1");
    let total = sqlx::query_scalar(&total_sql).bind(key).fetch_one(pool);
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
    pub user_id: &'a str,
    pub actor_id: Option<&'a str>,
    /// Empty means any status.
    pub statuses: &'a [BuildStatus],
}

/// The user's builds matching `filter`, newest first, with the number that match.
pub async fn list_filtered(
    pool: &PgPool,
    filter: &BuildFilter<'_>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<BuildWithActor>), sqlx::Error> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let matching = "user_id = $1 AND ($2::text IS NULL OR act_id = $2)
        AND (cardinality($3::text[]) = 0 OR status = ANY($3))";
    let items_sql = format!(
        "SELECT b.*, a.name AS actor_name, a.title AS actor_title
         FROM (SELECT {COLUMNS} FROM builds WHERE {matching}
               ORDER BY started_at DESC, id DESC LIMIT $4 OFFSET $5) b
         JOIN actors a ON a.id = b.act_id
         ORDER BY b.started_at DESC, b.id DESC"
    );
    let items = sqlx::query_as(&items_sql)
        .bind(filter.user_id)
        .bind(filter.actor_id)
        .bind(&statuses)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total_sql = format!("SELECT count(*) FROM builds WHERE {matching}");
    let total = sqlx::query_scalar(&total_sql)
        .bind(filter.user_id)
        .bind(filter.actor_id)
        .bind(&statuses)
        .fetch_one(pool);
    let (items, total) = tokio::try_join!(items, total)?;
    Ok((total, items))
}

/// Those of the given builds that are the user's, in no particular order.
pub async fn get_many_for_user(
    pool: &PgPool,
    ids: &[String],
    user_id: &str,
) -> Result<Vec<BuildRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM builds WHERE id = ANY($1) AND user_id = $2"
    ))
    .bind(ids)
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// `CASE status WHEN 'A' THEN 'B' ... END` from a function of the status machine, so the SQL
/// takes its moves from `BuildStatus` rather than restating them.
fn status_case(from: &[BuildStatus], to: impl Fn(BuildStatus) -> Option<BuildStatus>) -> String {
    let arms: String = from
        .iter()
        .filter_map(|s| to(*s).map(|next| format!(" WHEN '{s}' THEN '{next}'")))
        .collect();
    format!("CASE status{arms} END")
}

fn status_list(statuses: &[BuildStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `status IN (...)` of the statuses for which `to` names a move, and the finishedAt to write.
fn finished_at_case(
    from: &[BuildStatus],
    to: impl Fn(BuildStatus) -> Option<BuildStatus>,
) -> String {
    let terminal: Vec<BuildStatus> = from
        .iter()
        .copied()
        .filter(|s| to(*s).is_some_and(BuildStatus::is_terminal))
        .collect();
    if terminal.is_empty() {
        "NULL".into()
    } else {
        format!(
            "CASE WHEN status IN ({}) THEN now() END",
            status_list(&terminal)
        )
    }
}

static ABORT_SQL: LazyLock<String> = LazyLock::new(|| {
    let abortable = BuildStatus::ABORTABLE;
    format!(
        "UPDATE builds SET status = {}, finished_at = {}, abort_requested_at = now(), aborted_by = $2
         WHERE id = $1 AND user_id = $2 AND status IN ({})
         RETURNING {COLUMNS}",
        status_case(&abortable, BuildStatus::after_abort),
        finished_at_case(&abortable, BuildStatus::after_abort),
        status_list(&abortable),
    )
});

/// Abort, as LIFECYCLE.md says: in one transaction, a conditional update of an abortable build
/// (READY→ABORTED with finishedAt; RUNNING→ABORTING), then the full row. Any other status is
/// left as it is. `None` when the build is absent or another user's. The status trigger
/// notifies the workers on commit.
pub async fn abort(
    pool: &PgPool,
    id: &str,
    user_id: &str,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved: Option<BuildRecord> = sqlx::query_as(&ABORT_SQL)
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

/// Deletes a finished build that no tag points at.
pub async fn delete(pool: &PgPool, id: &str, user_id: &str) -> Result<Deletion, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM builds WHERE id = $1 AND user_id = $2 FOR UPDATE")
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
    let tag: Option<String> =
        sqlx::query_scalar("SELECT tag FROM actor_tags WHERE build_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(tag) = tag {
        return Ok(Deletion::Tagged(tag));
    }
    sqlx::query("DELETE FROM builds WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Deletion::Deleted)
}

/// The build that `reference` names among an Actor's builds: a tag (`latest`), else a build
/// number (`0.1.3`).
pub async fn find_by_tag_or_number(
    pool: &PgPool,
    actor_id: &str,
    reference: &str,
) -> Result<Option<BuildRecord>, sqlx::Error> {
    let tagged: Option<BuildRecord> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM builds WHERE id = (SELECT build_id FROM actor_tags WHERE actor_id = $1 AND tag = $2)"
    ))
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
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM builds WHERE act_id = $1 AND version_number = $2 AND build_number_int = $3"
    ))
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
        let sql = ABORT_SQL.as_str();
        assert!(
            sql.contains(
                "CASE status WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING' END"
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
