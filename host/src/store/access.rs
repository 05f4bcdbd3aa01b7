//! Typed access for the runner's own units of work: a [`Reader`] over a read
//! connection, and a [`Tx`] over the writer's transaction (which reads too).
//! The runner's rules that must hold inside one transaction (a schedule slot
//! fires once, a tenant's quota, an idempotency key) are written against
//! these, so they never see SQL or a connection, and a second backend
//! implements these methods and nothing above them changes.

use std::ops::Deref;

use serde_json::Value;

use super::records::*;
use super::sql::Db;
use super::{Store, StoreError};
use crate::run::{EventRecord, RunRecord, RunStatus, StepRecord, Transition};
use crate::workflow::{PlanRecord, PlanReview};

/// Reads, inside [`Store::reading`] or a [`Tx`].
pub struct Reader<'a>(&'a Db<'a>);

/// Writes (and, through `Deref`, reads) inside [`Store::transaction`].
pub struct Tx<'a> {
    reader: Reader<'a>,
    tx: &'a Db<'a>,
    /// The host this process drives runs as.
    host: &'a str,
}

impl<'a> Deref for Tx<'a> {
    type Target = Reader<'a>;

    fn deref(&self) -> &Reader<'a> {
        &self.reader
    }
}

impl Store {
    /// Runs `work` on a read connection.
    pub fn reading<R>(
        &self,
        work: impl FnOnce(&Reader<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.read(|c| work(&Reader(c)))
    }

    /// Runs `work` in one write transaction (group-committed with whatever
    /// else is waiting); an error from `work` rolls back its changes alone.
    pub async fn transaction<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let host = self.host().to_owned();
        self.write(move |tx| {
            work(&Tx {
                reader: Reader(tx),
                tx,
                host: &host,
            })
        })
        .await
    }
}

/// Methods that hand `self.<field>` (the connection or the transaction) and
/// their arguments to the record function of the same name.
macro_rules! delegate {
    ($field:tt; $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $($(#[$doc])* pub fn $name(&self, $($arg: $ty),*) -> Result<$out, StoreError> {
            $name(self.$field, $($arg),*)
        })*
    };
}

impl Reader<'_> {
    delegate! { 0;
        /// A tenant's workflow.
        fn get_workflow(tenant: &str, id: &str) -> WorkflowRecord;
        /// A tenant's workflows called `name`, as (id, status), newest first.
        fn workflows_named(tenant: &str, name: &str) -> Vec<(String, WorkflowStatus)>;
        /// A tenant's workflows, with what their list shows.
        fn list_workflows(tenant: &str) -> Vec<WorkflowSummary>;
        /// A workflow version's definition.
        fn get_definition(workflow_id: &str, version: i64) -> Value;
        /// A workflow's versions (number, made at), newest first.
        fn workflow_versions(workflow_id: &str) -> Vec<(i64, i64)>;
        /// The plan a planned workflow was drafted from.
        fn get_plan(workflow_id: &str) -> Option<PlanRecord>;
        /// A plan's decisions, by version.
        fn plan_reviews(workflow_id: &str) -> Vec<PlanReview>;
        /// Whether a plan's version was decided.
        fn plan_decided(workflow_id: &str, version: i64) -> bool;
        /// A workflow's schedule row.
        fn get_schedule(workflow_id: &str) -> Option<ScheduleRecord>;
        /// Scheduled workflows whose next slot is due by `now`.
        fn due_schedules(now: i64) -> Vec<String>;
        /// The earliest next slot of any active, unpaused schedule.
        fn next_schedule_slot() -> Option<i64>;
        /// Slots queued behind a running run (of one workflow, or all).
        fn queued_fires(workflow_id: Option<&str>) -> Vec<FireRecord>;
        /// A workflow's latest handled slots, newest first.
        fn recent_fires(workflow_id: &str, limit: usize) -> Vec<FireRecord>;
        /// Unfinished runs of a workflow.
        fn active_runs_of(workflow_id: &str) -> i64;
        /// Unfinished runs of a tenant.
        fn active_runs_of_tenant(tenant: &str) -> i64;
        /// What an idempotency key started, and the hash of its request.
        fn idempotent(started: Started, tenant: &str, workflow_id: &str, key: &str) -> Option<(String, String)>;
        /// A run (with `tenant`, only that tenant's).
        fn get_run(tenant: Option<&str>, id: &str) -> RunRecord;
        /// A run's steps.
        fn get_steps(run_id: &str) -> Vec<StepRecord>;
        /// A run and its steps.
        fn get_run_with_steps(tenant: Option<&str>, id: &str) -> (RunRecord, Vec<StepRecord>);
        /// A run's events after `after`.
        fn get_events(run_id: &str, after: i64) -> Vec<EventRecord>;
        /// Ids of runs in any of `statuses`.
        fn run_ids_in(statuses: &[RunStatus]) -> Vec<String>;
        /// Ids of the unfinished runs that are not paused.
        fn unpaused_run_ids() -> Vec<String>;
        /// A tenant's batch.
        fn get_batch(tenant: &str, id: &str) -> BatchRecord;
        /// A batch's runs and how they stand.
        fn batch_runs(batch_id: &str) -> Vec<(String, RunStatus)>;
        /// A tenant's batches, newest first.
        fn list_batches(tenant: &str, workflow_id: Option<&str>, before: Option<&str>, limit: usize) -> Vec<BatchRecord>;
        /// Outbox rows due by `now`.
        /// The next attempt of any outbox row.
        fn next_outbox_attempt() -> Option<i64>;
    }
}

impl Tx<'_> {
    delegate! { tx;
        /// Stores a new workflow at its first version.
        fn insert_workflow(workflow: &WorkflowRecord, definition: &Value) -> ();
        /// Stores a workflow's new version.
        fn insert_workflow_version(workflow_id: &str, version: i64, definition: &Value, at: i64) -> ();
        /// Saves a workflow's row.
        fn update_workflow(workflow: &WorkflowRecord) -> ();
        /// Records the plan a workflow was drafted from.
        fn insert_plan(plan: &PlanRecord) -> ();
        /// Records a decision on a plan's version.
        fn insert_plan_review(workflow_id: &str, review: &PlanReview) -> ();
        /// Approves a planned draft's plan as it is activated by `by`.
        fn approve_plan_on_activation(workflow: &WorkflowRecord, by: &str) -> ();
        /// Saves a workflow's schedule row.
        fn upsert_schedule(schedule: &ScheduleRecord, at: i64) -> ();
        /// Deletes a workflow's schedule row.
        fn delete_schedule(workflow_id: &str) -> ();
        /// Records a handled slot; false if it was recorded already.
        fn insert_fire(fire: &FireRecord) -> bool;
        /// Marks a queued slot started with its run.
        fn set_fire_started(workflow_id: &str, slot: i64, run_id: &str) -> ();
        /// Remembers an idempotency key and what it started.
        #[allow(clippy::too_many_arguments)]
        fn insert_idempotency_key(started: Started, tenant: &str, workflow_id: &str, key: &str, body_hash: &str, id: &str, at: i64) -> ();
        /// Appends a run's event.
        fn append_event(run_id: &str, event: &EventRecord) -> ();
        /// Stores a batch and its runs.
        fn insert_batch(batch: &BatchRecord, runs: &[&str]) -> ();
        /// Marks a batch cancelled.
        fn set_batch_cancelled(id: &str, at: i64) -> ();
        /// Queues a notification.
        fn insert_outbox(record: &OutboxRecord) -> ();
        /// Holds the tenant's admission lock until the transaction ends.
        fn hold_tenant(tenant: &str) -> ();
        /// Claims notifications due at `now` until `until`.
        fn claim_outbox(now: i64, limit: usize, until: i64) -> Vec<OutboxRecord>;
        /// Records a delivery attempt.
        fn outbox_attempted(id: &str, attempts: i64, next_attempt: Option<i64>, delivered_at: Option<i64>, error: Option<&str>) -> ();
    }

    /// Stores a new run and its steps, driven by this host; returns the
    /// run's number among its workflow's runs.
    pub fn insert_run(&self, run: &RunRecord, steps: &[StepRecord]) -> Result<i64, StoreError> {
        insert_run(self.tx, run, steps, self.host)
    }

    /// Commits a run's transition with its outbox rows, as anyone's write
    /// (taken whoever drives the run; see [`Fence::Anyone`]). Returns whether
    /// this host drives the run now.
    pub fn commit_in(
        &self,
        transition: &Transition,
        outbox: &[OutboxRecord],
    ) -> Result<bool, StoreError> {
        let fence = Fence::Anyone {
            host: self.host,
            now: transition.run.updated_at,
        };
        let owner = commit_in(self.tx, transition, outbox, fence)?;
        Ok(owner.as_deref() == Some(self.host))
    }
}
