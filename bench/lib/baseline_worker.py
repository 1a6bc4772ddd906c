"""The pickup baseline: the least a worker can do between a new build and RUNNING.

It LISTENs on the service's channel and, on each `<id> READY` notification, runs the service's
own claim statement (one free slot) and at once its terminal write RUNNING -> SUCCEEDED (with the
tag move), so that the API's waitForFinish returns. No sources, no process, no log.

Usage: python3 baseline_worker.py <dsn> <worker id> <statements.json>; stops on SIGTERM. The
statements are the service's, as the bench read them from the binary (statements.py).
"""

import select
import signal
import sys

import psycopg2

import statements as sql

LEASE_MS = 15000
PRICE = 0.25


def main():
    dsn, worker_id, statements = sys.argv[1], sys.argv[2], sql.from_file(sys.argv[3])
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))

    listen = psycopg2.connect(dsn)
    listen.autocommit = True
    listen.cursor().execute("LISTEN build_status")
    db = psycopg2.connect(dsn)
    db.autocommit = True
    cur = db.cursor()
    cur.execute(sql.prepare_sql("claim", statements[sql.CLAIM]))
    cur.execute(sql.prepare_sql("finish", statements[sql.FINISH]))
    print("ready", flush=True)

    def claim_all():
        while True:
            cur.execute("EXECUTE claim(%s, 1, %s)", (worker_id, LEASE_MS))
            rows = cur.fetchall()
            if not rows:
                return
            for row in rows:
                cur.execute("EXECUTE finish(%s, %s, 'RUNNING', 'SUCCEEDED', %s, NULL, NULL, 0)",
                            (row[0], worker_id, PRICE))
                cur.fetchall()

    while running[0]:
        try:
            ready, _, _ = select.select([listen], [], [], 1.0)
        except InterruptedError:
            continue
        if not ready:
            continue
        listen.poll()
        wake = any(n.payload.endswith(" READY") for n in listen.notifies)
        listen.notifies.clear()
        if wake:
            claim_all()


if __name__ == "__main__":
    main()
