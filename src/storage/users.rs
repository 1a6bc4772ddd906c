//! Users and their API tokens.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};

use crate::domain::{new_id, new_token, UserId};

#[derive(Debug, Clone, FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub username: String,
    #[serde(with = "crate::domain::timestamp::ts")]
    pub created_at: DateTime<Utc>,
}

/// Characters of a token kept in clear to name it for revocation.
const PREFIX_LEN: usize = 16;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// How a token is named in the database (its SHA-256), for tables that refer to it.
pub fn token_hash(token: &str) -> Vec<u8> {
    hash(token)
}

pub(super) const CREATE_USER: &str =
    "INSERT INTO users (id, username) VALUES ($1, $2) RETURNING id, username, created_at";

pub async fn create_user(pool: &PgPool, username: &str) -> Result<User, sqlx::Error> {
    sqlx::query_as(CREATE_USER)
        .bind(new_id())
        .bind(username)
        .fetch_one(pool)
        .await
}

pub(super) const FIND_BY_ID_OR_USERNAME: &str =
    "SELECT id, username, created_at FROM users WHERE id = $1 OR username = $1
     ORDER BY id = $1 DESC LIMIT 1";

/// The user whose id, or else whose username, is `id_or_username`.
pub async fn find_by_id_or_username(
    pool: &PgPool,
    id_or_username: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(FIND_BY_ID_OR_USERNAME)
        .bind(id_or_username)
        .fetch_optional(pool)
        .await
}

pub(super) const FIND_BY_USERNAME: &str =
    "SELECT id, username, created_at FROM users WHERE username = $1";

pub async fn find_by_username(pool: &PgPool, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(FIND_BY_USERNAME)
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub(super) const CREATE_TOKEN: &str =
    "INSERT INTO tokens (token_hash, prefix, user_id) VALUES ($1, $2, $3)";

/// Makes a new token for the user and returns it; only its hash is stored.
pub async fn create_token(pool: &PgPool, user_id: &UserId) -> Result<String, sqlx::Error> {
    let token = new_token();
    sqlx::query(CREATE_TOKEN)
        .bind(hash(&token))
        .bind(&token[..PREFIX_LEN])
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(token)
}

/// `$1` the token's hash. Every authenticated request runs it.
pub(super) const USER_BY_TOKEN: &str =
    "SELECT u.id, u.username, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL";

/// The owner of a token that exists and is not revoked.
pub async fn user_by_token(pool: &PgPool, token: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(USER_BY_TOKEN)
        .bind(hash(token))
        .fetch_optional(pool)
        .await
}

#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    NoMatch,
    Ambiguous(usize),
}

pub(super) const REVOKE_BY_HASH: &str =
    "UPDATE tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL";
pub(super) const LOCK_BY_PREFIX: &str =
    "SELECT token_hash FROM tokens WHERE starts_with(prefix, $1) AND revoked_at IS NULL FOR UPDATE";
pub(super) const REVOKE: &str = "UPDATE tokens SET revoked_at = now() WHERE token_hash = $1";

/// Revokes the one active token named by `given`: the whole token, or a prefix of at least 12
/// characters that names exactly one active token.
pub async fn revoke_token(pool: &PgPool, given: &str) -> Result<Revocation, sqlx::Error> {
    let by_hash = sqlx::query(REVOKE_BY_HASH)
        .bind(hash(given))
        .execute(pool)
        .await?;
    if by_hash.rows_affected() == 1 {
        return Ok(Revocation::Revoked);
    }
    if given.len() < 12 || given.len() > PREFIX_LEN {
        return Ok(Revocation::NoMatch);
    }
    let mut tx = pool.begin().await?;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar(LOCK_BY_PREFIX)
        .bind(given)
        .fetch_all(&mut *tx)
        .await?;
    let outcome = match hashes.as_slice() {
        [] => Revocation::NoMatch,
        [one] => {
            sqlx::query(REVOKE).bind(one).execute(&mut *tx).await?;
            Revocation::Revoked
        }
        many => Revocation::Ambiguous(many.len()),
    };
    tx.commit().await?;
    Ok(outcome)
}
