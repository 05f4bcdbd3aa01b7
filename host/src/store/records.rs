//! Typed rows and the SQL that reads and writes them.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::Value;

use super::StoreError;
use crate::model::{Decision, EventKind, PendingAction, RunStatus, StepStatus};

// Queries on hot paths (starting, resuming and driving runs, long polls, the
// approval queue, /metrics), named so that a test can read their plans: none
// may scan finished history.
const ACTIVE_RUNS_OF_TENANT: &str =
    "SELECT COALESCE((SELECT count FROM tenant_active_runs WHERE tenant = ?1), 0)";
const ACTIVE_RUNS_OF_WORKFLOW: &str = "SELECT COUNT(*) FROM runs WHERE workflow_id = ?1 AND status IN ('pending', 'running', 'paused')";
const RUN_COUNTS: &str = "SELECT status, count FROM run_counts WHERE count > 0 ORDER BY status";
const EXPIRED_PAUSES: &str = "SELECT id FROM runs WHERE status = 'paused' AND pause_deadline IS NOT NULL AND pause_deadline <= ?1 ORDER BY pause_deadline";
const NEXT_PAUSE_DEADLINE: &str =
    "SELECT MIN(pause_deadline) FROM runs WHERE status = 'paused' AND pause_deadline IS NOT NULL";
const UNFINISHED_RUNS_PINNED_TO: &str = "SELECT COUNT(*) FROM runs WHERE tenant = ?1 AND status IN ('pending', 'running', 'paused') \
     AND EXISTS (SELECT 1 FROM json_each(runs.plugins) WHERE value = ?2)";
const FINISHED_RUNS_BEFORE: &str = "SELECT id FROM runs INDEXED BY runs_finished WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at < ?1 \
     ORDER BY updated_at LIMIT ?2";

fn paused_runs_sql() -> String {
    format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ?1 AND status = 'paused' \
         AND (?2 IS NULL OR workflow_id = ?2) \
         AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(pending_action, '$.reviewers') WHERE value = ?4)) \
         ORDER BY updated_at, id LIMIT ?3"
    )
}

/// A workflow's lifecycle status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    Draft,
    Active,
    Archived,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Draft => "draft",
            WorkflowStatus::Active => "active",
            WorkflowStatus::Archived => "archived",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "draft" => Ok(WorkflowStatus::Draft),
            "active" => Ok(WorkflowStatus::Active),
            "archived" => Ok(WorkflowStatus::Archived),
            other => Err(StoreError::Corrupt(format!("workflow status '{other}'"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub status: WorkflowStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub tenant: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub status: RunStatus,
    pub input: Value,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub pending_action: Option<PendingAction>,
    pub paused_step: Option<i64>,
    pub pause_deadline: Option<i64>,
    pub wake_at: Option<i64>,
    pub current_action: Option<String>,
    pub steps_total: i64,
    pub steps_done: i64,
    pub plugins: Value,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// What started the run: `{"kind": "api" | "batch" | "schedule", ...}`.
    pub trigger: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub run_id: String,
    pub index: i64,
    pub name: String,
    pub status: StepStatus,
    pub attempts: i64,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub checkpoint: Option<Value>,
    pub decision: Option<Value>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A gate's decisions so far.
    pub decisions: Vec<Decision>,
    /// What the step's attempts logged: `[{attempt, level, source, message}]`,
    /// the latest lines kept.
    pub logs: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventRecord {
    pub seq: i64,
    pub at: i64,
    pub kind: EventKind,
    pub data: Value,
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn opt_json_text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(json_text)
}

fn json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A JSON column read as a typed value (`None` for NULL).
fn opt_typed_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    opt_json_column(row, index)?
        .map(|value| {
            serde_json::from_value(value).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
}

/// A typed value as a JSON column's text.
fn opt_typed_text<T: serde::Serialize>(value: Option<&T>) -> Option<String> {
    value.and_then(|v| serde_json::to_string(v).ok())
}

fn opt_json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
    })
    .transpose()
}

fn status_column<T: std::str::FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

// ---- workflows ----

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

const WORKFLOW_COLUMNS: &str = "id, tenant, name, status, version, created_at, updated_at";

fn workflow_from_row(row: &Row<'_>) -> rusqlite::Result<(WorkflowRecord, String)> {
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

// ---- runs ----

const RUN_COLUMNS: &str = "id, tenant, workflow_id, workflow_version, status, input, result, error, pending_action, \
     paused_step, pause_deadline, wake_at, current_action, steps_total, steps_done, plugins, last_seq, created_at, updated_at, trigger";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        workflow_id: row.get(2)?,
        workflow_version: row.get(3)?,
        status: status_column(row, 4)?,
        input: json_column(row, 5)?,
        result: opt_json_column(row, 6)?,
        error: opt_json_column(row, 7)?,
        pending_action: opt_typed_column(row, 8)?,
        paused_step: row.get(9)?,
        pause_deadline: row.get(10)?,
        wake_at: row.get(11)?,
        current_action: row.get(12)?,
        steps_total: row.get(13)?,
        steps_done: row.get(14)?,
        plugins: json_column(row, 15)?,
        last_seq: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        trigger: opt_json_column(row, 19)?,
    })
}

pub fn insert_run(
    tx: &Transaction<'_>,
    run: &RunRecord,
    steps: &[StepRecord],
) -> Result<(), StoreError> {
    tx.prepare_cached(
        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"))?.execute(
        params![
            run.id,
            run.tenant,
            run.workflow_id,
            run.workflow_version,
            run.status.as_str(),
            json_text(&run.input),
            opt_json_text(&run.result),
            opt_json_text(&run.error),
            opt_typed_text(run.pending_action.as_ref()),
            run.paused_step,
            run.pause_deadline,
            run.wake_at,
            run.current_action,
            run.steps_total,
            run.steps_done,
            json_text(&run.plugins),
            run.last_seq,
            run.created_at,
            run.updated_at,
            opt_json_text(&run.trigger),
        ],
    )?;
    for step in steps {
        save_step(tx, step)?;
    }
    Ok(())
}

/// Saves the mutable columns of `run`, only if its last event is still
/// `expected_seq`: a run changed by someone else in between is a conflict.
pub fn save_run(
    tx: &Transaction<'_>,
    run: &RunRecord,
    expected_seq: i64,
) -> Result<(), StoreError> {
    let changed = tx.prepare_cached(
        "UPDATE runs SET status = ?2, result = ?3, error = ?4, pending_action = ?5, paused_step = ?6, pause_deadline = ?7, \
         wake_at = ?8, current_action = ?9, steps_done = ?10, last_seq = ?11, updated_at = ?12 \
         WHERE id = ?1 AND last_seq = ?13")?.execute(
        params![
            run.id,
            run.status.as_str(),
            opt_json_text(&run.result),
            opt_json_text(&run.error),
            opt_typed_text(run.pending_action.as_ref()),
            run.paused_step,
            run.pause_deadline,
            run.wake_at,
            run.current_action,
            run.steps_done,
            run.last_seq,
            run.updated_at,
            expected_seq,
        ],
    )?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "run {} changed concurrently",
            run.id
        )))
    }
}

pub fn save_step(tx: &Transaction<'_>, step: &StepRecord) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO steps (run_id, step_index, name, status, attempts, input, output, error, checkpoint, decision, started_at, finished_at, decisions, logs) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (run_id, step_index) DO UPDATE SET status = ?4, attempts = ?5, input = ?6, output = ?7, error = ?8, \
         checkpoint = ?9, decision = ?10, started_at = ?11, finished_at = ?12, decisions = ?13, logs = ?14")?.execute(
        params![
            step.run_id,
            step.index,
            step.name,
            step.status.as_str(),
            step.attempts,
            opt_json_text(&step.input),
            opt_json_text(&step.output),
            opt_json_text(&step.error),
            opt_json_text(&step.checkpoint),
            opt_json_text(&step.decision),
            step.started_at,
            step.finished_at,
            opt_typed_text(Some(&step.decisions).filter(|d| !d.is_empty())),
            opt_json_text(&step.logs),
        ],
    )?;
    Ok(())
}

pub fn append_event(
    tx: &Transaction<'_>,
    run_id: &str,
    event: &EventRecord,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO run_events (run_id, seq, at, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        run_id,
        event.seq,
        event.at,
        event.kind.as_str(),
        json_text(&event.data)
    ])?;
    Ok(())
}

/// The run `id`; with `tenant`, only if it belongs to that tenant.
pub fn get_run(conn: &Connection, tenant: Option<&str>, id: &str) -> Result<RunRecord, StoreError> {
    let run = conn
        .query_row(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            params![id],
            run_from_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    match tenant {
        Some(tenant) if tenant != run.tenant => Err(StoreError::NotFound),
        _ => Ok(run),
    }
}

pub fn get_steps(conn: &Connection, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT run_id, step_index, name, status, attempts, input, output, error, checkpoint, decision, started_at, finished_at, decisions, logs \
         FROM steps WHERE run_id = ?1 ORDER BY step_index",
    )?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok(StepRecord {
            run_id: row.get(0)?,
            index: row.get(1)?,
            name: row.get(2)?,
            status: status_column(row, 3)?,
            attempts: row.get(4)?,
            input: opt_json_column(row, 5)?,
            output: opt_json_column(row, 6)?,
            error: opt_json_column(row, 7)?,
            checkpoint: opt_json_column(row, 8)?,
            decision: opt_json_column(row, 9)?,
            started_at: row.get(10)?,
            finished_at: row.get(11)?,
            decisions: opt_typed_column(row, 12)?.unwrap_or_default(),
            logs: opt_json_column(row, 13)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_events(
    conn: &Connection,
    run_id: &str,
    after: i64,
) -> Result<Vec<EventRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, at, kind, data FROM run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = statement.query_map(params![run_id, after], |row| {
        Ok(EventRecord {
            seq: row.get(0)?,
            at: row.get(1)?,
            kind: status_column(row, 2)?,
            data: json_column(row, 3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids of runs in any of `statuses`, oldest first.
pub fn run_ids_in(conn: &Connection, statuses: &[RunStatus]) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    let mut statement = conn.prepare_cached("SELECT id FROM runs WHERE status = ?1 ORDER BY id")?;
    for status in statuses {
        let rows = statement.query_map(params![status.as_str()], |row| row.get::<_, String>(0))?;
        for id in rows {
            ids.push(id?);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Paused runs whose deadline is at or before `now`.
pub fn expired_pauses(conn: &Connection, now: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(EXPIRED_PAUSES)?;
    let rows = statement.query_map(params![now], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The earliest deadline of any paused run.
pub fn next_pause_deadline(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row(NEXT_PAUSE_DEADLINE, [], |row| row.get(0))?)
}

/// Runs of a workflow that are not finished.
pub fn active_runs_of(tx: &Connection, workflow_id: &str) -> Result<i64, StoreError> {
    Ok(
        tx.query_row(ACTIVE_RUNS_OF_WORKFLOW, params![workflow_id], |row| {
            row.get(0)
        })?,
    )
}

/// How many runs are in each status (kept by triggers: no scan of the runs).
pub fn count_runs_by_status(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = conn.prepare_cached(RUN_COUNTS)?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` runs that finished before `before`, oldest first.
pub fn finished_runs_before(
    conn: &Connection,
    before: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(FINISHED_RUNS_BEFORE)?;
    let rows = statement.query_map(params![before, limit as i64], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes finished run `id` with everything that belongs to it: steps,
/// events, outbox rows, idempotency keys, used approval tokens and its place
/// in a batch (a batch left without runs goes too). A schedule's record of the
/// slot that started it keeps the id. False when the run is not there or not
/// finished.
pub fn delete_finished_run(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    let finished: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM runs WHERE id = ?1 AND status IN ('completed', 'failed', 'cancelled')",
        )?
        .query_row(params![id], |row| row.get(0))
        .optional()?;
    if finished.is_none() {
        return Ok(false);
    }
    let batches: Vec<String> = tx
        .prepare_cached("SELECT batch_id FROM batch_runs WHERE run_id = ?1")?
        .query_map(params![id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for sql in [
        "DELETE FROM steps WHERE run_id = ?1",
        "DELETE FROM run_events WHERE run_id = ?1",
        "DELETE FROM outbox WHERE run_id = ?1",
        "DELETE FROM idempotency_keys WHERE run_id = ?1",
        "DELETE FROM used_approval_tokens WHERE run_id = ?1",
        "DELETE FROM batch_runs WHERE run_id = ?1",
        "DELETE FROM runs WHERE id = ?1",
    ] {
        tx.prepare_cached(sql)?.execute(params![id])?;
    }
    for batch in batches {
        let emptied = "NOT EXISTS (SELECT 1 FROM batch_runs WHERE batch_id = ?1)";
        tx.prepare_cached(&format!(
            "DELETE FROM batch_idempotency_keys WHERE batch_id = ?1 AND {emptied}"
        ))?
        .execute(params![batch])?;
        tx.prepare_cached(&format!("DELETE FROM batches WHERE id = ?1 AND {emptied}"))?
            .execute(params![batch])?;
    }
    Ok(true)
}

// ---- tenants and keys ----

pub fn insert_tenant(tx: &Transaction<'_>, name: &str, at: i64) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO tenants (name, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![name, at])?;
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
    tx: &Transaction<'_>,
    key_hash: &str,
    holder: &KeyHolder,
    at: i64,
) -> Result<(), StoreError> {
    let taken: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant = ?1 AND name = ?2)")?
        .query_row(params![holder.tenant, holder.name], |row| row.get(0))?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "tenant '{}' has a key named '{}' already",
            holder.tenant, holder.name
        )));
    }
    tx.prepare_cached(
        "INSERT INTO api_keys (key_hash, tenant, name, admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        key_hash,
        holder.tenant,
        holder.name,
        holder.admin,
        at
    ])?;
    Ok(())
}

pub fn key_holder(conn: &Connection, key_hash: &str) -> Result<Option<KeyHolder>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT tenant, name, admin FROM api_keys WHERE key_hash = ?1")?
        .query_row(params![key_hash], |row| {
            Ok(KeyHolder {
                tenant: row.get(0)?,
                name: row.get(1)?,
                admin: row.get(2)?,
            })
        })
        .optional()?)
}

pub fn list_api_keys(conn: &Connection, tenant: &str) -> Result<Vec<KeyRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, admin, created_at FROM api_keys WHERE tenant = ?1 ORDER BY name",
    )?;
    let rows = statement.query_map(params![tenant], |row| {
        Ok(KeyRecord {
            name: row.get(0)?,
            admin: row.get(1)?,
            created_at: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a tenant's key by name; returns its hash, if there was one.
pub fn delete_api_key(
    tx: &Transaction<'_>,
    tenant: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached("DELETE FROM api_keys WHERE tenant = ?1 AND name = ?2 RETURNING key_hash")?
        .query_row(params![tenant, name], |row| row.get(0))
        .optional()?)
}

pub fn tenant_exists(conn: &Connection, tenant: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1)")?
        .query_row(params![tenant], |row| row.get(0))?)
}

pub fn count_tenants(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM tenants", [], |row| row.get(0))?)
}

// ---- idempotency ----

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
    conn: &Connection,
    started: Started,
    tenant: &str,
    workflow_id: &str,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let (table, id) = started.table();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {id}, body_hash FROM {table} WHERE tenant = ?1 AND workflow_id = ?2 AND key = ?3"
        ))?
        .query_row(params![tenant, workflow_id, key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Remembers that `key`, with a body hashing to `body_hash`, started `id`.
#[allow(clippy::too_many_arguments)]
pub fn insert_idempotency_key(
    tx: &Transaction<'_>,
    started: Started,
    tenant: &str,
    workflow_id: &str,
    key: &str,
    body_hash: &str,
    id: &str,
    at: i64,
) -> Result<(), StoreError> {
    let (table, column) = started.table();
    tx.prepare_cached(&format!(
        "INSERT INTO {table} (tenant, workflow_id, key, body_hash, {column}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![tenant, workflow_id, key, body_hash, id, at])?;
    Ok(())
}

// ---- listing runs ----

/// A tenant's runs, newest first, optionally of one workflow and status, after
/// the run `before` (exclusive) when paging.
pub fn list_runs(
    conn: &Connection,
    tenant: &str,
    workflow_id: Option<&str>,
    status: Option<RunStatus>,
    before: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ?1 AND (?2 IS NULL OR workflow_id = ?2) \
         AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
    ))?;
    let rows = statement.query_map(
        params![
            tenant,
            workflow_id,
            status.map(RunStatus::as_str),
            before,
            limit as i64
        ],
        run_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A tenant's paused runs, the longest waiting first.
pub fn paused_runs(
    conn: &Connection,
    tenant: &str,
    workflow_id: Option<&str>,
    reviewer: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&paused_runs_sql())?;
    let rows = statement.query_map(
        params![tenant, workflow_id, limit as i64, reviewer],
        run_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs of a tenant that are not finished (kept by triggers: no count of rows).
pub fn active_runs_of_tenant(conn: &Connection, tenant: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(ACTIVE_RUNS_OF_TENANT)?
        .query_row(params![tenant], |row| row.get(0))?)
}

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

// ---- schedules ----

/// A scheduled workflow's state: the next slot not yet handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub workflow_id: String,
    pub tenant: String,
    pub next_fire: Option<i64>,
    pub paused: bool,
}

pub fn upsert_schedule(
    tx: &Transaction<'_>,
    schedule: &ScheduleRecord,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO schedules (workflow_id, tenant, next_fire, paused, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workflow_id) DO UPDATE SET next_fire = ?3, paused = ?4, updated_at = ?5",
    )?
    .execute(params![schedule.workflow_id, schedule.tenant, schedule.next_fire, schedule.paused, at])?;
    Ok(())
}

pub fn delete_schedule(tx: &Transaction<'_>, workflow_id: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM schedules WHERE workflow_id = ?1")?
        .execute(params![workflow_id])?;
    Ok(())
}

pub fn get_schedule(
    conn: &Connection,
    workflow_id: &str,
) -> Result<Option<ScheduleRecord>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT workflow_id, tenant, next_fire, paused FROM schedules WHERE workflow_id = ?1",
        )?
        .query_row(params![workflow_id], |row| {
            Ok(ScheduleRecord {
                workflow_id: row.get(0)?,
                tenant: row.get(1)?,
                next_fire: row.get(2)?,
                paused: row.get(3)?,
            })
        })
        .optional()?)
}

/// Active, unpaused workflows whose next slot is due at `now`.
pub fn due_schedules(conn: &Connection, now: i64) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT s.workflow_id FROM schedules s JOIN workflows w ON w.id = s.workflow_id
         WHERE s.paused = 0 AND s.next_fire <= ?1 AND w.status = 'active' ORDER BY s.next_fire",
    )?;
    let rows = statement.query_map(params![now], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The earliest next slot of an active, unpaused schedule.
pub fn next_schedule_slot(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(s.next_fire) FROM schedules s JOIN workflows w ON w.id = s.workflow_id
             WHERE s.paused = 0 AND w.status = 'active'",
        )?
        .query_row([], |row| row.get(0))?)
}

/// What one slot did.
#[derive(Debug, Clone, PartialEq)]
pub struct FireRecord {
    pub workflow_id: String,
    pub slot: i64,
    /// `started`, `skipped`, `queued` or `missed`.
    pub outcome: String,
    pub run_id: Option<String>,
    pub detail: Option<Value>,
    pub at: i64,
}

/// Records a slot; false if it was recorded before (a slot never fires twice).
pub fn insert_fire(tx: &Transaction<'_>, fire: &FireRecord) -> Result<bool, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO schedule_fires (workflow_id, slot, outcome, run_id, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![fire.workflow_id, fire.slot, fire.outcome, fire.run_id, opt_json_text(&fire.detail), fire.at])?;
    Ok(inserted == 1)
}

/// A queued slot whose run has now started.
pub fn set_fire_started(
    tx: &Transaction<'_>,
    workflow_id: &str,
    slot: i64,
    run_id: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE schedule_fires SET outcome = 'started', run_id = ?3 WHERE workflow_id = ?1 AND slot = ?2",
    )?
    .execute(params![workflow_id, slot, run_id])?;
    Ok(())
}

fn fire_from_row(row: &Row<'_>) -> rusqlite::Result<FireRecord> {
    Ok(FireRecord {
        workflow_id: row.get(0)?,
        slot: row.get(1)?,
        outcome: row.get(2)?,
        run_id: row.get(3)?,
        detail: opt_json_column(row, 4)?,
        at: row.get(5)?,
    })
}

/// The workflow's latest handled slots, newest first.
pub fn recent_fires(
    conn: &Connection,
    workflow_id: &str,
    limit: usize,
) -> Result<Vec<FireRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT workflow_id, slot, outcome, run_id, detail, at FROM schedule_fires
         WHERE workflow_id = ?1 ORDER BY slot DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![workflow_id, limit as i64], fire_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queued slots, oldest first (of every workflow, or of one).
pub fn queued_fires(
    conn: &Connection,
    workflow_id: Option<&str>,
) -> Result<Vec<FireRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT workflow_id, slot, outcome, run_id, detail, at FROM schedule_fires
         WHERE outcome = 'queued' AND (?1 IS NULL OR workflow_id = ?1) ORDER BY slot",
    )?;
    let rows = statement.query_map(params![workflow_id], fire_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

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

// ---- notification outbox ----

/// A notification waiting to be delivered (or delivered).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub id: String,
    pub tenant: String,
    pub run_id: String,
    /// `webhook` or `email`.
    pub channel: String,
    pub target: Value,
    pub payload: Value,
    pub attempts: i64,
    pub next_attempt: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const OUTBOX_COLUMNS: &str = "id, tenant, run_id, channel, target, payload, attempts, next_attempt, delivered_at, last_error, created_at";

fn outbox_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxRecord> {
    Ok(OutboxRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        run_id: row.get(2)?,
        channel: row.get(3)?,
        target: json_column(row, 4)?,
        payload: json_column(row, 5)?,
        attempts: row.get(6)?,
        next_attempt: row.get(7)?,
        delivered_at: row.get(8)?,
        last_error: row.get(9)?,
        created_at: row.get(10)?,
    })
}

pub fn insert_outbox(tx: &Transaction<'_>, record: &OutboxRecord) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        record.id,
        record.tenant,
        record.run_id,
        record.channel,
        json_text(&record.target),
        json_text(&record.payload),
        record.attempts,
        record.next_attempt,
        record.delivered_at,
        record.last_error,
        record.created_at
    ])?;
    Ok(())
}

/// Commits one transition of a run: the run row (refused with a conflict
/// if its last event is no longer `expected_seq`: someone moved it), the steps
/// that changed, the new events and the outbox rows they call for.
pub fn commit(
    tx: &Transaction<'_>,
    run: &RunRecord,
    expected_seq: i64,
    steps: &[&StepRecord],
    events: &[EventRecord],
    outbox: &[OutboxRecord],
) -> Result<(), StoreError> {
    save_run(tx, run, expected_seq)?;
    for step in steps {
        save_step(tx, step)?;
    }
    for event in events {
        append_event(tx, &run.id, event)?;
    }
    for row in outbox {
        insert_outbox(tx, row)?;
    }
    Ok(())
}

/// Outbox rows (id, tenant, target) whose target holds `needle`.
pub fn outbox_targets_containing(
    conn: &Connection,
    needle: &str,
) -> Result<Vec<(String, String, Value)>, StoreError> {
    let mut statement =
        conn.prepare("SELECT id, tenant, target FROM outbox WHERE instr(target, ?1) > 0")?;
    let rows = statement.query_map(params![needle], |row| {
        Ok((row.get(0)?, row.get(1)?, json_column(row, 2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_outbox_target(tx: &Transaction<'_>, id: &str, target: &Value) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE outbox SET target = ?2 WHERE id = ?1",
        params![id, json_text(target)],
    )?;
    Ok(())
}

/// Notifications due for a delivery attempt at `now`, oldest first.
pub fn due_outbox(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<OutboxRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE next_attempt <= ?1 ORDER BY next_attempt LIMIT ?2"
    ))?;
    let rows = statement.query_map(params![now, limit as i64], outbox_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The earliest pending delivery attempt.
pub fn next_outbox_attempt(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT MIN(next_attempt) FROM outbox WHERE next_attempt IS NOT NULL")?
        .query_row([], |row| row.get(0))?)
}

/// Records an attempt: delivered, to retry at `next_attempt`, or given up.
pub fn outbox_attempted(
    tx: &Transaction<'_>,
    id: &str,
    attempts: i64,
    next_attempt: Option<i64>,
    delivered_at: Option<i64>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE outbox SET attempts = ?2, next_attempt = ?3, delivered_at = ?4, last_error = ?5 WHERE id = ?1",
    )?
    .execute(params![id, attempts, next_attempt, delivered_at, error])?;
    Ok(())
}

/// A run's notifications, oldest first.
pub fn run_outbox(conn: &Connection, run_id: &str) -> Result<Vec<OutboxRecord>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE run_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = statement.query_map(params![run_id], outbox_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A tenant's secret, sealed.
pub struct SecretRecord {
    pub name: String,
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Stores a secret; true when it is new.
pub fn put_secret(
    tx: &Transaction<'_>,
    tenant: &str,
    name: &str,
    sealed: &[u8],
    at: i64,
) -> Result<bool, StoreError> {
    let existed: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM secrets WHERE tenant = ?1 AND name = ?2)")?
        .query_row(params![tenant, name], |row| row.get(0))?;
    tx.prepare_cached(
        "INSERT INTO secrets (tenant, name, sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (tenant, name) DO UPDATE SET sealed = ?3, updated_at = ?4",
    )?
    .execute(params![tenant, name, sealed, at])?;
    Ok(!existed)
}

/// Deletes a secret; false when there was none.
pub fn delete_secret(tx: &Transaction<'_>, tenant: &str, name: &str) -> Result<bool, StoreError> {
    let deleted = tx
        .prepare_cached("DELETE FROM secrets WHERE tenant = ?1 AND name = ?2")?
        .execute(params![tenant, name])?;
    Ok(deleted == 1)
}

/// How many secrets a tenant keeps.
pub fn count_secrets(conn: &Connection, tenant: &str) -> Result<usize, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM secrets WHERE tenant = ?1")?
        .query_row(params![tenant], |row| row.get(0))?;
    Ok(count as usize)
}

/// A tenant's secrets by name.
pub fn list_secrets(conn: &Connection, tenant: &str) -> Result<Vec<SecretRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, sealed, created_at, updated_at FROM secrets WHERE tenant = ?1 ORDER BY name",
    )?;
    let rows = statement.query_map(params![tenant], |row| {
        Ok(SecretRecord {
            name: row.get(0)?,
            sealed: row.get(1)?,
            created_at: row.get(2)?,
            updated_at: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EXPLAIN QUERY PLAN` of `sql`, one line per step.
    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut statement = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let nulls = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
        statement
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(3)
            })
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("plan rows")
    }

    fn run(id: &str, tenant: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            workflow_id: "w".to_owned(),
            workflow_version: 1,
            status,
            input: Value::Null,
            result: None,
            error: None,
            pending_action: None,
            paused_step: None,
            pause_deadline: None,
            wake_at: None,
            current_action: None,
            steps_total: 0,
            steps_done: 0,
            plugins: Value::Array(Vec::new()),
            last_seq: 0,
            created_at: 0,
            updated_at: 0,
            trigger: None,
        }
    }

    #[test]
    fn counts_kept_by_triggers_match_the_rows() {
        use RunStatus::*;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("db")).expect("open");
        crate::store::migrate(&mut conn).expect("migrate");
        let tx = conn.transaction().expect("tx");
        let workflow = WorkflowRecord {
            id: "w".to_owned(),
            tenant: "a".to_owned(),
            name: "w".to_owned(),
            status: crate::store::WorkflowStatus::Active,
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        insert_workflow(&tx, &workflow, &Value::Null).expect("workflow");
        let check = |tx: &Transaction<'_>| {
            let counted: Vec<(String, i64)> = tx
                .prepare("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")
                .expect("prepare")
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert_eq!(count_runs_by_status(tx).expect("counts"), counted);
            for tenant in ["a", "b", "c"] {
                let counted: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM runs WHERE tenant = ?1 AND status IN ('pending', 'running', 'paused')",
                        params![tenant],
                        |row| row.get(0),
                    )
                    .expect("count");
                assert_eq!(
                    active_runs_of_tenant(tx, tenant).expect("active"),
                    counted,
                    "{tenant}"
                );
            }
        };
        let runs = [
            ("1", "a", Pending),
            ("2", "a", Paused),
            ("3", "b", Completed),
            ("4", "b", Running),
        ];
        for (id, tenant, status) in runs {
            insert_run(&tx, &run(id, tenant, status), &[]).expect("insert");
        }
        check(&tx);
        let moves = [
            ("1", "a", Running),
            ("1", "a", Paused),
            ("2", "a", Failed),
            ("4", "b", Completed),
            ("1", "a", Cancelled),
        ];
        for (seq, (id, tenant, status)) in moves.into_iter().enumerate() {
            let mut moved = run(id, tenant, status);
            moved.last_seq = seq as i64 + 1;
            let expected = tx
                .query_row(
                    "SELECT last_seq FROM runs WHERE id = ?1",
                    params![id],
                    |row| row.get(0),
                )
                .expect("seq");
            save_run(&tx, &moved, expected).expect("save");
            check(&tx);
        }
        assert!(delete_finished_run(&tx, "3").expect("delete"));
        assert!(!delete_finished_run(&tx, "nope").expect("delete"));
        check(&tx);
    }

    #[test]
    fn hot_queries_never_scan_finished_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            crate::store::Store::open(&dir.path().join("db"), Default::default()).expect("open");
        let hot = [
            (ACTIVE_RUNS_OF_TENANT, "tenant_active_runs"),
            (ACTIVE_RUNS_OF_WORKFLOW, "runs_by_workflow"),
            (RUN_COUNTS, "run_counts"),
            (EXPIRED_PAUSES, "runs_by_status"),
            (NEXT_PAUSE_DEADLINE, "runs_by_status"),
            (UNFINISHED_RUNS_PINNED_TO, "runs_by_tenant_status"),
            (FINISHED_RUNS_BEFORE, "runs_finished"),
            (&paused_runs_sql(), "runs_by_tenant_status"),
        ];
        store
            .read(|conn| {
                for (sql, index) in hot {
                    let plan = plan(conn, sql);
                    assert!(
                        plan.iter().all(|line| !line.starts_with("SCAN runs")),
                        "{sql}: {plan:?}"
                    );
                    assert!(
                        plan.iter().any(|line| line.contains(index)),
                        "{sql} should use {index}: {plan:?}"
                    );
                }
                Ok(())
            })
            .expect("read");
    }
}
