-- The hosts driving runs, and which host drives each run: the same leases
-- as on PostgreSQL (see 0002 there), where the processes sharing a file are
-- on one machine, so a starting host ends at once the lease of any host
-- whose process is gone.
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    pid         INTEGER NOT NULL,        -- on its machine
    started_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL
);
-- No index of `owner`: the few queries by owner read the unfinished runs
-- through `runs_by_status`, and every run start and end would pay for one.
ALTER TABLE runs ADD COLUMN owner TEXT;
