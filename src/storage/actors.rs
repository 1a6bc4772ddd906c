//! Actors and the tags that name their builds.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::domain::build_document::DEFAULT_MEMORY_MBYTES;
use crate::domain::ActorRef;
use crate::domain::{ActorId, BuildId, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct ActorRecord {
    pub id: ActorId,
    pub user_id: UserId,
    pub username: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub is_public: bool,
    pub default_run_options: Json<Map<String, Value>>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// Fields of a new Actor or of an update; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ActorFields {
    pub name: Option<String>,
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub is_public: Option<bool>,
    pub default_run_options: Option<Map<String, Value>>,
}

pub fn default_run_options() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("build".into(), json!("latest"));
    m.insert("timeoutSecs".into(), json!(3600));
    m.insert("memoryMbytes".into(), json!(DEFAULT_MEMORY_MBYTES));
    m
}

/// The user's (`$1`) Actor by id (`$2`).
pub(super) const FIND_BY_ID: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description, a.is_public,
        a.default_run_options, a.created_at, a.modified_at
     FROM actors a JOIN users u ON u.id = a.user_id
     WHERE a.user_id = $1 AND a.id = $2";
/// The user's (`$1`) Actor by name (`$2`).
pub(super) const FIND_BY_NAME: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description, a.is_public,
        a.default_run_options, a.created_at, a.modified_at
     FROM actors a JOIN users u ON u.id = a.user_id
     WHERE a.user_id = $1 AND a.name = $2";

/// The caller's Actor named by `actor` (id, `username~name` or `~name`). Another user's Actor is
/// reported exactly as an absent one.
pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: &UserId,
    username: &str,
    actor: &ActorRef,
) -> Result<Option<ActorRecord>, sqlx::Error> {
    match actor {
        ActorRef::Id(id) => {
            sqlx::query_as(FIND_BY_ID)
                .bind(user_id)
                .bind(id)
                .fetch_optional(db)
                .await
        }
        ActorRef::Name {
            username: Some(owner),
            ..
        } if owner != username => Ok(None),
        ActorRef::Name { name, .. } => {
            sqlx::query_as(FIND_BY_NAME)
                .bind(user_id)
                .bind(name)
                .fetch_optional(db)
                .await
        }
    }
}

pub(super) const INSERT: &str =
    "INSERT INTO actors (id, user_id, name, title, description, is_public, default_run_options)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Inserts a new Actor; a taken name fails with a unique violation of `actors_user_name_unique`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &str,
    user_id: &UserId,
    name: &str,
    fields: &ActorFields,
) -> Result<(), sqlx::Error> {
    let mut options = default_run_options();
    if let Some(given) = &fields.default_run_options {
        options.extend(given.clone());
    }
    sqlx::query(INSERT)
        .bind(id)
        .bind(user_id)
        .bind(name)
        .bind(fields.title.clone().flatten())
        .bind(fields.description.clone().flatten())
        .bind(fields.is_public.unwrap_or(false))
        .bind(Json(options))
        .execute(db)
        .await?;
    Ok(())
}

/// `$3` and `$5` say whether the title (`$4`) and the description (`$6`) are given (a given NULL
/// clears them); a NULL name, visibility or options (`$2`, `$7`, `$8`) leaves them as they are.
pub(super) const UPDATE: &str = "UPDATE actors SET
        name = COALESCE($2, name),
        title = CASE WHEN $3 THEN $4 ELSE title END,
        description = CASE WHEN $5 THEN $6 ELSE description END,
        is_public = COALESCE($7, is_public),
        default_run_options = default_run_options || COALESCE($8, '{}'::jsonb),
        modified_at = now()
     WHERE id = $1";

/// Applies the given fields and sets `modifiedAt`. `defaultRunOptions` merges into the old ones.
pub async fn update(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    fields: &ActorFields,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPDATE)
        .bind(actor_id)
        .bind(&fields.name)
        .bind(fields.title.is_some())
        .bind(fields.title.clone().flatten())
        .bind(fields.description.is_some())
        .bind(fields.description.clone().flatten())
        .bind(fields.is_public)
        .bind(fields.default_run_options.clone().map(Json))
        .execute(db)
        .await?;
    Ok(())
}

pub(super) const TOUCH: &str = "UPDATE actors SET modified_at = now() WHERE id = $1";

pub async fn touch(db: impl PgExecutor<'_>, actor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(TOUCH).bind(actor_id).execute(db).await?;
    Ok(())
}

pub(super) const DELETE: &str = "DELETE FROM actors WHERE id = $1";

pub async fn delete(db: impl PgExecutor<'_>, actor_id: &str) -> Result<(), sqlx::Error> {
    // Tags point at builds; both go with the Actor (the cascade removes tags before builds).
    sqlx::query(DELETE).bind(actor_id).execute(db).await?;
    Ok(())
}

#[derive(FromRow)]
pub struct ActorListRow {
    #[sqlx(flatten)]
    pub actor: ActorRecord,
    pub total_builds: i64,
}

// A page of the user's Actors in either order: one whole statement each.
pub(super) const LIST_ASC: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description,
        a.is_public, a.default_run_options, a.created_at, a.modified_at,
        a.build_count AS total_builds
     FROM actors a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1
     ORDER BY a.created_at ASC, a.id ASC LIMIT $2 OFFSET $3";
pub(super) const LIST_DESC: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description,
        a.is_public, a.default_run_options, a.created_at, a.modified_at,
        a.build_count AS total_builds
     FROM actors a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1
     ORDER BY a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3";
pub(super) const COUNT: &str = "SELECT count(*) FROM actors WHERE user_id = $1";

pub async fn list(
    pool: &PgPool,
    user_id: &UserId,
    offset: i64,
    limit: i64,
    desc: bool,
) -> Result<(i64, Vec<ActorListRow>), sqlx::Error> {
    let items_sql = if desc { LIST_DESC } else { LIST_ASC };
    let items = sqlx::query_as(items_sql)
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total = sqlx::query_scalar(COUNT).bind(user_id).fetch_one(pool);
    let (items, total) = tokio::try_join!(items, total)?;
    Ok((total, items))
}

pub(super) const TOTAL_BUILDS: &str = "SELECT build_count FROM actors WHERE id = $1";

pub async fn total_builds(db: impl PgExecutor<'_>, actor_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(TOTAL_BUILDS)
        .bind(actor_id)
        .fetch_one(db)
        .await
}

/// A tag and the build it names.
#[derive(Debug, FromRow)]
pub struct TagRow {
    pub tag: String,
    pub build_id: BuildId,
    pub version_number: String,
    pub build_number_int: i32,
    pub finished_at: Option<DateTime<Utc>>,
}

pub(super) const TAGS: &str =
    "SELECT t.tag, b.id AS build_id, b.version_number, b.build_number_int, b.finished_at
     FROM actor_tags t JOIN builds b ON b.id = t.build_id WHERE t.actor_id = $1 ORDER BY t.tag";

pub async fn tags(db: impl PgExecutor<'_>, actor_id: &str) -> Result<Vec<TagRow>, sqlx::Error> {
    sqlx::query_as(TAGS).bind(actor_id).fetch_all(db).await
}

pub(super) const SET_TAG: &str = "INSERT INTO actor_tags (actor_id, tag, build_id)
     SELECT $1, $2, id FROM builds WHERE id = $3 AND act_id = $1
     ON CONFLICT (actor_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id";

/// Points `tag` at a build of this Actor; false when no such build exists.
pub async fn set_tag(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    tag: &str,
    build_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(SET_TAG)
        .bind(actor_id)
        .bind(tag)
        .bind(build_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) const REMOVE_TAG: &str = "DELETE FROM actor_tags WHERE actor_id = $1 AND tag = $2";

pub async fn remove_tag(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    tag: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(REMOVE_TAG)
        .bind(actor_id)
        .bind(tag)
        .execute(db)
        .await?;
    Ok(())
}

pub(super) const FIND_ANY_BY_ID: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description, a.is_public,
        a.default_run_options, a.created_at, a.modified_at
     FROM actors a JOIN users u ON u.id = a.user_id
     WHERE a.id = $1";
pub(super) const FIND_ANY_BY_NAME: &str =
    "SELECT a.id, a.user_id, u.username, a.name, a.title, a.description, a.is_public,
        a.default_run_options, a.created_at, a.modified_at
     FROM actors a JOIN users u ON u.id = a.user_id
     WHERE u.username = $1 AND a.name = $2";

/// An Actor by id or `username~name`, whoever owns it: for the reads that need no token
/// (an openapi.json of a build, whose id is unguessable). `~name` names nothing here.
pub async fn find_any(
    db: impl PgExecutor<'_>,
    actor: &ActorRef,
) -> Result<Option<ActorRecord>, sqlx::Error> {
    match actor {
        ActorRef::Id(id) => {
            sqlx::query_as(FIND_ANY_BY_ID)
                .bind(id)
                .fetch_optional(db)
                .await
        }
        ActorRef::Name {
            username: Some(username),
            name,
        } => {
            sqlx::query_as(FIND_ANY_BY_NAME)
                .bind(username)
                .bind(name)
                .fetch_optional(db)
                .await
        }
        ActorRef::Name { username: None, .. } => Ok(None),
    }
}
