"""The processes of a run: the service (API and workers), the CLI, and what they cost in CPU and
memory."""

import http.client
import os
import resource
import signal
import subprocess
import time

from common import free_port, proc_cpu


class Processes:
    """Starts and stops the service's processes of a run (`self.procs`, by name); their logs are
    `<name>.log` in `self.tmp`."""

    def base_env(self, **settings):
        """The environment of a service process: the settings given, every other at its default."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ")
               if k in os.environ}
        env.update(DATABASE_URL=self.url, WORK_DIR=os.path.join(self.tmp, "work"))
        # A metrics port of each process's own: the default 127.0.0.1:9464 may be taken (by the
        # API process of the run, or anything else on the machine), and a `worker` process whose
        # only listener could not be bound stops with a panic (src/app.rs, `run_until`).
        env["METRICS_BIND_ADDR"] = f"127.0.0.1:{free_port()}"
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
