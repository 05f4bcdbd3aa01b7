-- Cron schedules: the next slot not yet handled for each scheduled workflow,
-- and what each handled slot did. The primary key of schedule_fires is what
-- keeps a slot from firing twice, across restarts.

CREATE TABLE schedules (
    workflow_id TEXT PRIMARY KEY REFERENCES workflows (id),
    tenant      TEXT NOT NULL,
    next_fire   INTEGER,             -- Unix ms; NULL when the expression has no more slots
    paused      INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX schedules_by_next_fire ON schedules (next_fire) WHERE paused = 0;

CREATE TABLE schedule_fires (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    slot        INTEGER NOT NULL,    -- Unix ms
    outcome     TEXT NOT NULL,       -- started | skipped | queued | missed
    run_id      TEXT,
    detail      TEXT,                -- why it was skipped; for missed: the last slot and how many
    at          INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, slot)
) WITHOUT ROWID;
CREATE INDEX schedule_fires_queued ON schedule_fires (workflow_id, slot) WHERE outcome = 'queued';

-- What started a run: {"kind": "api"}, {"kind": "batch", "batch_id"} or
-- {"kind": "schedule", "slot"}; NULL for runs from before this column.
ALTER TABLE runs ADD COLUMN trigger TEXT;
