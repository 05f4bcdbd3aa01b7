-- Runs are numbered per workflow (#1, #2, ...) as they are started. The
-- workflow keeps how many it started, so a number is never given twice,
-- retention included; runs already stored are numbered in the order they
-- started (those retention deleted are not counted).
ALTER TABLE runs ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN runs_started INTEGER NOT NULL DEFAULT 0;

UPDATE runs SET number = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY workflow_id ORDER BY id) AS n FROM runs) AS numbered
WHERE numbered.id = runs.id;

UPDATE workflows SET runs_started = counted.n
FROM (SELECT workflow_id, COUNT(*) AS n FROM runs GROUP BY workflow_id) AS counted
WHERE counted.workflow_id = workflows.id;

-- A workflow's newest runs (its latest run in the list of workflows).
CREATE INDEX runs_by_workflow_newest ON runs (workflow_id, id);
