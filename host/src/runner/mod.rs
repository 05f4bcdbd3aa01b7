//! The run state machine in motion: starts runs, drives each through its steps on
//! the engine, retries, pauses and resumes, cancels, times out paused runs, and
//! recovers every unfinished run after a restart. Knows nothing of HTTP.
//!
//! One driver task per unfinished, unpaused run; a paused run costs only its rows.
//! Every transition is one transaction (run row, step rows, events). A driver's
//! commit only succeeds if nobody else changed the run since it last looked (the
//! run's `last_seq`); when a cancel or a resume got there first, the driver stops,
//! and whoever changed the run starts a driver if the run needs one.

mod admission;
mod batch;
mod deadlines;
mod decisions;
mod definitions;
mod driver;
mod lease;
mod plans;
mod recent;
mod scheduler;
pub mod view;
mod waiters;
mod workflows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::clock::{new_id, now_ms};
use crate::egress::Rules;
use crate::engine::{
    Call, Engine, Evaluation, Invocation, OutboundHttp, SandboxLimits, StepOutcome, StepProgress,
    StepReport, TemplateFailure,
};
use crate::run::{
    self, Attempt, Change, Effect, Entry, ErrorReason, IllegalTransition, Layout, PendingAction,
    Refusal, RunStatus, RunSteps, StepFailure, StepLog, StepStatus, Transition, Trigger,
};
use crate::secrets::Secrets;
use crate::store::{
    self, Known, OutboxRecord, RunRecord, Started, StepRecord, Store, StoreError, Target,
    Transacted,
};
use crate::workflow::{
    LanguageLimits, Problem, WorkflowDefinition, parse_duration, template_context, validate,
};
use admission::{NewRun, admit};
use definitions::Definitions;

pub use crate::run::Actor;
pub use crate::store::{EventRecord, WorkflowRecord, WorkflowStatus, WorkflowSummary};
pub use batch::{BatchProgress, BatchStatus, BatchView, MAX_BATCH_INPUTS};
pub use plans::NewPlan;
pub use scheduler::{FireView, ScheduleView};
pub use view::{ItemView, ItemsSummary, Progress, RunView, StepDetail, StepView};
use waiters::Waiters;
pub use waiters::{StateTest, Wait};

/// Settings of the runner.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Steps executing at once across all runs; more wait for a slot.
    pub max_running_steps: usize,
    /// Sandbox limits of a step attempt before its own `timeout`.
    pub step_limits: SandboxLimits,
    /// Unfinished (pending, running, paused) runs a tenant may have at once.
    pub max_active_runs_per_tenant: usize,
    /// Whether this runner starts runs on the workflows' cron schedules (the
    /// server does; the command line's local hosts do not).
    pub schedules: bool,
    /// Where steps (with a grant) and webhooks may send HTTP requests: the
    /// operator's allow-list (empty: nowhere) and tenants' narrowings.
    pub egress: Arc<Rules>,
    /// How long finished runs are kept; `None` keeps them forever.
    pub retention: Option<Duration>,
    /// How long the links sent with a plan for review work.
    pub plan_link_ttl: Duration,
    /// The operator's bounds on the workflow language.
    pub language: LanguageLimits,
    /// How long this host's lease lasts unrenewed: when hosts share a
    /// database, others take its runs this long after it stopped renewing.
    pub lease: Duration,
    /// What this host is called in the database's list of hosts.
    pub host_name: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            max_running_steps: 64,
            step_limits: SandboxLimits::default(),
            max_active_runs_per_tenant: 100_000,
            schedules: true,
            egress: Arc::default(),
            retention: None,
            plan_link_ttl: Duration::from_secs(24 * 3600),
            language: LanguageLimits::default(),
            lease: Duration::from_secs(10),
            host_name: format!("cairn pid {}", std::process::id()),
        }
    }
}

/// Why an operation was refused. Nothing changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("not found")]
    NotFound,
    #[error("the workflow definition has {} problem(s)", .0.len())]
    Invalid(Vec<Problem>),
    #[error("{0}")]
    NotActive(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
}

impl From<Refusal> for RunError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Conflict(message) => RunError::Conflict(message),
            Refusal::Invalid(message) => RunError::Rejected(message),
            Refusal::Quota(message) => RunError::QuotaExceeded(message),
            Refusal::Corrupt(message) => RunError::Store(StoreError::Corrupt(message)),
            Refusal::Illegal(illegal) => RunError::Illegal(illegal),
        }
    }
}

impl From<StoreError> for RunError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => RunError::NotFound,
            StoreError::Conflict(message) => RunError::Conflict(message),
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::Moved(run) => RunError::Conflict(format!("run {run} changed concurrently")),
            other => RunError::Store(other),
        }
    }
}

/// An `Idempotency-Key` and the hash of the request body it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub body_hash: String,
}

impl Idempotency {
    /// The refusal of a key that came before with another body.
    fn reused(&self) -> StoreError {
        StoreError::Refused(Refusal::Invalid(format!(
            "Idempotency-Key '{}' was used before with a different request body",
            self.key
        )))
    }
}

/// Runs workflows. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

/// A watch of a run, begun before a change ([`Runner::watch_view`]).
pub struct Watch {
    wait: Wait,
    row: StateTest,
}

/// How a wait for a run looks at it next.
#[derive(Clone, Copy)]
enum Look {
    /// Reads its row (and the whole run, if the row passes).
    Read,
    /// Takes the view of the change it was woken by.
    Woken,
    /// Nothing: waits for a change first.
    Wait,
}

struct Inner {
    engine: Arc<Engine>,
    store: Arc<Store>,
    catalog: Arc<Catalog>,
    slots: Arc<Semaphore>,
    slot_count: usize,
    step_limits: SandboxLimits,
    max_active_runs_per_tenant: usize,
    drivers: Mutex<HashMap<String, driver::DriverHandle>>,
    next_driver: AtomicU64,
    progress: Arc<Mutex<HashMap<String, StepProgress>>>,
    definitions: Arc<Definitions>,
    changes: broadcast::Sender<Change>,
    /// Who waits for which run's changes (see [`Inner::tell`]).
    waiters: Arc<Waiters>,
    /// The runs its drivers left paused last, as they left them.
    recent: recent::Recent,
    /// Wakes the outbox when a change queued notifications.
    outbox_wake: Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
    /// Wakes the scheduler when a schedule changed.
    schedules_changed: tokio::sync::Notify,
    /// Wakes the deadline loop when a committed pause has a deadline.
    deadlines_changed: tokio::sync::Notify,
    /// When this runner started: slots due before it were missed while down.
    up_since: i64,
    egress: Arc<Rules>,
    secrets: Arc<Secrets>,
    plan_link_ttl: Duration,
    language: LanguageLimits,
    /// The runtime drivers (and so steps) run on: the one the runner started
    /// on, wherever a start or a resume comes from (the API has threads of
    /// its own).
    runtime: tokio::runtime::Handle,
}

/// Runs as clients see them, without live progress.
fn views(runs: &[store::RunWithSteps]) -> Vec<RunView> {
    runs.iter()
        .map(|(run, steps)| RunView::new(run, steps, None))
        .collect()
}

/// What [`Inner::transact`] asks of the run core: the transition to commit
/// from the run, its steps and its workflow version's layout (none: nothing
/// to do), or why not.
trait Decide:
    FnOnce(&RunRecord, &RunSteps, &Layout) -> Result<Option<Transition>, Refusal> + Send + 'static
{
}

impl<F> Decide for F where
    F: FnOnce(&RunRecord, &RunSteps, &Layout) -> Result<Option<Transition>, Refusal>
        + Send
        + 'static
{
}

impl Inner {
    /// The outbox rows `transition`'s events call for under the run's
    /// workflow version's notification settings.
    fn outbox(&self, transition: &Transition) -> Vec<OutboxRecord> {
        let run = &transition.run;
        if transition
            .events
            .iter()
            .all(|e| e.event.notification().is_none())
        {
            return Vec::new();
        }
        match self.definitions.get(&run.workflow_id, run.workflow_version) {
            Ok(definition) => definition
                .notifications
                .as_ref()
                .map(|notifications| {
                    crate::notify::outbox_rows(run, &transition.events, notifications)
                })
                .unwrap_or_default(),
            // A run whose definition cannot be read must still be able to end
            // (failed, host_error); whom to tell is in that definition.
            Err(error) => {
                tracing::error!(run = %run.id, "no notifications for this transition: {error}");
                Vec::new()
            }
        }
    }

    /// Commits a driver's `transition` and announces the change; a conflict
    /// means someone else moved the run. Returns the committed transition.
    /// `steps` are the run's steps with the transition applied, when the
    /// caller has them (for waiters that want the run's view).
    async fn commit(
        self: &Arc<Self>,
        transition: Transition,
        steps: Option<&RunSteps>,
    ) -> Result<Transition, RunError> {
        let outbox = self.outbox(&transition);
        let queued = !outbox.is_empty();
        let committed = self.store.commit(transition, outbox).await?;
        self.announce(&committed, queued, steps);
        self.tell_family(&committed);
        Ok(committed)
    }

    /// Tells this host's waiters that a run changed (and the outbox, if
    /// the change `queued` notifications), and its deadline loop if the run
    /// now waits with a deadline.
    /// Waiters that want the run's view get it from `steps`, the run's
    /// steps as the change left them, when given.
    fn announce(&self, committed: &Transition, queued: bool, steps: Option<&RunSteps>) {
        let change = Change {
            run: committed.run.id.clone(),
            state: Some((committed.run.status, committed.run.last_seq)),
            queued,
        };
        self.tell_with(change, || {
            steps.map(|steps| self.view(&committed.run, steps.records()))
        });
        if committed.run.pause_deadline.is_some() {
            self.deadlines_changed.notify_one();
        }
    }

    /// Cancels child run `child`, unless it has ended; a failure is logged
    /// (the next start looks for children whose parent ended).
    async fn cancel_child(self: &Arc<Self>, child: &str, actor: Actor) {
        let cancelled = self
            .transact(
                None,
                child,
                None,
                move |run, steps, _| {
                    if run.status.is_terminal() {
                        return Ok(None);
                    }
                    run::cancel(run, steps, &actor, now_ms()).map(Some)
                },
                |_, _| (),
            )
            .await;
        if let Err(e) = cancelled {
            tracing::warn!(run = %child, "the child run was not cancelled: {e}");
        }
    }

    /// What a committed transition means for other runs: a sub-workflow
    /// step that ended before its child cancels the child, and a child that
    /// ended wakes its parent.
    fn tell_family(self: &Arc<Self>, committed: &Transition) {
        for effect in &committed.effects {
            if let Effect::CancelRun(child) = effect {
                let inner = Arc::clone(self);
                let (child, parent) = (child.clone(), committed.run.id.clone());
                self.runtime.spawn(async move {
                    let actor = Actor::api(&format!("parent run {parent}"));
                    inner.cancel_child(&child, actor).await;
                });
            }
        }
        if committed.run.status.is_terminal()
            && let Some(Trigger::Parent { run_id, .. }) = &committed.run.trigger
        {
            self.wake(run_id);
        }
    }

    /// Commits the transition `decide` computes from the run (none: nothing
    /// to do), read and written in one transaction, with the approval link
    /// `link` marked used; then acts on the transition's effects. `decide`
    /// gets the layout of the run's workflow version. When the transition
    /// has the run driven here, and its driver's first steps need only the
    /// run core, their starts go in the same commit (see
    /// [`Inner::first_starts`]).
    ///
    /// It runs as a task of its own: a caller that goes away meanwhile (an
    /// HTTP client that hung up drops its handler) must not leave a change
    /// committed and not acted on (a run resumed with no driver).
    ///
    /// Returns what `answer` takes from the run as the change left it (the
    /// driver it starts is handed the run's steps, not a copy, when `answer`
    /// keeps none).
    async fn transact<A: Send + 'static>(
        self: &Arc<Self>,
        tenant: Option<&str>,
        run_id: &str,
        link: Option<String>,
        decide: impl Decide,
        answer: impl FnOnce(&RunRecord, &RunSteps) -> A + Send + 'static,
    ) -> Result<Option<A>, RunError> {
        let (inner, tenant, run_id) = (
            Arc::clone(self),
            tenant.map(str::to_owned),
            run_id.to_owned(),
        );
        // On the runner's runtime, where the driver it may start is spawned
        // too: that driver then waits in this worker's next-task slot and
        // starts as soon as the task ends, while the caller (on the API's
        // threads, in `cairn serve`) makes its answer on another.
        self.runtime
            .spawn(async move {
                inner
                    .transact_here(tenant.as_deref(), &run_id, link, decide, answer)
                    .await
            })
            .await
            .map_err(|e| match e.is_cancelled() {
                true => RunError::Store(StoreError::Unavailable("the host is stopping".to_owned())),
                false => {
                    RunError::Store(StoreError::Corrupt(format!("a change's task failed: {e}")))
                }
            })?
    }

    /// [`Inner::transact`], in the caller's task.
    async fn transact_here<A>(
        self: &Arc<Self>,
        tenant: Option<&str>,
        run_id: &str,
        link: Option<String>,
        decide: impl Decide,
        answer: impl FnOnce(&RunRecord, &RunSteps) -> A,
    ) -> Result<Option<A>, RunError> {
        // The run's place among this host's drivers, taken first: a driver
        // that started meanwhile could start the same steps again.
        let place = driver::Place::take(self, run_id);
        let (inner, follower, outbox) = (Arc::clone(self), Arc::clone(self), Arc::clone(self));
        let follow = place
            .is_some()
            .then_some(move |t: &Transition, steps: &RunSteps| follower.first_starts(t, steps));
        let known = Known::new(std::sync::Mutex::new(self.recent.take(run_id)));
        let target = Target {
            tenant: tenant.map(str::to_owned),
            id: run_id.to_owned(),
            link,
            known: Arc::clone(&known),
        };
        let decided = self
            .store
            .transact(
                target,
                move |run, steps| {
                    let layout = inner
                        .definitions
                        .layout(&run.workflow_id, run.workflow_version)?;
                    decide(run, steps, &layout).map_err(StoreError::Refused)
                },
                follow,
                move |transition| outbox.outbox(transition),
            )
            .await;
        // Nothing committed (a refused decision): the run is still as its
        // driver left it, kept again for the next decision.
        if let Some((run, steps)) = known.lock().ok().and_then(|mut slot| slot.take()) {
            self.recent.keep(run, steps);
        }
        let Some(Transacted {
            transition,
            steps,
            ours,
            queued,
            followed,
            kept,
        }) = decided?
        else {
            return Ok(None);
        };
        let steps_from = if kept { "kept" } else { "database" };
        metrics::counter!("cairn_run_changes_total", "steps" => steps_from).increment(1);
        self.announce(&transition, queued, Some(&steps));
        let answer = answer(&transition.run, &steps);
        let drives = ours && transition.effects.contains(&Effect::Drive);
        let start = drives.then(|| driver::Start {
            state: (transition.run.clone(), steps),
            place,
            launch: followed.unwrap_or_default(),
        });
        self.act_on(run_id, &transition.effects, ours, start);
        self.tell_family(&transition);
        Ok(Some(answer))
    }

    /// Tells this host of `change`: the run's waiters whose test its state
    /// passes, the outbox if it queued notifications, and the subscribers.
    fn tell(&self, change: Change) {
        self.tell_with(change, || None);
    }

    /// [`Inner::tell`], with the run's view as the change left it for the
    /// waiters that want it (made only if one does).
    fn tell_with(&self, change: Change, view: impl FnOnce() -> Option<RunView>) {
        self.waiters.changed(&change.run, change.state, view);
        if change.queued {
            self.outbox_wake.notify_one();
        }
        let _ = self.changes.send(change);
    }

    /// Run `run_id`'s driver on this host, if it has one.
    fn driver(&self, run_id: &str) -> Option<driver::DriverHandle> {
        self.drivers.lock().ok()?.get(run_id).cloned()
    }

    /// How long someone waiting for a run's changes may go without looking
    /// at it again: on a database other hosts share, their changes are heard
    /// through hints, which may be lost, so a second; else they are all
    /// announced here, and the wait may be as long as it likes.
    fn look_again(&self) -> Duration {
        if self.store.is_shared() {
            lease::LOOK_AGAIN
        } else {
            Duration::from_secs(3600)
        }
    }

    /// Acts on what a committed transition asks for; `ours` says whether
    /// this host drives the run (else its owner is asked to).
    fn act(self: &Arc<Self>, run_id: &str, effects: &[Effect], ours: bool) {
        self.act_on(run_id, effects, ours, None);
    }

    /// [`Inner::act`], with how to start the run's driver (`start`): from
    /// the run as the transition left it, in the place taken for it.
    fn act_on(
        self: &Arc<Self>,
        run_id: &str,
        effects: &[Effect],
        ours: bool,
        mut start: Option<driver::Start>,
    ) {
        for effect in effects {
            match effect {
                Effect::Drive if ours => match start.take() {
                    Some(start) => start.drive(self, run_id),
                    None => driver::drive_run(self, run_id.to_owned()),
                },
                Effect::Drive => self.hint_drive(run_id),
                Effect::Interrupt => {
                    if let Some(handle) = self.driver(run_id) {
                        handle.token.cancel();
                    }
                }
                // Done by `tell_family`, for every commit.
                Effect::CancelRun(_) => {}
            }
        }
    }

    /// `run` as clients see it, with its live progress.
    fn view(&self, run: &RunRecord, steps: &[StepRecord]) -> RunView {
        let live = self
            .progress
            .lock()
            .ok()
            .and_then(|p| p.get(&run.id).cloned());
        RunView::new(run, steps, live.as_ref())
    }

    /// Reads a run and its steps.
    fn load(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<(RunRecord, Vec<StepRecord>), RunError> {
        Ok(self.store.run_with_steps(tenant, id)?)
    }
}

impl Runner {
    /// Starts the runner over `store`: recovers unfinished runs and starts the
    /// timer for paused runs' deadlines.
    pub async fn start(
        engine: Arc<Engine>,
        store: Arc<Store>,
        catalog: Arc<Catalog>,
        secrets: Arc<Secrets>,
        config: RunnerConfig,
    ) -> Result<Runner, RunError> {
        let (changes, _) = broadcast::channel(4096);
        let runner = Runner {
            inner: Arc::new(Inner {
                engine,
                catalog,
                slots: Arc::new(Semaphore::new(config.max_running_steps.max(1))),
                slot_count: config.max_running_steps.max(1),
                max_active_runs_per_tenant: config.max_active_runs_per_tenant,
                step_limits: config.step_limits,
                drivers: Mutex::new(HashMap::new()),
                next_driver: AtomicU64::new(0),
                progress: Arc::new(Mutex::new(HashMap::new())),
                definitions: Arc::new(Definitions::new(Arc::clone(&store))),
                store,
                changes,
                waiters: Arc::default(),
                recent: recent::Recent::default(),
                outbox_wake: Arc::default(),
                shutdown: CancellationToken::new(),
                schedules_changed: tokio::sync::Notify::new(),
                deadlines_changed: tokio::sync::Notify::new(),
                up_since: now_ms(),
                egress: config.egress,
                plan_link_ttl: config.plan_link_ttl,
                language: config.language,
                secrets,
                runtime: tokio::runtime::Handle::current(),
            }),
        };
        let inner = &runner.inner;
        let now = now_ms();
        let until = now.saturating_add(config.lease.as_millis() as i64);
        inner
            .store
            .join(&new_id(), &config.host_name, now, until)
            .await?;
        inner.listen();
        let recovered = inner.take_orphans(true).await?;
        if recovered > 0 {
            tracing::info!(runs = recovered, "recovering unfinished runs");
        }
        for child in runner.inner.store.orphaned_children()? {
            tracing::info!(run = %child, "cancelling a child run whose parent ended");
            let actor = Actor::api("its ended parent run");
            runner.inner.cancel_child(&child, actor).await;
        }
        let runtime = &runner.inner.runtime;
        runtime.spawn(Arc::clone(&runner.inner).deadline_loop());
        runtime.spawn(Arc::clone(&runner.inner).lease_loop(config.lease, config.host_name));
        if let Some(retention) = config.retention {
            runtime.spawn(Arc::clone(&runner.inner).retention_loop(retention));
        }
        if config.schedules {
            runtime.spawn(runner.clone().schedule_loop());
        }
        Ok(runner)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// How many runs are in each status (a trigger-kept count: no scan).
    pub fn run_counts(&self) -> Result<Vec<(String, i64)>, RunError> {
        Ok(self.inner.store.run_counts()?)
    }

    /// Transactions this host has run against a PostgreSQL database (none
    /// on SQLite).
    pub fn database_transactions(&self) -> Option<u64> {
        self.inner.store.transactions()
    }

    /// Whether the approval link whose token has this id was used.
    pub fn approval_link_used(&self, token_id: &str) -> Result<bool, RunError> {
        Ok(self.inner.store.approval_link_used(token_id)?)
    }

    /// Where outbound requests may go.
    pub fn egress(&self) -> &Arc<Rules> {
        &self.inner.egress
    }

    /// Stops every driver where it is (see [`Runner::drain`] for a graceful
    /// stop), and ends this host's lease, so that other hosts sharing the
    /// database (or the next start) take its runs at once.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        if let Err(e) = futures_executor::block_on(self.inner.store.leave()) {
            tracing::warn!("cannot end this host's lease: {e}");
        }
    }

    /// How long a waiter for a run's changes may go without looking at it
    /// again (see `Inner::look_again`).
    pub fn look_again(&self) -> Duration {
        self.inner.look_again()
    }

    /// Cancelled when the runner stops.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Notifies about every committed transition.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// Waits for run `id` to change to a state that passes `test` (or to one
    /// this host does not know), from now until the [`Wait`] is dropped.
    pub fn watch(&self, id: &str, test: StateTest) -> Wait {
        self.inner.waiters.add(id, test, false)
    }

    /// Notified when a change queued notifications (for the outbox).
    pub fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.outbox_wake)
    }

    /// The run as clients see it; with `tenant`, only that tenant's run.
    pub fn get_run(&self, tenant: Option<&str>, id: &str) -> Result<RunView, RunError> {
        let (run, steps) = self.inner.load(tenant, id)?;
        Ok(self.inner.view(&run, &steps))
    }

    /// The view of the tenant's run `id` after a change: from the run as the
    /// change left it (`after`) when it changed it, else read.
    fn view_after(
        &self,
        tenant: &str,
        id: &str,
        after: Option<(RunRecord, RunSteps)>,
    ) -> Result<RunView, RunError> {
        match after {
            Some((run, steps)) => Ok(self.inner.view(&run, steps.records())),
            None => self.get_run(Some(tenant), id),
        }
    }

    /// Step `path` of a tenant's run; for a map, items `offset..offset+limit`.
    pub fn step_detail(
        &self,
        tenant: &str,
        run_id: &str,
        path: &str,
        offset: usize,
        limit: usize,
    ) -> Result<view::StepDetail, RunError> {
        let (_, steps) = self.inner.load(Some(tenant), run_id)?;
        view::StepDetail::new(path, &steps, offset, limit).ok_or(RunError::NotFound)
    }

    /// How a run stands, from its row alone (no steps read).
    pub fn run_status(&self, tenant: Option<&str>, id: &str) -> Result<RunStatus, RunError> {
        Ok(self.inner.store.run_status(tenant, id)?)
    }

    /// How a run stands and the sequence number of its last event, from its
    /// row alone.
    pub fn run_state(&self, tenant: Option<&str>, id: &str) -> Result<(RunStatus, i64), RunError> {
        Ok(self.inner.store.run_state(tenant, id)?)
    }

    /// The run's events after sequence number `after`.
    pub fn events(
        &self,
        tenant: Option<&str>,
        id: &str,
        after: i64,
    ) -> Result<Vec<EventRecord>, RunError> {
        Ok(self.inner.store.events(tenant, id, after)?)
    }

    /// Waits until the run satisfies `done` or `timeout` passes; returns its view.
    pub async fn wait_until(
        &self,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        done: impl Fn(&RunView) -> bool,
    ) -> Result<RunView, RunError> {
        self.wait_for(tenant, id, timeout, Arc::new(|_, _| true), done)
            .await
    }

    /// [`Runner::wait_until`] for a condition on the run's status and last
    /// event alone (`done(status, last_event)`), looked at from the run's row
    /// at each change: the whole run is read once, for the answer.
    pub async fn wait_until_state(
        &self,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        done: impl Fn(RunStatus, i64) -> bool + Send + Sync + 'static,
    ) -> Result<RunView, RunError> {
        self.wait_for(tenant, id, timeout, Arc::new(done), |_| true)
            .await
    }

    /// Waits until the run's row passes `row` and then its view passes
    /// `done`, or `timeout` ends; returns the view as it is then. Only a
    /// change to a state that passes `row` wakes the wait.
    async fn wait_for(
        &self,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        row: StateTest,
        done: impl Fn(&RunView) -> bool,
    ) -> Result<RunView, RunError> {
        // Registered before the run is read, so that no change falls between.
        let watch = Watch {
            wait: self.inner.waiters.add(id, Arc::clone(&row), true),
            row,
        };
        self.follow_from(watch, Look::Read, tenant, id, timeout, done)
            .await
    }

    /// Begins to watch run `id` for [`Runner::follow`], before a change the
    /// caller is about to make (a decision), so that what follows the change
    /// is seen however soon it comes: a watch wakes at each change of the
    /// run to a settled state (paused, or ended), or with `settled` false at
    /// each change.
    pub fn watch_view(&self, id: &str, settled: bool) -> Watch {
        let row: StateTest = if settled {
            Arc::new(|status, _| status.is_terminal() || status == RunStatus::Paused)
        } else {
            Arc::new(|_, _| true)
        };
        Watch {
            wait: self.inner.waiters.add(id, Arc::clone(&row), true),
            row,
        }
    }

    /// Waits, up to `timeout`, until the run `watch` watches changes to a
    /// state whose status and last event pass `done`; returns its view then.
    /// The run is not read when the change came from this host: its view
    /// comes with it.
    pub async fn follow(
        &self,
        watch: Watch,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        done: impl Fn(RunStatus, i64) -> bool,
    ) -> Result<RunView, RunError> {
        let done = move |view: &RunView| done(view.status, view.last_event);
        self.follow_from(watch, Look::Wait, tenant, id, timeout, done)
            .await
    }

    /// The loop of [`Runner::wait_for`] and [`Runner::follow`]: looks at the
    /// run as `first` says, then at each change that `watch` hears.
    async fn follow_from(
        &self,
        watch: Watch,
        first: Look,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        done: impl Fn(&RunView) -> bool,
    ) -> Result<RunView, RunError> {
        let Watch { wait, row } = watch;
        let deadline = tokio::time::Instant::now() + timeout;
        // Other hosts' changes are heard through hints, which may be lost:
        // on a shared database, look again now and then all the same.
        let look_again = self.look_again().min(timeout);
        let mut look = first;
        loop {
            let view = match look {
                // The run as the change left it, from whoever made it; else read.
                Look::Woken => {
                    let view = match wait.take_view() {
                        Some(view) => view,
                        None => self.get_run(tenant, id)?,
                    };
                    wait.saw(view.last_event);
                    Some(view).filter(|v| row(v.status, v.last_event))
                }
                Look::Read => {
                    let (status, last_event) = self.inner.store.run_state(tenant, id)?;
                    wait.saw(last_event);
                    match row(status, last_event) {
                        // A run paused here, as it is now: its steps need
                        // not be read.
                        true => {
                            let kept = self.inner.recent.look(id, last_event, |run, steps| {
                                self.inner.view(run, steps.records())
                            });
                            Some(match kept {
                                Some(view) => view,
                                None => self.get_run(tenant, id)?,
                            })
                        }
                        false => None,
                    }
                }
                Look::Wait => None,
            };
            if let Some(view) = view
                && done(&view)
            {
                return Ok(view);
            }
            let until = deadline.min(tokio::time::Instant::now() + look_again);
            look = match tokio::time::timeout_at(until, wait.changed()).await {
                Ok(()) => Look::Woken,
                Err(_) if until < deadline => Look::Read,
                Err(_) => return self.get_run(tenant, id),
            };
        }
    }

    /// A tenant's runs, newest first; `before` is the last id of the previous page.
    pub fn list_runs(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        status: Option<RunStatus>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunView>, RunError> {
        let runs = self
            .inner
            .store
            .runs(tenant, workflow_id, status, before, limit)?;
        Ok(views(&runs))
    }

    /// A tenant's runs waiting for a person, the longest waiting first.
    pub fn paused_runs(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        reviewer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunView>, RunError> {
        let runs = self
            .inner
            .store
            .paused(tenant, workflow_id, reviewer, limit)?;
        Ok(views(&runs))
    }

    /// Waits until every step that is executing has finished (or `grace` passed),
    /// starting no new ones, then stops the drivers. Finished steps are committed;
    /// unfinished runs continue at the next start.
    pub async fn drain(&self, grace: Duration) {
        let all = u32::try_from(self.inner.slot_count).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(grace, self.inner.slots.acquire_many(all)).await;
        if drained.is_err() {
            tracing::warn!(
                "steps still running after the grace period; they will run again at the next start"
            );
        }
        self.shutdown();
        if let Ok(Ok(permits)) = drained {
            // Let drivers that were waiting for a slot see the shutdown, not a slot.
            tokio::task::yield_now().await;
            drop(permits);
        }
    }
}

/// Where the runner's database lives inside a data directory.
pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("cairn.db")
}

/// The database of a data directory: the PostgreSQL server at `url`, or
/// else the directory's SQLite file, committed as `synchronous` says.
pub fn database(
    data_dir: &std::path::Path,
    url: Option<String>,
    synchronous: store::Synchronous,
) -> store::Database {
    match url {
        Some(url) => store::Database::Postgres { url },
        None => store::Database::Sqlite {
            path: database_path(data_dir),
            synchronous,
        },
    }
}
