-- Build counts per user and per Actor, kept by statement-level triggers, so that a list's
-- `total` is one row read however many builds there are. Actors are updated before users, the
-- order in which deleting an Actor takes its locks, so the two cannot deadlock.
ALTER TABLE users ADD COLUMN build_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE actors ADD COLUMN build_count BIGINT NOT NULL DEFAULT 0;

UPDATE users u SET build_count = (SELECT count(*) FROM builds b WHERE b.user_id = u.id);
UPDATE actors a SET build_count = (SELECT count(*) FROM builds b WHERE b.act_id = a.id);

CREATE FUNCTION builds_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actors a SET build_count = a.build_count + d.n
    FROM (SELECT act_id, count(*) AS n FROM new_builds GROUP BY act_id) d WHERE a.id = d.act_id;
    UPDATE users u SET build_count = u.build_count + d.n
    FROM (SELECT user_id, count(*) AS n FROM new_builds GROUP BY user_id) d WHERE u.id = d.user_id;
    RETURN NULL;
END $$;
CREATE TRIGGER builds_count_inserted AFTER INSERT ON builds
    REFERENCING NEW TABLE AS new_builds
    FOR EACH STATEMENT EXECUTE FUNCTION builds_count_inserted();

CREATE FUNCTION builds_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actors a SET build_count = a.build_count - d.n
    FROM (SELECT act_id, count(*) AS n FROM old_builds GROUP BY act_id) d WHERE a.id = d.act_id;
    UPDATE users u SET build_count = u.build_count - d.n
    FROM (SELECT user_id, count(*) AS n FROM old_builds GROUP BY user_id) d WHERE u.id = d.user_id;
    RETURN NULL;
END $$;
CREATE TRIGGER builds_count_deleted AFTER DELETE ON builds
    REFERENCING OLD TABLE AS old_builds
    FOR EACH STATEMENT EXECUTE FUNCTION builds_count_deleted();
