//! The run state machine in motion: starts runs, drives each through its steps on
//! the engine, retries, pauses and resumes, cancels, times out paused runs, and
//! recovers every unfinished run after a restart. Knows nothing of HTTP.
//!
//! One driver task per unfinished, unpaused run; a paused run costs only its rows.
//! Every transition is one transaction (run row, step rows, events). A driver's
//! commit only succeeds if nobody else changed the run since it last looked (the
//! run's `last_seq`); when a cancel or a resume got there first, the driver stops,
//! and whoever changed the run starts a driver if the run needs one.

mod batch;
mod scheduler;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Transaction;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::clock::{new_id, now_ms};
use crate::egress::Rules;
use crate::engine::{
    Call, Engine, Evaluation, Invocation, OutboundHttp, SandboxLimits, StepOutcome, StepProgress,
    StepReport, TemplateFailure,
};
use crate::model::{Channel, EventKind, FailReason, IllegalTransition, RunStatus, StepStatus};
use crate::secrets::Secrets;
use crate::store::{self, RunRecord, Started, StepRecord, Store, StoreError};
use crate::workflow::{
    ApprovalGate, ConcurrencyPolicy, Problem, TimeoutAction, WorkflowDefinition, parse_duration,
    template_context, validate,
};

pub use crate::store::{EventRecord, WorkflowRecord, WorkflowStatus};
pub use batch::{BatchProgress, BatchStatus, BatchView, MAX_BATCH_INPUTS};
pub use scheduler::{FireView, ScheduleView};
pub use view::{Progress, RunView, StepView};

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

impl From<StoreError> for RunError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => RunError::NotFound,
            StoreError::Conflict(message) => RunError::Conflict(message),
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
    fn reused(&self) -> RunError {
        RunError::Rejected(format!(
            "Idempotency-Key '{}' was used before with a different request body",
            self.key
        ))
    }
}

/// Who decided, and through which channel.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A verified identity: an API key's name, the reviewer a link was made
    /// for, or `timeout`. A gate's quorum counts distinct identities, compared
    /// without regard to case.
    pub name: String,
    pub channel: Channel,
    /// What the caller said about itself (the API's free-text `reviewer`):
    /// recorded for the audit trail, never counted.
    pub label: Option<String>,
}

impl Actor {
    pub fn api(name: &str) -> Self {
        Actor {
            name: name.to_owned(),
            channel: Channel::Api,
            label: None,
        }
    }
}

/// Runs workflows. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    store: Arc<Store>,
    catalog: Arc<Catalog>,
    slots: Arc<Semaphore>,
    slot_count: usize,
    step_limits: SandboxLimits,
    max_active_runs_per_tenant: usize,
    drivers: Mutex<HashMap<String, (u64, CancellationToken)>>,
    next_driver: AtomicU64,
    progress: Arc<Mutex<HashMap<String, StepProgress>>>,
    definitions: Mutex<HashMap<(String, i64), Arc<WorkflowDefinition>>>,
    changes: broadcast::Sender<String>,
    shutdown: CancellationToken,
    /// Wakes the scheduler when a schedule changed.
    schedules_changed: tokio::sync::Notify,
    /// When this runner started: slots due before it were missed while down.
    up_since: i64,
    egress: Arc<Rules>,
    secrets: Arc<Secrets>,
    /// The runtime drivers (and so steps) run on: the one the runner started
    /// on, wherever a start or a resume comes from (the API has threads of
    /// its own).
    runtime: tokio::runtime::Handle,
}

/// Appends an event to `run`'s log (in memory; saved with the transition).
fn event(run: &mut RunRecord, kind: EventKind, data: Value) -> EventRecord {
    run.last_seq += 1;
    EventRecord {
        seq: run.last_seq,
        at: now_ms(),
        kind,
        data,
    }
}

fn set_run(run: &mut RunRecord, status: RunStatus) -> Result<(), IllegalTransition> {
    run.status.check(status)?;
    run.status = status;
    Ok(())
}

fn set_step(step: &mut StepRecord, status: StepStatus) -> Result<(), IllegalTransition> {
    step.status.check(status)?;
    step.status = status;
    Ok(())
}

/// Finished runs deleted in one transaction by the retention sweep.
const RETENTION_BATCH: usize = 100;
/// The longest pause between two retention sweeps.
const RETENTION_PAUSE: Duration = Duration::from_secs(60);

/// Bytes of log messages kept per step, across its attempts; older lines go first.
const STEP_LOG_BYTES: usize = 64 << 10;

/// Adds what an attempt logged (its `log` lines, the host's notes, and its
/// stdout and stderr) to the step's log.
fn keep_logs(step: &mut StepRecord, report: &StepReport) {
    let attempt = step.attempts;
    let mut lines: Vec<Value> = match step.logs.take() {
        Some(Value::Array(lines)) => lines,
        _ => Vec::new(),
    };
    for line in &report.logs {
        lines.push(json!({ "attempt": attempt, "level": line.level, "source": line.source, "message": line.message }));
    }
    for (stream, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
        if !text.is_empty() {
            lines.push(
                json!({ "attempt": attempt, "level": "info", "source": stream, "message": text }),
            );
        }
    }
    if report.logs_dropped > 0 {
        lines.push(json!({ "attempt": attempt, "level": "warn", "source": "host",
            "message": format!("{} log lines dropped past the attempt's budget", report.logs_dropped) }));
    }
    let size = |line: &Value| line["message"].as_str().map_or(0, str::len);
    let mut total: usize = lines.iter().map(size).sum();
    let mut first = 0;
    while total > STEP_LOG_BYTES && first < lines.len() {
        total -= size(&lines[first]);
        first += 1;
    }
    lines.drain(..first);
    step.logs = (!lines.is_empty()).then_some(Value::Array(lines));
}

/// Saves a transition: the run (if nobody changed it since `expected_seq`), the
/// steps that changed, and the new events.
fn save(
    tx: &Transaction<'_>,
    run: &RunRecord,
    expected_seq: i64,
    steps: &[&StepRecord],
    events: &[EventRecord],
) -> Result<(), StoreError> {
    store::save_run(tx, run, expected_seq)?;
    for step in steps {
        store::save_step(tx, step)?;
    }
    for event in events {
        store::append_event(tx, &run.id, event)?;
    }
    crate::notify::enqueue(tx, run, events)
}

/// Fails `step` and with it `run` (in memory), for `reason`; returns the events.
fn fail_in(
    run: &mut RunRecord,
    step: &mut StepRecord,
    reason: FailReason,
    message: &str,
    fault: Option<&str>,
    error: Option<Value>,
) -> Result<Vec<EventRecord>, IllegalTransition> {
    set_step(step, StepStatus::Failed)?;
    set_run(run, RunStatus::Failed)?;
    let reason = reason.as_str();
    step.error = Some(
        error
            .unwrap_or_else(|| json!({ "reason": reason, "message": message, "retryable": false })),
    );
    step.finished_at = Some(now_ms());
    finish_paused(run);
    run.error =
        Some(json!({ "reason": reason, "message": message, "step": step.name, "fault": fault }));
    let failed_step = event(
        run,
        EventKind::StepFailed,
        json!({ "step": step.name, "attempt": step.attempts, "error": step.error }),
    );
    let failed = event(
        run,
        EventKind::Failed,
        json!({ "reason": reason, "step": step.name, "message": message }),
    );
    Ok(vec![failed_step, failed])
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
                store,
                catalog,
                slots: Arc::new(Semaphore::new(config.max_running_steps.max(1))),
                slot_count: config.max_running_steps.max(1),
                max_active_runs_per_tenant: config.max_active_runs_per_tenant,
                step_limits: config.step_limits,
                drivers: Mutex::new(HashMap::new()),
                next_driver: AtomicU64::new(0),
                progress: Arc::new(Mutex::new(HashMap::new())),
                definitions: Mutex::new(HashMap::new()),
                changes,
                shutdown: CancellationToken::new(),
                schedules_changed: tokio::sync::Notify::new(),
                up_since: now_ms(),
                egress: config.egress,
                secrets,
                runtime: tokio::runtime::Handle::current(),
            }),
        };
        let unfinished = runner
            .inner
            .store
            .read(|c| store::run_ids_in(c, &[RunStatus::Pending, RunStatus::Running]))?;
        if !unfinished.is_empty() {
            tracing::info!(runs = unfinished.len(), "recovering unfinished runs");
        }
        for run_id in unfinished {
            runner.spawn_driver(run_id);
        }
        let runtime = &runner.inner.runtime;
        runtime.spawn(Arc::clone(&runner.inner).deadline_loop());
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

    /// Stops every driver where it is, leaving runs to be recovered by the next
    /// start. Steps in flight are abandoned, and run again after the restart.
    /// How many runs are in each status (a trigger-kept count: no scan).
    pub fn run_counts(&self) -> Result<Vec<(String, i64)>, RunError> {
        Ok(self.inner.store.read(store::count_runs_by_status)?)
    }

    /// Whether the approval link whose token has this id was used.
    pub fn approval_link_used(&self, token_id: &str) -> Result<bool, RunError> {
        Ok(self
            .inner
            .store
            .read(|c| store::approval_token_used(c, token_id))?)
    }

    /// Where outbound requests may go.
    pub fn egress(&self) -> &Arc<Rules> {
        &self.inner.egress
    }

    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Notifies about every committed transition: the run's id.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.changes.subscribe()
    }

    // ---- workflows ----

    /// Validates and stores a new workflow.
    pub async fn create_workflow(
        &self,
        tenant: &str,
        definition: Value,
        status: WorkflowStatus,
    ) -> Result<WorkflowRecord, RunError> {
        let parsed = self.check_definition(tenant, definition.clone())?;
        let now = now_ms();
        let workflow = WorkflowRecord {
            id: new_id(),
            tenant: tenant.to_owned(),
            name: parsed.name.clone(),
            status,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let record = workflow.clone();
        self.inner
            .store
            .write(move |tx| {
                store::insert_workflow(tx, &record, &definition)?;
                scheduler::sync_schedule(tx, &record, parsed.schedule.as_ref(), now)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }

    /// Stores a new version of a workflow's definition; running runs keep theirs.
    pub async fn update_workflow(
        &self,
        tenant: &str,
        id: &str,
        definition: Value,
    ) -> Result<WorkflowRecord, RunError> {
        let parsed = self.check_definition(tenant, definition.clone())?;
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        let workflow = self
            .inner
            .store
            .write(move |tx| {
                let mut workflow = store::get_workflow(tx, &tenant, &id)?;
                workflow.version += 1;
                workflow.name = parsed.name.clone();
                workflow.updated_at = now_ms();
                store::insert_workflow_version(
                    tx,
                    &workflow.id,
                    workflow.version,
                    &definition,
                    workflow.updated_at,
                )?;
                store::update_workflow(tx, &workflow)?;
                scheduler::sync_schedule(
                    tx,
                    &workflow,
                    parsed.schedule.as_ref(),
                    workflow.updated_at,
                )?;
                Ok(workflow)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }

    pub async fn set_workflow_status(
        &self,
        tenant: &str,
        id: &str,
        status: WorkflowStatus,
    ) -> Result<WorkflowRecord, RunError> {
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        let workflow = self
            .inner
            .store
            .write(move |tx| {
                let mut workflow = store::get_workflow(tx, &tenant, &id)?;
                let activated = status == WorkflowStatus::Active && workflow.status != status;
                workflow.status = status;
                workflow.updated_at = now_ms();
                store::update_workflow(tx, &workflow)?;
                if activated {
                    scheduler::restart_schedule(tx, &workflow, workflow.updated_at)?;
                }
                Ok(workflow)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }

    /// A workflow and its latest definition.
    pub fn get_workflow(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<(WorkflowRecord, Value), RunError> {
        Ok(self.inner.store.read(|c| {
            let workflow = store::get_workflow(c, tenant, id)?;
            let definition = store::get_definition(c, id, workflow.version)?;
            Ok((workflow, definition))
        })?)
    }

    fn check_definition(
        &self,
        tenant: &str,
        definition: Value,
    ) -> Result<WorkflowDefinition, RunError> {
        let parsed = WorkflowDefinition::from_value(definition)
            .map_err(|problem| RunError::Invalid(vec![problem]))?;
        let mut problems = validate(&parsed, &self.inner.catalog.for_tenant(tenant));
        problems.extend(self.webhook_problems(tenant, &parsed)?);
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(RunError::Invalid(problems))
        }
    }

    /// Webhooks whose URL the egress policy refuses, or whose signing secret
    /// the tenant does not have. Delivery checks both again, as settings and
    /// secrets may change.
    fn webhook_problems(
        &self,
        tenant: &str,
        definition: &WorkflowDefinition,
    ) -> Result<Vec<Problem>, RunError> {
        let hooks = definition
            .notifications
            .as_ref()
            .map_or(&[][..], |n| n.webhooks.as_slice());
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let policy = self.inner.egress.policy(tenant, None);
        let secrets = self
            .inner
            .secrets
            .values(tenant)
            .map_err(|e| RunError::Store(StoreError::Corrupt(e.to_string())))?;
        let mut problems = Vec::new();
        for (index, hook) in hooks.iter().enumerate() {
            let at = |field: &str| format!("/notifications/webhooks/{index}/{field}");
            if let Ok(target) = crate::egress::Target::parse("POST", &hook.url) {
                let literal = target.host.parse::<std::net::IpAddr>().ok();
                let checked = policy.check(&target).and_then(|()| match literal {
                    Some(ip) => policy.check_address(&target, ip),
                    None => Ok(()),
                });
                if let Err(denial) = checked {
                    problems.push(Problem {
                        path: at("url"),
                        message: format!("webhooks go out under the egress policy: {denial}"),
                    });
                }
            }
            if let Some(name) = hook.secret_name() {
                let message = match secrets.get(name) {
                    None => Some(format!(
                        "the tenant has no secret named '{name}': store the signing key first \
                         (PUT /v1/secrets/{name})"
                    )),
                    Some(value) if !crate::notify::is_signing_key(value) => Some(format!(
                        "secret '{name}' is not a signing key: 'whsec_' and the base64 of at \
                         least 16 bytes"
                    )),
                    Some(_) => None,
                };
                if let Some(message) = message {
                    problems.push(Problem {
                        path: at("secret"),
                        message,
                    });
                }
            }
        }
        Ok(problems)
    }

    // ---- runs ----

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
        let workflow = self.active_workflow(tenant, workflow_id)?;
        let new = self.new_run(&workflow, input, json!({ "kind": "api" }))?;
        let id = new.run.id.clone();
        let quota = self.inner.max_active_runs_per_tenant as i64;
        let existing = self
            .inner
            .store
            .write(move |tx| {
                if let Some(idempotency) = &idempotency {
                    let previous = store::idempotent(
                        tx,
                        Started::Run,
                        &new.run.tenant,
                        &new.run.workflow_id,
                        &idempotency.key,
                    )?;
                    match previous {
                        Some((run_id, hash)) if hash == idempotency.body_hash => {
                            return Ok(Ok(Some(run_id)));
                        }
                        Some(_) => return Ok(Err(idempotency.reused())),
                        None => {}
                    }
                }
                if let Err(refused) = admit(tx, &workflow, &new.definition, 1, quota)? {
                    return Ok(Err(refused));
                }
                new.insert(tx)?;
                if let Some(idempotency) = &idempotency {
                    store::insert_idempotency_key(
                        tx,
                        Started::Run,
                        &new.run.tenant,
                        &new.run.workflow_id,
                        &idempotency.key,
                        &idempotency.body_hash,
                        &new.run.id,
                        new.run.created_at,
                    )?;
                }
                Ok(Ok(None))
            })
            .await??;
        if let Some(existing) = existing {
            return Ok((self.get_run(Some(tenant), &existing)?, false));
        }
        self.started(&id);
        Ok((self.get_run(Some(tenant), &id)?, true))
    }

    /// The tenant's workflow, if it may start runs.
    fn active_workflow(&self, tenant: &str, workflow_id: &str) -> Result<WorkflowRecord, RunError> {
        let workflow = self
            .inner
            .store
            .read(|c| store::get_workflow(c, tenant, workflow_id))?;
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
    fn new_run(
        &self,
        workflow: &WorkflowRecord,
        input: Value,
        trigger: Value,
    ) -> Result<NewRun, RunError> {
        let definition = self.inner.definition(&workflow.id, workflow.version)?;
        let mut pins = Vec::with_capacity(definition.steps.len());
        for step in &definition.steps {
            let plugin = self
                .inner
                .catalog
                .resolve(&workflow.tenant, &step.step_type)
                .map_err(|e| RunError::Rejected(format!("step '{}': {e}", step.name)))?;
            pins.push(Value::String(plugin.digest.clone()));
        }
        let now = now_ms();
        let id = new_id();
        let mut run = RunRecord {
            id: id.clone(),
            tenant: workflow.tenant.clone(),
            workflow_id: workflow.id.clone(),
            workflow_version: workflow.version,
            status: RunStatus::Pending,
            input: input.clone(),
            result: None,
            error: None,
            pending_action: None,
            paused_step: None,
            pause_deadline: None,
            wake_at: None,
            current_action: None,
            steps_total: definition.steps.len() as i64,
            steps_done: 0,
            plugins: Value::Array(pins),
            last_seq: 0,
            created_at: now,
            updated_at: now,
            trigger: Some(trigger.clone()),
        };
        let steps: Vec<StepRecord> = definition
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| StepRecord {
                run_id: id.clone(),
                index: index as i64,
                name: step.name.clone(),
                status: StepStatus::Pending,
                attempts: 0,
                input: None,
                output: None,
                error: None,
                checkpoint: None,
                decision: None,
                started_at: None,
                finished_at: None,
                decisions: None,
                logs: None,
            })
            .collect();
        let created = event(
            &mut run,
            EventKind::Created,
            json!({ "workflow_version": workflow.version, "input": input, "trigger": trigger }),
        );
        Ok(NewRun {
            run,
            steps,
            created,
            definition,
        })
    }

    /// Announces a saved new run and starts driving it.
    fn started(&self, run_id: &str) {
        let _ = self.inner.changes.send(run_id.to_owned());
        self.spawn_driver(run_id.to_owned());
    }

    /// The run as clients see it; with `tenant`, only that tenant's run.
    pub fn get_run(&self, tenant: Option<&str>, id: &str) -> Result<RunView, RunError> {
        let (run, steps) = self
            .inner
            .store
            .read(|c| Ok((store::get_run(c, tenant, id)?, store::get_steps(c, id)?)))?;
        let live = self
            .inner
            .progress
            .lock()
            .ok()
            .and_then(|p| p.get(id).cloned());
        Ok(RunView::new(&run, &steps, live.as_ref()))
    }

    /// The run's events after sequence number `after`.
    pub fn events(
        &self,
        tenant: Option<&str>,
        id: &str,
        after: i64,
    ) -> Result<Vec<EventRecord>, RunError> {
        Ok(self.inner.store.read(|c| {
            store::get_run(c, tenant, id)?;
            store::get_events(c, id, after)
        })?)
    }

    /// Waits until the run satisfies `done` or `timeout` passes; returns its view.
    pub async fn wait_until(
        &self,
        tenant: Option<&str>,
        id: &str,
        timeout: Duration,
        done: impl Fn(&RunView) -> bool,
    ) -> Result<RunView, RunError> {
        let mut changes = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.get_run(tenant, id)?;
            if done(&view) {
                return Ok(view);
            }
            loop {
                match tokio::time::timeout_at(deadline, changes.recv()).await {
                    Err(_) => return self.get_run(tenant, id),
                    Ok(Ok(changed)) if changed != id => continue,
                    // This run changed, or notices were missed: look again.
                    Ok(_) => break,
                }
            }
        }
    }

    /// Resumes a run paused at `step` with `decision`: an option (`"approve"` or
    /// `{"decision": "approve", "note": "..."}`) when the pending action offers
    /// options, else a value its input schema accepts.
    pub async fn resume(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        self.resume_once(tenant, run_id, step, decision, actor, None)
            .await
    }

    /// Applies a reviewer's decision from an approval link; the link's token
    /// id is recorded in the same transaction, so the link works once.
    pub async fn resume_by_link(
        &self,
        claims: &crate::approvals::Claims,
        token_id: String,
        decision: Value,
    ) -> Result<RunView, RunError> {
        let actor = Actor {
            name: claims.reviewer.clone(),
            channel: Channel::Link,
            label: None,
        };
        self.resume_once(
            &claims.tenant,
            &claims.run,
            &claims.step,
            decision,
            actor,
            Some(token_id),
        )
        .await
    }

    async fn resume_once(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
        token: Option<String>,
    ) -> Result<RunView, RunError> {
        let run = self
            .inner
            .store
            .read(|c| store::get_run(c, Some(tenant), run_id))?;
        let definition = self
            .inner
            .definition(&run.workflow_id, run.workflow_version)?;
        let (tenant_owned, run_id_owned, step) =
            (tenant.to_owned(), run_id.to_owned(), step.to_owned());
        let needs_driver = self
            .inner
            .store
            .write(move |tx| {
                let mut run = store::get_run(tx, Some(&tenant_owned), &run_id_owned)?;
                let mut steps = store::get_steps(tx, &run_id_owned)?;
                if run.status != RunStatus::Paused {
                    return Ok(Err(RunError::Conflict(format!(
                        "run is {}, not paused",
                        run.status
                    ))));
                }
                let index = run.paused_step.unwrap_or_default() as usize;
                let Some(paused) = steps.get(index) else {
                    return Err(StoreError::Corrupt(format!(
                        "run {} paused at missing step {index}",
                        run.id
                    )));
                };
                if paused.name != step {
                    return Ok(Err(RunError::Conflict(format!(
                        "run is paused at step '{}', not '{step}'",
                        paused.name
                    ))));
                }
                let choice = match check_decision(run.pending_action.as_ref(), &decision) {
                    Ok(choice) => choice,
                    Err(message) => return Ok(Err(RunError::Rejected(message))),
                };
                let gate = definition.steps.get(index).and_then(|s| s.approval.clone());
                if let (Some(gate), Some((option, _))) = (&gate, &choice)
                    && !gate.reject.contains(option)
                    && approvals(&steps[index]).any(|d| {
                        d["reviewer"]
                            .as_str()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&actor.name))
                    })
                {
                    return Ok(Err(RunError::Conflict(format!(
                        "{} has approved this step already; it needs another reviewer \
                         (a quorum counts distinct API keys and link reviewers, not labels)",
                        actor.name
                    ))));
                }
                let expected = run.last_seq;
                match apply_decision(
                    &mut run,
                    &mut steps[index],
                    gate.as_ref(),
                    &decision,
                    choice,
                    &actor,
                ) {
                    Ok((events, needs_driver)) => {
                        if let Some(token) = &token
                            && !store::use_approval_token(tx, token, &run.id, now_ms())?
                        {
                            // Rolls the decision back with it.
                            return Err(StoreError::Conflict(
                                "this approval link was used already".to_owned(),
                            ));
                        }
                        save(tx, &run, expected, &[&steps[index]], &events)?;
                        Ok(Ok(needs_driver))
                    }
                    Err(illegal) => Ok(Err(illegal.into())),
                }
            })
            .await??;
        let _ = self.inner.changes.send(run_id.to_owned());
        if needs_driver {
            self.spawn_driver(run_id.to_owned());
        }
        self.get_run(Some(tenant), run_id)
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
        Ok(self.inner.store.read(|c| {
            let runs = store::list_runs(c, tenant, workflow_id, status, before, limit)?;
            runs.iter()
                .map(|run| Ok(RunView::new(run, &store::get_steps(c, &run.id)?, None)))
                .collect()
        })?)
    }

    /// A tenant's runs waiting for a person, the longest waiting first.
    pub fn paused_runs(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        reviewer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunView>, RunError> {
        Ok(self.inner.store.read(|c| {
            let runs = store::paused_runs(c, tenant, workflow_id, reviewer, limit)?;
            runs.iter()
                .map(|run| Ok(RunView::new(run, &store::get_steps(c, &run.id)?, None)))
                .collect()
        })?)
    }

    /// A tenant's workflows.
    pub fn list_workflows(&self, tenant: &str) -> Result<Vec<WorkflowRecord>, RunError> {
        Ok(self
            .inner
            .store
            .read(|c| store::list_workflows(c, tenant))?)
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

    /// Cancels a pending, running or paused run; a running step is interrupted.
    pub async fn cancel(
        &self,
        tenant: &str,
        run_id: &str,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        let (tenant_owned, id) = (tenant.to_owned(), run_id.to_owned());
        self.inner
            .store
            .write(move |tx| cancel_in(tx, &tenant_owned, &id, &actor))
            .await??;
        self.cancelled(run_id);
        self.get_run(Some(tenant), run_id)
    }

    /// After a cancel commits: interrupts the run's driver and announces it.
    fn cancelled(&self, run_id: &str) {
        if let Some((_, token)) = self
            .inner
            .drivers
            .lock()
            .ok()
            .and_then(|d| d.get(run_id).cloned())
        {
            token.cancel();
        }
        let _ = self.inner.changes.send(run_id.to_owned());
    }

    fn spawn_driver(&self, run_id: String) {
        spawn_driver(&self.inner, run_id);
    }
}

/// A run built by [`Runner::new_run`], ready to be saved.
struct NewRun {
    run: RunRecord,
    steps: Vec<StepRecord>,
    created: EventRecord,
    definition: Arc<WorkflowDefinition>,
}

impl NewRun {
    fn insert(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        store::insert_run(tx, &self.run, &self.steps)?;
        store::append_event(tx, &self.run.id, &self.created)
    }
}

/// Whether `count` more runs of `workflow` may start now: the tenant's quota
/// of unfinished runs, and the workflow's concurrency policy.
fn admit(
    tx: &Transaction<'_>,
    workflow: &WorkflowRecord,
    definition: &WorkflowDefinition,
    count: i64,
    quota: i64,
) -> Result<Result<(), RunError>, StoreError> {
    let active = store::active_runs_of_tenant(tx, &workflow.tenant)?;
    if active + count > quota {
        return Ok(Err(RunError::QuotaExceeded(if count == 1 {
            format!(
                "the tenant has {quota} unfinished runs, its quota; finish or cancel some first"
            )
        } else {
            format!(
                "{count} more runs would exceed the tenant's quota of {quota} unfinished runs ({active} now)"
            )
        })));
    }
    if definition.concurrency == ConcurrencyPolicy::Forbid
        && (count > 1 || store::active_runs_of(tx, &workflow.id)? > 0)
    {
        return Ok(Err(RunError::Conflict(format!(
            "workflow '{}' allows one active run at a time{}",
            workflow.name,
            if count > 1 { "" } else { ", and one is active" }
        ))));
    }
    Ok(Ok(()))
}

fn spawn_driver(inner: &Arc<Inner>, run_id: String) {
    let generation = inner.next_driver.fetch_add(1, Ordering::Relaxed);
    let token = inner.shutdown.child_token();
    if let Ok(mut drivers) = inner.drivers.lock() {
        drivers.insert(run_id.clone(), (generation, token.clone()));
    }
    let inner = Arc::clone(inner);
    let runtime = inner.runtime.clone();
    runtime.spawn(async move {
        let mut deferred = None;
        if let Err(error) = inner.drive(&run_id, &token, &mut deferred).await {
            match error {
                RunError::Conflict(_) => {
                    tracing::debug!(run = %run_id, "driver stopped: the run changed under it")
                }
                other => {
                    tracing::error!(run = %run_id, "driver stopped: {other}");
                    inner.abandon(&run_id, deferred.take(), &other).await;
                }
            }
        }
        if let Ok(mut drivers) = inner.drivers.lock()
            && drivers.get(&run_id).is_some_and(|(g, _)| *g == generation)
        {
            drivers.remove(&run_id);
        }
        if let Ok(mut progress) = inner.progress.lock() {
            progress.remove(&run_id);
        }
    });
}

/// Clears what a paused run carried.
/// Cancels the tenant's run `id` within `tx`: its unfinished steps and the run.
fn cancel_in(
    tx: &Transaction<'_>,
    tenant: &str,
    id: &str,
    actor: &Actor,
) -> Result<Result<(), RunError>, StoreError> {
    let mut run = store::get_run(tx, Some(tenant), id)?;
    if run.status.is_terminal() {
        return Ok(Err(RunError::Conflict(format!(
            "run is already {}",
            run.status
        ))));
    }
    let mut steps = store::get_steps(tx, id)?;
    let expected = run.last_seq;
    let now = now_ms();
    let mut changed = Vec::new();
    for step in steps.iter_mut().filter(|s| !s.status.is_terminal()) {
        if let Err(illegal) = set_step(step, StepStatus::Cancelled) {
            return Ok(Err(illegal.into()));
        }
        step.finished_at = Some(now);
        changed.push(step.index);
    }
    if let Err(illegal) = set_run(&mut run, RunStatus::Cancelled) {
        return Ok(Err(illegal.into()));
    }
    finish_paused(&mut run);
    run.error =
        Some(json!({ "reason": "cancelled", "message": format!("cancelled by {}", actor.name) }));
    let cancelled = event(
        &mut run,
        EventKind::Cancelled,
        json!({ "actor": actor.name, "channel": actor.channel }),
    );
    let changed: Vec<&StepRecord> = steps
        .iter()
        .filter(|s| changed.contains(&s.index))
        .collect();
    save(tx, &run, expected, &changed, &[cancelled])?;
    Ok(Ok(()))
}

fn finish_paused(run: &mut RunRecord) {
    run.pending_action = None;
    run.paused_step = None;
    run.pause_deadline = None;
    run.wake_at = None;
    run.current_action = None;
}

/// A decision among the pending action's options: the option and the note.
type Choice = Option<(String, Option<String>)>;

/// Checks a decision against what the run waits for.
fn check_decision(pending: Option<&Value>, decision: &Value) -> Result<Choice, String> {
    let options: Vec<&str> = pending
        .and_then(|p| p["options"].as_array())
        .map(|options| options.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !options.is_empty() {
        let (option, note) = match decision {
            Value::String(option) => (option.clone(), None),
            Value::Object(fields) => match (fields.get("decision"), fields.get("note")) {
                (Some(Value::String(option)), None | Some(Value::Null)) => (option.clone(), None),
                (Some(Value::String(option)), Some(Value::String(note))) => {
                    (option.clone(), Some(note.clone()))
                }
                _ => {
                    return Err(
                        "a decision is an option, or {\"decision\": option, \"note\": text}"
                            .to_owned(),
                    );
                }
            },
            _ => {
                return Err(
                    "a decision is an option, or {\"decision\": option, \"note\": text}".to_owned(),
                );
            }
        };
        if !options.contains(&option.as_str()) {
            return Err(format!(
                "'{option}' is not one of the options: {}",
                options.join(", ")
            ));
        }
        return Ok(Some((option, note)));
    }
    if let Some(schema) = pending
        .and_then(|p| p.get("input_schema"))
        .filter(|s| !s.is_null())
    {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| format!("the pending action's input schema is invalid: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(decision)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "the decision does not match the input schema: {}",
                errors.join("; ")
            ));
        }
    }
    Ok(None)
}

/// Applies a checked decision to a paused run and its paused step. Returns the
/// events and whether the run needs a driver to go on.
/// The approving decisions recorded on a gate's step.
fn approvals(step: &StepRecord) -> impl Iterator<Item = &Value> {
    step.decisions
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d["approving"] == true)
}

/// How many distinct identities approved a gate's step.
fn distinct_approvers(step: &StepRecord) -> usize {
    let mut who: Vec<String> = approvals(step)
        .filter_map(|d| d["reviewer"].as_str())
        .map(str::to_ascii_lowercase)
        .collect();
    who.sort();
    who.dedup();
    who.len()
}

fn apply_decision(
    run: &mut RunRecord,
    step: &mut StepRecord,
    gate: Option<&ApprovalGate>,
    decision: &Value,
    choice: Choice,
    actor: &Actor,
) -> Result<(Vec<EventRecord>, bool), IllegalTransition> {
    let now = now_ms();
    let (option, note) = choice.clone().unzip();
    let note = note.flatten();
    let resumed = json!({
        "step": step.name, "decision": decision, "option": option, "note": note,
        "actor": actor.name, "channel": actor.channel,
    });
    let mut events = Vec::new();
    match (gate, choice) {
        (Some(gate), Some((option, note))) => {
            let mut decisions = step
                .decisions
                .as_ref()
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut decided = json!({
                "reviewer": actor.name, "option": option, "note": note,
                "approving": !gate.reject.contains(&option),
                "at": crate::clock::timestamp(now), "channel": actor.channel,
            });
            if let Some(label) = &actor.label {
                decided["label"] = json!(label);
            }
            decisions.push(decided);
            step.decisions = Some(Value::Array(decisions));
            let approved = distinct_approvers(step);
            // A timeout's decision is final; people's approvals count to the quorum.
            let by_timer = actor.channel == Channel::Timer;
            if !gate.reject.contains(&option)
                && !by_timer
                && approved < gate.required.max(1) as usize
            {
                // More approvals are needed: the run stays paused.
                if let Some(action) = run.pending_action.as_mut() {
                    action["approvals"] = json!(approved);
                }
                events.push(event(
                    run,
                    EventKind::ApprovalRecorded,
                    json!({ "step": step.name, "reviewer": actor.name, "option": option, "note": note,
                            "channel": actor.channel, "approvals": approved, "required": gate.required }),
                ));
                return Ok((events, false));
            }
            set_step(step, StepStatus::Completed)?;
            step.finished_at = Some(now);
            events.push(event(run, EventKind::Resumed, resumed));
            if gate.reject.contains(&option) {
                set_run(run, RunStatus::Cancelled)?;
                finish_paused(run);
                let message = note
                    .clone()
                    .unwrap_or_else(|| format!("rejected at step '{}'", step.name));
                run.error = Some(
                    json!({ "reason": "rejected", "message": message, "step": step.name, "actor": actor.name }),
                );
                events.push(event(run, EventKind::Cancelled, json!({ "reason": "rejected", "step": step.name, "note": note, "actor": actor.name })));
                Ok((events, false))
            } else {
                set_run(run, RunStatus::Running)?;
                finish_paused(run);
                run.steps_done += 1;
                Ok((events, true))
            }
        }
        _ => {
            // The plugin paused: it decides what the decision means on resume.
            set_step(step, StepStatus::Running)?;
            step.decision = Some(decision.clone());
            set_run(run, RunStatus::Running)?;
            finish_paused(run);
            events.push(event(run, EventKind::Resumed, resumed));
            Ok((events, true))
        }
    }
}

impl Inner {
    fn definition(
        &self,
        workflow_id: &str,
        version: i64,
    ) -> Result<Arc<WorkflowDefinition>, RunError> {
        let key = (workflow_id.to_owned(), version);
        if let Some(found) = self
            .definitions
            .lock()
            .ok()
            .and_then(|d| d.get(&key).cloned())
        {
            return Ok(found);
        }
        let value = self
            .store
            .read(|c| store::get_definition(c, workflow_id, version))?;
        let definition = Arc::new(WorkflowDefinition::from_value(value).map_err(|p| {
            RunError::Store(StoreError::Corrupt(format!(
                "stored definition: {}",
                p.message
            )))
        })?);
        if let Ok(mut definitions) = self.definitions.lock() {
            definitions.insert(key, Arc::clone(&definition));
        }
        Ok(definition)
    }

    /// Commits a driver's transition, together with a deferred one if any; a
    /// conflict means someone else changed the run.
    async fn commit(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        expected: i64,
        mut steps: Vec<StepRecord>,
        mut events: Vec<EventRecord>,
    ) -> Result<(), RunError> {
        let expected = match deferred.take() {
            Some(earlier) => {
                steps.splice(0..0, earlier.steps);
                events.splice(0..0, earlier.events);
                earlier.expected
            }
            None => expected,
        };
        run.updated_at = now_ms();
        let saved = run.clone();
        self.store
            .write(move |tx| {
                save(
                    tx,
                    &saved,
                    expected,
                    &steps.iter().collect::<Vec<_>>(),
                    &events,
                )
            })
            .await?;
        let _ = self.changes.send(run.id.clone());
        Ok(())
    }

    /// Commits a deferred transition on its own, before the driver waits.
    async fn flush(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
    ) -> Result<(), RunError> {
        if deferred.is_some() {
            self.commit(run, deferred, run.last_seq, Vec::new(), Vec::new())
                .await?;
        }
        Ok(())
    }

    /// Drives one run until it finishes, pauses, or is cancelled or shut down.
    ///
    /// A step's completion waits in `deferred` to be committed with the next
    /// step's start, one transaction for both, unless the driver must wait first;
    /// when the driver fails, its caller commits what is left there.
    async fn drive(
        &self,
        run_id: &str,
        stop: &CancellationToken,
        deferred: &mut Option<Deferred>,
    ) -> Result<(), RunError> {
        let (mut run, mut steps) = self.store.read(|c| {
            Ok((
                store::get_run(c, None, run_id)?,
                store::get_steps(c, run_id)?,
            ))
        })?;
        let definition = self.definition(&run.workflow_id, run.workflow_version)?;
        loop {
            if run.status.is_terminal() || run.status == RunStatus::Paused {
                return self.flush(&mut run, deferred).await;
            }
            let Some(index) = steps.iter().position(|s| !s.status.is_terminal()) else {
                return self.complete_run(&mut run, deferred, &steps).await;
            };
            let Some(step_definition) = definition.steps.get(index) else {
                return Err(RunError::Store(StoreError::Corrupt(format!(
                    "run {} has a step {index} that its workflow version does not define",
                    run.id
                ))));
            };
            if steps[index].status == StepStatus::AwaitingInput {
                return self.flush(&mut run, deferred).await;
            }
            if steps[index].status == StepStatus::Pending {
                if let Some(wake_at) = run.wake_at {
                    self.flush(&mut run, deferred).await?;
                    let wait =
                        Duration::from_millis(wake_at.saturating_sub(now_ms()).max(0) as u64);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => return Ok(()),
                    }
                }
                if steps[index].decision.is_none() {
                    match self.prepare(&run, &steps, index, step_definition).await {
                        Ok(Some(input)) => steps[index].input = Some(input),
                        Ok(None) => {
                            let expected = run.last_seq;
                            let step = &mut steps[index];
                            set_step(step, StepStatus::Skipped)?;
                            step.finished_at = Some(now_ms());
                            run.steps_done += 1;
                            let skipped = event(
                                &mut run,
                                EventKind::StepSkipped,
                                json!({ "step": step.name, "when": step_definition.when }),
                            );
                            self.commit(
                                &mut run,
                                deferred,
                                expected,
                                vec![step.clone()],
                                vec![skipped],
                            )
                            .await?;
                            continue;
                        }
                        Err(failure) => {
                            let reason = match failure {
                                TemplateFailure::Error(_) => FailReason::TemplateError,
                                TemplateFailure::Limit(_) => FailReason::TemplateLimit,
                            };
                            return self
                                .fail_step(
                                    &mut run,
                                    deferred,
                                    &mut steps[index],
                                    reason,
                                    &failure.to_string(),
                                )
                                .await;
                        }
                    }
                }
            }

            let digest = run
                .plugins
                .get(index)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let Some(plugin) = self.catalog.by_digest(&digest) else {
                let message = format!(
                    "the plugin that step '{}' is pinned to ({digest}) is not loaded on this host",
                    step_definition.name
                );
                return self
                    .fail_step(
                        &mut run,
                        deferred,
                        &mut steps[index],
                        FailReason::PluginUnavailable,
                        &message,
                    )
                    .await;
            };
            let permit = match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    self.flush(&mut run, deferred).await?;
                    tokio::select! {
                        permit = Arc::clone(&self.slots).acquire_owned() => permit.map_err(|_| RunError::Conflict("runner stopped".into()))?,
                        () = stop.cancelled() => return Ok(()),
                    }
                }
            };
            let expected = run.last_seq;
            let recovered =
                steps[index].status == StepStatus::Running && steps[index].decision.is_none();
            {
                let step = &mut steps[index];
                set_step(step, StepStatus::Running)?;
                step.attempts += 1;
                step.started_at = Some(now_ms());
            }
            if run.status == RunStatus::Pending {
                set_run(&mut run, RunStatus::Running)?;
            }
            run.wake_at = None;
            run.current_action = Some(format!("running step '{}'", step_definition.name));
            let started = event(
                &mut run,
                EventKind::StepStarted,
                json!({ "step": step_definition.name, "attempt": steps[index].attempts, "recovered": recovered }),
            );
            self.commit(
                &mut run,
                deferred,
                expected,
                vec![steps[index].clone()],
                vec![started],
            )
            .await?;

            let step = &steps[index];
            let invocation = Invocation {
                run_id: run.id.clone(),
                step: step.name.clone(),
                attempt: step.attempts as u32,
                idempotency_key: format!("{}/{}", run.id, step.name),
                config: step_definition.config.clone(),
                input: step.input.clone().unwrap_or(Value::Null),
            };
            let call = match &step.decision {
                Some(decision) => Call::Resume {
                    checkpoint: step.checkpoint.clone().unwrap_or(Value::Null),
                    decision: decision.clone(),
                },
                None => Call::Run,
            };
            let mut limits = self.step_limits;
            if let Some(timeout) = step_definition
                .timeout
                .as_deref()
                .and_then(|t| parse_duration(t).ok())
            {
                limits.wall_time_ms = timeout.as_millis().min(u128::from(u64::MAX)) as u64;
            }
            let outbound = self.outbound_http(&run.tenant, step_definition)?;
            let report = tokio::select! {
                report = self.engine.run_with_http(&plugin, &invocation, &call, &limits, Some(self.progress_sink(&run.id)), outbound) => report,
                () = stop.cancelled() => return Ok(()),
            };
            drop(permit);
            metrics::histogram!("cairn_step_duration_seconds", "plugin" => plugin.info.name.clone())
                .record(report.duration.as_secs_f64());
            if let Some(fault) = report.fault() {
                metrics::counter!("cairn_sandbox_faults_total", "kind" => fault.as_str())
                    .increment(1);
            }
            keep_logs(&mut steps[index], &report);
            self.finish_attempt(
                &mut run,
                deferred,
                &mut steps,
                index,
                step_definition.approval.as_ref(),
                step_definition.retry.as_ref(),
                &definition,
                report.outcome,
            )
            .await?;
        }
    }

    /// Evaluates step `index`'s `when` and `input` templates in the template
    /// sandbox: `None` when the step is to be skipped, else its input. Without
    /// an input template a step takes the latest completed output, or the
    /// run's input; a step with no templates needs no sandbox.
    async fn prepare(
        &self,
        run: &RunRecord,
        steps: &[StepRecord],
        index: usize,
        step: &crate::workflow::StepDefinition,
    ) -> Result<Option<Value>, TemplateFailure> {
        let default_input = || {
            steps[..index]
                .iter()
                .rev()
                .find(|s| s.status == StepStatus::Completed)
                .and_then(|s| s.output.clone())
                .unwrap_or_else(|| run.input.clone())
        };
        if step.when.is_none() && step.input.is_none() {
            return Ok(Some(default_input()));
        }
        let outputs: BTreeMap<String, Value> = steps
            .iter()
            .filter(|s| s.status == StepStatus::Completed)
            .filter_map(|s| s.output.clone().map(|o| (s.name.clone(), o)))
            .collect();
        let context = template_context(&run.id, &run.input, &outputs);
        let evaluation = self
            .engine
            .evaluate_templates(
                &step.name,
                context,
                step.when.as_deref(),
                step.input.as_ref(),
                &self.step_limits,
            )
            .await?;
        Ok(match evaluation {
            Evaluation::Skip => None,
            Evaluation::Run { input } => Some(input.unwrap_or_else(default_input)),
        })
    }

    /// What a step may reach over HTTP, with the secret values it may use.
    fn outbound_http(
        &self,
        tenant: &str,
        step: &crate::workflow::StepDefinition,
    ) -> Result<Option<Arc<OutboundHttp>>, RunError> {
        let Some(grant) = &step.http else {
            return Ok(None);
        };
        let secrets = if grant.secrets.is_empty() {
            HashMap::new()
        } else {
            let values = self
                .secrets
                .values(tenant)
                .map_err(|e| RunError::Store(StoreError::Corrupt(e.to_string())))?;
            grant
                .secrets
                .iter()
                .filter_map(|name| Some((name.clone(), values.get(name)?.clone())))
                .collect()
        };
        Ok(Some(Arc::new(OutboundHttp::new(
            self.egress.policy(tenant, Some(grant.allow.clone())),
            secrets,
            grant.secrets.clone(),
        ))))
    }

    /// Keeps the latest in-step progress of a run, for views.
    fn progress_sink(&self, run_id: &str) -> crate::engine::ProgressSink {
        let progress = Arc::clone(&self.progress);
        let run_id = run_id.to_owned();
        Arc::new(move |reported: &StepProgress| {
            if let Ok(mut progress) = progress.lock() {
                progress.insert(run_id.clone(), reported.clone());
            }
        })
    }

    /// Records how a step attempt ended.
    #[allow(clippy::too_many_arguments)]
    async fn finish_attempt(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        steps: &mut [StepRecord],
        index: usize,
        gate: Option<&ApprovalGate>,
        retry: Option<&crate::workflow::RetryPolicy>,
        definition: &WorkflowDefinition,
        outcome: StepOutcome,
    ) -> Result<(), RunError> {
        let expected = run.last_seq;
        let now = now_ms();
        let step = &mut steps[index];
        step.decision = None;
        let mut events = Vec::new();
        match outcome {
            StepOutcome::Complete { output } => {
                match gate {
                    Some(gate) => {
                        set_step(step, StepStatus::AwaitingInput)?;
                        step.output = Some(output.clone());
                        step.error = None;
                        set_run(run, RunStatus::Paused)?;
                        let action = json!({
                            "step": step.name, "kind": "approval", "message": gate.message,
                            "options": gate.options, "input_schema": null, "data": output,
                            "reviewers": gate.reviewers, "required": gate.required, "approvals": 0,
                            "paused_at": crate::clock::timestamp(now_ms()),
                        });
                        self.pause(
                            run,
                            index,
                            action.clone(),
                            gate.timeout
                                .as_deref()
                                .or(definition.paused_lifetime.as_deref()),
                        );
                        events.push(event(
                            run,
                            EventKind::Paused,
                            json!({ "step": step.name, "pending_action": action, "gate": true }),
                        ));
                    }
                    None => {
                        set_step(step, StepStatus::Completed)?;
                        step.output = Some(output.clone());
                        step.error = None;
                        step.finished_at = Some(now);
                        run.steps_done += 1;
                        events.push(event(run, EventKind::StepCompleted, json!({ "step": step.name, "attempt": step.attempts, "output": output })));
                        // Committed with whatever the driver does next.
                        run.updated_at = now;
                        *deferred = Some(Deferred {
                            expected,
                            run: run.clone(),
                            steps: vec![step.clone()],
                            events,
                        });
                        return Ok(());
                    }
                }
            }
            StepOutcome::Pause {
                pending_action,
                checkpoint,
            } => {
                set_step(step, StepStatus::AwaitingInput)?;
                step.checkpoint = Some(checkpoint);
                set_run(run, RunStatus::Paused)?;
                let action = json!({
                    "step": step.name, "kind": pending_action.kind, "message": pending_action.message,
                    "options": pending_action.options, "input_schema": pending_action.input_schema, "data": pending_action.data,
                });
                self.pause(
                    run,
                    index,
                    action.clone(),
                    definition.paused_lifetime.as_deref(),
                );
                events.push(event(
                    run,
                    EventKind::Paused,
                    json!({ "step": step.name, "pending_action": action, "gate": false }),
                ));
            }
            StepOutcome::Fail { error } => {
                let max_attempts = retry.map_or(1, |r| r.max_attempts) as i64;
                if error.retryable && step.attempts < max_attempts {
                    let wait = retry
                        .map(|r| r.backoff(step.attempts as u32))
                        .unwrap_or_default();
                    set_step(step, StepStatus::Pending)?;
                    step.error = Some(serde_json::to_value(&error).unwrap_or(Value::Null));
                    run.wake_at = Some(now + wait.as_millis() as i64);
                    run.current_action = Some(format!("waiting to retry step '{}'", step.name));
                    events.push(event(
                        run,
                        EventKind::RetryScheduled,
                        json!({ "step": step.name, "attempt": step.attempts, "error": error, "retry_at": run.wake_at }),
                    ));
                } else {
                    let fault = error.fault;
                    let message = error.message.clone();
                    return self
                        .fail_step_with(
                            run,
                            deferred,
                            step,
                            FailReason::StepFailed,
                            &message,
                            fault.map(|f| f.as_str()),
                            serde_json::to_value(&error).ok(),
                        )
                        .await;
                }
            }
        }
        let step = step.clone();
        self.commit(run, deferred, expected, vec![step], events)
            .await
    }

    fn pause(&self, run: &mut RunRecord, index: usize, action: Value, lifetime: Option<&str>) {
        run.pending_action = Some(action);
        run.paused_step = Some(index as i64);
        run.pause_deadline = lifetime
            .and_then(|l| parse_duration(l).ok())
            .map(|d| now_ms() + d.as_millis() as i64);
        run.current_action = Some("waiting for a decision".to_owned());
    }

    async fn fail_step(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        step: &mut StepRecord,
        reason: FailReason,
        message: &str,
    ) -> Result<(), RunError> {
        self.fail_step_with(run, deferred, step, reason, message, None, None)
            .await
    }

    /// Fails the step and with it the run.
    #[allow(clippy::too_many_arguments)]
    async fn fail_step_with(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        step: &mut StepRecord,
        reason: FailReason,
        message: &str,
        fault: Option<&str>,
        error: Option<Value>,
    ) -> Result<(), RunError> {
        let expected = run.last_seq;
        let events = fail_in(run, step, reason, message, fault, error)?;
        self.commit(run, deferred, expected, vec![step.clone()], events)
            .await
    }

    /// Ends a run whose driver stopped on an error that is not a conflict: commits
    /// the completion the driver still held, then fails the step it was at and
    /// the run, so that no run is left unfinished without a driver.
    async fn abandon(&self, run_id: &str, deferred: Option<Deferred>, error: &RunError) {
        let id = run_id.to_owned();
        let message = format!("the host could not go on with the run: {error}");
        let written = self
            .store
            .write(move |tx| {
                if let Some(held) = deferred {
                    let steps: Vec<&StepRecord> = held.steps.iter().collect();
                    match save(tx, &held.run, held.expected, &steps, &held.events) {
                        Ok(()) | Err(StoreError::Conflict(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                let mut run = store::get_run(tx, None, &id)?;
                if run.status.is_terminal() {
                    return Ok(());
                }
                let mut steps = store::get_steps(tx, &id)?;
                let expected = run.last_seq;
                let corrupt = |e: IllegalTransition| StoreError::Corrupt(e.to_string());
                run.updated_at = now_ms();
                match steps.iter_mut().find(|s| !s.status.is_terminal()) {
                    Some(step) => {
                        let events =
                            fail_in(&mut run, step, FailReason::HostError, &message, None, None)
                                .map_err(corrupt)?;
                        save(tx, &run, expected, &[step], &events)
                    }
                    None => {
                        set_run(&mut run, RunStatus::Failed).map_err(corrupt)?;
                        finish_paused(&mut run);
                        let reason = FailReason::HostError.as_str();
                        run.error = Some(json!({ "reason": reason, "message": message }));
                        let failed = event(
                            &mut run,
                            EventKind::Failed,
                            json!({ "reason": reason, "message": message }),
                        );
                        save(tx, &run, expected, &[], &[failed])
                    }
                }
            })
            .await;
        match written {
            Ok(()) => {
                let _ = self.changes.send(run_id.to_owned());
            }
            Err(e) => tracing::error!(run = %run_id, "cannot fail the abandoned run: {e}"),
        }
    }

    async fn complete_run(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        steps: &[StepRecord],
    ) -> Result<(), RunError> {
        let expected = run.last_seq;
        let result = steps
            .iter()
            .rev()
            .find(|s| s.status == StepStatus::Completed)
            .and_then(|s| s.output.clone())
            .unwrap_or(Value::Null);
        set_run(run, RunStatus::Completed)?;
        finish_paused(run);
        run.result = Some(result.clone());
        let completed = event(run, EventKind::Completed, json!({ "result": result }));
        self.commit(run, deferred, expected, Vec::new(), vec![completed])
            .await
    }

    /// Applies timeouts to paused runs whose deadline passed.
    async fn deadline_loop(self: Arc<Self>) {
        loop {
            let now = now_ms();
            match self.store.read(|c| store::expired_pauses(c, now)) {
                Ok(expired) => {
                    for run_id in expired {
                        if let Err(e) = self.expire(&run_id).await {
                            tracing::debug!(run = %run_id, "timeout not applied: {e}");
                        }
                    }
                }
                Err(e) => tracing::error!("cannot look for expired pauses: {e}"),
            }
            let next = self.store.read(store::next_pause_deadline).ok().flatten();
            let wait = next.map_or(1000, |at| (at - now_ms()).clamp(10, 1000)) as u64;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Deletes runs that finished more than `retention` ago, in small
    /// transactions so that the writer is never held for long; then waits a
    /// while and looks again.
    async fn retention_loop(self: Arc<Self>, retention: Duration) {
        loop {
            let before = now_ms() - retention.as_millis().min(i64::MAX as u128) as i64;
            let mut deleted = 0;
            loop {
                let ids = match self
                    .store
                    .read(|c| store::finished_runs_before(c, before, RETENTION_BATCH))
                {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::error!("cannot look for runs past their retention: {e}");
                        break;
                    }
                };
                let full = ids.len() == RETENTION_BATCH;
                let written = self
                    .store
                    .write(move |tx| {
                        let mut count = 0;
                        for id in &ids {
                            count += usize::from(store::delete_finished_run(tx, id)?);
                        }
                        Ok(count)
                    })
                    .await;
                match written {
                    Ok(count) => deleted += count,
                    Err(e) => {
                        tracing::error!("cannot delete runs past their retention: {e}");
                        break;
                    }
                }
                if !full || self.shutdown.is_cancelled() {
                    break;
                }
                // Let other writers in between batches.
                tokio::task::yield_now().await;
            }
            if deleted > 0 {
                tracing::info!(runs = deleted, "deleted finished runs past their retention");
            }
            let pause = (retention / 10).clamp(Duration::from_millis(100), RETENTION_PAUSE);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    async fn expire(self: &Arc<Self>, run_id: &str) -> Result<(), RunError> {
        let run = self.store.read(|c| store::get_run(c, None, run_id))?;
        let definition = self.definition(&run.workflow_id, run.workflow_version)?;
        let id = run_id.to_owned();
        let needs_driver = self
            .store
            .write(move |tx| {
                let mut run = store::get_run(tx, None, &id)?;
                if run.status != RunStatus::Paused || run.pause_deadline.is_none_or(|at| at > now_ms()) {
                    return Ok(Ok(false));
                }
                let mut steps = store::get_steps(tx, &id)?;
                let index = run.paused_step.unwrap_or_default() as usize;
                let gate = definition.steps.get(index).and_then(|s| s.approval.clone());
                let expected = run.last_seq;
                let actor = Actor { name: "timeout".to_owned(), channel: Channel::Timer, label: None };
                let Some(step) = steps.get_mut(index) else {
                    return Err(StoreError::Corrupt(format!("run {id} paused at missing step {index}")));
                };
                let action = gate.as_ref().map_or(TimeoutAction::Fail, |g| g.on_timeout);
                let option = gate.as_ref().and_then(|g| match action {
                    TimeoutAction::Approve => g.options.iter().find(|o| !g.reject.contains(o)).cloned(),
                    TimeoutAction::Reject => g.reject.first().cloned(),
                    TimeoutAction::Fail => None,
                });
                let result = match option {
                    Some(option) => {
                        let choice = Some((option.clone(), Some("timed out".to_owned())));
                        apply_decision(&mut run, step, gate.as_ref(), &json!(option), choice, &actor)
                    }
                    None => (|| {
                        set_step(step, StepStatus::Failed)?;
                        step.error = Some(json!({ "message": "timed out waiting for a decision", "retryable": false }));
                        step.finished_at = Some(now_ms());
                        set_run(&mut run, RunStatus::Failed)?;
                        finish_paused(&mut run);
                        let message = format!("step '{}' timed out waiting for a decision", step.name);
                        run.error = Some(json!({ "reason": "timed_out", "message": message, "step": step.name }));
                        let events = vec![event(&mut run, EventKind::TimedOut, json!({ "reason": "timed_out", "step": step.name }))];
                        Ok((events, false))
                    })(),
                };
                match result {
                    Ok((events, needs_driver)) => {
                        save(tx, &run, expected, &[&steps[index]], &events)?;
                        Ok(Ok(needs_driver))
                    }
                    Err(illegal) => Ok(Err(RunError::from(illegal))),
                }
            })
            .await??;
        let _ = self.changes.send(run_id.to_owned());
        if needs_driver {
            spawn_driver(self, run_id.to_owned());
        }
        Ok(())
    }
}

/// A driver's transition not yet committed: it joins the next commit.
struct Deferred {
    expected: i64,
    /// The run as this transition left it, for committing it alone.
    run: RunRecord,
    steps: Vec<StepRecord>,
    events: Vec<EventRecord>,
}

/// Where the runner's database lives inside a data directory.
pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("cairn.db")
}
