//! Tenants' sealed secrets (never in clear here).

use super::*;

/// A tenant's secret, sealed.
pub struct SecretRecord {
    pub name: String,
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Stores a secret; true when it is new.
pub fn put_secret(
    tx: &Db<'_>,
    tenant: &str,
    name: &str,
    sealed: &[u8],
    at: i64,
) -> Result<bool, StoreError> {
    let existed: bool = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM secrets WHERE tenant = ?1 AND name = ?2)",
        params![tenant, name],
        |row| row.get(0),
    )?;
    tx.execute("INSERT INTO secrets (tenant, name, sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (tenant, name) DO UPDATE SET sealed = ?3, updated_at = ?4", params![tenant, name, sealed, at])?;
    Ok(!existed)
}

/// Deletes a secret; false when there was none.
pub fn delete_secret(tx: &Db<'_>, tenant: &str, name: &str) -> Result<bool, StoreError> {
    let deleted = tx.execute(
        "DELETE FROM secrets WHERE tenant = ?1 AND name = ?2",
        params![tenant, name],
    )?;
    Ok(deleted == 1)
}

/// How many secrets a tenant keeps.
pub fn count_secrets(conn: &Db<'_>, tenant: &str) -> Result<usize, StoreError> {
    let count: i64 = conn.query_one(
        "SELECT COUNT(*) FROM secrets WHERE tenant = ?1",
        params![tenant],
        |row| row.get(0),
    )?;
    Ok(count as usize)
}

/// A tenant's secrets by name.
pub fn list_secrets(conn: &Db<'_>, tenant: &str) -> Result<Vec<SecretRecord>, StoreError> {
    let rows = conn.query(
        "SELECT name, sealed, created_at, updated_at FROM secrets WHERE tenant = ?1 ORDER BY name",
        params![tenant],
        |row| {
            Ok(SecretRecord {
                name: row.get(0)?,
                sealed: row.get(1)?,
                created_at: row.get(2)?,
                updated_at: row.get(3)?,
            })
        },
    )?;
    Ok(rows)
}
