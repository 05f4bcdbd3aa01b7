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
pub fn upsert_plugin(tx: &Db<'_>, plugin: &PluginRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO plugins (tenant, digest, name, version, size_bytes, created_at, deleted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
         ON CONFLICT (tenant, digest) DO UPDATE SET deleted_at = NULL",
        params![
            plugin.tenant,
            plugin.digest,
            plugin.name,
            plugin.version,
            plugin.size_bytes,
            plugin.created_at
        ],
    )?;
    Ok(())
}

pub fn retire_plugin(tx: &Db<'_>, tenant: &str, digest: &str, at: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE plugins SET deleted_at = ?3 WHERE tenant = ?1 AND digest = ?2",
        params![tenant, digest, at],
    )?;
    Ok(())
}

pub fn purge_plugin(tx: &Db<'_>, tenant: &str, digest: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM plugins WHERE tenant = ?1 AND digest = ?2",
        params![tenant, digest],
    )?;
    Ok(())
}

/// Every uploaded plugin, deleted ones included.
pub fn all_plugins(conn: &Db<'_>) -> Result<Vec<PluginRecord>, StoreError> {
    let rows = conn.query(
        "SELECT tenant, digest, name, version, size_bytes, created_at, deleted_at
         FROM plugins ORDER BY created_at",
        params![],
        |row| {
            Ok(PluginRecord {
                tenant: row.get(0)?,
                digest: row.get(1)?,
                name: row.get(2)?,
                version: row.get(3)?,
                size_bytes: row.get(4)?,
                created_at: row.get(5)?,
                deleted_at: row.get(6)?,
            })
        },
    )?;
    Ok(rows)
}

/// How many of `tenant`'s unfinished runs are pinned to the plugin `digest`.
pub fn unfinished_runs_pinned_to(
    conn: &Db<'_>,
    tenant: &str,
    digest: &str,
) -> Result<i64, StoreError> {
    conn.query_one(
        conn.pick(UNFINISHED_RUNS_PINNED_TO, UNFINISHED_RUNS_PINNED_TO_PG),
        params![tenant, digest],
        |row| row.get(0),
    )
}

/// The latest definition of each of `tenant`'s draft and active workflows.
pub fn live_definitions(conn: &Db<'_>, tenant: &str) -> Result<Vec<(String, Value)>, StoreError> {
    let rows = conn.query(
        "SELECT w.name, v.definition FROM workflows w
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
         WHERE w.tenant = ?1 AND w.status != 'archived'",
        params![tenant],
        |row| Ok((row.get(0)?, json_column(row, 1)?)),
    )?;
    Ok(rows)
}
