//! Cron schedules and their fires.

use super::*;

/// A scheduled workflow's state: the next slot not yet handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub workflow_id: String,
    pub tenant: String,
    pub next_fire: Option<i64>,
    pub paused: bool,
}

pub fn upsert_schedule(tx: &Db<'_>, schedule: &ScheduleRecord, at: i64) -> Result<(), StoreError> {
    tx.execute("INSERT INTO schedules (workflow_id, tenant, next_fire, paused, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workflow_id) DO UPDATE SET next_fire = ?3, paused = ?4, updated_at = ?5", params![schedule.workflow_id, schedule.tenant, schedule.next_fire, schedule.paused, at])?;
    Ok(())
}

pub fn delete_schedule(tx: &Db<'_>, workflow_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM schedules WHERE workflow_id = ?1",
        params![workflow_id],
    )?;
    Ok(())
}

pub fn get_schedule(
    conn: &Db<'_>,
    workflow_id: &str,
) -> Result<Option<ScheduleRecord>, StoreError> {
    conn.query_opt(
        "SELECT workflow_id, tenant, next_fire, paused FROM schedules WHERE workflow_id = ?1",
        params![workflow_id],
        |row| {
            Ok(ScheduleRecord {
                workflow_id: row.get(0)?,
                tenant: row.get(1)?,
                next_fire: row.get(2)?,
                paused: row.get(3)?,
            })
        },
    )
}

/// Active, unpaused workflows whose next slot is due at `now`.
pub fn due_schedules(conn: &Db<'_>, now: i64) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(
        "SELECT s.workflow_id FROM schedules s JOIN workflows w ON w.id = s.workflow_id
         WHERE s.paused = 0 AND s.next_fire <= ?1 AND w.status = 'active' ORDER BY s.next_fire",
        params![now],
        |row| row.get(0),
    )?;
    Ok(rows)
}

/// The earliest next slot of an active, unpaused schedule.
pub fn next_schedule_slot(conn: &Db<'_>) -> Result<Option<i64>, StoreError> {
    conn.query_one(
        "SELECT MIN(s.next_fire) FROM schedules s JOIN workflows w ON w.id = s.workflow_id
             WHERE s.paused = 0 AND w.status = 'active'",
        params![],
        |row| row.get(0),
    )
}

/// What one slot did.
#[derive(Debug, Clone, PartialEq)]
pub struct FireRecord {
    pub workflow_id: String,
    pub slot: i64,
    pub outcome: FireOutcome,
    pub run_id: Option<String>,
    pub detail: Option<FireDetail>,
    pub at: i64,
}

/// What became of a schedule's slot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FireOutcome {
    /// Its run started.
    Started,
    /// No run started, for the `reason` in its detail.
    Skipped,
    /// Waiting for the active run to end (overlap `queue`).
    Queued,
    /// Slots that passed unhandled: how many, and the last.
    Missed,
}

impl FireOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Started => "started",
            FireOutcome::Skipped => "skipped",
            FireOutcome::Queued => "queued",
            FireOutcome::Missed => "missed",
        }
    }

    fn parse(text: &str) -> Option<FireOutcome> {
        [
            FireOutcome::Started,
            FireOutcome::Skipped,
            FireOutcome::Queued,
            FireOutcome::Missed,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == text)
    }
}

/// Why a slot was skipped or missed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FireDetail {
    pub reason: String,
    /// For `missed`: how many slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// For `missed`: the last of them, in the schedule's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl FireDetail {
    pub fn because(reason: impl Into<String>) -> FireDetail {
        FireDetail {
            reason: reason.into(),
            count: None,
            last: None,
        }
    }
}

/// Records a slot; false if it was recorded before (a slot never fires twice).
pub fn insert_fire(tx: &Db<'_>, fire: &FireRecord) -> Result<bool, StoreError> {
    let inserted = tx
        .execute("INSERT INTO schedule_fires (workflow_id, slot, outcome, run_id, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING", params![fire.workflow_id, fire.slot, fire.outcome.as_str(), fire.run_id, opt_typed_text(fire.detail.as_ref()), fire.at])?;
    Ok(inserted == 1)
}

/// A queued slot whose run has now started.
pub fn set_fire_started(
    tx: &Db<'_>,
    workflow_id: &str,
    slot: i64,
    run_id: &str,
) -> Result<(), StoreError> {
    tx.execute("UPDATE schedule_fires SET outcome = 'started', run_id = ?3 WHERE workflow_id = ?1 AND slot = ?2", params![workflow_id, slot, run_id])?;
    Ok(())
}

pub(super) fn fire_from_row(row: &Row<'_>) -> Result<FireRecord, StoreError> {
    Ok(FireRecord {
        workflow_id: row.get(0)?,
        slot: row.get(1)?,
        outcome: {
            let text: String = row.get(2)?;
            FireOutcome::parse(&text).ok_or_else(|| {
                let error = format!("fire outcome '{text}'");
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    error.into(),
                )
            })?
        },
        run_id: row.get(3)?,
        detail: opt_typed_column(row, 4)?,
        at: row.get(5)?,
    })
}

/// The workflow's latest handled slots, newest first.
pub fn recent_fires(
    conn: &Db<'_>,
    workflow_id: &str,
    limit: usize,
) -> Result<Vec<FireRecord>, StoreError> {
    let rows = conn.query(
        "SELECT workflow_id, slot, outcome, run_id, detail, at FROM schedule_fires
         WHERE workflow_id = ?1 ORDER BY slot DESC LIMIT ?2",
        params![workflow_id, limit as i64],
        fire_from_row,
    )?;
    Ok(rows)
}

/// Queued slots, oldest first (of every workflow, or of one).
pub fn queued_fires(
    conn: &Db<'_>,
    workflow_id: Option<&str>,
) -> Result<Vec<FireRecord>, StoreError> {
    let rows = conn.query(
        "SELECT workflow_id, slot, outcome, run_id, detail, at FROM schedule_fires
         WHERE outcome = 'queued' AND (workflow_id = ?1 OR ?1 IS NULL) ORDER BY slot",
        params![workflow_id],
        fire_from_row,
    )?;
    Ok(rows)
}
