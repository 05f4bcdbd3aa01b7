-- Cairn's schema on PostgreSQL: the tables of SQLite's migrations 0001-0014,
-- with the same columns and meaning. Integers are BIGINT (Unix ms, counts,
-- flags as 0/1), JSON is TEXT as written, sealed secrets are BYTEA.

CREATE TABLE workflows (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,       -- draft | active | archived
    version      BIGINT NOT NULL,     -- the latest version
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    runs_started BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX workflows_by_tenant ON workflows (tenant, id);
CREATE INDEX workflows_by_name ON workflows (tenant, name);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     BIGINT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,   -- UUIDv7: sorts by creation time
    tenant           TEXT NOT NULL,
    workflow_id      TEXT NOT NULL REFERENCES workflows (id),
    workflow_version BIGINT NOT NULL,
    status           TEXT NOT NULL,
    input            TEXT NOT NULL,
    result           TEXT,
    error            TEXT,
    pending_action   TEXT,
    paused_step      BIGINT,
    pause_deadline   BIGINT,
    wake_at          BIGINT,
    current_action   TEXT,
    steps_total      BIGINT NOT NULL,
    steps_done       BIGINT NOT NULL,
    plugins          TEXT NOT NULL,
    last_seq         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    trigger          TEXT,
    number           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
CREATE INDEX runs_by_workflow ON runs (workflow_id, status);
CREATE INDEX runs_by_workflow_newest ON runs (workflow_id, id);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_tenant_status ON runs (tenant, status);
CREATE INDEX runs_finished ON runs (updated_at)
    WHERE status IN ('completed', 'failed', 'cancelled');

CREATE TABLE steps (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_index  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    input       TEXT,
    output      TEXT,
    error       TEXT,
    checkpoint  TEXT,
    decision    TEXT,
    started_at  BIGINT,
    finished_at BIGINT,
    decisions   TEXT,
    logs        TEXT,
    pending     TEXT,
    deadline    BIGINT,
    wake_at     BIGINT,
    construct   TEXT,
    PRIMARY KEY (run_id, step_index)
);

CREATE TABLE run_events (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq    BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    kind   TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE tenants (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    created_at BIGINT NOT NULL,
    name       TEXT,
    admin      BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_keys_by_name ON api_keys (tenant, name);

CREATE TABLE idempotency_keys (
    tenant      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, workflow_id, key)
);
CREATE INDEX idempotency_keys_by_run ON idempotency_keys (run_id);

CREATE TABLE plugins (
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    digest     TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (tenant, digest)
);

CREATE TABLE batches (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    workflow_id  TEXT NOT NULL REFERENCES workflows (id),
    created_at   BIGINT NOT NULL,
    cancelled_at BIGINT
);

CREATE TABLE batch_runs (
    batch_id TEXT NOT NULL REFERENCES batches (id),
    position BIGINT NOT NULL,
    run_id   TEXT NOT NULL REFERENCES runs (id),
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX batch_runs_by_run ON batch_runs (run_id);

CREATE TABLE batch_idempotency_keys (
    tenant      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    batch_id    TEXT NOT NULL REFERENCES batches (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, workflow_id, key)
);
CREATE INDEX batch_idempotency_keys_by_batch ON batch_idempotency_keys (batch_id);

CREATE TABLE schedules (
    workflow_id TEXT PRIMARY KEY REFERENCES workflows (id),
    tenant      TEXT NOT NULL,
    next_fire   BIGINT,
    paused      BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX schedules_by_next_fire ON schedules (next_fire) WHERE paused = 0;

CREATE TABLE schedule_fires (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    slot        BIGINT NOT NULL,
    outcome     TEXT NOT NULL,       -- started | skipped | queued | missed
    run_id      TEXT,
    detail      TEXT,
    at          BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, slot)
);
CREATE INDEX schedule_fires_queued ON schedule_fires (workflow_id, slot) WHERE outcome = 'queued';

CREATE TABLE used_approval_tokens (
    token_id TEXT PRIMARY KEY,
    run_id   TEXT NOT NULL REFERENCES runs (id),
    used_at  BIGINT NOT NULL
);
CREATE INDEX used_approval_tokens_by_run ON used_approval_tokens (run_id);

CREATE TABLE secrets (
    tenant     TEXT NOT NULL REFERENCES tenants (name),
    name       TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE workflow_plans (
    workflow_id TEXT PRIMARY KEY REFERENCES workflows (id),
    goal        TEXT NOT NULL,
    model       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    reviewers   TEXT NOT NULL,
    webhooks    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE workflow_decisions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     BIGINT NOT NULL,
    decision    TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    note        TEXT,
    at          BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    run_id       TEXT REFERENCES runs (id),
    workflow_id  TEXT REFERENCES workflows (id),
    channel      TEXT NOT NULL,
    target       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    next_attempt BIGINT,
    delivered_at BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    CHECK ((run_id IS NULL) <> (workflow_id IS NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
CREATE INDEX outbox_by_run ON outbox (run_id);
CREATE INDEX outbox_settled_plans ON outbox (created_at)
    WHERE workflow_id IS NOT NULL AND next_attempt IS NULL;

-- Counts kept as runs change, so /metrics and the quota never count rows.
CREATE TABLE run_counts (
    status TEXT PRIMARY KEY,
    count  BIGINT NOT NULL
);
INSERT INTO run_counts (status, count) VALUES
    ('pending', 0), ('running', 0), ('paused', 0),
    ('completed', 0), ('failed', 0), ('cancelled', 0);

CREATE TABLE tenant_active_runs (
    tenant TEXT PRIMARY KEY,
    count  BIGINT NOT NULL
);

CREATE FUNCTION cairn_count_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE run_counts SET count = count - 1 WHERE status = OLD.status;
        IF OLD.status IN ('pending', 'running', 'paused') THEN
            UPDATE tenant_active_runs SET count = count - 1 WHERE tenant = OLD.tenant;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE run_counts SET count = count + 1 WHERE status = NEW.status;
        IF NEW.status IN ('pending', 'running', 'paused') THEN
            INSERT INTO tenant_active_runs (tenant, count) VALUES (NEW.tenant, 1)
                ON CONFLICT (tenant) DO UPDATE SET count = tenant_active_runs.count + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_counted AFTER INSERT OR DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION cairn_count_runs();
CREATE TRIGGER runs_recounted AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION cairn_count_runs();
