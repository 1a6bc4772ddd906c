"""What every part of the bench shares: the sizes of a run, the seeded groups, and small helpers."""

import glob
import math
import os
import re
import shutil
import socket
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)

FULL = dict(
    abort_builds=100_000, http_secs=10, warm_secs=2, conns=8,
    list_small=10_000, list_big=1_000_000, list_secs=5, list_offset=5000,
    pickup=200, throughput=1000, sig_trials=200,
    waiters_small=10, waiters_big=1000, wait_settle=11.5, wait_window=15,
    image_builds=7, image_aborts=10,
)
SMOKE = dict(
    abort_builds=2000, http_secs=1, warm_secs=1, conns=8,
    list_small=6000, list_big=30_000, list_secs=1, list_offset=5000,
    pickup=10, throughput=40, sig_trials=5,
    waiters_small=5, waiters_big=50, wait_settle=1, wait_window=1,
    image_builds=1, image_aborts=1,
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
