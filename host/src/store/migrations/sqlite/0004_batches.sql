-- Batches: one run of a workflow per input, started together and watched and
-- cancelled as one.

CREATE TABLE batches (
    id           TEXT PRIMARY KEY,   -- UUIDv7
    tenant       TEXT NOT NULL,
    workflow_id  TEXT NOT NULL REFERENCES workflows (id),
    created_at   INTEGER NOT NULL,
    cancelled_at INTEGER
);

CREATE TABLE batch_runs (
    batch_id TEXT NOT NULL REFERENCES batches (id),
    position INTEGER NOT NULL,      -- the input's index in the request
    run_id   TEXT NOT NULL REFERENCES runs (id),
    PRIMARY KEY (batch_id, position)
) WITHOUT ROWID;
