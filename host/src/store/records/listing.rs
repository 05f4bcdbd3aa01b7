//! Reads over many runs: pages of a tenant's runs, the approval queue, and
//! the active-run count of the quota.

use super::*;

/// A tenant's runs, newest first, optionally of one workflow and status, after
/// the run `before` (exclusive) when paging.
pub fn list_runs(
    conn: &Db<'_>,
    tenant: &str,
    workflow_id: Option<&str>,
    status: Option<RunStatus>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ?1 AND (workflow_id = ?2 OR ?2 IS NULL) \
         AND (status = ?3 OR ?3 IS NULL) AND (id < ?4 OR ?4 IS NULL) ORDER BY id DESC LIMIT ?5"
        ),
        params![
            tenant,
            workflow_id,
            status.map(RunStatus::as_str),
            before,
            limit as i64
        ],
        run_from_row,
    )?;
    Ok(rows)
}

/// A tenant's paused runs, the longest waiting first.
pub fn paused_runs(
    conn: &Db<'_>,
    tenant: &str,
    workflow_id: Option<&str>,
    reviewer: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let rows = conn.query(
        &paused_runs_sql(conn.dialect()),
        params![tenant, workflow_id, limit as i64, reviewer],
        run_from_row,
    )?;
    Ok(rows)
}

/// Runs of a tenant that are not finished (kept by triggers: no count of rows).
pub fn active_runs_of_tenant(conn: &Db<'_>, tenant: &str) -> Result<i64, StoreError> {
    conn.query_one(ACTIVE_RUNS_OF_TENANT, params![tenant], |row| row.get(0))
}
