-- Nothing on a hot path reads finished history, nor counts runs one by one:
-- runs are counted by status, and each tenant's unfinished runs (its quota),
-- in tables that triggers keep; a tenant's runs by status are found by index;
-- the retention sweep finds old finished runs by a partial index, and the
-- indexes by run id let it delete a run's rows without scanning.

CREATE INDEX runs_by_tenant_status ON runs (tenant, status);

CREATE TABLE run_counts (
    status TEXT PRIMARY KEY,
    count  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO run_counts (status, count)
    SELECT s.status, (SELECT COUNT(*) FROM runs WHERE runs.status = s.status)
    FROM (SELECT 'pending' AS status UNION ALL SELECT 'running' UNION ALL SELECT 'paused'
          UNION ALL SELECT 'completed' UNION ALL SELECT 'failed' UNION ALL SELECT 'cancelled') s;

CREATE TRIGGER run_counts_on_insert AFTER INSERT ON runs BEGIN
    UPDATE run_counts SET count = count + 1 WHERE status = new.status;
END;
CREATE TRIGGER run_counts_on_update AFTER UPDATE OF status ON runs
WHEN old.status <> new.status BEGIN
    UPDATE run_counts SET count = count - 1 WHERE status = old.status;
    UPDATE run_counts SET count = count + 1 WHERE status = new.status;
END;
CREATE TRIGGER run_counts_on_delete AFTER DELETE ON runs BEGIN
    UPDATE run_counts SET count = count - 1 WHERE status = old.status;
END;

CREATE TABLE tenant_active_runs (
    tenant TEXT PRIMARY KEY,
    count  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO tenant_active_runs (tenant, count)
    SELECT tenant, COUNT(*) FROM runs WHERE status IN ('pending', 'running', 'paused') GROUP BY tenant;

CREATE TRIGGER tenant_active_on_insert AFTER INSERT ON runs
WHEN new.status IN ('pending', 'running', 'paused') BEGIN
    INSERT INTO tenant_active_runs (tenant, count) VALUES (new.tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER tenant_active_on_update AFTER UPDATE OF status ON runs
WHEN (old.status IN ('pending', 'running', 'paused')) <> (new.status IN ('pending', 'running', 'paused')) BEGIN
    UPDATE tenant_active_runs SET count = count - 1
        WHERE tenant = old.tenant AND old.status IN ('pending', 'running', 'paused');
    INSERT INTO tenant_active_runs (tenant, count)
        SELECT new.tenant, 1 WHERE new.status IN ('pending', 'running', 'paused')
        ON CONFLICT (tenant) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER tenant_active_on_delete AFTER DELETE ON runs
WHEN old.status IN ('pending', 'running', 'paused') BEGIN
    UPDATE tenant_active_runs SET count = count - 1 WHERE tenant = old.tenant;
END;

CREATE INDEX runs_finished ON runs (updated_at)
    WHERE status IN ('completed', 'failed', 'cancelled');

CREATE INDEX idempotency_keys_by_run ON idempotency_keys (run_id);
CREATE INDEX batch_runs_by_run ON batch_runs (run_id);
CREATE INDEX used_approval_tokens_by_run ON used_approval_tokens (run_id);
CREATE INDEX outbox_by_run ON outbox (run_id);

-- A batch started with an Idempotency-Key: the same key and body answer the
-- same batch, as for runs.
CREATE TABLE batch_idempotency_keys (
    tenant      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    batch_id    TEXT NOT NULL REFERENCES batches (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, workflow_id, key)
) WITHOUT ROWID;
CREATE INDEX batch_idempotency_keys_by_batch ON batch_idempotency_keys (batch_id);
