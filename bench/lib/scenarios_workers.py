"""The measurements of the workers: pickup, no-op throughput, abort → SIGTERM → ABORTED, and the
memory of the service."""

import os
import sys
import time

from api import Api
from common import HERE, LEASE_MS, NOOP_GROUP, PGB_GROUP, PRICE, log, ms, pct


class WorkerScenarios:
    """The worker phase, baselines first while no worker of the service runs."""

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
