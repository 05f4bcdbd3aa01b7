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

    /// [`Runner::start_run_once`], started by `trigger`. The run is saved as
    /// its driver's first round would leave it, when the run core alone can
    /// say what that round starts (see [`Inner::first_starts`]): the run's
    /// start and its first steps' are then one commit.
    pub(super) async fn start_with(
        &self,
        tenant: &str,
        workflow_id: &str,
        input: Value,
        idempotency: Option<Idempotency>,
        trigger: Trigger,
    ) -> Result<(RunView, bool), RunError> {
        let workflow = self.active_workflow(tenant, workflow_id)?;
        let mut new = self.new_run(&workflow, input, trigger)?;
        // The new run's place among this host's drivers (its id is new: the
        // place is free), taken before its first steps are started.
        let place = driver::Place::take(&self.inner, &new.run.id);
        let launch = match place {
            Some(_) => new.start_first(&self.inner),
            None => Vec::new(),
        };
        let quota = self.inner.max_active_runs_per_tenant as i64;
        let saved = self
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
                            return Ok(Err(run_id));
                        }
                        Some(_) => return Err(idempotency.reused()),
                        None => {}
                    }
                }
                admit(tx, &workflow, &new.definition, 1, quota)?;
                new.run.number = new.insert(tx)?;
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
                Ok(Ok(new))
            })
            .await?;
        match saved {
            Ok(new) => Ok((self.begin(new, place, launch), true)),
            Err(existing) => Ok((self.get_run(Some(tenant), &existing)?, false)),
        }
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
            steps: RunSteps::new(steps),
            events: vec![created],
            outbox: Vec::new(),
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

    /// Announces the saved new run `new`, starts its driver in `place` from
    /// the run as it was saved, launching the attempts `launch` whose
    /// starts were saved with it, and returns the run's view.
    fn begin(&self, new: NewRun, place: Option<driver::Place>, launch: driver::Launch) -> RunView {
        let NewRun {
            run, steps, outbox, ..
        } = new;
        self.inner.tell(Change {
            run: run.id.clone(),
            state: Some((run.status, run.last_seq)),
            queued: !outbox.is_empty(),
        });
        let view = self.inner.view(&run, steps.records());
        match place {
            Some(place) => place.drive(Some((run, steps)), launch),
            None => driver::drive_run_from(&self.inner, run.id.clone(), Some((run, steps))),
        }
        view
    }
}

/// A run built by [`Runner::new_run`], ready to be saved: as created, or
/// as its driver's first round leaves it ([`NewRun::start_first`]).
pub(super) struct NewRun {
    pub(super) run: RunRecord,
    pub(super) steps: RunSteps,
    /// Its events: `run_created`, then those of the first round.
    pub(super) events: Vec<EventRecord>,
    /// The notifications the first round's events call for.
    pub(super) outbox: Vec<OutboxRecord>,
    pub(super) definition: Arc<WorkflowDefinition>,
}

impl NewRun {
    /// Does its driver's first round ahead, when the run core alone can say
    /// what it starts ([`Inner::first_starts_of`]); returns the attempts to
    /// launch once the run is saved so (with the slots taken for them).
    fn start_first(&mut self, inner: &Inner) -> driver::Launch {
        let Some((starts, launch)) = inner.first_starts_of(&self.run, &self.steps) else {
            return Vec::new();
        };
        starts.apply_to(&mut self.steps);
        self.outbox = inner.outbox(&starts);
        self.run = starts.run;
        self.events.extend(starts.events);
        launch
    }

    /// Saves it; returns the number the store gave it.
    pub(super) fn insert(&self, tx: &Tx<'_>) -> Result<i64, StoreError> {
        let number = tx.insert_run(&self.run, self.steps.records())?;
        for event in &self.events {
            tx.append_event(&self.run.id, event)?;
        }
        for row in &self.outbox {
            tx.insert_outbox(row)?;
        }
        Ok(number)
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
