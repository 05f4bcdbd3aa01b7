-- Whether a run has finished, or is active, tested with `=`s joined by OR
-- instead of `IN (...)`. SQLite evaluates a list of three or more constants
-- by building a temporary b-tree of it (a pager and a page cache of its own)
-- every time a statement runs: each save of a running run evaluated the
-- condition of `runs_finished` (for the row before and after, as the save
-- changes `updated_at`), so each step's end built two and dropped them.
-- Measured with a copy of a server's database (SQLite 3.40, 20,000 saves of
-- a running run): 10.6 µs a save before, 6.6 µs after.
DROP INDEX runs_finished;
CREATE INDEX runs_finished ON runs (updated_at)
    WHERE status = 'completed' OR status = 'failed' OR status = 'cancelled';

DROP TRIGGER tenant_active_on_insert;
DROP TRIGGER tenant_active_on_update;
DROP TRIGGER tenant_active_on_delete;
CREATE TRIGGER tenant_active_on_insert AFTER INSERT ON runs
WHEN new.status = 'pending' OR new.status = 'running' OR new.status = 'paused' BEGIN
    INSERT INTO tenant_active_runs (tenant, count) VALUES (new.tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER tenant_active_on_update AFTER UPDATE OF status ON runs
WHEN (old.status = 'pending' OR old.status = 'running' OR old.status = 'paused')
  <> (new.status = 'pending' OR new.status = 'running' OR new.status = 'paused') BEGIN
    UPDATE tenant_active_runs SET count = count - 1
        WHERE tenant = old.tenant
          AND (old.status = 'pending' OR old.status = 'running' OR old.status = 'paused');
    INSERT INTO tenant_active_runs (tenant, count)
        SELECT new.tenant, 1
        WHERE new.status = 'pending' OR new.status = 'running' OR new.status = 'paused'
        ON CONFLICT (tenant) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER tenant_active_on_delete AFTER DELETE ON runs
WHEN old.status = 'pending' OR old.status = 'running' OR old.status = 'paused' BEGIN
    UPDATE tenant_active_runs SET count = count - 1 WHERE tenant = old.tenant;
END;
