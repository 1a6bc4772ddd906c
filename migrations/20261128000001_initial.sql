-- Users and their API tokens. Tokens are stored only as a SHA-256 hash; `prefix` keeps the first
-- characters so that an operator can name a token to revoke without holding it.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    token_hash  BYTEA PRIMARY KEY,
    prefix      TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX tokens_prefix ON tokens (prefix);

CREATE TABLE actors (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    title                TEXT,
    description          TEXT,
    is_public            BOOLEAN NOT NULL DEFAULT false,
    default_run_options  JSONB NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT actors_user_name_unique UNIQUE (user_id, name)
);
CREATE INDEX actors_user_created ON actors (user_id, created_at, id);

CREATE TABLE versions (
    actor_id                 TEXT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    version_number           TEXT NOT NULL,
    source_type              TEXT NOT NULL
        CHECK (source_type IN ('SOURCE_FILES', 'GIT_REPO', 'TARBALL')),
    build_tag                TEXT NOT NULL DEFAULT 'latest',
    env_vars                 JSONB NOT NULL DEFAULT '[]',
    apply_env_vars_to_build  BOOLEAN NOT NULL DEFAULT false,
    source_files             JSONB NOT NULL DEFAULT '[]',
    git_repo_url             TEXT,
    tarball_url              TEXT,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, version_number)
);

-- Build numbers count per Actor version from 1. The counter lives apart from `versions` so that a
-- version deleted and created again never hands out a number twice; the upsert's row lock makes
-- concurrent build creations take numbers one after the other.
CREATE TABLE version_build_counters (
    actor_id        TEXT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    version_number  TEXT NOT NULL,
    last_number     INTEGER NOT NULL,
    PRIMARY KEY (actor_id, version_number)
);

CREATE TABLE builds (
    id                  TEXT PRIMARY KEY,
    act_id              TEXT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status              TEXT NOT NULL DEFAULT 'READY' CHECK (status IN (
                            'READY', 'RUNNING', 'ABORTING', 'TIMING-OUT',
                            'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT')),
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at         TIMESTAMPTZ,
    version_number      TEXT NOT NULL,
    build_number_int    INTEGER NOT NULL,
    tag                 TEXT,
    meta                JSONB NOT NULL,
    options             JSONB NOT NULL,
    stats               JSONB NOT NULL DEFAULT '{}',
    usage               JSONB NOT NULL DEFAULT '{}',
    usage_total_usd     DOUBLE PRECISION NOT NULL DEFAULT 0,
    usage_usd           JSONB NOT NULL DEFAULT '{}',
    act_version         JSONB NOT NULL,
    actor_definition    JSONB,
    input_schema        TEXT,
    readme              TEXT,
    abort_requested_at  TIMESTAMPTZ,
    aborted_by          TEXT,
    worker_id           TEXT,
    lease_expires_at    TIMESTAMPTZ,
    run_started_at      TIMESTAMPTZ,
    CONSTRAINT builds_number_unique UNIQUE (act_id, version_number, build_number_int),
    -- finishedAt is set exactly when the status is terminal.
    CONSTRAINT builds_finished_at_iff_terminal CHECK (
        (finished_at IS NOT NULL) = (status IN ('SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT')))
);
CREATE INDEX builds_user_started ON builds (user_id, started_at, id);
CREATE INDEX builds_actor_started ON builds (act_id, started_at, id);
CREATE INDEX builds_ready ON builds (started_at, id) WHERE status = 'READY';
CREATE INDEX builds_leased ON builds (lease_expires_at)
    WHERE status IN ('RUNNING', 'ABORTING', 'TIMING-OUT');

-- Tags name builds of an Actor (`latest` -> build). A tagged build cannot be deleted.
CREATE TABLE actor_tags (
    actor_id  TEXT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    build_id  TEXT NOT NULL REFERENCES builds (id),
    PRIMARY KEY (actor_id, tag)
);
CREATE INDEX actor_tags_build ON actor_tags (build_id);

-- The database mirror of `BuildStatus::can_move_to` in src/domain/build_status.rs: a status write
-- that the table of moves refuses fails here too, and a terminal row never changes status again.
CREATE FUNCTION builds_guard_status_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'READY' AND NEW.status IN ('RUNNING', 'ABORTED')) OR
        (OLD.status = 'RUNNING' AND NEW.status IN
            ('SUCCEEDED', 'FAILED', 'ABORTING', 'TIMING-OUT', 'ABORTED', 'TIMED-OUT')) OR
        (OLD.status = 'ABORTING' AND NEW.status IN ('ABORTED', 'FAILED', 'TIMED-OUT')) OR
        (OLD.status = 'TIMING-OUT' AND NEW.status IN ('TIMED-OUT', 'FAILED', 'ABORTED'))
    ) THEN
        RAISE EXCEPTION 'build % cannot move from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.finished_at IS NOT NULL AND NEW.finished_at IS DISTINCT FROM OLD.finished_at THEN
        RAISE EXCEPTION 'build % finishedAt is already set', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER builds_guard_status_move BEFORE UPDATE OF status, finished_at ON builds
    FOR EACH ROW EXECUTE FUNCTION builds_guard_status_move();

-- Every status change and every new build is announced on one channel, as `<id> <status>`, on
-- commit: workers wake for new and aborted builds, waiting requests for finished ones.
CREATE FUNCTION builds_notify_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('build_status', NEW.id || ' ' || NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER builds_notify_insert AFTER INSERT ON builds
    FOR EACH ROW EXECUTE FUNCTION builds_notify_status();
CREATE TRIGGER builds_notify_status AFTER UPDATE OF status ON builds
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION builds_notify_status();
