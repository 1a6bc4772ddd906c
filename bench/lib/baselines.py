"""The baselines: the service's own statements (read from the binary, see statements.py) run with
nothing of the service in between, by pgbench or by a minimal Python loop."""

import hashlib
import os
import select
import signal
import subprocess
import time

import psycopg2

import statements as sql
from common import HERE, PRICE, SIGBASE_GROUP


class Baselines:
    """pgbench scripts of what a handler or a worker runs, and the abort → SIGTERM floor."""

    def abort_script(self):
        return "\n".join([
            f"\\set id 10000000000000000 + random(1, {self.cfg['abort_builds']})",
            sql.pgbench_sql(self.statements[sql.USER_BY_TOKEN], ["hash"]) + ";",
            "BEGIN;",
            "\\set build_number_int 0",
            sql.pgbench_sql(self.statements[sql.ABORT], ["id", "uid"]),
            "\\aset",
            "\\if :build_number_int = 0",
            sql.pgbench_sql(self.statements[sql.GET_FOR_USER], ["id", "uid"]) + ";",
            "\\endif",
            "COMMIT;",
            "",
        ])

    def get_script(self):
        return "\n".join([
            f"\\set id 10000000000000000 + random(1, {self.cfg['abort_builds']})",
            sql.pgbench_sql(self.statements[sql.USER_BY_TOKEN], ["hash"]) + ";",
            sql.pgbench_sql(self.statements[sql.GET_FOR_USER], ["id", "uid"]) + ";",
            "",
        ])

    def throughput_script(self):
        return "\n".join([
            sql.pgbench_sql(self.statements[sql.CLAIM], ["wid", "free", "lease"]),
            "\\aset",
            "\\shell sh -c true",
            sql.pgbench_sql(sql.no_image(self.statements[sql.FINISH]),
                            ["id", "wid", "from", "to", "price"]) + ";",
            "",
        ])

    def sig_trials_baseline(self):
        """The floor of abort → SIGTERM → ABORTED: the handler's SQL, the notification, a kill of
        the process group, the worker's read and terminal write; nothing else."""
        n = self.cfg["sig_trials"]
        sigdir = os.path.join(self.tmp, "sigbase")
        os.makedirs(sigdir, exist_ok=True)
        listen = psycopg2.connect(self.dsn)
        listen.autocommit = True
        listen.cursor().execute("LISTEN build_status")
        db = psycopg2.connect(self.dsn)
        db.autocommit = True
        cur = db.cursor()
        for name, statement in (("tok", sql.USER_BY_TOKEN), ("abrt", sql.ABORT),
                                ("get", sql.GET_FOR_USER), ("held", sql.HELD_STATUS),
                                ("fin", sql.FINISH)):
            cur.execute(sql.prepare_sql(name, self.statements[statement]))
        token_hash = hashlib.sha256(self.tokens["bench"].encode()).digest()
        script = os.path.join(HERE, "sigterm_build.sh")
        trials = []
        for build_id in self.group_ids(SIGBASE_GROUP, n):
            env = dict(os.environ, ACTOR_BUILD_ID=build_id)
            proc = subprocess.Popen(["bash", script, sigdir], env=env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.wait_file(os.path.join(sigdir, build_id + ".started"))
            t0 = time.time()
            cur.execute("EXECUTE tok(%s)", (psycopg2.Binary(token_hash),))
            cur.fetchall()
            cur.execute("BEGIN")
            cur.execute("EXECUTE abrt(%s, %s)", (build_id, self.uid))
            if cur.fetchone() is None:
                cur.execute("EXECUTE get(%s, %s)", (build_id, self.uid))
                cur.fetchall()
            cur.execute("COMMIT")
            want = f"{build_id} ABORTING"
            seen = False
            deadline = time.time() + 10
            while not seen and time.time() < deadline:
                select.select([listen], [], [], 1.0)
                listen.poll()
                seen = any(x.payload == want for x in listen.notifies)
                listen.notifies.clear()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            cur.execute("EXECUTE held(%s, 'bench-sigbase')", (build_id,))
            cur.fetchall()
            cur.execute("EXECUTE fin(%s, 'bench-sigbase', 'ABORTING', 'ABORTED', %s, NULL, NULL, 0)",
                        (build_id, PRICE))
            cur.fetchall()
            trials.append((build_id, t0))
        listen.close()
        db.close()
        return self.sig_results(trials, sigdir)
