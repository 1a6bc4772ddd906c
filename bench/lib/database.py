"""The bench database: queries, seeding builds, resets between the two sides of a measurement."""

from common import ACT_VERSION, META, OPTIONS


class Database:
    """Queries on the bench database (`self.db`, autocommit; `self.admin` on `postgres`)."""

    def q(self, query, params=None, conn=None):
        cur = (conn or self.db).cursor()
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None

    def without_notifications(self, query, params=None):
        """An INSERT of seed builds without announcing each one (the triggers whose function
        notifies are disabled meanwhile); the other triggers, such as counters, still run."""
        names = [r[0] for r in self.q(
            """SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
               WHERE t.tgrelid = 'builds'::regclass AND NOT t.tgisinternal
                 AND p.prosrc ILIKE '%%notify%%'""")]
        for name in names:
            self.q(f'ALTER TABLE builds DISABLE TRIGGER "{name}"')
        try:
            self.q(query, params)
        finally:
            for name in names:
                self.q(f'ALTER TABLE builds ENABLE TRIGGER "{name}"')

    def without_triggers(self, query, params=None):
        """An UPDATE with every trigger off (the guard refuses the moves back that a reset makes):
        resets between measurements, not measured."""
        cur = self.db.cursor()
        cur.execute("SET session_replication_role = replica")
        try:
            cur.execute(query, params)
        finally:
            cur.execute("RESET session_replication_role")

    def settle_db(self):
        """The same starting point for each side: statistics fresh, dead rows gone, a checkpoint."""
        self.q("VACUUM ANALYZE builds")
        self.q("CHECKPOINT")

    def xacts(self):
        # A backend keeps one statistics snapshot per transaction, and in Postgres 15 the
        # counters reach the shared view at most once a second: clear the snapshot each time.
        self.q("SELECT pg_stat_clear_snapshot()", conn=self.admin)
        row = self.q("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                     (self.dbname,), conn=self.admin)
        return row[0][0]

    def seed(self, prefix, n, act_id, user_id, status, worker=None, notify=False, now=False):
        """n builds `<prefix>` + 16 digits, numbered prefix * 10^7 + 1..n, started 1 ms apart
        (or all now, as a batch of new builds)."""
        started = "now()" if now else "timestamptz '2026-01-01' + n * interval '1 millisecond'"
        query = f"""
            INSERT INTO builds (id, act_id, user_id, status, started_at, finished_at, run_started_at,
                version_number, build_number_int, tag, meta, options, usage, usage_usd, act_version,
                worker_id, lease_expires_at)
            SELECT %(prefix)s || lpad(n::text, 16, '0'), %(act)s, %(user)s, %(status)s, {started},
                CASE WHEN %(status)s IN ('SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT')
                     THEN {started} + interval '1 minute' END,
                CASE WHEN %(status)s <> 'READY' THEN now() END,
                '0.1', %(base)s + n, 'latest', %(meta)s, %(options)s,
                '{{"ACTOR_COMPUTE_UNITS": 0}}', '{{"ACTOR_COMPUTE_UNITS": 0}}', %(act_version)s,
                %(worker)s, CASE WHEN %(worker)s::text IS NOT NULL THEN now() + interval '7 days' END
            FROM generate_series(1, %(n)s) AS n"""
        params = dict(prefix=prefix, act=act_id, user=user_id, status=status,
                      base=int(prefix) * 10_000_000, meta=META, options=OPTIONS,
                      act_version=ACT_VERSION, worker=worker, n=n)
        if notify:
            self.q(query, params)
        else:
            self.without_notifications(query, params)

    def group_ids(self, prefix, n, start=1):
        return [prefix + f"{i:016d}" for i in range(start, start + n)]

    def group_done(self, prefix, n):
        base = int(prefix) * 10_000_000
        return self.q(
            """SELECT count(*) FILTER (WHERE finished_at IS NULL),
                      count(*) FILTER (WHERE status = 'SUCCEEDED'),
                      extract(epoch FROM max(finished_at))::float8
               FROM builds WHERE act_id = %s AND version_number = '0.1' AND build_number_int BETWEEN %s AND %s""",
            (self.act_id, base + 1, base + n))[0]
