"""The SQL that the service runs, restated for the baselines (pgbench scripts and the minimal
Python workers), and a check that it still matches src/.

Each constant names the Rust function it copies. Parameters are written `$1`..`$n`, as in the
source; `pgbench_script` turns them into pgbench `:variables`.
"""

import os
import re

# src/storage/builds.rs COLUMNS
BUILD_COLUMNS = (
    "id, act_id, user_id, status, started_at, finished_at, version_number, "
    "build_number_int, tag, meta, options, stats, usage, usage_total_usd, usage_usd, act_version, "
    "actor_definition, input_schema, readme, abort_requested_at, aborted_by"
)

# src/storage/users.rs user_by_token: $1 token hash (bytea). Every authenticated request runs it.
USER_BY_TOKEN = (
    "SELECT u.id, u.username, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
)

# src/storage/builds.rs ABORT_SQL (as the unit test there spells it): $1 build id, $2 user id.
ABORT = (
    "UPDATE builds SET status = CASE status WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING' END, "
    "finished_at = CASE WHEN status IN ('READY') THEN now() END, abort_requested_at = now(), aborted_by = $2 "
    "WHERE id = $1 AND user_id = $2 AND status IN ('READY', 'RUNNING') "
    f"RETURNING {BUILD_COLUMNS}"
)

# src/storage/builds.rs get_for_user: $1 build id, $2 user id.
GET_FOR_USER = f"SELECT {BUILD_COLUMNS} FROM builds WHERE id = $1 AND user_id = $2"

# src/storage/queue.rs claim: $1 worker id, $2 free slots, $3 lease in ms.
CLAIM = (
    "UPDATE builds b "
    "SET status = 'RUNNING', worker_id = $1, run_started_at = now(), "
    "lease_expires_at = now() + $3 * interval '1 millisecond' "
    "FROM (SELECT id FROM builds WHERE status = 'READY' ORDER BY started_at, id LIMIT $2 "
    "FOR UPDATE SKIP LOCKED) ready, actors a, users u "
    "WHERE b.id = ready.id AND a.id = b.act_id AND u.id = b.user_id "
    "RETURNING b.id, b.act_id, b.user_id, u.username, a.name AS actor_name, b.version_number, "
    "b.build_number_int, b.tag, b.options, "
    "extract(epoch FROM now() - b.started_at)::float8 AS waited_secs"
)

# src/storage/queue.rs finish (terminal_set + USAGE_COLUMNS), with the tag move on SUCCEEDED in the
# same statement: $1 build id, $2 worker id, $3 from, $4 to, $5 price per compute unit.
FINISH = (
    "WITH moved AS ( "
    "UPDATE builds b SET status = $4, finished_at = now(), "
    "stats = jsonb_build_object('durationMillis', c.duration_ms, 'runTimeSecs', c.run_secs, "
    "'computeUnits', c.cu, 'imageSizeBytes', 0), "
    "usage = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu), "
    "usage_total_usd = c.cu * $5, "
    "usage_usd = jsonb_build_object('ACTOR_COMPUTE_UNITS', c.cu * $5) "
    "FROM (SELECT id, "
    "round(extract(epoch FROM now() - started_at) * 1000)::bigint AS duration_ms, "
    "extract(epoch FROM now() - coalesce(run_started_at, now()))::float8 AS run_secs, "
    "coalesce((options->>'memoryMbytes')::float8, 4096) / 1024 "
    "* extract(epoch FROM now() - coalesce(run_started_at, now()))::float8 / 3600 AS cu "
    "FROM builds WHERE id = $1) c "
    "WHERE b.id = c.id AND b.id = $1 AND b.worker_id = $2 AND b.status = $3 "
    "RETURNING b.act_id, b.tag "
    "), tagged AS ( "
    "INSERT INTO actor_tags (actor_id, tag, build_id) "
    "SELECT act_id, tag, $1 FROM moved WHERE $4 = 'SUCCEEDED' AND tag IS NOT NULL "
    "ON CONFLICT (actor_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id "
    ") "
    "SELECT count(*) FROM moved"
)

# src/storage/queue.rs held_status: $1 build id, $2 worker id.
HELD_STATUS = (
    "SELECT b.status, CASE WHEN b.aborted_by = 'SYSTEM' THEN 'SYSTEM' ELSE u.username END "
    "FROM builds b LEFT JOIN users u ON u.id = b.aborted_by WHERE b.id = $1 AND b.worker_id = $2"
)

# Fragments of src/ that the statements above were copied from. When one is missing, the
# baselines may no longer run the service's SQL, and the report says so.
SOURCE_FRAGMENTS = {
    "src/storage/builds.rs": [
        BUILD_COLUMNS,
        "UPDATE builds SET status = {}, finished_at = {}, abort_requested_at = now(), aborted_by = $2 "
        "WHERE id = $1 AND user_id = $2 AND status IN ({}) RETURNING {COLUMNS}",
        "CASE status WHEN 'READY' THEN 'ABORTED' WHEN 'RUNNING' THEN 'ABORTING' END",
        "finished_at = CASE WHEN status IN ('READY') THEN now() END",
        "SELECT {COLUMNS} FROM builds WHERE id = $1 AND user_id = $2",
        "let mut tx = pool.begin().await?; let moved: Option<BuildRecord> = sqlx::query_as(&ABORT_SQL)",
        "None => get_for_user(&mut *tx, id, user_id).await?,",
    ],
    "src/storage/users.rs": [USER_BY_TOKEN],
    "src/storage/queue.rs": [
        CLAIM,
        "WITH moved AS ( UPDATE builds b SET status = $4, {}",
        "WHERE b.id = c.id AND b.id = $1 AND b.worker_id = $2 AND b.status = $3 RETURNING b.act_id, b.tag ), "
        "tagged AS ( INSERT INTO actor_tags (actor_id, tag, build_id) "
        "SELECT act_id, tag, $1 FROM moved WHERE $4 = 'SUCCEEDED' AND tag IS NOT NULL "
        "ON CONFLICT (actor_id, tag) DO UPDATE SET build_id = EXCLUDED.build_id ) SELECT count(*) FROM moved",
        "finished_at = now(), stats = jsonb_build_object('durationMillis', c.duration_ms, "
        "'runTimeSecs', c.run_secs, 'computeUnits', c.cu, 'imageSizeBytes', 0)",
        "coalesce((options->>'memoryMbytes')::float8, 4096) / 1024 "
        "* extract(epoch FROM now() - coalesce(run_started_at, now()))::float8 / 3600 AS cu",
        HELD_STATUS,
    ],
}


def _squash(text):
    return re.sub(r"\s+", " ", text)


def source_drift(root):
    """Fragments (file, fragment) of the copied SQL that src/ no longer contains."""
    missing = []
    for path, fragments in SOURCE_FRAGMENTS.items():
        try:
            with open(os.path.join(root, path), encoding="utf-8") as f:
                text = _squash(f.read())
        except OSError:
            missing.append((path, "<file missing>"))
            continue
        for fragment in fragments:
            if _squash(fragment) not in text:
                missing.append((path, fragment[:90]))
    return missing


def pgbench_sql(statement, names):
    """`statement` with `$1`.. replaced by pgbench variables `:name` (names[0] is $1)."""
    def sub(m):
        return ":" + names[int(m.group(1)) - 1]
    return re.sub(r"\$(\d+)", sub, statement)


def prepare_sql(name, statement):
    """A server-side PREPARE of `statement` (parameter types inferred, as pgbench -M prepared)."""
    return f"PREPARE {name} AS {statement}"
