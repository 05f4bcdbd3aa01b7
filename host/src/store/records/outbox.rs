//! The notification outbox: what runs and plans tell their recipients.

use serde::{Deserialize, Serialize};

use super::*;
use crate::run::{PendingAction, RunFailure};

/// A notification waiting to be delivered (or delivered).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub id: String,
    pub tenant: String,
    /// What the notification is about.
    pub subject: Subject,
    pub recipient: Recipient,
    pub notification: Notification,
    pub attempts: i64,
    pub next_attempt: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// What a notification is about: a run (its pause or end), or a workflow
/// (its plan, for review). Stored as the row's `run_id` or `workflow_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Run(String),
    Workflow(String),
}

impl Subject {
    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Subject::Run(id) => (Some(id), None),
            Subject::Workflow(id) => (None, Some(id)),
        }
    }
}

/// Where a notification goes. Stored as the row's `channel` and its JSON
/// `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipient {
    /// A webhook, signed with the tenant secret `secret_name` (its value
    /// stays sealed).
    Webhook { url: String, secret_name: String },
    /// An email; `reviewer`: to a gate's reviewer, with their approval link.
    Email {
        to: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reviewer: bool,
    },
}

impl Recipient {
    /// The row's `channel`.
    pub fn channel(&self) -> &'static str {
        match self {
            Recipient::Webhook { .. } => "webhook",
            Recipient::Email { .. } => "email",
        }
    }
}

/// What a notification says: a webhook's body, what an email is written from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `run.paused`, `run.completed`, `run.failed`, `run.cancelled`,
    /// `run.timed_out`, or `workflow.plan_review`.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339.
    pub timestamp: String,
    pub data: NotificationData,
}

/// A notification's data: a run's, or a plan's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NotificationData {
    Run(Box<RunNotice>),
    Plan(PlanNotice),
}

/// A plan waiting for review: what the reviewer reads, and until when the
/// links sent with it work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNotice {
    pub workflow_id: String,
    /// The version the links approve: a later edit makes them void.
    pub version: i64,
    pub title: String,
    pub goal: String,
    /// The steps as readable lines.
    pub steps: Vec<String>,
    /// The cron schedule it runs on once approved, e.g. `0 9 * * 1 (UTC)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// When the links stop working (Unix seconds).
    pub links_expire: i64,
}

/// The run as it was when the event happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNotice {
    pub run_id: String,
    pub workflow_id: String,
    pub status: RunStatus,
    pub event_seq: i64,
    pub pending_action: Option<PendingAction>,
    pub result: Option<Value>,
    pub error: Option<RunFailure>,
}

pub(super) const OUTBOX_COLUMNS: &str = "id, tenant, run_id, workflow_id, channel, target, payload, attempts, next_attempt, delivered_at, last_error, created_at";

pub(super) fn outbox_from_row(row: &Row<'_>) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        subject: match (row.get(2)?, row.get::<Option<String>>(3)?) {
            (Some(run), _) => Subject::Run(run),
            (None, workflow) => Subject::Workflow(workflow.unwrap_or_default()),
        },
        recipient: typed_column(row, 5)?,
        notification: typed_column(row, 6)?,
        attempts: row.get(7)?,
        next_attempt: row.get(8)?,
        delivered_at: row.get(9)?,
        last_error: row.get(10)?,
        created_at: row.get(11)?,
    })
}

pub fn insert_outbox(tx: &Db<'_>, record: &OutboxRecord) -> Result<(), StoreError> {
    tx.execute_later(&format!(
        "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ), params![
        record.id,
        record.tenant,
        record.subject.columns().0,
        record.subject.columns().1,
        record.recipient.channel(),
        opt_typed_text(Some(&record.recipient)),
        opt_typed_text(Some(&record.notification)),
        record.attempts,
        record.next_attempt,
        record.delivered_at,
        record.last_error,
        record.created_at
    ])?;
    Ok(())
}

/// Outbox rows (id, tenant, target) whose target holds `needle`.
pub fn outbox_targets_containing(
    conn: &Db<'_>,
    needle: &str,
) -> Result<Vec<(String, String, Value)>, StoreError> {
    let rows = conn.query(
        conn.pick(
            "SELECT id, tenant, target FROM outbox WHERE instr(target, ?1) > 0",
            "SELECT id, tenant, target FROM outbox WHERE strpos(target, ?1) > 0",
        ),
        params![needle],
        |row| Ok((row.get(0)?, row.get(1)?, json_column(row, 2)?)),
    )?;
    Ok(rows)
}

pub fn set_outbox_target(tx: &Db<'_>, id: &str, target: &Value) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE outbox SET target = ?2 WHERE id = ?1",
        params![id, json_text(target)],
    )?;
    Ok(())
}

/// Claims up to `limit` notifications due for a delivery attempt at `now`,
/// oldest first, until `until`: their next attempt moves there, so that no
/// other host (nor this one) picks them up meanwhile, and one whose host died
/// mid-delivery is tried again then. Rows another host is claiming at the
/// same moment are skipped. On SQLite, whose one process delivers them all,
/// nothing moves.
pub fn claim_outbox(
    tx: &Db<'_>,
    now: i64,
    limit: usize,
    until: i64,
) -> Result<Vec<OutboxRecord>, StoreError> {
    if tx.dialect() == Dialect::Sqlite {
        // One process per file: nobody to claim from. The limit is written
        // into the statement: SQLite plans for a bound LIMIT's value, so a
        // cached statement with one is prepared again at every use.
        return tx.query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE next_attempt <= ?1 ORDER BY next_attempt LIMIT {limit}"
        ), params![now], outbox_from_row);
    }
    let mut rows = tx.query(&format!(
        "UPDATE outbox SET next_attempt = ?3 WHERE id IN \
         (SELECT id FROM outbox WHERE next_attempt <= ?1 ORDER BY next_attempt LIMIT ?2 FOR UPDATE SKIP LOCKED) \
         RETURNING {OUTBOX_COLUMNS}"
    ), params![now, limit as i64, until], outbox_from_row)?;
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// The earliest pending delivery attempt.
pub fn next_outbox_attempt(conn: &Db<'_>) -> Result<Option<i64>, StoreError> {
    conn.query_one(
        "SELECT MIN(next_attempt) FROM outbox WHERE next_attempt IS NOT NULL",
        params![],
        |row| row.get(0),
    )
}

/// Records an attempt: delivered, to retry at `next_attempt`, or given up.
pub fn outbox_attempted(
    tx: &Db<'_>,
    id: &str,
    attempts: i64,
    next_attempt: Option<i64>,
    delivered_at: Option<i64>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute("UPDATE outbox SET attempts = ?2, next_attempt = ?3, delivered_at = ?4, last_error = ?5 WHERE id = ?1", params![id, attempts, next_attempt, delivered_at, error])?;
    Ok(())
}

/// Deletes plan reviews created before `before` that were delivered or given
/// up: a run's notifications go with the run, a plan's are swept here.
pub fn delete_settled_plan_notices(tx: &Db<'_>, before: i64) -> Result<usize, StoreError> {
    tx.execute(
        tx.pick(SETTLED_PLAN_NOTICES_BEFORE, SETTLED_PLAN_NOTICES_BEFORE_PG),
        params![before],
    )
}

/// A run's notifications, oldest first.
pub fn run_outbox(conn: &Db<'_>, run_id: &str) -> Result<Vec<OutboxRecord>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE run_id = ?1 ORDER BY created_at, id"),
        params![run_id],
        outbox_from_row,
    )?;
    Ok(rows)
}
