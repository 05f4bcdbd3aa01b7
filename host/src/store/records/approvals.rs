//! Approval links used (their ids, never the tokens).

use super::*;

/// Marks an approval-link token used; false if it was used before.
pub fn use_approval_token(
    tx: &Db<'_>,
    token_id: &str,
    run_id: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let inserted = tx
        .execute("INSERT INTO used_approval_tokens (token_id, run_id, used_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", params![token_id, run_id, at])?;
    Ok(inserted == 1)
}

pub fn approval_token_used(conn: &Db<'_>, token_id: &str) -> Result<bool, StoreError> {
    conn.exists(
        "SELECT 1 FROM used_approval_tokens WHERE token_id = ?1",
        params![token_id],
    )
}
