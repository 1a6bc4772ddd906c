//! Key-value stores and their records.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::domain::new_id;
use crate::domain::signature::new_signing_secret;
use crate::domain::UserId;

#[derive(Debug, Clone, FromRow)]
pub struct StoreRecord {
    pub id: String,
    pub user_id: UserId,
    pub username: String,
    pub name: Option<String>,
    pub url_signing_secret_key: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub accessed_at: DateTime<Utc>,
    pub read_count: i64,
    pub write_count: i64,
    pub delete_count: i64,
    pub list_count: i64,
    /// The sizes of the records' values, summed.
    pub storage_bytes: i64,
}

pub(super) const FIND_BY_ID: &str =
    "SELECT s.id, s.user_id, u.username, s.name, s.url_signing_secret_key,
        s.created_at, s.modified_at, s.accessed_at, s.read_count, s.write_count, s.delete_count,
        s.list_count,
        (SELECT COALESCE(sum(octet_length(r.value)), 0)::BIGINT FROM key_value_store_records r
         WHERE r.store_id = s.id) AS storage_bytes
     FROM key_value_stores s JOIN users u ON u.id = s.user_id
     WHERE s.id = $1";
pub(super) const FIND_BY_NAME: &str =
    "SELECT s.id, s.user_id, u.username, s.name, s.url_signing_secret_key,
        s.created_at, s.modified_at, s.accessed_at, s.read_count, s.write_count, s.delete_count,
        s.list_count,
        (SELECT COALESCE(sum(octet_length(r.value)), 0)::BIGINT FROM key_value_store_records r
         WHERE r.store_id = s.id) AS storage_bytes
     FROM key_value_stores s JOIN users u ON u.id = s.user_id
     WHERE u.username = $1 AND s.name = $2";
pub(super) const FIND_OF_USER: &str =
    "SELECT s.id, s.user_id, u.username, s.name, s.url_signing_secret_key,
        s.created_at, s.modified_at, s.accessed_at, s.read_count, s.write_count, s.delete_count,
        s.list_count,
        (SELECT COALESCE(sum(octet_length(r.value)), 0)::BIGINT FROM key_value_store_records r
         WHERE r.store_id = s.id) AS storage_bytes
     FROM key_value_stores s JOIN users u ON u.id = s.user_id
     WHERE s.user_id = $1 AND s.name = $2";

/// The store with that id, whoever owns it.
pub async fn find_by_id(
    db: impl PgExecutor<'_>,
    id: &str,
) -> Result<Option<StoreRecord>, sqlx::Error> {
    sqlx::query_as(FIND_BY_ID).bind(id).fetch_optional(db).await
}

/// The store of user `username` named `name`.
pub async fn find_by_name(
    db: impl PgExecutor<'_>,
    username: &str,
    name: &str,
) -> Result<Option<StoreRecord>, sqlx::Error> {
    sqlx::query_as(FIND_BY_NAME)
        .bind(username)
        .bind(name)
        .fetch_optional(db)
        .await
}

pub(super) const INSERT: &str =
    "INSERT INTO key_value_stores (id, user_id, name, url_signing_secret_key)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT ON CONSTRAINT key_value_stores_user_name_unique DO NOTHING";

/// The user's store named `name`, created when missing; `true` when it was created now. Without a
/// name, a new unnamed store every time.
pub async fn get_or_create(
    pool: &PgPool,
    user_id: &UserId,
    name: Option<&str>,
) -> Result<(StoreRecord, bool), sqlx::Error> {
    let id = new_id();
    let inserted = sqlx::query(INSERT)
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(new_signing_secret())
        .execute(pool)
        .await?
        .rows_affected()
        == 1;
    let store = if inserted {
        find_by_id(pool, &id).await?
    } else {
        sqlx::query_as(FIND_OF_USER)
            .bind(user_id)
            .bind(name)
            .fetch_optional(pool)
            .await?
    };
    // Stores are never deleted, so the row just inserted or found is there.
    store.map(|s| (s, inserted)).ok_or(sqlx::Error::RowNotFound)
}

pub(super) const PUT_RECORD: &str =
    "INSERT INTO key_value_store_records (store_id, key, content_type, value)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (store_id, key) DO UPDATE SET
        content_type = EXCLUDED.content_type, value = EXCLUDED.value, modified_at = now()";
pub(super) const COUNT_WRITE: &str =
    "UPDATE key_value_stores SET write_count = write_count + 1, modified_at = now(),
        accessed_at = now()
     WHERE id = $1";

/// Writes a record (replacing one of the same key) and counts the write.
pub async fn put_record(
    pool: &PgPool,
    store_id: &str,
    key: &str,
    content_type: &str,
    value: &[u8],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(PUT_RECORD)
        .bind(store_id)
        .bind(key)
        .bind(content_type)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    sqlx::query(COUNT_WRITE)
        .bind(store_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[derive(Debug, FromRow)]
pub struct RecordValue {
    pub content_type: String,
    pub value: Vec<u8>,
}

pub(super) const GET_RECORD: &str = "WITH counted AS (
        UPDATE key_value_stores SET read_count = read_count + 1, accessed_at = now()
        WHERE id = $1
     )
     SELECT content_type, value FROM key_value_store_records WHERE store_id = $1 AND key = $2";

/// A record's value and content type, counting the read.
pub async fn get_record(
    pool: &PgPool,
    store_id: &str,
    key: &str,
) -> Result<Option<RecordValue>, sqlx::Error> {
    sqlx::query_as(GET_RECORD)
        .bind(store_id)
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub(super) const DELETE_RECORD: &str = "WITH counted AS (
        UPDATE key_value_stores SET delete_count = delete_count + 1, modified_at = now(),
            accessed_at = now()
        WHERE id = $1
     )
     DELETE FROM key_value_store_records WHERE store_id = $1 AND key = $2";

/// Deletes a record if it is there, counting the delete.
pub async fn delete_record(pool: &PgPool, store_id: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(DELETE_RECORD)
        .bind(store_id)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
