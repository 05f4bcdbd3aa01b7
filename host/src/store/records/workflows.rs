//! Workflows and their versioned definitions.

use super::*;
use crate::workflow::{PlanChannel, PlanDecision, PlanRecord, PlanReview};

pub fn insert_workflow(
    tx: &Db<'_>,
    workflow: &WorkflowRecord,
    definition: &Value,
) -> Result<(), StoreError> {
    tx.execute("INSERT INTO workflows (id, tenant, name, status, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", params![workflow.id, workflow.tenant, workflow.name, workflow.status.as_str(), workflow.version, workflow.created_at, workflow.updated_at])?;
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
    conn: &Db<'_>,
    needle: &str,
) -> Result<Vec<(String, String, i64, Value)>, StoreError> {
    let sql = conn.pick(
        "SELECT w.tenant, v.workflow_id, v.version, v.definition FROM workflow_versions v \
         JOIN workflows w ON w.id = v.workflow_id WHERE instr(v.definition, ?1) > 0",
        "SELECT w.tenant, v.workflow_id, v.version, v.definition FROM workflow_versions v \
         JOIN workflows w ON w.id = v.workflow_id WHERE strpos(v.definition, ?1) > 0",
    );
    let rows = conn.query(sql, params![needle], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, json_column(row, 3)?))
    })?;
    Ok(rows)
}

/// Rewrites a stored definition in place (a migration; versions are otherwise
/// never changed).
pub fn replace_definition(
    tx: &Db<'_>,
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
    tx: &Db<'_>,
    workflow_id: &str,
    version: i64,
    definition: &Value,
    at: i64,
) -> Result<(), StoreError> {
    tx.execute("INSERT INTO workflow_versions (workflow_id, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)", params![workflow_id, version, json_text(definition), at])?;
    Ok(())
}

pub fn update_workflow(tx: &Db<'_>, workflow: &WorkflowRecord) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE workflows SET name = ?2, status = ?3, version = ?4, updated_at = ?5 WHERE id = ?1",
        params![
            workflow.id,
            workflow.name,
            workflow.status.as_str(),
            workflow.version,
            workflow.updated_at
        ],
    )?;
    Ok(())
}

pub(super) const WORKFLOW_COLUMNS: &str =
    "id, tenant, name, status, version, created_at, updated_at";

pub(super) fn workflow_from_row(row: &Row<'_>) -> Result<(WorkflowRecord, String), StoreError> {
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
        row.get::<String>(3)?,
    ))
}

/// The workflow `id` of `tenant`; another tenant's workflow is not found.
pub fn get_workflow(conn: &Db<'_>, tenant: &str, id: &str) -> Result<WorkflowRecord, StoreError> {
    let found = conn.query_opt(
        &format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = ?1 AND tenant = ?2"),
        params![id, tenant],
        workflow_from_row,
    )?;
    let (mut workflow, status) = found.ok_or(StoreError::NotFound)?;
    workflow.status = WorkflowStatus::parse(&status)?;
    Ok(workflow)
}

/// The tenant's workflows called `name`, as (id, status), newest first.
pub fn workflows_named(
    conn: &Db<'_>,
    tenant: &str,
    name: &str,
) -> Result<Vec<(String, WorkflowStatus)>, StoreError> {
    conn.query(
        "SELECT id, status FROM workflows WHERE tenant = ?1 AND name = ?2 ORDER BY created_at DESC, id DESC",
        params![tenant, name],
        |row| Ok((row.get(0)?, WorkflowStatus::parse(&row.get::<String>(1)?)?)),
    )
}

/// A workflow as a tenant's list shows it: its row, its latest definition,
/// its schedule's next slot, and its newest run.
#[derive(Debug, Clone)]
pub struct WorkflowSummary {
    pub workflow: WorkflowRecord,
    pub definition: Value,
    /// The schedule's next slot (Unix ms), if it is scheduled.
    pub next_fire: Option<i64>,
    pub latest_run: Option<LatestRun>,
}

/// A workflow's newest run.
#[derive(Debug, Clone)]
pub struct LatestRun {
    pub id: String,
    pub number: i64,
    pub status: RunStatus,
    pub created_at: i64,
}

/// A tenant's workflows, by id, with what their list shows.
pub fn list_workflows(conn: &Db<'_>, tenant: &str) -> Result<Vec<WorkflowSummary>, StoreError> {
    let rows = conn.query(
        "SELECT w.id, w.tenant, w.name, w.status, w.version, w.created_at, w.updated_at, \
                v.definition, s.next_fire, r.id, r.number, r.status, r.created_at \
         FROM workflows w \
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version \
         LEFT JOIN schedules s ON s.workflow_id = w.id \
         LEFT JOIN runs r ON r.id = \
           (SELECT id FROM runs WHERE workflow_id = w.id ORDER BY id DESC LIMIT 1) \
         WHERE w.tenant = ?1 ORDER BY w.id",
        params![tenant],
        |row| {
            let (workflow, status) = workflow_from_row(row)?;
            let latest_run = match row.get::<Option<String>>(9)? {
                Some(id) => Some(LatestRun {
                    id,
                    number: row.get(10)?,
                    status: status_column(row, 11)?,
                    created_at: row.get(12)?,
                }),
                None => None,
            };
            Ok((
                status,
                WorkflowSummary {
                    workflow,
                    definition: json_column(row, 7)?,
                    next_fire: row.get(8)?,
                    latest_run,
                },
            ))
        },
    )?;
    rows.into_iter()
        .map(|(status, mut summary)| {
            summary.workflow.status = WorkflowStatus::parse(&status)?;
            Ok(summary)
        })
        .collect()
}

pub fn get_definition(conn: &Db<'_>, workflow_id: &str, version: i64) -> Result<Value, StoreError> {
    conn.query_opt(
        "SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
        params![workflow_id, version],
        |row| json_column(row, 0),
    )?
    .ok_or(StoreError::NotFound)
}

/// A workflow's versions, newest first, each with when it was made.
pub fn workflow_versions(conn: &Db<'_>, workflow_id: &str) -> Result<Vec<(i64, i64)>, StoreError> {
    conn.query(
        "SELECT version, created_at FROM workflow_versions WHERE workflow_id = ?1 \
         ORDER BY version DESC",
        params![workflow_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Stores where a planned workflow came from.
pub fn insert_plan(tx: &Db<'_>, plan: &PlanRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO workflow_plans (workflow_id, goal, model, attempts, reviewers, webhooks, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            plan.workflow_id,
            plan.goal,
            plan.model,
            plan.attempts,
            opt_typed_text(Some(&plan.reviewers)),
            opt_typed_text(Some(&plan.webhooks)),
            plan.created_at
        ],
    )?;
    Ok(())
}

/// The plan of workflow `workflow_id`, if a planner wrote it.
pub fn get_plan(conn: &Db<'_>, workflow_id: &str) -> Result<Option<PlanRecord>, StoreError> {
    conn.query_opt(
        "SELECT workflow_id, goal, model, attempts, reviewers, webhooks, created_at \
             FROM workflow_plans WHERE workflow_id = ?1",
        params![workflow_id],
        |row| {
            Ok(PlanRecord {
                workflow_id: row.get(0)?,
                goal: row.get(1)?,
                model: row.get(2)?,
                attempts: row.get(3)?,
                reviewers: typed_column(row, 4)?,
                webhooks: typed_column(row, 5)?,
                created_at: row.get(6)?,
            })
        },
    )
}

/// Records a decision on a version of a plan; a version is decided once, so
/// a second decision on it is a conflict.
pub fn insert_plan_review(
    tx: &Db<'_>,
    workflow_id: &str,
    review: &PlanReview,
) -> Result<(), StoreError> {
    let inserted = tx.execute(
        "INSERT INTO workflow_decisions (workflow_id, version, decision, reviewer, channel, note, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            workflow_id,
            review.version,
            review.decision.as_str(),
            review.reviewer,
            review.channel.as_str(),
            review.note,
            review.at
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "version {} of this plan was decided already",
            review.version
        )));
    }
    Ok(())
}

/// Whether `version` of workflow `workflow_id`'s plan was decided.
pub fn plan_decided(conn: &Db<'_>, workflow_id: &str, version: i64) -> Result<bool, StoreError> {
    conn.exists(
        "SELECT 1 FROM workflow_decisions WHERE workflow_id = ?1 AND version = ?2",
        params![workflow_id, version],
    )
}

/// The decisions on workflow `workflow_id`'s plan, oldest first.
pub fn plan_reviews(conn: &Db<'_>, workflow_id: &str) -> Result<Vec<PlanReview>, StoreError> {
    let rows = conn.query(
        "SELECT version, decision, reviewer, channel, note, at FROM workflow_decisions \
         WHERE workflow_id = ?1 ORDER BY version",
        params![workflow_id],
        |row| {
            Ok((
                row.get::<i64>(0)?,
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<Option<String>>(4)?,
                row.get::<i64>(5)?,
            ))
        },
    )?;
    rows.into_iter()
        .map(|(version, decision, reviewer, channel, note, at)| {
            let corrupt = |what: &str| StoreError::Corrupt(format!("plan decision {what}"));
            Ok(PlanReview {
                version,
                decision: PlanDecision::parse(&decision).ok_or_else(|| corrupt(&decision))?,
                reviewer,
                channel: PlanChannel::parse(&channel).ok_or_else(|| corrupt(&channel))?,
                note,
                at,
            })
        })
        .collect()
}

/// Records an activation of `workflow` by `by` through the API as the
/// approval of its plan's current version, if a planner wrote it and that
/// version was not decided yet.
pub fn approve_plan_on_activation(
    tx: &Db<'_>,
    workflow: &WorkflowRecord,
    by: &str,
) -> Result<(), StoreError> {
    if get_plan(tx, &workflow.id)?.is_none() || plan_decided(tx, &workflow.id, workflow.version)? {
        return Ok(());
    }
    insert_plan_review(
        tx,
        &workflow.id,
        &PlanReview {
            version: workflow.version,
            decision: PlanDecision::Approve,
            reviewer: by.to_owned(),
            channel: PlanChannel::Api,
            note: None,
            at: workflow.updated_at,
        },
    )
}
