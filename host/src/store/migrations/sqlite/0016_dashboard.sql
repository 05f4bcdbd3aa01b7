-- Dashboard sessions. A signed-in browser holds a random token in a cookie;
-- only its SHA-256 is kept, with the API key it was exchanged for (revoking
-- the key ends its sessions: they are read joined to it) and the session's
-- form token, which every state-changing form must carry (CSRF).
CREATE TABLE ui_sessions (
    token_hash TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_by_key ON ui_sessions (key_hash);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);

-- A tenant's batches, newest first (GET /v1/batches, the dashboard).
CREATE INDEX batches_by_tenant ON batches (tenant, id);
