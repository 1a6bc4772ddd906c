"""The measurements of the API: the machine floor, abort, get, list and waitForFinish."""

import asyncio
import json
import time

import statements as sql
from api import Api
from common import ABORT_GROUP, LIST_GROUPS, WAIT_GROUP, log, ms


class ApiScenarios:
    """Each phase measures the service beside its baseline and adds rows and details."""

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

    def reset_abort_group(self):
        base = int(ABORT_GROUP) * 10_000_000
        self.without_triggers(
            """UPDATE builds SET status = 'RUNNING', abort_requested_at = NULL, aborted_by = NULL
               WHERE act_id = %s AND version_number = '0.1' AND build_number_int BETWEEN %s AND %s AND status <> 'RUNNING'""",
            (self.act_id, base + 1, base + self.cfg["abort_builds"]))
        self.settle_db()

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
