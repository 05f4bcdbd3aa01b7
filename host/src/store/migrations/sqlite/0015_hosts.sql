-- The hosts driving runs, and which host drives each run. On SQLite one
-- process owns the file, so a starting host takes every unfinished run; the
-- same columns let PostgreSQL's hosts share the work (see 0002 there).
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN owner TEXT;
CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL;
