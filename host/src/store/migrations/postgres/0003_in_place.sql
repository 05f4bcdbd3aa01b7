-- The hot path's writes, cheaper.
--
-- A save of a running run changes no indexed column, so that PostgreSQL
-- updates its row in place (a HOT update, which touches no index), given
-- room on its page:
-- * retention's index names `finished_at`, set once as a run ends, instead
--   of `updated_at`, which every save changes;
-- * pages of runs and steps are filled to 80%, leaving room.
ALTER TABLE runs ADD COLUMN finished_at BIGINT;
UPDATE runs SET finished_at = updated_at WHERE status IN ('completed', 'failed', 'cancelled');
DROP INDEX runs_finished;
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
ALTER TABLE runs SET (fillfactor = 80);
ALTER TABLE steps SET (fillfactor = 80);

-- Steps and events are written by the statement that saves their run (and
-- deleted before it), so their foreign keys checked nothing Cairn could get
-- wrong, at a query and a row lock on the run per row written: a quarter of
-- a step's cost. Temporal's schema has none either. (SQLite keeps them: it
-- checks one in-process.)
ALTER TABLE steps DROP CONSTRAINT steps_run_id_fkey;
ALTER TABLE run_events DROP CONSTRAINT run_events_run_id_fkey;
