-- Workflows are found by name as well as by id (`POST /v1/workflows/{name}/runs`).
CREATE INDEX workflows_by_name ON workflows (tenant, name);
