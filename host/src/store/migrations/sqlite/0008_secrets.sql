-- Tenants' secrets, sealed with the host's key (ChaCha20-Poly1305; the key lives
-- in the data directory, not in the database), and what each step attempt
-- logged.

CREATE TABLE secrets (
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    name       TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;

ALTER TABLE steps ADD COLUMN logs TEXT;
