"""The measurements of image builds with BUILDER=buildah: a clean multi-stage build through the
service beside the same `buildah bud` + push run directly, and abort during a RUN step until every
process of the build is gone.

Nothing is pulled from outside: the bench makes its base image from /bin/busybox, pushes it to a
docker-registry of its own on a free loopback port, and maps docker.io to that registry with a
registries.conf (CONTAINERS_REGISTRIES_CONF), for the service and the direct runs alike.
"""

import http.client
import os
import shutil
import signal
import subprocess
import time

from api import Api
from common import free_port, log, pct

RUNC = "/usr/sbin/runc"
BUSYBOX = "/bin/busybox"
# The same flags as the service's clean build (src/worker/builder/containers.rs).
BUD_FLAGS = ["--isolation", "oci", "--runtime", RUNC, "--no-cache", "--pull=always"]
ABORT_GRACE = 2

MULTI_STAGE = """FROM busybox AS build
COPY hello.txt /src/hello.txt
RUN mkdir -p /out && cp /src/hello.txt /out/ && echo built > /out/stamp
RUN for i in 1 2 3; do echo "step $i"; done > /out/steps
FROM busybox
COPY --from=build /out /app
RUN cat /app/hello.txt /app/stamp /app/steps
"""


def abort_dockerfile(marker):
    # ENV puts the marker into the environment of the step's processes (the sleeps included),
    # so that /proc tells them apart from anything else on the machine.
    return (f"FROM busybox\nENV BENCH_MARKER={marker}\n"
            f"RUN echo {marker}; (sleep 300 &); echo started; sleep 300\n")


class ImageScenarios:
    """The image phase: its own registry, base image and worker."""

    def image_tools_missing(self):
        tools = ["buildah", "skopeo", "docker-registry"]
        missing = [t for t in tools if shutil.which(t) is None]
        for path in (RUNC, BUSYBOX):
            if not os.access(path, os.X_OK):
                missing.append(path)
        return missing

    def buildah(self, store, *argv, env=None, check=True, **kw):
        cmd = ["buildah", "--root", os.path.join(store, "root"), "--runroot",
               os.path.join(store, "run"), "--storage-driver", "vfs", *argv]
        done = subprocess.run(cmd, env=env or self.image_env(store), capture_output=True,
                              text=True, **kw)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done

    def image_env(self, store):
        tmp = os.path.join(store, "tmp")
        os.makedirs(tmp, exist_ok=True)
        return dict(os.environ, TMPDIR=tmp, CONTAINERS_REGISTRIES_CONF=self.registries_conf)

    def start_registry(self):
        self.reg_port = free_port()
        reg_dir = os.path.join(self.tmp, "registry")
        os.makedirs(reg_dir, exist_ok=True)
        conf = os.path.join(reg_dir, "config.yml")
        with open(conf, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {reg_dir}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: 127.0.0.1:{self.reg_port}\n")
        proc = self.spawn("registry", ["docker-registry", "serve", conf],
                          {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        deadline = time.time() + 20
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited:\n{self.tail('registry')}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.reg_port, timeout=2)
                conn.request("GET", "/v2/")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError(f"docker-registry did not come up:\n{self.tail('registry')}")
        self.registries_conf = os.path.join(reg_dir, "registries.conf")
        with open(self.registries_conf, "w") as f:
            f.write('unqualified-search-registries = ["docker.io"]\n[[registry]]\n'
                    f'prefix = "docker.io"\nlocation = "127.0.0.1:{self.reg_port}"\n'
                    "insecure = true\n")

    def push_base_image(self):
        ctx = os.path.join(self.tmp, "base-ctx")
        os.makedirs(ctx, exist_ok=True)
        shutil.copy(BUSYBOX, os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nCOPY busybox /bin/busybox\n'
                    'RUN ["/bin/busybox","--install","-s","/bin"]\n')
        store = os.path.join(self.tmp, "base-store")
        ref = f"127.0.0.1:{self.reg_port}/library/busybox:latest"
        self.buildah(store, "bud", *BUD_FLAGS, "--tag", ref, ctx)
        self.buildah(store, "push", "--tls-verify=false", ref, f"docker://{ref}")
        shutil.rmtree(store, ignore_errors=True)

    def image_actor(self, name, files):
        actor = {
            "name": name,
            "versions": [{
                "versionNumber": "0.1", "sourceType": "SOURCE_FILES", "buildTag": "latest",
                "sourceFiles": [{"name": n, "format": "TEXT", "content": c}
                                for n, c in files.items()],
            }],
        }
        return self.api.ok("POST", "/v2/actors", actor)

    def version_timestamp(self, actor_id):
        """The version's modified_at in whole seconds: what the service gives `--timestamp`."""
        rows = self.q("""SELECT floor(extract(epoch FROM modified_at))::bigint FROM versions
                         WHERE actor_id = %s AND version_number = '0.1'""", (actor_id,))
        return rows[0][0] if rows else None

    def wait_build(self, api, build_id, limit=300):
        deadline = time.time() + limit
        while True:
            build = api.ok("GET", f"/v2/actor-builds/{build_id}?waitForFinish=60")
            if build["status"] not in ("READY", "RUNNING", "ABORTING") or time.time() > deadline:
                return build

    def build_marked(self, markers):
        """Live processes (not the bench's own ones) whose command line or environment holds one
        of the markers: the build's buildah, runc and shells (TMPDIR and paths under the run's
        directory) and the step's processes (the Dockerfile's ENV)."""
        own = {os.getpid()} | {p.pid for p in self.procs.values()}
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in own:
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z" or not cmd:
                continue
            if any(m in cmd or m in env for m in markers):
                found.append((int(pid), cmd.replace(b"\0", b" ")[:80].decode(errors="replace")))
        return found

    def wait_step(self, marker, timeout=120):
        """Until both sleeps of the RUN step run."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            sleeps = [c for _, c in self.build_marked([marker]) if c.startswith("sleep 300")]
            if len(sleeps) >= 2:
                return
            time.sleep(0.02)
        raise RuntimeError(f"the RUN step of {marker.decode()} did not start:\n"
                           f"{self.tail('image-worker')}")

    def wait_gone(self, markers, t0, limit=60):
        while True:
            left = self.build_marked(markers)
            now = time.time()
            if not left:
                return now - t0, []
            if now - t0 > limit:
                return None, left
            time.sleep(0.01)

    def phase_images(self):
        c = self.cfg
        missing = self.image_tools_missing()
        if missing:
            self.notes.append(f"image builds not measured: {', '.join(missing)} missing "
                              "(apt-get install buildah skopeo runc docker-registry busybox-static)")
            return
        log("image builds: a registry of the bench's own and a busybox base image")
        self.start_registry()
        self.push_base_image()
        work = os.path.join(self.tmp, "work")
        self.spawn("image-worker", [self.bin, "worker"], self.base_env(
            WORKER_CONCURRENCY=1, BUILDER="buildah", IMAGE_REPOSITORY=f"127.0.0.1:{self.reg_port}/actors",
            REGISTRY_TLS_VERIFY="false", CONTAINERS_REGISTRIES_CONF=self.registries_conf,
            OCI_RUNTIME=RUNC, ABORT_GRACE_SECS=ABORT_GRACE))
        self.wait_log("image-worker", "worker started")
        try:
            self.image_build_rows(c["image_builds"], work)
            self.image_abort_rows(c["image_aborts"], work)
        finally:
            self.stop("image-worker")
            self.stop("registry")

    def direct_build(self, ctx, i, timestamp):
        store = os.path.join(self.tmp, f"direct-store-{i}")
        ref = f"127.0.0.1:{self.reg_port}/direct/bench/multi:{i}"
        digest_file = os.path.join(self.tmp, f"direct-digest-{i}")
        t0 = time.time()
        self.buildah(store, "bud", *BUD_FLAGS, "--timestamp", str(timestamp), "--tag", ref,
                     "--file", os.path.join(ctx, "Dockerfile"), ctx)
        self.buildah(store, "push", "--tls-verify=false", "--digestfile", digest_file, ref,
                     f"docker://{ref}")
        took = time.time() - t0
        shutil.rmtree(store, ignore_errors=True)
        with open(digest_file) as f:
            return took, f.read().strip()

    def image_build_rows(self, n, work):
        log(f"image builds: {n} clean multi-stage builds, service (BUILDER=buildah) and direct "
            "buildah bud + push, alternating")
        files = {"Dockerfile": MULTI_STAGE, "hello.txt": "hello from the bench\n"}
        actor = self.image_actor("bench-image", files)
        ctx = os.path.join(self.tmp, "multi-ctx")
        os.makedirs(ctx, exist_ok=True)
        for name, content in files.items():
            with open(os.path.join(ctx, name), "w") as f:
                f.write(content)
        timestamp = self.version_timestamp(actor["id"]) or 1_700_000_000
        api = Api(self.port, self.tokens["bench"])
        ours, direct, digests, direct_digests, sizes, ids = [], [], set(), set(), set(), []
        for i in range(n):
            took, digest = self.direct_build(ctx, i, timestamp)
            direct.append(took)
            direct_digests.add(digest)
            build = api.ok("POST", f"/v2/actors/{actor['id']}/builds?version=0.1")
            done = self.wait_build(api, build["id"])
            if done["status"] != "SUCCEEDED":
                raise RuntimeError(f"image build {build['id']} ended {done['status']}:\n"
                                   f"{self.tail('image-worker')}")
            ids.append(build["id"])
            digests.add(done.get("imageDigest"))
            sizes.add((done.get("stats") or {}).get("imageSizeBytes"))
        rows = dict(self.q("""SELECT id, extract(epoch FROM finished_at - started_at)::float8
                              FROM builds WHERE id = ANY(%s)""", (ids,)))
        ours = [rows[i] for i in ids]
        p50, b50 = pct(ours, 50), pct(direct, 50)
        self.detail(f"image build ({n} runs, 2 stages, 2 COPY, 3 RUN): service READY → SUCCEEDED "
                    f"p50 {p50:.2f} s, min {min(ours):.2f} s, max {max(ours):.2f} s; direct "
                    f"buildah bud + push p50 {b50:.2f} s, min {min(direct):.2f} s, "
                    f"max {max(direct):.2f} s")
        same = "the same as" if digests == direct_digests else "not the same as"
        self.detail(f"image build digests: service {len(digests)} distinct over {n} builds "
                    f"({', '.join(sorted(str(d)[:19] for d in digests))}), {same} the direct "
                    f"runs' ({len(direct_digests)} distinct); imageSizeBytes {sorted(map(str, sizes))}")
        self.row(f"Image build, clean 2-stage Dockerfile, BUILDER=buildah + push: p50 of {n}",
                 f"{p50:.2f} s", f"{b50:.2f} s (buildah bud + push)", f"{p50 / b50:.2f}×",
                 "≤ 1.3×", p50 / b50 <= 1.3 and len(digests) == 1)

    def direct_abort(self, ctx, i, marker):
        """The baseline: buildah bud in a process group of its own, SIGTERM to the group, SIGKILL
        after ABORT_GRACE as the service does."""
        store = os.path.join(self.tmp, f"abort-store-{i}")
        cmd = ["buildah", "--root", os.path.join(store, "root"), "--runroot",
               os.path.join(store, "run"), "--storage-driver", "vfs", "bud", *BUD_FLAGS, ctx]
        proc = subprocess.Popen(cmd, env=self.image_env(store), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_step(marker)
        markers = [marker, store.encode()]
        t0 = time.time()
        os.killpg(proc.pid, signal.SIGTERM)
        took, _ = self.wait_gone(markers, t0, limit=ABORT_GRACE)
        if took is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            took, left = self.wait_gone(markers, t0, limit=30)
            if took is None:
                self.notes.append(f"direct abort {i}: left {left}")
                for pid, _ in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                took = float("nan")
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)
        return took

    def image_abort_rows(self, n, work):
        log(f"image builds: {n} aborts during a RUN step with a background child, service and "
            "direct, alternating")
        marker = f"bench-abort-{os.getpid()}".encode()
        files = {"Dockerfile": abort_dockerfile(marker.decode())}
        actor = self.image_actor("bench-image-abort", files)
        ctx = os.path.join(self.tmp, "abort-ctx")
        os.makedirs(ctx, exist_ok=True)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(files["Dockerfile"])
        api = Api(self.port, self.tokens["bench"])
        aborter = Api(self.port, self.tokens["bench"])
        ours, direct, to_aborted = [], [], []
        for i in range(n):
            direct.append(self.direct_abort(ctx, i, marker))
            build = api.ok("POST", f"/v2/actors/{actor['id']}/builds?version=0.1")
            self.wait_step(marker)
            t0 = time.time()
            aborter.ok("POST", f"/v2/actor-builds/{build['id']}/abort")
            gone, left = self.wait_gone([marker, work.encode()], t0)
            done = self.wait_build(api, build["id"], limit=60)
            finished = self.q("SELECT extract(epoch FROM finished_at)::float8 FROM builds "
                              "WHERE id = %s", (build["id"],))[0][0]
            if done["status"] != "ABORTED":
                self.notes.append(f"aborted image build {build['id']} ended {done['status']}")
            if gone is None:
                self.notes.append(f"aborted image build {build['id']}: processes left after "
                                  f"60 s: {left}")
                for pid, _ in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                gone = float("inf")
            end = (finished - t0) if finished is not None else float("inf")
            to_aborted.append(end)
            ours.append(max(gone, end))
        p50, p99, b50, b99 = pct(ours, 50), pct(ours, 99), pct(direct, 50), pct(direct, 99)
        self.detail(f"image build abort ({n} trials, RUN with a background sleep): abort → every "
                    f"process gone and ABORTED p50 {p50:.2f} s, p99 {p99:.2f} s (→ ABORTED alone "
                    f"p50 {pct(to_aborted, 50):.2f} s); direct buildah SIGTERM to its group "
                    f"(SIGKILL after {ABORT_GRACE} s) → every process gone p50 {b50:.2f} s, "
                    f"p99 {b99:.2f} s; ABORT_GRACE_SECS={ABORT_GRACE}")
        self.row(f"Image build abort during RUN (background child) → all processes gone + "
                 f"ABORTED: p99 of {n}", f"{p99:.2f} s",
                 f"{b99:.2f} s (buildah, SIGTERM to its group)",
                 f"{p99 / b99:.1f}×" if b99 > 0 else "—",
                 f"≤ {ABORT_GRACE + 1} s (ABORT_GRACE_SECS + 1 s)", p99 <= ABORT_GRACE + 1)
