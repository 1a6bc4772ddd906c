"""The load generators: wrk against the service, pgbench for the baselines."""

import glob
import json
import os
import re
import subprocess

from common import HERE, pct


class Load:
    """wrk and pgbench runs; what they report goes into `self.notes` when it is wrong."""

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
