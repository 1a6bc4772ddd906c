"""The measurements of bench/run, each beside its baseline, and the table they make.

bench/run installs the tools, builds the release binary and then runs this file with Debian's
python3 (it needs python3-psycopg2). See bench/README.md for what is measured and how.
"""

import argparse
import asyncio
import datetime
import glob
import hashlib
import http.client
import json
import math
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

import statements as sql

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)

FULL = dict(
    abort_builds=100_000, http_secs=10, warm_secs=2, conns=8,
    list_small=10_000, list_big=1_000_000, list_secs=5, list_offset=5000,
    pickup=200, throughput=1000, sig_trials=200,
    waiters_small=10, waiters_big=1000, wait_settle=11.5, wait_window=15,
)
SMOKE = dict(
    abort_builds=2000, http_secs=1, warm_secs=1, conns=8,
    list_small=6000, list_big=30_000, list_secs=1, list_offset=5000,
    pickup=10, throughput=40, sig_trials=5,
    waiters_small=5, waiters_big=50, wait_settle=1, wait_window=1,
)

# Seeded groups: ids are <prefix> + 16 digits, build numbers <prefix> * 10^7 + n.
ABORT_GROUP, WAIT_GROUP, SIGBASE_GROUP, PGB_GROUP, NOOP_GROUP = "1", "4", "5", "6", "7"
LIST_GROUPS = {"list-small": "2", "list-big": "3"}

PRICE = 0.25
LEASE_MS = 15000
META = '{"origin": "API", "clientIp": "127.0.0.1", "userAgent": "bench"}'
OPTIONS = '{"useCache": false, "betaPackages": false, "memoryMbytes": 4096, "diskMbytes": 8192}'
ACT_VERSION = '{"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "buildTag": "latest"}'


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def proc_cpu(pid, tick):
    """CPU seconds (user + system) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / tick
    except (OSError, IndexError, ValueError):
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_pgbench():
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"),
                        key=lambda p: int(re.search(r"/(\d+)/bin", p).group(1)))
    if candidates:
        return candidates[-1]
    return shutil.which("pgbench")


class Api:
    """A keep-alive HTTP/1.1 client of the service, with the caller's token."""

    def __init__(self, port, token):
        self.port, self.token, self.conn = port, token, None

    def request(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed meanwhile: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            return res.status, (json.loads(raw) if raw else None)

    def ok(self, method, path, body=None, expect=(200, 201)):
        status, answer = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer["data"]


class Bench:
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

    # ----------------------------------------------------------------- processes and database

    def base_env(self, **settings):
        """The environment of a service process: the settings given, every other at its default."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ")
               if k in os.environ}
        env.update(DATABASE_URL=self.url, WORK_DIR=os.path.join(self.tmp, "work"))
        env.update({k: str(v) for k, v in settings.items()})
        return env

    def spawn(self, name, argv, env):
        out = open(os.path.join(self.tmp, f"{name}.log"), "ab")
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp,
                                start_new_session=True)
        out.close()
        self.procs[name] = proc
        return proc

    def stop(self, name, timeout=30):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def tail(self, name, lines=30):
        try:
            with open(os.path.join(self.tmp, f"{name}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def wait_log(self, name, text, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.tail(name, 200):
                return
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not say {text!r}:\n{self.tail(name)}")

    def cli(self, *argv):
        done = subprocess.run([self.bin, *argv], env=self.base_env(), cwd=self.tmp,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"actor-builds {' '.join(argv)}: {done.stderr}")
        return done.stdout.strip()

    def start_api(self):
        self.port = free_port()
        proc = self.spawn("api", [self.bin, "serve"], self.base_env(
            BIND_ADDR=f"127.0.0.1:{self.port}", WORKER_CONCURRENCY=0))
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the service exited:\n{self.tail('api')}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    self.api_proc = proc
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the service did not come up:\n{self.tail('api')}")

    def start_workers(self, build_command):
        for i in (1, 2):
            self.spawn(f"worker{i}", [self.bin, "worker"], self.base_env(
                WORKER_CONCURRENCY=4, BUILD_COMMAND=build_command))
        for i in (1, 2):
            self.wait_log(f"worker{i}", "worker started")
        time.sleep(0.5)  # their listeners are up

    def stop_workers(self):
        for i in (1, 2):
            self.stop(f"worker{i}")

    def rss_mb(self, proc):
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

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

    def cpu_snapshot(self):
        """CPU seconds so far: the whole machine (busy), the service, the Postgres backends of the
        bench database (by pid), and this process's finished children (wrk, pgbench)."""
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        machine = (sum(fields[:8]) - fields[3] - fields[4]) / tick

        backends = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if cmd.startswith(b"postgres: ") and f" {self.dbname} ".encode() in cmd:
                cpu = proc_cpu(pid, tick)
                if cpu is not None:
                    backends[pid] = cpu
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs = {name: proc_cpu(p.pid, tick) or 0.0 for name, p in self.procs.items()}
        return dict(machine=machine, api=procs.get("api", 0.0), procs=procs, backends=backends,
                    children=children.ru_utime + children.ru_stime)

    def cpu_per_op(self, before, after, ops):
        """Microseconds of CPU per operation between two snapshots."""
        us = lambda secs: secs / max(ops, 1) * 1e6
        db = sum(after["backends"][p] - before["backends"].get(p, 0.0)
                 for p in after["backends"])
        procs = {name: us(cpu - before["procs"].get(name, 0.0))
                 for name, cpu in after["procs"].items()}
        return dict(machine=us(after["machine"] - before["machine"]), procs=procs,
                    api=us(after["api"] - before["api"]), db=us(db),
                    load=us(after["children"] - before["children"]))

    def xacts(self):
        # A backend keeps one statistics snapshot per transaction, and in Postgres 15 the
        # counters reach the shared view at most once a second: clear the snapshot each time.
        self.q("SELECT pg_stat_clear_snapshot()", conn=self.admin)
        row = self.q("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                     (self.dbname,), conn=self.admin)
        return row[0][0]

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

    # ----------------------------------------------------------------- load tools

    def wrk(self, secs, conns, token, method="GET", path=None, n=None, suffix=""):
        env = dict(os.environ, BENCH_TOKEN=token, BENCH_METHOD=method, BENCH_SUFFIX=suffix,
                   BENCH_N=str(n or 1))
        if path is not None:
            env["BENCH_PATH"] = path
        argv = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{secs}s",
                "--timeout", "10s", "-s", os.path.join(HERE, "http.lua"),
                f"http://127.0.0.1:{self.port}"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        found = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.M)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
        r = json.loads(found.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        if r["status_errors"] or r["socket_errors"]:
            self.notes.append(f"wrk {method} {path or 'random ids' + suffix}: "
                              f"{r['status_errors']} non-2xx answers, {r['socket_errors']} socket errors")
        return r

    def run_pgbench(self, name, script, clients, threads, secs=None, txs=None, defines=None):
        path = os.path.join(self.tmp, f"{name}.pgb")
        with open(path, "w") as f:
            f.write(script)
        prefix = os.path.join(self.tmp, f"pgblog_{name}")
        for old in glob.glob(prefix + ".*"):
            os.remove(old)
        argv = [self.pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads),
                "-f", path, "-h", "127.0.0.1", "-p", "5432", "-U", "postgres",
                "-l", "--log-prefix", prefix]
        argv += ["-T", str(secs)] if secs else ["-t", str(txs)]
        for key, value in (defines or {}).items():
            argv += ["-D", f"{key}={value}"]
        argv.append(self.dbname)
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.tmp)
        out = done.stdout + done.stderr
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
        if done.returncode != 0 or not tps or "aborted" in out:
            raise RuntimeError(f"pgbench {name} failed:\n{out}")
        latencies = []
        for file in glob.glob(prefix + ".*"):
            with open(file) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        latencies.append(int(parts[2]) / 1e6)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        if failed and int(failed.group(1)):
            self.notes.append(f"pgbench {name}: {failed.group(1)} failed transactions")
        return dict(tps=float(tps.group(1)), p50=pct(latencies, 50), p99=pct(latencies, 99),
                    count=len(latencies))

    # ----------------------------------------------------------------- table

    def row(self, name, ours, base, ratio, target, ok):
        result = "info" if ok is None else ("pass" if ok else "**FAIL**")
        self.rows.append((name, ours, base, ratio, target, result))

    def detail(self, text):
        self.details.append(text)
        log(text)

    # ----------------------------------------------------------------- setup

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

    # ----------------------------------------------------------------- machine floor

    def phase_floor(self):
        """What this machine's Postgres gives any write: the latency of one durable commit, and
        the rate of 8 concurrent one-row commits with and without a NOTIFY in the transaction
        (Postgres serializes the commits of notifying transactions, WAL flush included)."""
        secs = 2 if not self.args.smoke else 1
        self.q("CREATE TABLE IF NOT EXISTS bench_floor_durable (x int)")
        one = self.run_pgbench("floor_commit", "INSERT INTO bench_floor_durable VALUES (1);\n",
                               1, 1, secs=secs)
        plain = self.run_pgbench(
            "floor_plain", "BEGIN;\nINSERT INTO bench_floor_durable VALUES (1);\nCOMMIT;\n",
            8, 2, secs=secs)
        notify = self.run_pgbench(
            "floor_notify", "BEGIN;\nINSERT INTO bench_floor_durable VALUES (1);\n"
            "SELECT pg_notify('bench_floor', 'x');\nCOMMIT;\n", 8, 2, secs=secs)
        self.floor = dict(commit_p50=one["p50"], plain=plain["tps"], notify=notify["tps"])
        self.detail(f"machine floor: one durable commit (1 client) p50 {ms(one['p50'])}, "
                    f"p99 {ms(one['p99'])}; 8 clients committing one row each: "
                    f"{plain['tps']:,.0f} tps, with a NOTIFY in each transaction "
                    f"{notify['tps']:,.0f} tps")
        self.q("DROP TABLE bench_floor_durable")

    # ----------------------------------------------------------------- abort and get

    def reset_abort_group(self):
        base = int(ABORT_GROUP) * 10_000_000
        self.without_triggers(
            """UPDATE builds SET status = 'RUNNING', abort_requested_at = NULL, aborted_by = NULL
               WHERE act_id = %s AND version_number = '0.1' AND build_number_int BETWEEN %s AND %s AND status <> 'RUNNING'""",
            (self.act_id, base + 1, base + self.cfg["abort_builds"]))
        self.settle_db()

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

    def http_vs_pgbench(self, name, method, suffix, script, mutates):
        c = self.cfg
        token, n = self.tokens["bench"], c["abort_builds"]
        defines = dict(hash=self.token_hash, uid=self.uid)
        threads = min(2, c["conns"])
        # Warm both sides up, then measure each from the same state.
        self.wrk(c["warm_secs"], c["conns"], token, method, n=n, suffix=suffix)
        self.run_pgbench(f"{name}_warm", script, c["conns"], threads, secs=c["warm_secs"],
                         defines=defines)
        self.reset_abort_group() if mutates else self.settle_db()
        cpu0 = self.cpu_snapshot()
        ours = self.wrk(c["http_secs"], c["conns"], token, method, n=n, suffix=suffix)
        cpu1 = self.cpu_snapshot()
        rss = self.rss_mb(self.api_proc)
        moved = None
        if mutates:
            moved = self.q("SELECT count(*) FROM builds WHERE act_id = %s AND status = 'ABORTING'",
                           (self.act_id,))[0][0]
            self.reset_abort_group()
        else:
            self.settle_db()
        cpu2 = self.cpu_snapshot()
        base = self.run_pgbench(name, script, c["conns"], threads, secs=c["http_secs"],
                                defines=defines)
        cpu3 = self.cpu_snapshot()
        ours_cpu = self.cpu_per_op(cpu0, cpu1, ours["requests"])
        base_cpu = self.cpu_per_op(cpu2, cpu3, base["count"])
        self.detail(f"{name}: CPU per request: service {ours_cpu['api']:.0f} µs, its Postgres "
                    f"backends {ours_cpu['db']:.0f} µs, wrk {ours_cpu['load']:.0f} µs, whole machine "
                    f"{ours_cpu['machine']:.0f} µs; per pgbench transaction: pgbench "
                    f"{base_cpu['load']:.0f} µs, whole machine {base_cpu['machine']:.0f} µs")
        if mutates:
            base_moved = self.q(
                "SELECT count(*) FROM builds WHERE act_id = %s AND status = 'ABORTING'",
                (self.act_id,))[0][0]
            self.detail(f"{name}: builds moved RUNNING→ABORTING by wrk {moved:,}, "
                        f"by pgbench {base_moved:,}")
            self.reset_abort_group()
        self.detail(f"{name}: wrk {ours['requests']:,} requests, {ours['rps']:,.0f} req/s, "
                    f"p50 {ours['p50_us'] / 1000:.2f} ms, p90 {ours['p90_us'] / 1000:.2f} ms, "
                    f"p99 {ours['p99_us'] / 1000:.2f} ms, max {ours['max_us'] / 1000:.1f} ms; "
                    f"pgbench {base['count']:,} transactions, {base['tps']:,.0f} tps, "
                    f"p50 {base['p50'] * 1000:.2f} ms, p99 {base['p99'] * 1000:.2f} ms")
        return ours, base, rss

    def phase_abort(self):
        log("abort: wrk vs pgbench")
        ours, base, rss = self.http_vs_pgbench("abort", "POST", "/abort", self.abort_script(), True)
        ratio = ours["rps"] / base["tps"]
        self.row(f"Abort: throughput, {self.cfg['conns']} connections, random ids of "
                 f"{self.cfg['abort_builds']:,} RUNNING builds",
                 f"{ours['rps']:,.0f} req/s", f"{base['tps']:,.0f} tps (pgbench)",
                 f"{ratio:.2f}×", "≥ 0.85×", ratio >= 0.85)
        p99 = ours["p99_us"] / 1e6
        self.row("Abort: p99 latency", ms(p99), ms(base["p99"]), f"{p99 / base['p99']:.2f}×",
                 "≤ 10 ms", p99 <= 0.010)
        self.rss_after = rss

    def phase_get(self):
        log("get: wrk vs pgbench")
        ours, base, _ = self.http_vs_pgbench("get", "GET", "", self.get_script(), False)
        ratio = ours["rps"] / base["tps"]
        self.row(f"Get build: throughput, {self.cfg['conns']} connections", f"{ours['rps']:,.0f} req/s",
                 f"{base['tps']:,.0f} tps (pgbench)", f"{ratio:.2f}×", "≥ 0.85×", ratio >= 0.85)
        p99 = ours["p99_us"] / 1e6
        self.row("Get build: p99 latency", ms(p99), ms(base["p99"]), f"{p99 / base['p99']:.2f}×",
                 "—", None)

    # ----------------------------------------------------------------- list

    def phase_list(self):
        c = self.cfg
        log("list: 10k vs 1M builds of one user")
        off = c["list_offset"]
        paths = {0: "/v2/actor-builds?limit=100&desc=1",
                 off: f"/v2/actor-builds?limit=100&desc=1&offset={off}"}
        p50 = {}
        correct = {}
        for user, n in (("list-small", c["list_small"]), ("list-big", c["list_big"])):
            api = Api(self.port, self.tokens[user])
            for offset, path in paths.items():
                page = api.ok("GET", path)
                first = LIST_GROUPS[user] + f"{n - offset:016d}"
                ok = (page["total"] == n and page["count"] == min(100, max(0, n - offset))
                      and (not page["items"] or page["items"][0]["id"] == first))
                correct[(user, offset)] = ok
                if not ok:
                    self.notes.append(f"list {user} offset {offset}: total {page['total']} "
                                      f"(expected {n}), count {page['count']}")
                self.wrk(1, 1, self.tokens[user], path=path)
                r = self.wrk(c["list_secs"], 1, self.tokens[user], path=path)
                p50[(user, offset)] = r["p50_us"] / 1e6
                self.detail(f"list {n:,} builds, offset {offset}: {r['requests']} requests, "
                            f"p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, "
                            f"total {page['total']:,} {'correct' if ok else 'WRONG'}")
        for offset in paths:
            small, big = p50[("list-small", offset)], p50[("list-big", offset)]
            ok = correct[("list-small", offset)] and correct[("list-big", offset)]
            ratio = big / small
            what = "`limit=100&desc=1`" + (f" `offset={offset}`" if offset else "")
            self.row(f"List {what}: p50 at {c['list_big']:,} vs {c['list_small']:,} builds",
                     ms(big), ms(small) + f" (at {c['list_small']:,})", f"{ratio:.2f}×",
                     "≤ 1.5×, total correct", ok and ratio <= 1.5)
        # Where the time goes: the page statement of `storage::builds::list` at both sizes.
        self.q(sql.prepare_sql("list_page", self.statements[sql.LIST_OF_USER_DESC]))
        for user in ("list-small", "list-big"):
            plan = [r[0] for r in self.q(
                "EXPLAIN (ANALYZE, BUFFERS) EXECUTE list_page(%s, 100, %s)",
                (self.user_ids[user], off))]
            took = next((l for l in plan if l.startswith("Execution Time")), "?")
            scan = next((l.strip().lstrip("-> ") for l in plan if "Scan" in l), plan[0].strip())
            self.detail(f"EXPLAIN ANALYZE of the page at offset {off}, {user}: {took}; {scan}")
        self.q("DEALLOCATE list_page")

    # ----------------------------------------------------------------- waitForFinish

    async def waiter(self, build_id, sent):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write((f"GET /v2/actor-builds/{build_id}?waitForFinish=60 HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nAuthorization: Bearer {self.tokens['bench']}\r\n"
                      f"Connection: close\r\n\r\n").encode())
        await writer.drain()
        sent.set_result(None)
        raw = await reader.read()
        ended = time.time()
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head else 0
        build_status = None
        if status == 200:
            build_status = json.loads(body)["data"]["status"]
        return status, build_status, ended

    async def hold(self, ids):
        c = self.cfg
        loop = asyncio.get_running_loop()
        sents = [loop.create_future() for _ in ids]
        tasks = [asyncio.create_task(self.waiter(i, s)) for i, s in zip(ids, sents)]
        await asyncio.wait_for(asyncio.gather(*sents), 60)
        await asyncio.sleep(c["wait_settle"])
        early = sum(t.done() for t in tasks)
        a, ta = self.xacts(), time.time()
        await asyncio.sleep(c["wait_window"])
        b, tb = self.xacts(), time.time()
        early += sum(t.done() for t in tasks)
        released = time.time()
        self.q("""UPDATE builds SET status = 'ABORTED', finished_at = now(),
                  abort_requested_at = now(), aborted_by = %s WHERE id = ANY(%s)""",
               (self.uid, ids))
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        bad = [r for r in results if isinstance(r, Exception) or r[0] != 200 or r[1] != "ABORTED"]
        ends = [r[2] for r in results if not isinstance(r, Exception)]
        return dict(qps=(b - a) / (tb - ta), early=early, bad=len(bad),
                    wake=(max(ends) - released) if ends else float("nan"))

    def phase_wait(self):
        c = self.cfg
        small, big = c["waiters_small"], c["waiters_big"]
        log(f"waitForFinish: {small} then {big} waiting requests")
        ids = self.group_ids(WAIT_GROUP, small + big)
        few = asyncio.run(self.hold(ids[:small]))
        many = asyncio.run(self.hold(ids[small:]))
        for n, r in ((small, few), (big, many)):
            self.detail(f"waitForFinish, {n} waiters: {r['qps']:.2f} DB transactions/s while "
                        f"waiting; all answered {r['wake'] * 1000:.0f} ms after their builds "
                        f"were aborted; {r['early']} answered early, {r['bad']} wrong answers")
            if r["early"] or r["bad"]:
                self.notes.append(f"waitForFinish with {n} waiters: {r['early']} answered before "
                                  f"the build finished, {r['bad']} wrong answers")
        ok = many["qps"] <= few["qps"] * 1.5 + 1 and not many["bad"] and not many["early"]
        ratio = f"{many['qps'] / few['qps']:.2f}×" if few["qps"] > 0 else "—"
        self.row(f"waitForFinish: DB transactions/s while {big:,} requests wait",
                 f"{many['qps']:.2f}/s", f"{few['qps']:.2f}/s ({small} waiting)", ratio,
                 "no growth (≤ 1.5× + 1/s)", ok)

    # ----------------------------------------------------------------- workers

    def create_and_wait(self, api):
        build = api.ok("POST", f"/v2/actors/{self.act_id}/builds?version=0.1&waitForFinish=60")
        if build["status"] != "SUCCEEDED":
            self.notes.append(f"build {build['id']} ended {build['status']}")
        return build["id"]

    def pickup_latencies(self):
        api = Api(self.port, self.tokens["bench"])
        ids = []
        for _ in range(self.cfg["pickup"]):
            ids.append(self.create_and_wait(api))
            time.sleep(0.02)  # the workers are idle again
        rows = self.q("""SELECT extract(epoch FROM run_started_at - started_at)::float8 FROM builds
                         WHERE id = ANY(%s) AND run_started_at IS NOT NULL""", (ids,))
        return [r[0] for r in rows]

    def throughput_script(self):
        return "\n".join([
            sql.pgbench_sql(self.statements[sql.CLAIM], ["wid", "free", "lease"]),
            "\\aset",
            "\\shell sh -c true",
            sql.pgbench_sql(self.statements[sql.FINISH],
                            ["id", "wid", "from", "to", "price"]) + ";",
            "",
        ])

    def group_done(self, prefix, n):
        base = int(prefix) * 10_000_000
        return self.q(
            """SELECT count(*) FILTER (WHERE finished_at IS NULL),
                      count(*) FILTER (WHERE status = 'SUCCEEDED'),
                      extract(epoch FROM max(finished_at))::float8
               FROM builds WHERE act_id = %s AND version_number = '0.1' AND build_number_int BETWEEN %s AND %s""",
            (self.act_id, base + 1, base + n))[0]

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
            cur.execute("EXECUTE fin(%s, 'bench-sigbase', 'ABORTING', 'ABORTED', %s)",
                        (build_id, PRICE))
            cur.fetchall()
            trials.append((build_id, t0))
        listen.close()
        db.close()
        return self.sig_results(trials, sigdir)

    def sig_trials_service(self):
        n = self.cfg["sig_trials"]
        sigdir = self.sigdir
        api = Api(self.port, self.tokens["bench"])
        aborter = Api(self.port, self.tokens["bench"])
        trials = []
        for _ in range(n):
            build = api.ok("POST", f"/v2/actors/{self.act_id}/builds?version=0.1")
            self.wait_file(os.path.join(sigdir, build["id"] + ".started"))
            t0 = time.time()
            moved = aborter.ok("POST", f"/v2/actor-builds/{build['id']}/abort")
            if moved["status"] != "ABORTING":
                self.notes.append(f"abort of {build['id']} answered {moved['status']}")
            done = api.ok("GET", f"/v2/actor-builds/{build['id']}?waitForFinish=60")
            if done["status"] != "ABORTED":
                self.notes.append(f"aborted build {build['id']} ended {done['status']}")
            trials.append((build["id"], t0))
        return self.sig_results(trials, sigdir)

    def sig_results(self, trials, sigdir):
        finished = dict(self.q(
            "SELECT id, extract(epoch FROM finished_at)::float8 FROM builds WHERE id = ANY(%s)",
            ([t[0] for t in trials],)))
        to_term, to_end = [], []
        for build_id, t0 in trials:
            path = os.path.join(sigdir, build_id + ".term")
            if os.path.exists(path):
                with open(path) as f:
                    to_term.append(float(f.read().strip().replace(",", ".")) - t0)
            if finished.get(build_id) is not None:
                to_end.append(finished[build_id] - t0)
        missing = len(trials) - len(to_term)
        if missing:
            self.notes.append(f"{missing} of {len(trials)} aborted builds never got SIGTERM")
        return to_term, to_end

    def wait_file(self, path, timeout=30):
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > deadline:
                raise RuntimeError(f"{path} did not appear:\n{self.tail('worker1')}")
            time.sleep(0.001)

    def phase_workers(self):
        c = self.cfg
        # Baselines first, while no worker of the service runs.
        log("pickup baseline: a minimal LISTEN + claim worker")
        self.spawn("baseline-worker", [sys.executable, os.path.join(HERE, "baseline_worker.py"),
                                       self.dsn, "bench-baseline", self.statements_file],
                   dict(os.environ))
        self.wait_log("baseline-worker", "ready")
        base_pickup = self.pickup_latencies()
        self.stop("baseline-worker")

        log(f"throughput baseline: pgbench claim + sh -c true + finish, {c['throughput']} builds")
        self.seed(PGB_GROUP, c["throughput"], self.act_id, self.uid, "READY", now=True,
                  notify=True)
        self.settle_db()
        clients = 8
        base_tp = self.run_pgbench(
            "throughput", self.throughput_script(), clients, clients,
            txs=c["throughput"] // clients,
            defines=dict(wid="bench-pgbench", free=1, lease=LEASE_MS, price=PRICE,
                         **{"from": "RUNNING", "to": "SUCCEEDED"}))
        base = int(PGB_GROUP) * 10_000_000
        pgb_done = self.q("""SELECT count(*) FROM builds WHERE act_id = %s AND status = 'SUCCEEDED'
                             AND build_number_int BETWEEN %s AND %s""",
                          (self.act_id, base + 1, base + c["throughput"]))[0][0]
        if pgb_done != c["throughput"] // clients * clients:
            self.notes.append(f"pgbench throughput baseline finished {pgb_done} builds")

        log("abort → SIGTERM baseline: SQL + NOTIFY + killpg + finish")
        base_term, base_end = self.sig_trials_baseline()

        log("service: 2 worker processes × 4 slots, BUILD_COMMAND=true")
        self.start_workers("true")
        pickup = self.pickup_latencies()
        self.settle_db()
        n = c["throughput"]
        cpu0 = self.cpu_snapshot()
        self.seed(NOOP_GROUP, n, self.act_id, self.uid, "READY", now=True, notify=True)
        t0 = self.q("SELECT extract(epoch FROM clock_timestamp())::float8")[0][0]
        deadline = time.time() + 300
        while True:
            pending, succeeded, last = self.group_done(NOOP_GROUP, n)
            if pending == 0 or time.time() > deadline:
                break
            time.sleep(0.1)
        cpu = self.cpu_per_op(cpu0, self.cpu_snapshot(), n)
        self.detail(f"no-op builds: CPU per build: worker processes "
                    f"{cpu['procs'].get('worker1', 0) + cpu['procs'].get('worker2', 0):.0f} µs, "
                    f"their Postgres backends {cpu['db']:.0f} µs, whole machine {cpu['machine']:.0f} µs")
        rate = n / (last - t0) if last else 0.0
        if pending or succeeded != n:
            self.notes.append(f"no-op throughput: {pending} builds unfinished, "
                              f"{n - succeeded - pending} not SUCCEEDED")
        self.stop_workers()

        log("service: abort → SIGTERM → ABORTED")
        self.sigdir = os.path.join(self.tmp, "sig")
        os.makedirs(self.sigdir, exist_ok=True)
        script = os.path.join(HERE, "sigterm_build.sh")
        self.start_workers(f"exec bash '{script}' '{self.sigdir}'")
        term, end = self.sig_trials_service()
        self.stop_workers()

        p50, p99, b50, b99 = pct(pickup, 50), pct(pickup, 99), pct(base_pickup, 50), pct(base_pickup, 99)
        self.detail(f"pickup ({len(pickup)} builds): p50 {ms(p50)}, p90 {ms(pct(pickup, 90))}, "
                    f"p99 {ms(p99)}, max {ms(max(pickup))}; baseline p50 {ms(b50)}, p99 {ms(b99)}")
        self.row("Pickup READY → RUNNING, idle workers: p50", ms(p50),
                 ms(b50) + " (minimal worker)", f"{p50 / b50:.1f}×", "≤ 20 ms", p50 <= 0.020)
        self.row("Pickup READY → RUNNING, idle workers: p99", ms(p99),
                 ms(b99) + " (minimal worker)", f"{p99 / b99:.1f}×", "≤ 50 ms", p99 <= 0.050)

        self.detail(f"no-op builds: {n} in {last - t0:.2f} s ({rate:.0f}/s); pgbench baseline "
                    f"{base_tp['tps']:.0f}/s, p50 {ms(base_tp['p50'])} per build")
        self.row(f"No-op builds (`BUILD_COMMAND=true`), {n:,}, 2 workers × 4 slots",
                 f"{rate:.0f} builds/s", f"{base_tp['tps']:.0f} builds/s (pgbench, 8 clients)",
                 f"{rate / base_tp['tps']:.2f}×", "≥ 200 builds/s", rate >= 200)

        t99, e99, bt99, be99 = pct(term, 99), pct(end, 99), pct(base_term, 99), pct(base_end, 99)
        self.detail(f"abort → SIGTERM ({len(term)} trials): p50 {ms(pct(term, 50))}, p99 {ms(t99)}, "
                    f"max {ms(max(term))}; baseline p50 {ms(pct(base_term, 50))}, p99 {ms(bt99)}")
        self.detail(f"abort → ABORTED ({len(end)} trials): p50 {ms(pct(end, 50))}, p99 {ms(e99)}, "
                    f"max {ms(max(end))}; baseline p50 {ms(pct(base_end, 50))}, p99 {ms(be99)}")
        self.row("Abort → SIGTERM of the build process: p99", ms(t99), ms(bt99) + " (minimal)",
                 f"{t99 / bt99:.1f}×", "≤ 100 ms", t99 <= 0.100 and len(term) == c["sig_trials"])
        self.row("Abort → ABORTED: p99", ms(e99), ms(be99) + " (minimal)", f"{e99 / be99:.1f}×",
                 "≤ 250 ms", e99 <= 0.250 and len(end) == c["sig_trials"])

    def memory_rows(self):
        self.row("Resident memory of the service, idle", f"{self.rss_idle:.1f} MB", "—", "—",
                 "≤ 30 MB", self.rss_idle <= 30)
        self.row("Resident memory at the end of the abort load", f"{self.rss_after:.1f} MB",
                 f"{self.rss_idle:.1f} MB (idle)", f"{self.rss_after / self.rss_idle:.2f}×",
                 "≤ 100 MB", self.rss_after <= 100)

    # ----------------------------------------------------------------- report

    def machine(self):
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        pg = self.q("SHOW server_version", conn=self.admin)[0][0]
        return (f"{os.cpu_count()} cores ({model}), {mem} memory, Linux {platform.release()}, "
                f"PostgreSQL {pg}")

    def revision(self):
        try:
            rev = subprocess.run(["git", "-C", self.source, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", self.source, "status", "--porcelain", "--",
                                    "src", "migrations", "Cargo.toml", "Cargo.lock"],
                                   capture_output=True, text=True).stdout.strip()
            if not rev:
                return f"the tree at {self.source} (not a git checkout)"
            return f"`{rev}`" + (" with uncommitted changes" if dirty else "")
        except OSError:
            return f"the tree at {self.source}"

    def table(self):
        head = ["Measurement", "Ours", "Baseline", "Ratio", "Target", "Result"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)

    def report(self, started, load_before):
        table = self.table()
        print()
        print(table)
        print()
        failed = [r[0] for r in self.rows if r[5] == "**FAIL**"]
        if self.notes:
            print("Notes:\n" + "\n".join(f"- {n}" for n in self.notes))
        out = self.args.output
        if out:
            when = started.strftime("%Y-%m-%d %H:%M UTC")
            text = [
                "# Benchmarks",
                "",
                f"Written by `bench/run{' --smoke' if self.args.smoke else ''}` on {when}, "
                f"in {(datetime.datetime.now(datetime.timezone.utc) - started).seconds // 60} min, "
                f"from revision {self.revision()}.",
                f"Machine: {self.machine()}. Load average before the run: {load_before}.",
                "",
                "Each figure is measured beside its baseline in the same run, on the same machine; "
                "see [bench/README.md](bench/README.md) for how.",
                "",
                table,
                "",
                "## Details",
                "",
                *[f"- {d}" for d in self.details],
            ]
            if self.notes:
                text += ["", "## Notes", "", *[f"- {n}" for n in self.notes]]
            # The written analysis of targets this machine cannot meet, kept beside the driver.
            analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ANALYSIS.md")
            if os.path.exists(analysis):
                text += ["", open(analysis).read().rstrip()]
            with open(out, "w") as f:
                f.write("\n".join(text) + "\n")
            log(f"wrote {out}")
        return failed

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
