//! Cron schedules in motion. Each scheduled workflow has a stored next slot;
//! handling a slot (starting its run, or recording it skipped, queued or
//! missed) and moving the next slot on is one transaction, and the slot's row
//! in `schedule_fires` is unique, so a slot never fires twice, restarts
//! included. Slots that came due while the host was down go by the catch-up
//! policy.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{NewRun, RunError, Runner, Trigger, admit, now_ms};
use crate::store::{
    FireDetail, FireOutcome, FireRecord, ScheduleRecord, StoreError, Tx, WorkflowRecord,
    WorkflowStatus,
};
use crate::workflow::{Missed, Overlap, Schedule, ScheduleSpec, WorkflowDefinition};

/// How often queued slots are looked at while any wait.
const QUEUE_POLL: Duration = Duration::from_millis(100);
/// The longest sleep between looks at the schedules.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// A workflow's schedule as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub workflow_id: String,
    pub cron: String,
    pub timezone: String,
    pub input: Value,
    pub overlap: Overlap,
    pub catch_up: crate::workflow::CatchUp,
    pub paused: bool,
    /// The next five slots, in the schedule's zone; empty while the schedule
    /// is paused or the workflow is not active.
    pub next_fires: Vec<String>,
    /// The latest handled slots, newest first.
    pub recent_fires: Vec<FireView>,
}

/// What one slot did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FireView {
    /// The slot, in the schedule's zone.
    pub slot: String,
    pub outcome: FireOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Why it was skipped; for `missed`, the last slot and how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<FireDetail>,
}

/// Keeps the workflow's schedule row in step with its definition, within the
/// transaction that changes the definition or the workflow's status: the next
/// slot counts from now, so an edit takes effect at once.
pub(super) fn sync_schedule(
    tx: &Tx<'_>,
    workflow: &WorkflowRecord,
    spec: Option<&ScheduleSpec>,
    now: i64,
) -> Result<(), StoreError> {
    let Some(spec) = spec else {
        return tx.delete_schedule(&workflow.id);
    };
    let schedule = Schedule::parse(spec).map_err(|problems| {
        StoreError::Corrupt(format!("a stored schedule is invalid: {problems:?}"))
    })?;
    let record = ScheduleRecord {
        workflow_id: workflow.id.clone(),
        tenant: workflow.tenant.clone(),
        next_fire: schedule.next_after(now),
        paused: spec.paused,
    };
    tx.upsert_schedule(&record, now)
}

/// On activation: the schedule counts from now; slots that passed while the
/// workflow was not active are not caught up.
pub(super) fn restart_schedule(
    tx: &Tx<'_>,
    workflow: &WorkflowRecord,
    now: i64,
) -> Result<(), StoreError> {
    let Some(mut record) = tx.get_schedule(&workflow.id)? else {
        return Ok(());
    };
    let definition = tx.get_definition(&workflow.id, workflow.version)?;
    let spec = WorkflowDefinition::from_value(definition)
        .ok()
        .and_then(|d| d.schedule);
    if let Some(schedule) = spec.and_then(|spec| Schedule::parse(&spec).ok()) {
        record.next_fire = schedule.next_after(now);
        tx.upsert_schedule(&record, now)?;
    }
    Ok(())
}

impl Runner {
    /// Until shutdown: handles due slots and queued ones, then sleeps until
    /// the next slot, a schedule change, or (while slots are queued) a moment.
    pub(super) async fn schedule_loop(self) {
        loop {
            let now = now_ms();
            match self.inner.store.reading(|c| c.due_schedules(now)) {
                Ok(due) => {
                    for workflow_id in due {
                        if let Err(e) = self.handle_due(&workflow_id, now).await {
                            tracing::warn!(workflow = %workflow_id, "schedule slot not handled: {e}");
                        }
                    }
                }
                Err(e) => tracing::error!("cannot read the schedules: {e}"),
            }
            let queued = match self.start_queued().await {
                Ok(waiting) => waiting,
                Err(e) => {
                    tracing::warn!("queued schedule slots not started: {e}");
                    true
                }
            };
            let next = self
                .inner
                .store
                .reading(|c| c.next_schedule_slot())
                .ok()
                .flatten();
            let mut sleep = next.map_or(MAX_SLEEP, |at| {
                Duration::from_millis((at - now_ms()).max(0) as u64).min(MAX_SLEEP)
            });
            if queued {
                sleep = sleep.min(QUEUE_POLL);
            }
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.inner.schedules_changed.notified() => {}
                () = self.inner.shutdown.cancelled() => return,
            }
        }
    }

    /// Handles the due slots of one workflow's schedule.
    async fn handle_due(&self, workflow_id: &str, now: i64) -> Result<(), RunError> {
        let (workflow, record) = self.inner.store.reading(|c| {
            let record = c.get_schedule(workflow_id)?.ok_or(StoreError::NotFound)?;
            Ok((c.get_workflow(&record.tenant, workflow_id)?, record))
        })?;
        let definition = self.inner.definition(&workflow.id, workflow.version)?;
        let (Some(spec), Some(next)) = (&definition.schedule, record.next_fire) else {
            return Ok(());
        };
        let schedule = Schedule::parse(spec).map_err(|_| RunError::NotFound)?;
        let plan = schedule.plan(next, now, self.inner.up_since);
        // Runs are built before the transaction; a step type that no longer
        // resolves skips the slot with the reason.
        let slots = [(plan.catch_up, true), (plan.fire, false)];
        let fires: Vec<(i64, Result<NewRun, String>)> = slots
            .into_iter()
            .filter_map(|(slot, catch_up)| Some((slot?, catch_up)))
            .map(|(slot, catch_up)| {
                let trigger = Trigger::Schedule {
                    slot: schedule.local(slot),
                    catch_up,
                    queued: false,
                };
                let new = self
                    .new_run(&workflow, spec.input.clone(), trigger)
                    .map_err(|e| e.to_string());
                (slot, new)
            })
            .collect();
        let quota = self.inner.max_active_runs_per_tenant as i64;
        let overlap = spec.overlap;
        let missed: Vec<(Missed, FireDetail)> = [
            (plan.missed_while_down, "the host was down"),
            (
                plan.overtaken,
                "overtaken by a later slot before it was handled",
            ),
        ]
        .into_iter()
        .filter_map(|(m, reason)| {
            let m = m?;
            let detail = FireDetail {
                reason: reason.to_owned(),
                count: Some(m.count as u64),
                last: Some(schedule.local(m.last)),
            };
            Some((m, detail))
        })
        .collect();
        let started = self
            .inner
            .store
            .transaction(move |tx| {
                let current = tx.get_schedule(&workflow.id)?;
                if current.as_ref().and_then(|s| s.next_fire) != Some(next) {
                    // Edited, paused or handled since it was read.
                    return Ok(Vec::new());
                }
                let at = now_ms();
                for (m, detail) in &missed {
                    tx.insert_fire(&fire(
                        &workflow.id,
                        m.first,
                        FireOutcome::Missed,
                        None,
                        Some(detail.clone()),
                        at,
                    ))?;
                }
                let mut started = Vec::new();
                for (slot, new) in &fires {
                    let (outcome, run, detail) = match new {
                        Err(reason) => (
                            FireOutcome::Skipped,
                            None,
                            Some(FireDetail::because(reason.clone())),
                        ),
                        Ok(new) => decide(tx, &workflow, new, overlap, quota)?,
                    };
                    let recorded = fire(
                        &workflow.id,
                        *slot,
                        outcome,
                        run.map(|r: &NewRun| r.run.id.clone()),
                        detail,
                        at,
                    );
                    if tx.insert_fire(&recorded)?
                        && let Some(run) = run
                    {
                        run.insert(tx)?;
                        started.push(run.run.id.clone());
                    }
                }
                tx.upsert_schedule(
                    &ScheduleRecord {
                        next_fire: plan.next,
                        ..current.unwrap_or(record)
                    },
                    at,
                )?;
                Ok(started)
            })
            .await?;
        for run_id in &started {
            self.started(run_id);
        }
        Ok(())
    }

    /// Starts the oldest queued slot of each workflow that has no active run;
    /// returns whether slots are still queued.
    async fn start_queued(&self) -> Result<bool, RunError> {
        let queued = self.inner.store.reading(|c| c.queued_fires(None))?;
        let mut seen = std::collections::HashSet::new();
        for fire in &queued {
            if !seen.insert(fire.workflow_id.clone()) {
                continue;
            }
            let workflow = self.inner.store.reading(|c| {
                let record = c
                    .get_schedule(&fire.workflow_id)?
                    .ok_or(StoreError::NotFound)?;
                c.get_workflow(&record.tenant, &fire.workflow_id)
            });
            let Ok(workflow) = workflow else { continue };
            if workflow.status != WorkflowStatus::Active
                || self
                    .inner
                    .store
                    .reading(|c| c.active_runs_of(&workflow.id))?
                    > 0
            {
                continue;
            }
            let definition = self.inner.definition(&workflow.id, workflow.version)?;
            let Some(spec) = &definition.schedule else {
                continue;
            };
            let slot = Schedule::parse(spec)
                .map(|s| s.local(fire.slot))
                .unwrap_or_default();
            let trigger = Trigger::Schedule {
                slot,
                catch_up: false,
                queued: true,
            };
            let new = self.new_run(&workflow, spec.input.clone(), trigger)?;
            let quota = self.inner.max_active_runs_per_tenant as i64;
            let slot = fire.slot;
            let started = self
                .inner
                .store
                .transaction(move |tx| {
                    if tx.active_runs_of(&workflow.id)? > 0 {
                        return Ok(None);
                    }
                    match admit(tx, &workflow, &new.definition, 1, quota) {
                        Ok(()) => {}
                        Err(StoreError::Refused(_)) => return Ok(None),
                        Err(other) => return Err(other),
                    }
                    new.insert(tx)?;
                    tx.set_fire_started(&workflow.id, slot, &new.run.id)?;
                    Ok(Some(new.run.id.clone()))
                })
                .await?;
            if let Some(run_id) = started {
                self.started(&run_id);
            }
        }
        Ok(!queued.is_empty())
    }

    /// The workflow's schedule, its next slots and what its latest slots did.
    pub fn schedule(&self, tenant: &str, workflow_id: &str) -> Result<ScheduleView, RunError> {
        let (workflow, record, fires) = self.inner.store.reading(|c| {
            let workflow = c.get_workflow(tenant, workflow_id)?;
            let record = c.get_schedule(workflow_id)?.ok_or(StoreError::NotFound)?;
            let fires = c.recent_fires(workflow_id, 20)?;
            Ok((workflow, record, fires))
        })?;
        let definition = self.inner.definition(&workflow.id, workflow.version)?;
        let spec = definition.schedule.clone().ok_or(RunError::NotFound)?;
        let schedule = Schedule::parse(&spec).map_err(|_| RunError::NotFound)?;
        let next_fires = if record.paused || workflow.status != WorkflowStatus::Active {
            Vec::new()
        } else {
            let first = record.next_fire.into_iter();
            first
                .chain(
                    record
                        .next_fire
                        .map(|n| schedule.upcoming(n, 4))
                        .unwrap_or_default(),
                )
                .map(|slot| schedule.local(slot))
                .collect()
        };
        Ok(ScheduleView {
            workflow_id: workflow.id,
            cron: spec.cron,
            timezone: spec.timezone,
            input: spec.input,
            overlap: spec.overlap,
            catch_up: spec.catch_up,
            paused: record.paused,
            next_fires,
            recent_fires: fires
                .into_iter()
                .map(|f| FireView {
                    slot: schedule.local(f.slot),
                    outcome: f.outcome,
                    run_id: f.run_id,
                    detail: f.detail,
                })
                .collect(),
        })
    }

    /// Pauses or resumes the schedule; a resumed schedule starts from the next
    /// slot after now (the slots in between are not caught up).
    pub async fn set_schedule_paused(
        &self,
        tenant: &str,
        workflow_id: &str,
        paused: bool,
    ) -> Result<ScheduleView, RunError> {
        let workflow = self
            .inner
            .store
            .reading(|c| c.get_workflow(tenant, workflow_id))?;
        let definition = self.inner.definition(&workflow.id, workflow.version)?;
        let spec = definition.schedule.clone().ok_or(RunError::NotFound)?;
        let schedule = Schedule::parse(&spec).map_err(|_| RunError::NotFound)?;
        let id = workflow.id.clone();
        self.inner
            .store
            .transaction(move |tx| {
                let mut record = tx.get_schedule(&id)?.ok_or(StoreError::NotFound)?;
                let now = now_ms();
                if record.paused && !paused {
                    record.next_fire = schedule.next_after(now);
                }
                record.paused = paused;
                tx.upsert_schedule(&record, now)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        self.schedule(tenant, workflow_id)
    }
}

/// What a slot does, given the overlap policy and what is active.
fn decide<'a>(
    tx: &Tx<'_>,
    workflow: &WorkflowRecord,
    new: &'a NewRun,
    overlap: Overlap,
    quota: i64,
) -> Result<(FireOutcome, Option<&'a NewRun>, Option<FireDetail>), StoreError> {
    let active = tx.active_runs_of(&workflow.id)?;
    let queued = !tx.queued_fires(Some(&workflow.id))?.is_empty();
    let skipped = |reason: String| {
        (
            FireOutcome::Skipped,
            None,
            Some(FireDetail::because(reason)),
        )
    };
    match overlap {
        Overlap::Skip if active > 0 => Ok(skipped("a run of the workflow is active".to_owned())),
        Overlap::Queue if active > 0 || queued => Ok((FireOutcome::Queued, None, None)),
        _ => match admit(tx, workflow, &new.definition, 1, quota) {
            Ok(()) => Ok((FireOutcome::Started, Some(new), None)),
            Err(StoreError::Refused(refused)) => Ok(skipped(refused.to_string())),
            Err(other) => Err(other),
        },
    }
}

fn fire(
    workflow_id: &str,
    slot: i64,
    outcome: FireOutcome,
    run_id: Option<String>,
    detail: Option<FireDetail>,
    at: i64,
) -> FireRecord {
    FireRecord {
        workflow_id: workflow_id.to_owned(),
        slot,
        outcome,
        run_id,
        detail,
        at,
    }
}
