-- Key-value stores owned by users, with their records kept in Postgres. The CLI uploads sources of
-- large Actors here and builds them from a signed record URL. A store may be unnamed; names are
-- unique per user. `url_signing_secret_key` signs record URLs (shown to the owner only).
CREATE TABLE key_value_stores (
    id                      TEXT PRIMARY KEY,
    user_id                 TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                    TEXT,
    url_signing_secret_key  TEXT NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    accessed_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_count              BIGINT NOT NULL DEFAULT 0,
    write_count             BIGINT NOT NULL DEFAULT 0,
    delete_count            BIGINT NOT NULL DEFAULT 0,
    list_count              BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT key_value_stores_user_name_unique UNIQUE (user_id, name)
);

CREATE TABLE key_value_store_records (
    store_id      TEXT NOT NULL REFERENCES key_value_stores (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    value         BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, key)
);
