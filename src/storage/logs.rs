//! Build log lines.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::domain::BuildStatus;

#[derive(Debug, Clone, FromRow)]
pub struct LogLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub line: String,
}

/// Lines of a build after the line `after` (0 for all), in order, at most `limit`.
pub async fn read_after(
    db: impl PgExecutor<'_>,
    build_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query_as("SELECT id, at, line FROM build_log_lines WHERE build_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(build_id)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Appends lines for the worker that holds the build; nothing is written (and `false` is
/// returned) when the build is no longer this worker's or no longer active.
pub async fn append(
    db: impl PgExecutor<'_>,
    build_id: &str,
    worker_id: &str,
    lines: &[(DateTime<Utc>, String)],
) -> Result<bool, sqlx::Error> {
    if lines.is_empty() {
        return Ok(true);
    }
    let (at, text): (Vec<DateTime<Utc>>, Vec<&str>) =
        lines.iter().map(|(t, l)| (*t, l.as_str())).unzip();
    let leased: Vec<&str> = BuildStatus::LEASED.iter().map(|s| s.as_str()).collect();
    // Log lines commit without waiting for the disk: a crash of the database may lose the last
    // moment of a log, never a status. The terminal write that follows a build's last lines is a
    // normal commit, which makes everything before it durable too.
    let done = sqlx::query(
        "WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
         INSERT INTO build_log_lines (build_id, at, line)
         SELECT $1, t.at, t.line FROM unnest($3::timestamptz[], $4::text[]) WITH ORDINALITY AS t(at, line, n)
         WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1 AND worker_id = $2 AND status = ANY($5))
           AND EXISTS (SELECT 1 FROM async)
         ORDER BY t.n",
    )
    .bind(build_id)
    .bind(worker_id)
    .bind(at)
    .bind(text)
    .bind(leased)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}
