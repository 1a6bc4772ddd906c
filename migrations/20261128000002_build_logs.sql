-- Build logs, one row per line, in the order written (`id`). Lines are appended by the worker
-- that holds the build (fenced by its id and the build's status) and by the rescuer.
CREATE TABLE build_log_lines (
    id        BIGSERIAL PRIMARY KEY,
    build_id  TEXT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    at        TIMESTAMPTZ NOT NULL,
    line      TEXT NOT NULL
);
CREATE INDEX build_log_lines_build ON build_log_lines (build_id, id);

-- New lines are announced on the builds channel as `<id> LOG`, once per build per statement.
CREATE FUNCTION build_log_lines_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('build_status', build_id || ' LOG') FROM (SELECT DISTINCT build_id FROM new_lines) n;
    RETURN NULL;
END $$;
CREATE TRIGGER build_log_lines_notify AFTER INSERT ON build_log_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION build_log_lines_notify();
