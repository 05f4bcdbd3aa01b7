//! Batches: one run per input, as one.

use super::*;

/// A batch of runs of one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub id: String,
    pub tenant: String,
    pub workflow_id: String,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
}

pub fn insert_batch(tx: &Db<'_>, batch: &BatchRecord, runs: &[&str]) -> Result<(), StoreError> {
    tx.execute("INSERT INTO batches (id, tenant, workflow_id, created_at, cancelled_at) VALUES (?1, ?2, ?3, ?4, ?5)", params![batch.id, batch.tenant, batch.workflow_id, batch.created_at, batch.cancelled_at])?;
    for (position, run_id) in runs.iter().enumerate() {
        tx.execute(
            "INSERT INTO batch_runs (batch_id, position, run_id) VALUES (?1, ?2, ?3)",
            params![batch.id, position as i64, run_id],
        )?;
    }
    Ok(())
}

const BATCH_COLUMNS: &str = "id, tenant, workflow_id, created_at, cancelled_at";

fn batch_from_row(row: &Row<'_>) -> Result<BatchRecord, StoreError> {
    Ok(BatchRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        workflow_id: row.get(2)?,
        created_at: row.get(3)?,
        cancelled_at: row.get(4)?,
    })
}

pub fn get_batch(conn: &Db<'_>, tenant: &str, id: &str) -> Result<BatchRecord, StoreError> {
    conn.query_opt(
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE tenant = ?1 AND id = ?2"),
        params![tenant, id],
        batch_from_row,
    )?
    .ok_or(StoreError::NotFound)
}

/// A tenant's batches (of one workflow, if given), newest first, at most
/// `limit`; `before` is the last id of the previous page.
pub fn list_batches(
    conn: &Db<'_>,
    tenant: &str,
    workflow_id: Option<&str>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<BatchRecord>, StoreError> {
    conn.query(
        &format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE tenant = ?1 \
             AND (CAST(?2 AS TEXT) IS NULL OR workflow_id = ?2) \
             AND (CAST(?3 AS TEXT) IS NULL OR id < ?3) \
             ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant, workflow_id, before, limit as i64],
        batch_from_row,
    )
}

/// The batch's runs in input order, with their statuses.
pub fn batch_runs(conn: &Db<'_>, batch_id: &str) -> Result<Vec<(String, RunStatus)>, StoreError> {
    let rows = conn.query(
        "SELECT r.id, r.status FROM batch_runs b JOIN runs r ON r.id = b.run_id
         WHERE b.batch_id = ?1 ORDER BY b.position",
        params![batch_id],
        |row| Ok((row.get(0)?, status_column(row, 1)?)),
    )?;
    Ok(rows)
}

pub fn set_batch_cancelled(tx: &Db<'_>, id: &str, at: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE batches SET cancelled_at = ?2 WHERE id = ?1 AND cancelled_at IS NULL",
        params![id, at],
    )?;
    Ok(())
}
