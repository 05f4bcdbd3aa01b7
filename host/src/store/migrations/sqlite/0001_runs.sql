-- Workflows, their versions, runs, steps and the append-only run event log.
-- Times are Unix milliseconds; JSON values are stored as text.

CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,       -- draft | active | archived
    version     INTEGER NOT NULL,    -- the latest version
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX workflows_by_tenant ON workflows (tenant, id);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
) WITHOUT ROWID;

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,   -- UUIDv7: sorts by creation time
    tenant           TEXT NOT NULL,
    workflow_id      TEXT NOT NULL REFERENCES workflows (id),
    workflow_version INTEGER NOT NULL,
    status           TEXT NOT NULL,
    input            TEXT NOT NULL,
    result           TEXT,
    error            TEXT,               -- {"reason", "message", "step"}
    pending_action   TEXT,
    paused_step      INTEGER,
    pause_deadline   INTEGER,
    wake_at          INTEGER,            -- when a scheduled retry is due
    current_action   TEXT,
    steps_total      INTEGER NOT NULL,
    steps_done       INTEGER NOT NULL,
    plugins          TEXT NOT NULL,      -- the plugin digest each step is pinned to
    last_seq         INTEGER NOT NULL,   -- sequence number of the run's last event
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
CREATE INDEX runs_by_workflow ON runs (workflow_id, status);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE steps (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_index  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    input       TEXT,
    output      TEXT,
    error       TEXT,
    checkpoint  TEXT,
    decision    TEXT,                -- a resume decision not yet applied by the plugin
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (run_id, step_index)
) WITHOUT ROWID;

CREATE TABLE run_events (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
