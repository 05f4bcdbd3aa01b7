//! What an `Idempotency-Key` started.

use super::*;

/// The run a previous start with this key made, and the hash of its body.
/// What an `Idempotency-Key` started: a run or a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Run,
    Batch,
}

impl Started {
    /// The table that remembers keys, and its column for what they started.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Started::Run => ("idempotency_keys", "run_id"),
            Started::Batch => ("batch_idempotency_keys", "batch_id"),
        }
    }
}

/// What `key` started before, with its request's body hash.
pub fn idempotent(
    conn: &Db<'_>,
    started: Started,
    tenant: &str,
    workflow_id: &str,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let (table, id) = started.table();
    conn
        .query_opt(&format!(
            "SELECT {id}, body_hash FROM {table} WHERE tenant = ?1 AND workflow_id = ?2 AND key = ?3"
        ), params![tenant, workflow_id, key], |row| Ok((row.get(0)?, row.get(1)?)))
}

/// Remembers that `key`, with a body hashing to `body_hash`, started `id`.
#[allow(clippy::too_many_arguments)]
pub fn insert_idempotency_key(
    tx: &Db<'_>,
    started: Started,
    tenant: &str,
    workflow_id: &str,
    key: &str,
    body_hash: &str,
    id: &str,
    at: i64,
) -> Result<(), StoreError> {
    let (table, column) = started.table();
    tx.execute(&format!(
        "INSERT INTO {table} (tenant, workflow_id, key, body_hash, {column}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ), params![tenant, workflow_id, key, body_hash, id, at])?;
    Ok(())
}
