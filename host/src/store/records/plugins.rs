//! Tenants' uploaded plugins, and what pins them.

use super::*;

/// A tenant's uploaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    pub tenant: String,
    pub digest: String,
    pub name: String,
    pub version: String,
    pub size_bytes: i64,
    pub created_at: i64,
    /// When the tenant deleted it; it stays while runs are pinned to it.
    pub deleted_at: Option<i64>,
}

/// Saves an upload, or brings back one the tenant had deleted.
pub fn upsert_plugin(tx: &Transaction<'_>, plugin: &PluginRecord) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO plugins (tenant, digest, name, version, size_bytes, created_at, deleted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
         ON CONFLICT (tenant, digest) DO UPDATE SET deleted_at = NULL",
    )?
    .execute(params![
        plugin.tenant,
        plugin.digest,
        plugin.name,
        plugin.version,
        plugin.size_bytes,
        plugin.created_at
    ])?;
    Ok(())
}

pub fn retire_plugin(
    tx: &Transaction<'_>,
    tenant: &str,
    digest: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE plugins SET deleted_at = ?3 WHERE tenant = ?1 AND digest = ?2")?
        .execute(params![tenant, digest, at])?;
    Ok(())
}

pub fn purge_plugin(tx: &Transaction<'_>, tenant: &str, digest: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM plugins WHERE tenant = ?1 AND digest = ?2")?
        .execute(params![tenant, digest])?;
    Ok(())
}

/// Every uploaded plugin, deleted ones included.
pub fn all_plugins(conn: &Connection) -> Result<Vec<PluginRecord>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT tenant, digest, name, version, size_bytes, created_at, deleted_at
         FROM plugins ORDER BY created_at",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(PluginRecord {
            tenant: row.get(0)?,
            digest: row.get(1)?,
            name: row.get(2)?,
            version: row.get(3)?,
            size_bytes: row.get(4)?,
            created_at: row.get(5)?,
            deleted_at: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many of `tenant`'s unfinished runs are pinned to the plugin `digest`.
pub fn unfinished_runs_pinned_to(
    conn: &Connection,
    tenant: &str,
    digest: &str,
) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(UNFINISHED_RUNS_PINNED_TO)?
        .query_row(params![tenant, digest], |row| row.get(0))?)
}

/// The latest definition of each of `tenant`'s draft and active workflows.
pub fn live_definitions(
    conn: &Connection,
    tenant: &str,
) -> Result<Vec<(String, Value)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT w.name, v.definition FROM workflows w
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
         WHERE w.tenant = ?1 AND w.status != 'archived'",
    )?;
    let rows = statement.query_map(params![tenant], |row| {
        Ok((row.get(0)?, json_column(row, 1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
