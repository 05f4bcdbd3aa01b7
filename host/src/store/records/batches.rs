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

pub fn insert_batch(
    tx: &Transaction<'_>,
    batch: &BatchRecord,
    runs: &[&str],
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO batches (id, tenant, workflow_id, created_at, cancelled_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![batch.id, batch.tenant, batch.workflow_id, batch.created_at, batch.cancelled_at])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO batch_runs (batch_id, position, run_id) VALUES (?1, ?2, ?3)",
    )?;
    for (position, run_id) in runs.iter().enumerate() {
        insert.execute(params![batch.id, position as i64, run_id])?;
    }
    Ok(())
}

pub fn get_batch(conn: &Connection, tenant: &str, id: &str) -> Result<BatchRecord, StoreError> {
    conn.prepare_cached(
        "SELECT id, tenant, workflow_id, created_at, cancelled_at FROM batches WHERE tenant = ?1 AND id = ?2",
    )?
    .query_row(params![tenant, id], |row| {
        Ok(BatchRecord {
            id: row.get(0)?,
            tenant: row.get(1)?,
            workflow_id: row.get(2)?,
            created_at: row.get(3)?,
            cancelled_at: row.get(4)?,
        })
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// The batch's runs in input order, with their statuses.
pub fn batch_runs(
    conn: &Connection,
    batch_id: &str,
) -> Result<Vec<(String, RunStatus)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT r.id, r.status FROM batch_runs b JOIN runs r ON r.id = b.run_id
         WHERE b.batch_id = ?1 ORDER BY b.position",
    )?;
    let rows = statement.query_map(params![batch_id], |row| {
        Ok((row.get(0)?, status_column(row, 1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_batch_cancelled(tx: &Transaction<'_>, id: &str, at: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE batches SET cancelled_at = ?2 WHERE id = ?1 AND cancelled_at IS NULL",
    )?
    .execute(params![id, at])?;
    Ok(())
}
