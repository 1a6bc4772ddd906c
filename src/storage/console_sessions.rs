//! Console sessions: server-side records named by a random id that only the browser holds.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::users::{self, User};

/// How long a session lasts at most, whatever the browser does with its cookie.
const LIFETIME_HOURS: i32 = 12;

fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// A new random session id: 32 bytes from the OS generator, as hex.
fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// `$1` the session id's hash, `$2` the token's hash, `$3` the lifetime in hours.
pub(super) const CREATE: &str = "INSERT INTO console_sessions (id_hash, token_hash, expires_at)
     SELECT $1, token_hash, now() + make_interval(hours => $3)
     FROM tokens WHERE token_hash = $2 AND revoked_at IS NULL";

/// Opens a session for the owner of `token` when it is valid: the new session id and the user.
pub async fn create(pool: &PgPool, token: &str) -> Result<Option<(String, User)>, sqlx::Error> {
    let Some(user) = users::user_by_token(pool, token).await? else {
        return Ok(None);
    };
    let id = new_session_id();
    let opened = sqlx::query(CREATE)
        .bind(hash(&id))
        .bind(users::token_hash(token))
        .bind(LIFETIME_HOURS)
        .execute(pool)
        .await?;
    Ok((opened.rows_affected() == 1).then_some((id, user)))
}

pub(super) const USER: &str = "SELECT u.id, u.username, u.created_at
     FROM console_sessions s
     JOIN tokens t ON t.token_hash = s.token_hash
     JOIN users u ON u.id = t.user_id
     WHERE s.id_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL";

/// The user of a live session: not expired, not signed out, its token not revoked.
pub async fn user(pool: &PgPool, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(USER)
        .bind(hash(id))
        .fetch_optional(pool)
        .await
}

pub(super) const DELETE: &str = "DELETE FROM console_sessions WHERE id_hash = $1";
/// The sessions that expired or whose token was revoked.
pub(super) const SWEEP: &str = "DELETE FROM console_sessions s WHERE s.expires_at <= now()
        OR EXISTS (SELECT 1 FROM tokens t
                   WHERE t.token_hash = s.token_hash AND t.revoked_at IS NOT NULL)";

/// Ends a session (sign-out), and sweeps sessions that expired or whose token was revoked.
pub async fn delete(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(DELETE).bind(hash(id)).execute(pool).await?;
    sqlx::query(SWEEP).execute(pool).await?;
    Ok(())
}
