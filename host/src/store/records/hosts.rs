//! The hosts that drive runs, their leases, and the claiming of runs whose
//! host is gone.

use super::*;

/// Registers host `id` (process `pid` on its machine), or renews its lease,
/// until `until`. Returns whether its row was there with the lease still
/// running at `now` (false: it is new, or others may have counted it gone
/// and taken its runs).
pub fn renew_host(
    tx: &Db<'_>,
    id: &str,
    name: &str,
    pid: u32,
    now: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let held = tx.exists(
        "SELECT 1 FROM hosts WHERE id = ?1 AND lease_until > ?2",
        params![id, now],
    )?;
    tx.execute(
        "INSERT INTO hosts (id, name, pid, started_at, lease_until) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        params![id, name, i64::from(pid), now, until],
    )?;
    Ok(held)
}

/// Ends host `id`'s lease at once (it is stopping: its runs are free to take).
pub fn expire_host(tx: &Db<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE hosts SET lease_until = 0 WHERE id = ?1",
        params![id],
    )?;
    Ok(())
}

/// Ends the lease of every host but `id` whose process `running` says is
/// gone (on SQLite, whose processes share one machine).
pub fn expire_ended_hosts(
    tx: &Db<'_>,
    id: &str,
    running: impl Fn(i64) -> bool,
) -> Result<(), StoreError> {
    let others: Vec<(String, i64)> = tx.query(
        "SELECT id, pid FROM hosts WHERE id <> ?1 AND lease_until > 0",
        params![id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    for (other, pid) in others {
        if !running(pid) {
            expire_host(tx, &other)?;
        }
    }
    Ok(())
}

/// Hosts whose lease ran out before `now`.
pub fn gone_hosts(conn: &Db<'_>, now: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT id FROM hosts WHERE lease_until <= ?1 ORDER BY id",
        params![now],
        |row| row.get(0),
    )
}

/// Makes `host` the owner of up to `limit` unfinished, unpaused runs of host
/// `gone` (none: runs no host owns), skipping those another host is taking
/// at the same moment. Returns their ids.
pub fn take_runs(
    tx: &Db<'_>,
    host: &str,
    gone: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = tx.query(
        &take_runs_sql(tx.dialect(), gone.is_some()),
        params![host, gone, limit as i64],
        |row| row.get(0),
    )?;
    for id in &ids {
        tx.touch(id);
    }
    Ok(ids)
}

/// Forgets host `gone` once no unfinished, unpaused run is left to it: its
/// counters' rows are added to the shared ones (on PostgreSQL, where each
/// host counts in rows of its own). Returns whether it was forgotten.
pub fn bury_host(tx: &Db<'_>, gone: &str) -> Result<bool, StoreError> {
    let busy = tx.exists(UNPAUSED_RUNS_OF_HOST, params![gone])?;
    if busy {
        return Ok(false);
    }
    if tx.dialect() == Dialect::Postgres {
        for (table, key) in [("run_counts", "status"), ("tenant_active_runs", "tenant")] {
            tx.execute(
                &format!(
                    "INSERT INTO {table} (host, {key}, count) SELECT '', {key}, count FROM {table} WHERE host = ?1 \
                     ON CONFLICT (host, {key}) DO UPDATE SET count = {table}.count + excluded.count"
                ),
                params![gone],
            )?;
            tx.execute(
                &format!("DELETE FROM {table} WHERE host = ?1"),
                params![gone],
            )?;
        }
    }
    tx.execute("DELETE FROM hosts WHERE id = ?1", params![gone])?;
    Ok(true)
}

/// Unfinished, unpaused runs of `host` changed since `since`.
pub fn runs_changed_since(
    conn: &Db<'_>,
    host: &str,
    since: i64,
) -> Result<Vec<String>, StoreError> {
    conn.query(
        UNPAUSED_RUNS_OF_HOST_CHANGED_SINCE,
        params![host, since],
        |row| row.get(0),
    )
}

/// Who drives run `id` (none: nobody), and how it stands.
pub fn run_owner(conn: &Db<'_>, id: &str) -> Result<(Option<String>, RunStatus), StoreError> {
    conn.query_opt(
        "SELECT owner, status FROM runs WHERE id = ?1",
        params![id],
        |row| Ok((row.get(0)?, status_column(row, 1)?)),
    )?
    .ok_or(StoreError::NotFound)
}

/// Holds tenant `tenant`'s admission lock until the transaction ends, so that
/// hosts starting its runs at once count them one after the other (the
/// quota and a workflow's `forbid` hold across hosts). SQLite's one writer
/// holds every lock already.
pub fn hold_tenant(tx: &Db<'_>, tenant: &str) -> Result<(), StoreError> {
    if tx.dialect() == Dialect::Postgres {
        tx.query_one(
            "SELECT pg_advisory_xact_lock(hashtextextended(?1, 7)) IS NULL",
            params![format!("cairn tenant {tenant}")],
            |row| row.get::<bool>(0),
        )?;
    }
    Ok(())
}
