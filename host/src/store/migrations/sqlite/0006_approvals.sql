-- Approval gates: each step's decisions (the audit trail: reviewer, option,
-- note, time, channel), and the approval-link tokens already used.

ALTER TABLE steps ADD COLUMN decisions TEXT;

CREATE TABLE used_approval_tokens (
    token_id TEXT PRIMARY KEY,       -- the token's signed id
    run_id   TEXT NOT NULL REFERENCES runs (id),
    used_at  INTEGER NOT NULL
) WITHOUT ROWID;
