-- The workflow language's constructs: a run's steps become a tree of step
-- instances named by path (`per_article[2].review`). Each step now carries
-- what it waits for (several may wait at once), its deadline, when its retry
-- is due, and where a construct is; the run row keeps the first of them.
ALTER TABLE steps ADD COLUMN pending TEXT;         -- PendingAction while awaiting input
ALTER TABLE steps ADD COLUMN deadline INTEGER;     -- when that wait times out
ALTER TABLE steps ADD COLUMN wake_at INTEGER;      -- when a retry is due
ALTER TABLE steps ADD COLUMN construct TEXT;       -- ConstructState of a construct

-- What paused runs wait for moves to the step that waits.
UPDATE steps SET
    pending = (SELECT r.pending_action FROM runs r WHERE r.id = steps.run_id),
    deadline = (SELECT r.pause_deadline FROM runs r WHERE r.id = steps.run_id)
WHERE status = 'awaiting_input'
  AND step_index = (SELECT r.paused_step FROM runs r WHERE r.id = steps.run_id);

-- A retry that was due moves to the step waiting for it.
UPDATE steps SET wake_at = (SELECT r.wake_at FROM runs r WHERE r.id = steps.run_id)
WHERE status = 'pending' AND attempts > 0
  AND EXISTS (SELECT 1 FROM runs r WHERE r.id = steps.run_id AND r.wake_at IS NOT NULL);
