-- Tenants, their API keys (stored as SHA-256 hashes, never in clear), and the
-- Idempotency-Key records of run starts.

CREATE TABLE tenants (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    tenant      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, workflow_id, key)
) WITHOUT ROWID;
