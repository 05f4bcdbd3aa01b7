-- Tenant-private plugins. The component bytes live in the data directory under
-- plugins/<digest>.wasm; a row per tenant that uploaded them. A deleted plugin
-- is retired (deleted_at set) until no unfinished run is pinned to it.

CREATE TABLE plugins (
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    digest     TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER,
    PRIMARY KEY (tenant, digest)
) WITHOUT ROWID;
