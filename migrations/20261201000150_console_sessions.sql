-- Console sessions: a random id in the browser's cookie, only its SHA-256 here. A session lives
-- while its token does: revoking the token (revoked_at) ends it at the next request, deleting the
-- token removes it.
CREATE TABLE console_sessions (
    id_hash     BYTEA PRIMARY KEY,
    token_hash  BYTEA NOT NULL REFERENCES tokens (token_hash) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_token ON console_sessions (token_hash);
