//! Reads over many runs: pages of a tenant's runs, the approval queue, and
//! the active-run count of the quota.

use super::*;

/// A tenant's runs, newest first, optionally of one workflow and status, after
/// the run `before` (exclusive) when paging.
pub fn list_runs(
    conn: &Connection,
    tenant: &str,
    workflow_id: Option<&str>,
    status: Option<RunStatus>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ?1 AND (?2 IS NULL OR workflow_id = ?2) \
         AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
    ))?;
    let rows = statement.query_map(
        params![
            tenant,
            workflow_id,
            status.map(RunStatus::as_str),
            before,
            limit as i64
        ],
        run_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A tenant's paused runs, the longest waiting first.
pub fn paused_runs(
    conn: &Connection,
    tenant: &str,
    workflow_id: Option<&str>,
    reviewer: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&paused_runs_sql())?;
    let rows = statement.query_map(
        params![tenant, workflow_id, limit as i64, reviewer],
        run_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs of a tenant that are not finished (kept by triggers: no count of rows).
pub fn active_runs_of_tenant(conn: &Connection, tenant: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(ACTIVE_RUNS_OF_TENANT)?
        .query_row(params![tenant], |row| row.get(0))?)
}
