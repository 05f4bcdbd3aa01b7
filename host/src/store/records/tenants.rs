//! Tenants and their named API keys (hashes only).

use super::*;

pub fn insert_tenant(tx: &Db<'_>, name: &str, at: i64) -> Result<(), StoreError> {
    let inserted = tx.execute(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![name, at],
    )?;
    if inserted == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "tenant '{name}' exists already"
        )))
    }
}

/// An API key's holder, as a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub tenant: String,
    /// The key's name: its holder's identity.
    pub name: String,
    pub admin: bool,
}

/// A key as listed: never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub name: String,
    pub admin: bool,
    pub created_at: i64,
}

/// Stores a key's hash; a conflict when the tenant has a key of that name.
pub fn insert_api_key(
    tx: &Db<'_>,
    key_hash: &str,
    holder: &KeyHolder,
    at: i64,
) -> Result<(), StoreError> {
    let taken: bool = tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant = ?1 AND name = ?2)",
        params![holder.tenant, holder.name],
        |row| row.get(0),
    )?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "tenant '{}' has a key named '{}' already",
            holder.tenant, holder.name
        )));
    }
    tx.execute("INSERT INTO api_keys (key_hash, tenant, name, admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", params![
        key_hash,
        holder.tenant,
        holder.name,
        holder.admin,
        at
    ])?;
    Ok(())
}

pub fn key_holder(conn: &Db<'_>, key_hash: &str) -> Result<Option<KeyHolder>, StoreError> {
    conn.query_opt(
        "SELECT tenant, name, admin FROM api_keys WHERE key_hash = ?1",
        params![key_hash],
        |row| {
            Ok(KeyHolder {
                tenant: row.get(0)?,
                name: row.get(1)?,
                admin: row.get(2)?,
            })
        },
    )
}

pub fn list_api_keys(conn: &Db<'_>, tenant: &str) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = conn.query(
        "SELECT name, admin, created_at FROM api_keys WHERE tenant = ?1 ORDER BY name",
        params![tenant],
        |row| {
            Ok(KeyRecord {
                name: row.get(0)?,
                admin: row.get(1)?,
                created_at: row.get(2)?,
            })
        },
    )?;
    Ok(rows)
}

/// Deletes a tenant's key by name; returns its hash, if there was one.
pub fn delete_api_key(tx: &Db<'_>, tenant: &str, name: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "DELETE FROM api_keys WHERE tenant = ?1 AND name = ?2 RETURNING key_hash",
        params![tenant, name],
        |row| row.get(0),
    )
}

pub fn tenant_exists(conn: &Db<'_>, tenant: &str) -> Result<bool, StoreError> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1)",
        params![tenant],
        |row| row.get(0),
    )
}

pub fn count_tenants(conn: &Db<'_>) -> Result<i64, StoreError> {
    conn.query_one("SELECT COUNT(*) FROM tenants", params![], |row| row.get(0))
}

/// A dashboard session as a request reads it: who holds the key it was
/// exchanged for, and its form token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub holder: KeyHolder,
    pub csrf: String,
}

/// Stores a session (and drops the sessions that expired before `at`); a
/// conflict when no key is hashed as `key_hash`.
pub fn insert_session(
    tx: &Db<'_>,
    token_hash: &str,
    key_hash: &str,
    csrf: &str,
    at: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM ui_sessions WHERE expires_at < ?1", params![at])?;
    let inserted = tx.execute(
        "INSERT INTO ui_sessions (token_hash, key_hash, csrf, created_at, expires_at) \
         SELECT ?1, key_hash, ?3, ?4, ?5 FROM api_keys WHERE key_hash = ?2",
        params![token_hash, key_hash, csrf, at, expires_at],
    )?;
    if inserted == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("unknown API key".into()))
    }
}

/// The session whose token hashes to `token_hash`, while it has not expired
/// at `now` and its key still exists.
pub fn session(
    conn: &Db<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    conn.query_opt(
        "SELECT k.tenant, k.name, k.admin, s.csrf FROM ui_sessions s \
         JOIN api_keys k ON k.key_hash = s.key_hash \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        params![token_hash, now],
        |row| {
            Ok(SessionRecord {
                holder: KeyHolder {
                    tenant: row.get(0)?,
                    name: row.get(1)?,
                    admin: row.get(2)?,
                },
                csrf: row.get(3)?,
            })
        },
    )
}

/// Ends a session, or every session of a key (`by_key`).
pub fn delete_sessions(tx: &Db<'_>, hash: &str, by_key: bool) -> Result<(), StoreError> {
    let sql = if by_key {
        "DELETE FROM ui_sessions WHERE key_hash = ?1"
    } else {
        "DELETE FROM ui_sessions WHERE token_hash = ?1"
    };
    tx.execute(sql, params![hash])?;
    Ok(())
}
