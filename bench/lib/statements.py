"""The service's own SQL for the baselines (pgbench scripts and the minimal Python workers).

Nothing here is a copy: the statements come from the binary being measured
(`actor-builds statements` prints `storage::all_statements()` as JSON {name: sql}), so a baseline
runs exactly the text the service runs. Parameters are `$1`..`$n`, as in the source;
`pgbench_sql` turns them into pgbench `:variables`.
"""

import json
import re
import subprocess

# The statements the baselines run, by their name in src/storage (`module::CONST`):
USER_BY_TOKEN = "users::USER_BY_TOKEN"  # $1 token hash; every authenticated request runs it
ABORT = "builds::ABORT"                 # $1 build id, $2 user id
GET_FOR_USER = "builds::GET_FOR_USER"   # $1 build id, $2 user id
LIST_OF_USER_DESC = "builds::LIST_OF_USER_DESC"  # $1 user id, $2 limit, $3 offset
CLAIM = "queue::CLAIM"                  # $1 worker id, $2 free slots, $3 lease in ms
FINISH = "queue::FINISH"                # $1 build id, $2 worker id, $3 from, $4 to, $5 price
HELD_STATUS = "queue::HELD_STATUS"      # $1 build id, $2 worker id

USED = (USER_BY_TOKEN, ABORT, GET_FOR_USER, LIST_OF_USER_DESC, CLAIM, FINISH, HELD_STATUS)


def from_binary(binary, env, cwd):
    """{name: sql} of every statement of the binary, checked to hold those the baselines run."""
    done = subprocess.run([binary, "statements"], env=env, cwd=cwd, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{binary} statements failed (a binary older than the `statements` "
                           f"subcommand cannot be measured):\n{done.stderr}")
    return checked(json.loads(done.stdout))


def from_file(path):
    """{name: sql} as `save` wrote it (for the processes the bench starts)."""
    with open(path, encoding="utf-8") as f:
        return checked(json.load(f))


def save(statements, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(statements, f)


def checked(statements):
    missing = [name for name in USED if name not in statements]
    if missing:
        raise RuntimeError(f"the binary has no statement {', '.join(missing)}; "
                           "bench/lib/statements.py names what src/storage no longer has")
    return statements


def pgbench_sql(statement, names):
    """`statement` with `$1`.. replaced by pgbench variables `:name` (names[0] is $1), on one
    line (pgbench reads a statement per line unless it ends with `\\;` or a `;`)."""
    def sub(m):
        return ":" + names[int(m.group(1)) - 1]
    return re.sub(r"\$(\d+)", sub, " ".join(statement.split()))


def prepare_sql(name, statement):
    """A server-side PREPARE of `statement` (parameter types inferred, as pgbench -M prepared)."""
    return f"PREPARE {name} AS {statement}"


def no_image(statement):
    """FINISH with its image parameters (`$6` name, `$7` digest, `$8` size) as a build that made
    no image writes them: NULL, NULL, 0."""
    literals = {"6": "NULL", "7": "NULL", "8": "0"}
    return re.sub(r"\$([678])(?!\d)", lambda m: literals[m.group(1)], statement)
