//! Workflows and their versioned definitions.

use super::*;

pub fn insert_workflow(
    tx: &Transaction<'_>,
    workflow: &WorkflowRecord,
    definition: &Value,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO workflows (id, tenant, name, status, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
        params![workflow.id, workflow.tenant, workflow.name, workflow.status.as_str(), workflow.version, workflow.created_at, workflow.updated_at],
    )?;
    insert_workflow_version(
        tx,
        &workflow.id,
        workflow.version,
        definition,
        workflow.created_at,
    )
}

/// Stored definitions (tenant, workflow, version, definition) whose text
/// holds `needle`: for migrations of their content.
pub fn definitions_containing(
    conn: &Connection,
    needle: &str,
) -> Result<Vec<(String, String, i64, Value)>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT w.tenant, v.workflow_id, v.version, v.definition FROM workflow_versions v \
         JOIN workflows w ON w.id = v.workflow_id WHERE instr(v.definition, ?1) > 0",
    )?;
    let rows = statement.query_map(params![needle], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, json_column(row, 3)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rewrites a stored definition in place (a migration; versions are otherwise
/// never changed).
pub fn replace_definition(
    tx: &Transaction<'_>,
    workflow_id: &str,
    version: i64,
    definition: &Value,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE workflow_versions SET definition = ?3 WHERE workflow_id = ?1 AND version = ?2",
        params![workflow_id, version, json_text(definition)],
    )?;
    Ok(())
}

pub fn insert_workflow_version(
    tx: &Transaction<'_>,
    workflow_id: &str,
    version: i64,
    definition: &Value,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)")?.execute(
        params![workflow_id, version, json_text(definition), at],
    )?;
    Ok(())
}

pub fn update_workflow(tx: &Transaction<'_>, workflow: &WorkflowRecord) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE workflows SET name = ?2, status = ?3, version = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        workflow.id,
        workflow.name,
        workflow.status.as_str(),
        workflow.version,
        workflow.updated_at
    ])?;
    Ok(())
}

pub(super) const WORKFLOW_COLUMNS: &str =
    "id, tenant, name, status, version, created_at, updated_at";

pub(super) fn workflow_from_row(row: &Row<'_>) -> rusqlite::Result<(WorkflowRecord, String)> {
    Ok((
        WorkflowRecord {
            id: row.get(0)?,
            tenant: row.get(1)?,
            name: row.get(2)?,
            status: WorkflowStatus::Draft,
            version: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        },
        row.get::<_, String>(3)?,
    ))
}

/// The workflow `id` of `tenant`; another tenant's workflow is not found.
pub fn get_workflow(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> Result<WorkflowRecord, StoreError> {
    let found = conn
        .query_row(
            &format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = ?1 AND tenant = ?2"),
            params![id, tenant],
            workflow_from_row,
        )
        .optional()?;
    let (mut workflow, status) = found.ok_or(StoreError::NotFound)?;
    workflow.status = WorkflowStatus::parse(&status)?;
    Ok(workflow)
}

pub fn list_workflows(conn: &Connection, tenant: &str) -> Result<Vec<WorkflowRecord>, StoreError> {
    let mut statement = conn.prepare(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE tenant = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map(params![tenant], workflow_from_row)?;
    rows.map(|row| {
        let (mut workflow, status) = row?;
        workflow.status = WorkflowStatus::parse(&status)?;
        Ok(workflow)
    })
    .collect()
}

pub fn get_definition(
    conn: &Connection,
    workflow_id: &str,
    version: i64,
) -> Result<Value, StoreError> {
    conn.query_row(
        "SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
        params![workflow_id, version],
        |row| json_column(row, 0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}
