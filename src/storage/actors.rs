//! Actors and the tags that name their builds.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::domain::ActorRef;

#[derive(Debug, Clone, FromRow)]
pub struct ActorRecord {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub is_public: bool,
    pub default_run_options: Json<Map<String, Value>>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

const COLUMNS: &str = "a.id, a.user_id, u.username, a.name, a.title, a.description, a.is_public,
    a.default_run_options, a.created_at, a.modified_at";

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
    m.insert("memoryMbytes".into(), json!(4096));
    m
}

/// The caller's Actor named by `actor` (id, `username~name` or `~name`). Another user's Actor is
/// reported exactly as an absent one.
pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: &str,
    username: &str,
    actor: &ActorRef,
) -> Result<Option<ActorRecord>, sqlx::Error> {
    let base = format!(
        "SELECT {COLUMNS} FROM actors a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1"
    );
    match actor {
        ActorRef::Id(id) => {
            sqlx::query_as(&format!("{base} AND a.id = $2"))
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
            sqlx::query_as(&format!("{base} AND a.name = $2"))
                .bind(user_id)
                .bind(name)
                .fetch_optional(db)
                .await
        }
    }
}

/// Inserts a new Actor; a taken name fails with a unique violation of `actors_user_name_unique`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: &str,
    user_id: &str,
    name: &str,
    fields: &ActorFields,
) -> Result<(), sqlx::Error> {
    let mut options = default_run_options();
    if let Some(given) = &fields.default_run_options {
        options.extend(given.clone());
    }
    sqlx::query(
        "INSERT INTO actors (id, user_id, name, title, description, is_public, default_run_options)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
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

/// Applies the given fields and sets `modifiedAt`. `defaultRunOptions` merges into the old ones.
pub async fn update(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    fields: &ActorFields,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE actors SET
            name = COALESCE($2, name),
            title = CASE WHEN $3 THEN $4 ELSE title END,
            description = CASE WHEN $5 THEN $6 ELSE description END,
            is_public = COALESCE($7, is_public),
            default_run_options = default_run_options || COALESCE($8, '{}'::jsonb),
            modified_at = now()
         WHERE id = $1",
    )
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

pub async fn touch(db: impl PgExecutor<'_>, actor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE actors SET modified_at = now() WHERE id = $1")
        .bind(actor_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete(db: impl PgExecutor<'_>, actor_id: &str) -> Result<(), sqlx::Error> {
    // Tags point at builds; both go with the Actor (the cascade removes tags before builds).
    sqlx::query("DELETE FROM actors WHERE id = $1")
        .bind(actor_id)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct ActorListRow {
    #[sqlx(flatten)]
    pub actor: ActorRecord,
    pub total_builds: i64,
}

pub async fn list(
    pool: &PgPool,
    user_id: &str,
    offset: i64,
    limit: i64,
    desc: bool,
) -> Result<(i64, Vec<ActorListRow>), sqlx::Error> {
    let order = if desc { "DESC" } else { "ASC" };
    let items_sql = format!(
        "SELECT {COLUMNS}, a.build_count AS total_builds
         FROM actors a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1
         ORDER BY a.created_at {order}, a.id {order} LIMIT $2 OFFSET $3"
    );
    let items = sqlx::query_as(&items_sql)
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool);
    let total = sqlx::query_scalar("SELECT count(*) FROM actors WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool);
    let (items, total) = tokio::try_join!(items, total)?;
    Ok((total, items))
}

pub async fn total_builds(db: impl PgExecutor<'_>, actor_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT build_count FROM actors WHERE id = $1")
        .bind(actor_id)
        .fetch_one(db)
        .await
}

/// A tag and the build it names.
#[derive(Debug, FromRow)]
pub struct TagRow {
    pub tag: String,
    pub build_id: String,
    pub version_number: String,
    pub build_number_int: i32,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn tags(db: impl PgExecutor<'_>, actor_id: &str) -> Result<Vec<TagRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.tag, b.id AS build_id, b.version_number, b.build_number_int, b.finished_at
         FROM actor_tags t JOIN builds b ON b.id = t.build_id WHERE t.actor_id = $1 ORDER BY t.tag",
    )
    .bind(actor_id)
    .fetch_all(db)
    .await
}

/// Points `tag` at a build of this Actor; false when no such build exists.
pub async fn set_tag(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    tag: &str,
    build_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO actor_tags (actor_id, tag, build_id)
         SELECT $1, $2, id FROM builds WHERE id = $3 AND act_id = $1
         ON CONFLICT (actor_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id",
    )
    .bind(actor_id)
    .bind(tag)
    .bind(build_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn remove_tag(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    tag: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM actor_tags WHERE actor_id = $1 AND tag = $2")
        .bind(actor_id)
        .bind(tag)
        .execute(db)
        .await?;
    Ok(())
}

/// An Actor by id or `username~name`, whoever owns it: for the reads that need no token
/// (an openapi.json of a build, whose id is unguessable). `~name` names nothing here.
pub async fn find_any(
    db: impl PgExecutor<'_>,
    actor: &ActorRef,
) -> Result<Option<ActorRecord>, sqlx::Error> {
    let base = format!("SELECT {COLUMNS} FROM actors a JOIN users u ON u.id = a.user_id");
    match actor {
        ActorRef::Id(id) => {
            sqlx::query_as(&format!("{base} WHERE a.id = $1"))
                .bind(id)
                .fetch_optional(db)
                .await
        }
        ActorRef::Name {
            username: Some(username),
            name,
        } => {
            sqlx::query_as(&format!("{base} WHERE u.username = $1 AND a.name = $2"))
                .bind(username)
                .bind(name)
                .fetch_optional(db)
                .await
        }
        ActorRef::Name { username: None, .. } => Ok(None),
    }
}
