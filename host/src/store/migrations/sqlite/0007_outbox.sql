-- The notification outbox: a row per webhook or email, written in the same
-- transaction as the run event it tells of, delivered (and retried) from here,
-- so a restart loses none. The id is the webhook-id receivers deduplicate on.

CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,   -- msg_<uuid>
    tenant       TEXT NOT NULL,
    run_id       TEXT NOT NULL REFERENCES runs (id),
    channel      TEXT NOT NULL,      -- webhook | email
    target       TEXT NOT NULL,      -- {"url", "secret"} or {"to"}
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER,            -- NULL once delivered or given up
    delivered_at INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
