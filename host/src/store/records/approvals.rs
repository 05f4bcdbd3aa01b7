//! Approval links used (their ids, never the tokens).

use super::*;

/// Marks an approval-link token used; false if it was used before.
pub fn use_approval_token(
    tx: &Transaction<'_>,
    token_id: &str,
    run_id: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO used_approval_tokens (token_id, run_id, used_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![token_id, run_id, at])?;
    Ok(inserted == 1)
}

pub fn approval_token_used(conn: &Connection, token_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM used_approval_tokens WHERE token_id = ?1")?
        .query_row(params![token_id], |_| Ok(()))
        .optional()?
        .is_some())
}
