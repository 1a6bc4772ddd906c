"""The measurements of bench/run, each beside its baseline, and the table they make.

bench/run installs the tools, builds the release binary and then runs this file with Debian's
python3 (it needs python3-psycopg2). See bench/README.md for what is measured and how.

The parts, by concern: common (sizes, groups, helpers), api (HTTP client), processes (the
service's processes, CPU and memory), database (queries, seeding, resets), load (wrk, pgbench),
statements (the service's SQL, read from the binary), baselines, scenarios_api,
scenarios_workers, scenarios_images, report. `Bench` puts them together over one state.
"""

import argparse
import datetime
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time

import psycopg2

import statements as sql
from api import Api
from baselines import Baselines
from common import (ABORT_GROUP, LIST_GROUPS, ROOT, SIGBASE_GROUP, SMOKE, FULL, WAIT_GROUP,
                    find_pgbench, log)
from database import Database
from load import Load
from processes import Processes
from report import Report
from scenarios_api import ApiScenarios
from scenarios_images import ImageScenarios
from scenarios_workers import WorkerScenarios


class Bench(Processes, Database, Load, Baselines, ApiScenarios, WorkerScenarios, ImageScenarios,
            Report):
    """One run: its settings, its processes and database, and what it found so far."""

    def __init__(self, args):
        self.args = args
        self.cfg = dict(SMOKE if args.smoke else FULL)
        self.bin = os.path.abspath(args.binary)
        self.source = os.path.abspath(args.source)
        self.tmp = tempfile.mkdtemp(prefix="actor-builds-bench-")
        self.dbname = f"actor_builds_bench_{os.getpid()}"
        self.url = f"postgres://postgres@127.0.0.1:5432/{self.dbname}"
        self.dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={self.dbname}"
        self.admin_dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        self.pgbench = find_pgbench()
        self.procs = {}
        self.rows = []
        self.details = []
        self.notes = []
        self.db = None
        self.admin = None
        self.api_proc = None
        self.port = None
        self.statements = None
        self.statements_file = os.path.join(self.tmp, "statements.json")

    def cleanup(self):
        for name in list(self.procs):
            try:
                self.stop(name, timeout=20)
            except Exception as e:  # keep cleaning
                log(f"stopping {name}: {e}")
        for conn in (self.db,):
            if conn is not None:
                conn.close()
        try:
            admin = psycopg2.connect(self.admin_dsn)
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            admin.close()
        except Exception as e:
            log(f"dropping {self.dbname}: {e}")
        if self.admin is not None:
            self.admin.close()
        if self.args.keep:
            log(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def setup(self):
        c = self.cfg
        self.admin = psycopg2.connect(self.admin_dsn)
        self.admin.autocommit = True
        log(f"database {self.dbname}, logs in {self.tmp}")
        self.cli("migrate")
        self.db = psycopg2.connect(self.dsn)
        self.db.autocommit = True
        self.tokens, self.user_ids = {}, {}
        for name in ("bench", "list-small", "list-big"):
            self.tokens[name] = self.cli("users", "create", name)
            self.user_ids[name] = self.q("SELECT id FROM users WHERE username = %s", (name,))[0][0]
        self.token_hash = "\\x" + hashlib.sha256(self.tokens["bench"].encode()).hexdigest()
        self.uid = self.user_ids["bench"]

        self.start_api()
        self.api = Api(self.port, self.tokens["bench"])
        actor = {
            "name": "bench",
            "versions": [{
                "versionNumber": "0.1", "sourceType": "SOURCE_FILES", "buildTag": "latest",
                "sourceFiles": [{"name": "Dockerfile", "format": "TEXT",
                                 "content": "FROM scratch\n"}],
            }],
        }
        self.act_id = self.api.ok("POST", "/v2/actors", actor)["id"]
        self.list_acts = {}
        for name in ("list-small", "list-big"):
            api = Api(self.port, self.tokens[name])
            self.list_acts[name] = api.ok("POST", "/v2/actors", dict(actor, name="listed"))["id"]
        time.sleep(1)
        self.rss_idle = self.rss_mb(self.api_proc)

        log("seeding builds")
        t = time.time()
        self.seed(ABORT_GROUP, c["abort_builds"], self.act_id, self.uid, "RUNNING",
                  worker="bench-seed")
        for user, size in (("list-small", "list_small"), ("list-big", "list_big")):
            self.seed(LIST_GROUPS[user], c[size], self.list_acts[user], self.user_ids[user],
                      "SUCCEEDED")
        self.seed(WAIT_GROUP, c["waiters_small"] + c["waiters_big"], self.act_id, self.uid, "READY")
        self.seed(SIGBASE_GROUP, c["sig_trials"], self.act_id, self.uid, "RUNNING",
                  worker="bench-sigbase")
        self.settle_db()
        self.detail(f"seeded {c['abort_builds'] + c['list_small'] + c['list_big']:,} builds "
                    f"in {time.time() - t:.0f} s")

    def run(self):
        started = datetime.datetime.now(datetime.timezone.utc)
        load_before = open("/proc/loadavg").read().split()[:3]
        load_before = " ".join(load_before)
        # The baselines run the statements of the binary measured, as it sends them.
        self.statements = sql.from_binary(self.bin, self.base_env(), self.tmp)
        sql.save(self.statements, self.statements_file)
        self.setup()
        self.phase_floor()
        self.phase_abort()
        self.phase_get()
        self.phase_list()
        self.phase_wait()
        self.phase_workers()
        self.phase_images()
        self.memory_rows()
        return self.report(started, load_before)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source", default=ROOT)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--output", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args()
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = []
    try:
        failed = bench.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception:
        log(f"failed; logs in {bench.tmp}")
        args.keep = True
        raise
    finally:
        bench.cleanup()
    if failed and args.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
