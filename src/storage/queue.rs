//! The worker's statements: claim, heartbeat, status moves, terminal writes and rescue. They are
//! the contract between the API and the workers. Every write is a conditional UPDATE on the
//! current status, and every worker write is fenced by the worker's id: a worker that lost its
//! lease touches 0 rows.

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

use super::status_sql::{self, leased};
use crate::domain::build_document::{BuildOptions, BuiltImage};
use crate::domain::{AbortedBy, ActorId, BuildId, BuildStatus, UserId, WorkerId};
use crate::metrics;

/// A build just claimed, with what running it needs.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedBuild {
    pub id: BuildId,
    pub act_id: ActorId,
    pub user_id: UserId,
    pub username: String,
    pub actor_name: String,
    pub version_number: String,
    pub build_number_int: i32,
    pub tag: Option<String>,
    pub options: Json<BuildOptions>,
    /// How long the build waited READY.
    pub waited_secs: f64,
}

impl ClaimedBuild {
    pub fn build_number(&self) -> String {
        format!("{}.{}", self.version_number, self.build_number_int)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `$1` worker id, `$2` free slots, `$3` lease in milliseconds.
pub(super) const CLAIM: &str = "UPDATE builds b
     SET status = 'RUNNING', worker_id = $1, run_started_at = now(),
         lease_expires_at = now() + $3 * interval '1 millisecond'
     FROM (SELECT id FROM builds WHERE status = 'READY' ORDER BY started_at, id LIMIT $2
           FOR UPDATE SKIP LOCKED) ready, actors a, users u
     WHERE b.id = ready.id AND b.status = 'READY' AND a.id = b.act_id AND u.id = b.user_id
     RETURNING b.id, b.act_id, b.user_id, u.username, a.name AS actor_name, b.version_number,
               b.build_number_int, b.tag, b.options,
               extract(epoch FROM now() - b.started_at)::float8 AS waited_secs";

/// Claims up to `free` READY builds, oldest first, in one statement. `SKIP LOCKED` lets any
/// number of workers claim at once without taking a build twice.
pub async fn claim(
    pool: &PgPool,
    worker_id: &WorkerId,
    free: usize,
    lease: Duration,
) -> Result<Vec<ClaimedBuild>, sqlx::Error> {
    let started = std::time::Instant::now();
    let claimed: Vec<ClaimedBuild> = sqlx::query_as(CLAIM)
        .bind(worker_id)
        .bind(i64::try_from(free).unwrap_or(i64::MAX))
        .bind(millis(lease))
        .fetch_all(pool)
        .await?;
    metrics::claim_query(started.elapsed());
    for build in &claimed {
        metrics::transition(BuildStatus::Ready, BuildStatus::Running);
        metrics::pickup(Duration::from_secs_f64(build.waited_secs.max(0.0)));
    }
    Ok(claimed)
}

/// `$1` worker id, `$2` build ids, `$3` lease in milliseconds, `$4` the leased statuses.
/// `$1` worker id, `$2` build ids, `$3` lease in milliseconds, `$4` the leased statuses. A row
/// locked by a transaction (the worker's own end of a build, pushing its tag; an abort) is not
/// waited for: it is reported held but not renewed, and the other builds' leases are renewed.
pub(super) const HEARTBEAT: &str = "WITH held AS (
         SELECT id, status FROM builds
         WHERE id = ANY($2) AND worker_id = $1 AND status = ANY($4)
     ), free AS (
         SELECT id FROM builds WHERE id IN (SELECT id FROM held) FOR UPDATE SKIP LOCKED
     ), renewed AS (
         UPDATE builds b SET lease_expires_at = now() + $3 * interval '1 millisecond'
         FROM free WHERE b.id = free.id AND b.worker_id = $1 AND b.status = ANY($4)
         RETURNING b.id
     )
     SELECT held.id, held.status, held.id IN (SELECT id FROM renewed) AS renewed FROM held";

/// A build this worker holds, as the heartbeat found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: String,
    pub status: BuildStatus,
    /// False when the build's row was locked (its lease was left as it was).
    pub renewed: bool,
}

/// Renews the leases of the worker's active builds and reports their statuses. A build missing
/// from the answer is no longer this worker's (the rescuer ended it).
pub async fn heartbeat(
    pool: &PgPool,
    worker_id: &WorkerId,
    build_ids: &[String],
    lease: Duration,
) -> Result<Vec<Held>, sqlx::Error> {
    if build_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, bool)> = sqlx::query_as(HEARTBEAT)
        .bind(worker_id)
        .bind(build_ids)
        .bind(millis(lease))
        .bind(leased())
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, renewed)| {
            Some(Held {
                id,
                status: status.parse().ok()?,
                renewed,
            })
        })
        .collect())
}

/// `$1` build id, `$2` worker id.
pub(super) const HELD_STATUS: &str =
    "SELECT b.status, CASE WHEN b.aborted_by = 'SYSTEM' THEN 'SYSTEM' ELSE u.username END
     FROM builds b LEFT JOIN users u ON u.id = b.aborted_by WHERE b.id = $1 AND b.worker_id = $2";

/// The status of a build this worker holds, and who asked to abort it; `None` when the build
/// is no longer this worker's.
pub async fn held_status(
    pool: &PgPool,
    build_id: &str,
    worker_id: &WorkerId,
) -> Result<Option<(BuildStatus, Option<String>)>, sqlx::Error> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(HELD_STATUS)
        .bind(build_id)
        .bind(worker_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|(status, by)| Some((status.parse().ok()?, by))))
}

/// `$1` build id, `$2` worker id, `$3` from, `$4` to, `$5` who aborted (NULL: not an abort).
pub(super) const MOVE_HELD: &str = "UPDATE builds SET status = $4,
        abort_requested_at = CASE WHEN $5::text IS NULL THEN abort_requested_at ELSE now() END,
        aborted_by = coalesce($5, aborted_by)
     WHERE id = $1 AND worker_id = $2 AND status = $3";

/// A non-terminal move of a held build (RUNNING→TIMING-OUT, RUNNING→ABORTING at shutdown).
/// `aborted_by` is recorded for aborts.
pub async fn move_held(
    pool: &PgPool,
    build_id: &str,
    worker_id: &WorkerId,
    from: BuildStatus,
    to: BuildStatus,
    aborted_by: Option<&AbortedBy>,
) -> Result<bool, sqlx::Error> {
    if !from.can_move_to(to) || to.is_terminal() {
        return Err(sqlx::Error::Protocol(format!(
            "{from} -> {to} is not a move a worker makes"
        )));
    }
    let done = sqlx::query(MOVE_HELD)
        .bind(build_id)
        .bind(worker_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(aborted_by)
        .execute(pool)
        .await?;
    let moved = done.rows_affected() == 1;
    if moved {
        metrics::transition(from, to);
    }
    Ok(moved)
}

/// `$1` build id, `$2` worker id, `$3`..`$5` what was read, `$6` the leased statuses.
pub(super) const SAVE_DEFINITION: &str =
    "UPDATE builds SET actor_definition = $3, input_schema = $4, readme = $5
     WHERE id = $1 AND worker_id = $2 AND status = ANY($6)";

/// What was read from the Actor's sources.
pub async fn save_definition(
    pool: &PgPool,
    build_id: &str,
    worker_id: &WorkerId,
    definition: Option<&Value>,
    input_schema: Option<&str>,
    readme: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(SAVE_DEFINITION)
        .bind(build_id)
        .bind(worker_id)
        .bind(definition.map(Json))
        .bind(input_schema)
        .bind(readme)
        .bind(leased())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

// Every terminal write sets the same: finishedAt (once, here), run time, compute units (memory
// GB × hours of run time) and their price, computed in the subquery `c` from the build row.
// FINISH and RESCUE spell that out alike (a test below checks that they agree).

/// The terminal write of a held build and, on SUCCEEDED, the move of its tag, in one statement:
/// `$1` build id, `$2` worker id, `$3` from, `$4` to, `$5` price per compute unit, and the image
/// made: `$6` name, `$7` digest, `$8` size in bytes (NULLs and 0 when none).
pub(super) const FINISH: &str = "WITH moved AS (
         UPDATE builds b SET status = $4,
             image_name = $6,
             image_digest = $7,
             finished_at = now(),
             stats = jsonb_build_object('durationMillis', c.duration_ms, 'runTimeSecs', c.run_secs,
                                        'computeUnits', c.cu, 'imageSizeBytes', $8::bigint),
             usage = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu),
             usage_total_usd = c.cu * $5,
             usage_usd = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu * $5)
         FROM (SELECT id,
                   round(extract(epoch FROM now() - started_at) * 1000)::bigint AS duration_ms,
                   extract(epoch FROM now() - coalesce(run_started_at, now()))::float8 AS run_secs,
                   coalesce((options->>'memoryMbytes')::float8, 4096) / 1024
                       * extract(epoch FROM now() - coalesce(run_started_at, now()))::float8
                       / 3600 AS cu
               FROM builds WHERE id = $1) c
         WHERE b.id = c.id AND b.id = $1 AND b.worker_id = $2 AND b.status = $3
         RETURNING b.act_id, b.tag
     ), tagged AS (
         INSERT INTO actor_tags (actor_id, tag, build_id)
         SELECT act_id, tag, $1 FROM moved WHERE $4 = 'SUCCEEDED' AND tag IS NOT NULL
         ON CONFLICT (actor_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id
     )
     SELECT count(*) FROM moved";

/// The terminal write of a held build: `from` → `to` with finishedAt, usage and the image it
/// made, fenced by worker and status. On SUCCEEDED the build's tag moves to it in the same
/// statement. `false` when the build was not in `from` (an abort or the rescuer came first).
pub async fn finish(
    db: impl PgExecutor<'_>,
    build_id: &str,
    worker_id: &WorkerId,
    (from, to): (BuildStatus, BuildStatus),
    price_per_unit: f64,
    image: Option<&BuiltImage>,
) -> Result<bool, sqlx::Error> {
    if !from.can_move_to(to) || !to.is_terminal() {
        return Err(sqlx::Error::Protocol(format!(
            "{from} -> {to} is not a terminal move"
        )));
    }
    // One statement: the terminal write and, on SUCCEEDED, the tag move, atomically.
    let moved: i64 = sqlx::query_scalar(FINISH)
        .bind(build_id)
        .bind(worker_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(price_per_unit)
        .bind(image.map(|i| &i.name))
        .bind(image.map(|i| &i.digest))
        .bind(image.map_or(0, |i| i64::try_from(i.size_bytes).unwrap_or(i64::MAX)))
        .fetch_one(db)
        .await?;
    if moved == 0 {
        return Ok(false);
    }
    metrics::transition(from, to);
    Ok(true)
}

pub(super) const LOCK_HELD: &str =
    "SELECT 1 FROM builds WHERE id = $1 AND worker_id = $2 AND status = $3 FOR UPDATE";

/// Locks the row of a build this worker holds in `status`, until the transaction ends: an abort
/// (or anything else that would move it) waits for the transaction, which can then do what
/// must happen together with the build's end. `false` when the build is not so held.
pub async fn lock_held(
    db: impl PgExecutor<'_>,
    build_id: &str,
    worker_id: &WorkerId,
    status: BuildStatus,
) -> Result<bool, sqlx::Error> {
    let row: Option<i32> = sqlx::query_scalar(LOCK_HELD)
        .bind(build_id)
        .bind(worker_id)
        .bind(status.as_str())
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Advisory lock key under which at most one rescuer runs at a time.
const RESCUER_LOCK: i64 = 0x6275_696c_6473; // "builds"

pub(super) const RESCUER_TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";

/// The terminal write of the builds whose lease lapsed: `$1` the leased statuses, `$2` price per
/// compute unit. `{after_worker_lost}` are the CASE arms of `BuildStatus::after_worker_lost`
/// (RUNNING→FAILED, ABORTING→ABORTED, TIMING-OUT→TIMED-OUT), filled in by `status_sql`.
const RESCUE_TEMPLATE: &str = "UPDATE builds b SET status = CASE b.status {after_worker_lost} END,
         finished_at = now(),
         stats = jsonb_build_object('durationMillis', c.duration_ms, 'runTimeSecs', c.run_secs,
                                    'computeUnits', c.cu, 'imageSizeBytes', 0),
         usage = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu),
         usage_total_usd = c.cu * $2,
         usage_usd = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu * $2)
     FROM (SELECT id,
               round(extract(epoch FROM now() - started_at) * 1000)::bigint AS duration_ms,
               extract(epoch FROM now() - coalesce(run_started_at, now()))::float8 AS run_secs,
               coalesce((options->>'memoryMbytes')::float8, 4096) / 1024
                   * extract(epoch FROM now() - coalesce(run_started_at, now()))::float8
                   / 3600 AS cu
           FROM builds
           WHERE status = ANY($1) AND lease_expires_at < now() FOR UPDATE SKIP LOCKED) c
     WHERE b.id = c.id AND b.status = ANY($1) AND b.lease_expires_at < now()
     RETURNING b.id, b.status";
pub(super) static RESCUE: LazyLock<String> = LazyLock::new(|| status_sql::fill(RESCUE_TEMPLATE));

/// A line in the log of each rescued build: `$1` build ids, `$2` their lines.
pub(super) const RESCUE_LOG_LINES: &str = "INSERT INTO build_log_lines (build_id, at, line)
     SELECT t.id, now(), t.line FROM unnest($1::text[], $2::text[]) AS t(id, line)";

/// Ends the builds whose worker's lease lapsed (RUNNING→FAILED, ABORTING→ABORTED,
/// TIMING-OUT→TIMED-OUT), with a log line saying why. Returns the builds moved and their new
/// status; does nothing while another rescuer runs.
pub async fn rescue(
    pool: &PgPool,
    price_per_unit: f64,
) -> Result<Vec<(String, BuildStatus)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar(RESCUER_TRY_LOCK)
        .bind(RESCUER_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Vec::new());
    }
    let leased_statuses = BuildStatus::LEASED;
    let rows: Vec<(String, String)> = sqlx::query_as(&RESCUE)
        .bind(leased())
        .bind(price_per_unit)
        .fetch_all(&mut *tx)
        .await?;
    let rescued: Vec<(String, BuildStatus)> = rows
        .into_iter()
        .filter_map(|(id, status)| Some((id, status.parse().ok()?)))
        .collect();
    for (_, to) in &rescued {
        if let Some(from) = leased_statuses
            .into_iter()
            .find(|s| s.after_worker_lost() == Some(*to))
        {
            metrics::transition(from, *to);
        }
    }
    if !rescued.is_empty() {
        let ids: Vec<&str> = rescued.iter().map(|(id, _)| id.as_str()).collect();
        let lines: Vec<String> = rescued
            .iter()
            .map(|(_, status)| {
                format!("The worker running this build was lost; the build is now {status}.")
            })
            .collect();
        sqlx::query(RESCUE_LOG_LINES)
            .bind(ids)
            .bind(lines)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rescued)
}

/// `$1` build ids, `$2` the terminal statuses.
pub(super) const UNFINISHED_AMONG: &str =
    "SELECT id FROM builds WHERE id = ANY($1) AND NOT (status = ANY($2))";

/// Which of `ids` are builds that have not ended (the rest have ended or do not exist).
pub async fn unfinished_among(pool: &PgPool, ids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(UNFINISHED_AMONG)
        .bind(ids)
        .bind(status_sql::terminal())
        .fetch_all(pool)
        .await
}

/// `$1` worker id, `$2` the leased statuses.
pub(super) const READY_OR_HELD: &str = "SELECT EXISTS (SELECT 1 FROM builds WHERE status = 'READY'
     OR (worker_id = $1 AND status = ANY($2)))";

/// Whether any build is READY, or still unfinished on `worker_id`.
pub async fn ready_or_held(pool: &PgPool, worker_id: &WorkerId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(READY_OR_HELD)
        .bind(worker_id)
        .bind(leased())
        .fetch_one(pool)
        .await
}

/// `$1` the leased statuses.
pub(super) const DEPTH: &str = "SELECT
     (SELECT count(*) FROM builds WHERE status = 'READY'),
     (SELECT count(*) FROM builds WHERE status = ANY($1))";

/// How many builds wait READY, and how many run (on any worker).
pub async fn depth(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(DEPTH).bind(leased()).fetch_one(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::build_document::DEFAULT_MEMORY_MBYTES;

    /// The held build's aborter is told apart from users by the text `AbortedBy` stores.
    #[test]
    fn held_status_knows_the_system() {
        let system = format!(
            "b.aborted_by = '{}' THEN '{}'",
            AbortedBy::SYSTEM,
            AbortedBy::SYSTEM
        );
        assert!(HELD_STATUS.contains(&system), "{HELD_STATUS}");
    }

    /// The compute-unit statements fall back to the one memory default.
    #[test]
    fn compute_units_use_the_memory_default() {
        let fallback =
            format!("coalesce((options->>'memoryMbytes')::float8, {DEFAULT_MEMORY_MBYTES})");
        for statement in [FINISH, &*RESCUE] {
            assert!(statement.contains(&fallback), "{statement}");
            assert_eq!(statement.matches("memoryMbytes").count(), 1, "{statement}");
        }
    }

    /// The part of a terminal write from finishedAt to the usage subquery's columns, with its
    /// price parameter named `$price`, its image size `$size`, and whitespace squashed.
    fn terminal_set(sql: &str, price: &str, size: &str) -> String {
        let start = sql.find("finished_at = now()").expect("finishedAt");
        let end = sql.find("AS cu").expect("compute units") + "AS cu".len();
        sql[start..end]
            .replace(price, "$price")
            .replace(size, "$size")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn finish_and_rescue_write_the_same_usage() {
        assert_eq!(
            terminal_set(FINISH, "$5", "'imageSizeBytes', $8::bigint"),
            terminal_set(&RESCUE, "$2", "'imageSizeBytes', 0")
        );
    }

    #[test]
    fn rescue_takes_its_moves_from_the_status_machine() {
        assert!(RESCUE.contains(
            "CASE b.status WHEN 'RUNNING' THEN 'FAILED' WHEN 'ABORTING' THEN 'ABORTED' \
             WHEN 'TIMING-OUT' THEN 'TIMED-OUT' END"
        ));
    }
}
