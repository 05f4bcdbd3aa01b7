-- Several hosts share one database. Each registers in `hosts` with a lease
-- it renews; a run being driven names its host in `runs.owner` (NULL once it
-- ended), and only that host's writes of the run are taken while its lease
-- holds. Others take the runs of a host whose lease ran out.
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    pid         BIGINT NOT NULL,        -- on its machine
    started_at  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);
ALTER TABLE runs ADD COLUMN owner TEXT;
CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL;

-- The counters get a row per host (the writer session's `cairn.host`), so
-- that hosts committing at once never wait on, or deadlock over, one shared
-- row; readers add the rows up. A host that is gone has its rows folded
-- into the host '' rows.
ALTER TABLE run_counts ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE run_counts DROP CONSTRAINT run_counts_pkey;
ALTER TABLE run_counts ADD PRIMARY KEY (host, status);
ALTER TABLE tenant_active_runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_active_runs DROP CONSTRAINT tenant_active_runs_pkey;
ALTER TABLE tenant_active_runs ADD PRIMARY KEY (host, tenant);

CREATE OR REPLACE FUNCTION cairn_count_runs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me TEXT := COALESCE(current_setting('cairn.host', true), '');
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO run_counts (host, status, count) VALUES (me, OLD.status, -1)
            ON CONFLICT (host, status) DO UPDATE SET count = run_counts.count - 1;
        IF OLD.status IN ('pending', 'running', 'paused') THEN
            INSERT INTO tenant_active_runs (host, tenant, count) VALUES (me, OLD.tenant, -1)
                ON CONFLICT (host, tenant) DO UPDATE SET count = tenant_active_runs.count - 1;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO run_counts (host, status, count) VALUES (me, NEW.status, 1)
            ON CONFLICT (host, status) DO UPDATE SET count = run_counts.count + 1;
        IF NEW.status IN ('pending', 'running', 'paused') THEN
            INSERT INTO tenant_active_runs (host, tenant, count) VALUES (me, NEW.tenant, 1)
                ON CONFLICT (host, tenant) DO UPDATE SET count = tenant_active_runs.count + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
