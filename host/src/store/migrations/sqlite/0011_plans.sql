-- Plans: workflows a planner wrote from a goal, waiting for a person to
-- approve them. A plan's provenance (the goal, the model, who reviews it), and
-- every decision on a workflow's plan (who, when, through what, the note).
-- The outbox now also carries plan reviews, which belong to a workflow and
-- not to a run: it is rebuilt with `run_id` optional and a `workflow_id`.

CREATE TABLE workflow_plans (
    workflow_id TEXT PRIMARY KEY REFERENCES workflows (id),
    goal        TEXT NOT NULL,
    model       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,    -- model calls it took
    reviewers   TEXT NOT NULL,       -- JSON array of email addresses
    webhooks    TEXT NOT NULL,       -- JSON array of {"url", "secret"}: ${secret:NAME}
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE workflow_decisions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    version     INTEGER NOT NULL,    -- the version decided on
    decision    TEXT NOT NULL,       -- approve | reject
    reviewer    TEXT NOT NULL,
    channel     TEXT NOT NULL,       -- api | link
    note        TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
) WITHOUT ROWID;

CREATE TABLE outbox_rebuilt (
    id           TEXT PRIMARY KEY,   -- msg_<uuid>
    tenant       TEXT NOT NULL,
    run_id       TEXT REFERENCES runs (id),
    workflow_id  TEXT REFERENCES workflows (id),
    channel      TEXT NOT NULL,      -- webhook | email
    target       TEXT NOT NULL,      -- {"url", "secret_name"} or {"to"}
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER,            -- NULL once delivered or given up
    delivered_at INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    CHECK ((run_id IS NULL) <> (workflow_id IS NULL))
) WITHOUT ROWID;
INSERT INTO outbox_rebuilt (id, tenant, run_id, workflow_id, channel, target, payload, attempts,
                            next_attempt, delivered_at, last_error, created_at)
    SELECT id, tenant, run_id, NULL, channel, target, payload, attempts, next_attempt,
           delivered_at, last_error, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
CREATE INDEX outbox_by_run ON outbox (run_id);
-- Plan reviews once delivered or given up, for the retention sweep.
CREATE INDEX outbox_settled_plans ON outbox (created_at)
    WHERE workflow_id IS NOT NULL AND next_attempt IS NULL;
