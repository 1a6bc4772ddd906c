//! Build log lines.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};

use super::status_sql;
use crate::domain::WorkerId;

#[derive(Debug, Clone, FromRow)]
pub struct LogLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub line: String,
}

pub(super) const READ_AFTER: &str =
    "SELECT id, at, line FROM build_log_lines WHERE build_id = $1 AND id > $2 ORDER BY id LIMIT $3";

/// Lines of a build after the line `after` (0 for all), in order, at most `limit`.
pub async fn read_after(
    db: impl PgExecutor<'_>,
    build_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query_as(READ_AFTER)
        .bind(build_id)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// The line as Postgres `text` takes it: NUL, the one character a UTF-8 database refuses,
/// becomes U+FFFD (invalid UTF-8 was already replaced when the output was read).
pub fn storable(line: &str) -> Cow<'_, str> {
    if line.contains('\0') {
        Cow::Owned(line.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(line)
    }
}

/// Stands in for a line that the database refused even after [`storable`].
pub const REFUSED_LINE: &str = "[a line of the log could not be stored]";

/// Whether the database refused the data itself (class 22, data exception, e.g. a character
/// that `text` does not take), as opposed to the connection or the statement failing.
fn is_data_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")))
}

/// Appends lines for the worker that holds the build; nothing is written (and `false` is
/// returned) when the build is no longer this worker's or no longer active. When the database
/// refuses the batch's data, the lines go in one by one, and only a refused line is replaced.
pub async fn append(
    db: &PgPool,
    build_id: &str,
    worker_id: &WorkerId,
    lines: &[(DateTime<Utc>, String)],
) -> Result<bool, sqlx::Error> {
    if lines.is_empty() {
        return Ok(true);
    }
    let stored: Vec<(DateTime<Utc>, Cow<'_, str>)> =
        lines.iter().map(|(t, l)| (*t, storable(l))).collect();
    match insert(db, build_id, worker_id, &stored).await {
        Err(e) if is_data_error(&e) => {
            tracing::warn!(error = %e, lines = stored.len(), "a batch of log lines was refused; writing them one by one");
        }
        other => return other,
    }
    let mut held = true;
    for line in &stored {
        held = match insert(db, build_id, worker_id, std::slice::from_ref(line)).await {
            Err(e) if is_data_error(&e) => {
                tracing::warn!(error = %e, "a log line was refused; it is replaced");
                let stand_in = (line.0, Cow::Borrowed(REFUSED_LINE));
                insert(db, build_id, worker_id, &[stand_in]).await?
            }
            other => other?,
        };
        if !held {
            break;
        }
    }
    Ok(held)
}

/// Lines for the worker that holds the build: `$1` build id, `$2` worker id, `$3` times, `$4`
/// lines, `$5` the leased statuses. Log lines commit without waiting for the disk: a crash of the
/// database may lose the last moment of a log, never a status. The terminal write that follows a
/// build's last lines is a normal commit, which makes everything before it durable too.
pub(super) const APPEND: &str =
    "WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
     INSERT INTO build_log_lines (build_id, at, line)
     SELECT $1, t.at, t.line
     FROM unnest($3::timestamptz[], $4::text[]) WITH ORDINALITY AS t(at, line, n)
     WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1 AND worker_id = $2 AND status = ANY($5))
       AND EXISTS (SELECT 1 FROM async)
     ORDER BY t.n";

async fn insert(
    db: &PgPool,
    build_id: &str,
    worker_id: &WorkerId,
    lines: &[(DateTime<Utc>, Cow<'_, str>)],
) -> Result<bool, sqlx::Error> {
    let (at, text): (Vec<DateTime<Utc>>, Vec<&str>) =
        lines.iter().map(|(t, l)| (*t, l.as_ref())).unzip();
    let done = sqlx::query(APPEND)
        .bind(build_id)
        .bind(worker_id)
        .bind(at)
        .bind(text)
        .bind(status_sql::leased())
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::storable;

    #[test]
    fn nul_is_replaced_in_place() {
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
        assert_eq!(storable("plain"), "plain");
    }
}
