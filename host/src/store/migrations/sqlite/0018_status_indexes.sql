-- A decision moves its run from paused to running, and its next pause moves
-- it back. SQLite rewrites a row's entry in every index whose key or
-- condition names a column a statement sets, even when the entry stays the
-- same, and three indexes named `status` (by status, by tenant and status,
-- by workflow and status): each of a decision's two commits made six index
-- writes and wrote three pages more to the log.
--
-- Now only one index names the status: the unpaused runs by owner (leases
-- read them), which a run leaves as it pauses and enters as it resumes, one
-- write each. Unfinished runs are found by `finished_at`, set once as a run
-- ends (as on PostgreSQL), which neither a pause nor a decision sets; paused
-- runs with a deadline by the deadline, which only they hold.
ALTER TABLE runs ADD COLUMN finished_at INTEGER;
UPDATE runs SET finished_at = updated_at
    WHERE status = 'completed' OR status = 'failed' OR status = 'cancelled';

DROP INDEX runs_by_status;
DROP INDEX runs_by_tenant_status;
DROP INDEX runs_by_workflow;
CREATE INDEX runs_unfinished_by_tenant ON runs (tenant) WHERE finished_at IS NULL;
CREATE INDEX runs_unfinished_by_workflow ON runs (workflow_id) WHERE finished_at IS NULL;
CREATE INDEX runs_unpaused_by_owner ON runs (owner)
    WHERE status = 'pending' OR status = 'running';
CREATE INDEX runs_pause_deadlines ON runs (pause_deadline) WHERE pause_deadline IS NOT NULL;
