//! Starting runs: the workflow must be active, the tenant under its quota,
//! the concurrency policy satisfied, and an `Idempotency-Key` not reused with
//! another body.

use crate::store::Tx;

use super::*;

impl Runner {
    /// Starts a run of the workflow's current version with `input`.
    pub async fn start_run(
        &self,
        tenant: &str,
        workflow_id: &str,
        input: Value,
    ) -> Result<RunView, RunError> {
        Ok(self
            .start_run_once(tenant, workflow_id, input, None)
            .await?
            .0)
    }

    /// Starts a run, at most once per idempotency key: the same key with the same
    /// body hash returns the run it started (and `false`); with another body it
    /// is refused.
    pub async fn start_run_once(
        &self,
        tenant: &str,
        workflow_id: &str,
        input: Value,
        idempotency: Option<Idempotency>,
    ) -> Result<(RunView, bool), RunError> {
        self.start_with(tenant, workflow_id, input, idempotency, Trigger::Api)
            .await
    }

    /// [`Runner::start_run_once`], started by `trigger`.
    pub(super) async fn start_with(
        &self,
        tenant: &str,
        workflow_id: &str,
        input: Value,
        idempotency: Option<Idempotency>,
        trigger: Trigger,
    ) -> Result<(RunView, bool), RunError> {
        let workflow = self.active_workflow(tenant, workflow_id)?;
        let new = self.new_run(&workflow, input, trigger)?;
        let id = new.run.id.clone();
        let quota = self.inner.max_active_runs_per_tenant as i64;
        let existing = self
            .inner
            .store
            .transaction(move |tx| {
                if let Some(idempotency) = &idempotency {
                    let previous = tx.idempotent(
                        Started::Run,
                        &new.run.tenant,
                        &new.run.workflow_id,
                        &idempotency.key,
                    )?;
                    match previous {
                        Some((run_id, hash)) if hash == idempotency.body_hash => {
                            return Ok(Some(run_id));
                        }
                        Some(_) => return Err(idempotency.reused()),
                        None => {}
                    }
                }
                admit(tx, &workflow, &new.definition, 1, quota)?;
                new.insert(tx)?;
                if let Some(idempotency) = &idempotency {
                    tx.insert_idempotency_key(
                        Started::Run,
                        &new.run.tenant,
                        &new.run.workflow_id,
                        &idempotency.key,
                        &idempotency.body_hash,
                        &new.run.id,
                        new.run.created_at,
                    )?;
                }
                Ok(None)
            })
            .await?;
        if let Some(existing) = existing {
            return Ok((self.get_run(Some(tenant), &existing)?, false));
        }
        self.started(&id);
        Ok((self.get_run(Some(tenant), &id)?, true))
    }

    /// The tenant's active workflow `workflow_id` (an id, or a name: see
    /// [`Runner::find_workflow`]).
    pub(super) fn active_workflow(
        &self,
        tenant: &str,
        workflow_id: &str,
    ) -> Result<WorkflowRecord, RunError> {
        let workflow = self.find_workflow(tenant, workflow_id)?;
        if workflow.status != WorkflowStatus::Active {
            return Err(RunError::NotActive(format!(
                "workflow '{}' is {}; only an active workflow can start runs",
                workflow.name,
                workflow.status.as_str()
            )));
        }
        Ok(workflow)
    }

    /// A new pending run of the workflow's current version, its steps pinned to
    /// the plugins they resolve to now; not yet saved.
    pub(super) fn new_run(
        &self,
        workflow: &WorkflowRecord,
        input: Value,
        trigger: Trigger,
    ) -> Result<NewRun, RunError> {
        let definition = self.inner.definition(&workflow.id, workflow.version)?;
        let layout = self
            .inner
            .definitions
            .layout(&workflow.id, workflow.version)?;
        let mut pins = std::collections::BTreeMap::new();
        for step in layout.sites() {
            if step.step_type.is_empty() || pins.contains_key(&step.step_type) {
                // A construct (the host runs it), or a type pinned already.
                continue;
            }
            let plugin = self
                .inner
                .catalog
                .resolve(&workflow.tenant, &step.step_type)
                .map_err(|e| RunError::Rejected(format!("step '{}': {e}", step.name)))?;
            pins.insert(step.step_type.clone(), plugin.digest.clone());
        }
        let pins = run::Pins::ByType(pins);
        let version = run::Version {
            tenant: &workflow.tenant,
            workflow_id: &workflow.id,
            number: workflow.version,
            definition: &definition,
        };
        let (run, steps, created) = run::create(new_id(), version, pins, input, trigger, now_ms());
        Ok(NewRun {
            run,
            steps,
            created,
            definition,
        })
    }

    /// Announces a saved new run and starts driving it.
    pub(super) fn started(&self, run_id: &str) {
        // A start queues no notifications.
        self.inner.tell(Change {
            run: run_id.to_owned(),
            state: None,
            queued: false,
        });
        driver::drive_run(&self.inner, run_id.to_owned());
    }
}

/// A run built by [`Runner::new_run`], ready to be saved.
pub(super) struct NewRun {
    pub(super) run: RunRecord,
    pub(super) steps: Vec<StepRecord>,
    pub(super) created: EventRecord,
    pub(super) definition: Arc<WorkflowDefinition>,
}

impl NewRun {
    pub(super) fn insert(&self, tx: &Tx<'_>) -> Result<(), StoreError> {
        tx.insert_run(&self.run, &self.steps)?;
        tx.append_event(&self.run.id, &self.created)
    }
}

/// Counts the unfinished runs in `tx` and refuses (rolling the job back)
/// when the run core says `count` more runs of `workflow` may not start.
pub(super) fn admit(
    tx: &Tx<'_>,
    workflow: &WorkflowRecord,
    definition: &WorkflowDefinition,
    count: i64,
    quota: i64,
) -> Result<(), StoreError> {
    tx.hold_tenant(&workflow.tenant)?;
    let load = run::Load {
        tenant: tx.active_runs_of_tenant(&workflow.tenant)?,
        workflow: match run::counts_workflow_runs(definition) {
            true => tx.active_runs_of(&workflow.id)?,
            false => 0,
        },
    };
    run::admit(definition, &workflow.name, load, count, quota).map_err(StoreError::Refused)
}
