//! The transitions of a run: functions from a run's state (and what happened:
//! a step's outcome, a decision, a cancel, the clock) to a [`Transition`] (the
//! run as it becomes, the steps that changed, the events to append, what the
//! host must do next) or a typed [`Refusal`]. They read no clock and touch no
//! store: `now` comes in as an argument, and committing is the caller's.

use serde_json::Value;

use std::collections::{BTreeMap, HashMap};

use super::decision::{Choice, check_decision};
use super::tree::{
    ConstructState, Frontier, Layout, Move, Records, RunSteps, Scope, ScopeEnd, new_records,
    scope_prefix, walk,
};
use super::{
    Actor, Cancellation, Channel, Decision, ErrorReason, EventRecord, GateProgress,
    IllegalTransition, PendingAction, RunEvent, RunFailure, RunRecord, RunStatus, StepFailure,
    StepLog, StepRecord, StepStatus, distinct_approvers,
};
use crate::clock::timestamp;
use crate::workflow::{
    ApprovalGate, DEFAULT_CASE, StepDefinition, StepKind, TimeoutAction, WorkflowDefinition,
    parse_duration,
};

/// Bytes of log messages kept per step, across its attempts; older lines go first.
pub const STEP_LOG_BYTES: usize = 64 << 10;

/// A change of one run, to be committed as a whole or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The run as the transition leaves it.
    pub run: RunRecord,
    /// The run's `last_seq` the transition was computed from: the commit is
    /// refused if the run moved since.
    pub expected_seq: i64,
    /// The run's status at `expected_seq`: a save that keeps it need not
    /// write it (SQLite then leaves the indexes of status alone).
    pub expected_status: RunStatus,
    /// The steps that changed, as they become.
    pub steps: Vec<StepRecord>,
    /// The events to append, numbered after `expected_seq`.
    pub events: Vec<EventRecord>,
    /// What the host does once the transition is committed.
    pub effects: Vec<Effect>,
}

/// What a committed transition asks of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The run goes on: a driver must take it.
    Drive,
    /// The run ended under its driver: stop the driver.
    Interrupt,
    /// A sub-workflow step ended before its child run: cancel the child.
    CancelRun(String),
}

/// Why a transition was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The run is not in a state the operation applies to.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (a decision that is not an option).
    #[error("{0}")]
    Invalid(String),
    /// The tenant's quota of unfinished runs is used up.
    #[error("{0}")]
    Quota(String),
    /// The stored state contradicts itself or its definition.
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
}

/// How a step attempt ended, as the core sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Complete {
        output: Value,
    },
    /// The plugin paused; `action.step` and `action.gate` are filled in here.
    Pause {
        action: PendingAction,
        checkpoint: Value,
    },
    Fail {
        error: StepFailure,
    },
}

/// A transition being built: a copy of the run, and copies of the records
/// it changes or adds.
struct Draft<'s> {
    run: RunRecord,
    expected_seq: i64,
    expected_status: RunStatus,
    base: &'s RunSteps,
    changed: BTreeMap<usize, StepRecord>,
    added: HashMap<String, usize>,
    events: Vec<EventRecord>,
    effects: Vec<Effect>,
    now: i64,
}

impl Records for Draft<'_> {
    fn record(&self, index: usize) -> Option<&StepRecord> {
        self.changed.get(&index).or_else(|| self.base.get(index))
    }
    // What the base knows finished stays so in the draft (records never go
    // back from finished); what the draft finishes is noted once committed
    // and walked again.
    fn finished(&self, prefix: &str) -> super::tree::Finished {
        self.base.finished(prefix)
    }
    fn find(&self, path: &str) -> Option<usize> {
        self.base
            .index_of(path)
            .or_else(|| self.added.get(path).copied())
    }
}

impl<'s> Draft<'s> {
    fn of(run: &RunRecord, base: &'s RunSteps, now: i64) -> Draft<'s> {
        let mut run = run.clone();
        run.updated_at = now;
        Draft {
            expected_seq: run.last_seq,
            expected_status: run.status,
            run,
            base,
            changed: BTreeMap::new(),
            added: HashMap::new(),
            events: Vec::new(),
            effects: Vec::new(),
            now,
        }
    }

    /// The record `index`, to change; a corrupt index is an illegal transition.
    fn step(&mut self, index: usize) -> Result<&mut StepRecord, IllegalTransition> {
        if !self.changed.contains_key(&index) {
            let Some(record) = self.base.get(index).cloned() else {
                return Err(IllegalTransition {
                    what: "step",
                    from: format!("#{index}"),
                    to: "a missing step".to_owned(),
                });
            };
            self.changed.insert(index, record);
        }
        Ok(self.changed.get_mut(&index).expect("just inserted"))
    }

    fn read(&self, index: usize) -> Option<&StepRecord> {
        self.record(index)
    }

    /// How many records the run has, those added included.
    fn count(&self) -> usize {
        self.base.len() + self.added.len()
    }

    /// Adds the records of a scope's steps under `prefix`.
    fn enter_scope(&mut self, prefix: &str, steps: &[StepDefinition]) {
        let first = self.count();
        for record in new_records(&self.run.id, prefix, steps, first) {
            let index = record.index as usize;
            self.added.insert(record.name.clone(), index);
            self.changed.insert(index, record);
        }
    }

    fn event(&mut self, event: RunEvent) {
        self.run.last_seq += 1;
        self.events.push(EventRecord {
            seq: self.run.last_seq,
            at: self.now,
            event,
        });
    }

    fn set_run(&mut self, status: RunStatus) -> Result<(), IllegalTransition> {
        self.run.status.check(status)?;
        self.run.status = status;
        Ok(())
    }

    /// Clears what a paused (or waiting) run carried.
    fn unpause(&mut self) {
        let run = &mut self.run;
        run.pending_action = None;
        run.paused_step = None;
        run.pause_deadline = None;
        run.wake_at = None;
        run.current_action = None;
    }

    /// Makes every change the host makes on its own (constructs that can
    /// finish, items to start), then sets what the run shows: it completes
    /// or fails with its top list, pauses when nothing but decisions are
    /// awaited, and goes on when a decision let something run.
    fn settle(&mut self, layout: &Layout) -> Result<(), IllegalTransition> {
        if self.run.status.is_terminal() {
            return Ok(());
        }
        let frontier = loop {
            let frontier = walk(layout, &*self, self.now);
            if frontier.moves.is_empty() {
                break frontier;
            }
            for change in frontier.moves {
                self.apply(layout, change)?;
            }
        };
        match frontier.root.clone() {
            ScopeEnd::Done(result) => {
                let result = result.unwrap_or(Value::Null);
                self.set_run(RunStatus::Completed)?;
                self.unpause();
                self.run.result = Some(result.clone());
                self.event(RunEvent::Completed { result });
            }
            ScopeEnd::Failed(index) => self.fail_run(index)?,
            ScopeEnd::Cancelled => {}
            ScopeEnd::Active => self.show(&frontier)?,
        }
        Ok(())
    }

    /// What an unfinished run shows: what it waits for, when it wakes, what
    /// it does; paused when only decisions can move it.
    fn show(&mut self, frontier: &Frontier) -> Result<(), IllegalTransition> {
        let awaiting: Vec<&StepRecord> = frontier
            .awaiting
            .iter()
            .filter_map(|&index| self.read(index))
            .collect();
        // The first is the oldest record, as the run view lists them.
        let first = awaiting
            .iter()
            .min_by_key(|s| s.index)
            .map(|s| (s.index, s.pending.clone()));
        let deadline = awaiting.iter().filter_map(|s| s.deadline).min();
        let running: Vec<String> = frontier
            .attempts
            .iter()
            .filter_map(|&index| self.read(index))
            .filter(|s| s.status == StepStatus::Running)
            .map(|s| format!("'{}'", s.name))
            .collect();
        let movable = !frontier.attempts.is_empty() || !frontier.entries.is_empty();
        let only_decisions = !awaiting.is_empty() && !movable && frontier.next_timer.is_none();
        let run = &mut self.run;
        run.paused_step = first.as_ref().map(|(index, _)| *index);
        run.pending_action = first.and_then(|(_, pending)| pending);
        run.pause_deadline = deadline;
        run.wake_at = frontier.next_timer.filter(|_| !movable);
        run.current_action = Some(match (running.len(), run.wake_at) {
            (1, _) => format!("running step {}", running[0]),
            (0, _) if only_decisions => "waiting for a decision".to_owned(),
            (0, Some(at)) => format!("waiting until {}", timestamp(at)),
            (0, None) => "starting the next step".to_owned(),
            (n, _) => format!("running {n} steps: {}", running.join(", ")),
        });
        if only_decisions && self.run.status == RunStatus::Running {
            self.set_run(RunStatus::Paused)?;
        } else if !only_decisions && self.run.status == RunStatus::Paused {
            self.set_run(RunStatus::Running)?;
            self.effects.push(Effect::Drive);
        } else if !only_decisions && self.run.status == RunStatus::Running {
            self.effects.push(Effect::Drive);
        }
        Ok(())
    }

    /// Fails the run with the failure of its record `index`, cancelling what
    /// has not finished.
    fn fail_run(&mut self, index: usize) -> Result<(), IllegalTransition> {
        let Some(step) = self.read(index).cloned() else {
            return Ok(());
        };
        let error = step.error.clone().unwrap_or_else(|| StepFailure {
            reason: Some(ErrorReason::HostError),
            message: format!("step '{}' failed", step.name),
            retryable: false,
            fault: None,
        });
        let reason = error.reason.unwrap_or(ErrorReason::StepFailed);
        self.end_unfinished()?;
        self.set_run(RunStatus::Failed)?;
        self.unpause();
        self.run.error = Some(RunFailure {
            reason,
            message: error.message.clone(),
            step: Some(step.name.clone()),
            fault: error.fault.clone(),
            actor: None,
        });
        self.event(RunEvent::Failed {
            reason,
            step: Some(step.name),
            message: error.message,
        });
        Ok(())
    }

    /// Cancels every unfinished record (no events: the run's own says why).
    fn end_unfinished(&mut self) -> Result<(), IllegalTransition> {
        let unfinished: Vec<usize> = (0..self.count())
            .filter(|&i| self.read(i).is_some_and(|s| !s.status.is_terminal()))
            .collect();
        if unfinished.iter().any(|&i| {
            self.read(i)
                .is_some_and(|s| s.status == StepStatus::Running)
        }) {
            self.effects.push(Effect::Interrupt);
        }
        self.cancel_steps(unfinished)
    }

    /// Cancels the records `indexes` (unfinished), and the child runs of
    /// those that have one; what they waited for goes with them.
    fn cancel_steps(&mut self, indexes: Vec<usize>) -> Result<(), IllegalTransition> {
        let now = self.now;
        for index in indexes {
            self.cancel_child(index);
            let step = self.step(index)?;
            set_step(step, StepStatus::Cancelled)?;
            step.finished_at = Some(now);
            step.pending = None;
            step.deadline = None;
            step.wake_at = None;
        }
        Ok(())
    }

    /// Asks for the child run of sub-workflow step `index` to be cancelled,
    /// if it has one.
    fn cancel_child(&mut self, index: usize) {
        if let Some(ConstructState::Workflow { run }) =
            self.read(index).and_then(|s| s.construct.clone())
        {
            self.effects.push(Effect::CancelRun(run));
        }
    }

    /// Ends the unfinished records whose paths start with `prefix`.
    fn cancel_inside(&mut self, path: &str) -> Result<(), IllegalTransition> {
        let (dot, bracket) = (format!("{path}."), format!("{path}["));
        let inside: Vec<usize> = (0..self.count())
            .filter(|&i| {
                self.read(i).is_some_and(|s| {
                    !s.status.is_terminal()
                        && (s.name.starts_with(&dot) || s.name.starts_with(&bracket))
                })
            })
            .collect();
        self.cancel_steps(inside)
    }

    /// Applies one change the walk found.
    fn apply(&mut self, layout: &Layout, change: Move) -> Result<(), IllegalTransition> {
        let now = self.now;
        match change {
            Move::Complete { index, output } => {
                let step = self.step(index)?;
                set_step(step, StepStatus::Completed)?;
                step.output = Some(output.clone());
                step.finished_at = Some(now);
                let (name, attempt) = (step.name.clone(), step.attempts);
                self.run.steps_done += 1;
                self.event(RunEvent::StepCompleted {
                    step: name,
                    attempt,
                    output,
                });
            }
            Move::Fail { index, failed } => {
                let causes: Vec<StepRecord> = failed
                    .iter()
                    .filter_map(|&i| self.read(i).cloned())
                    .collect();
                let path = self.read(index).map(|s| s.name.clone()).unwrap_or_default();
                self.cancel_inside(&path)?;
                let reason = causes
                    .first()
                    .and_then(|c| c.error.as_ref())
                    .and_then(|e| e.reason)
                    .unwrap_or(ErrorReason::StepFailed);
                let message = causes
                    .iter()
                    .map(|c| {
                        let why = c.error.as_ref().map_or("failed", |e| e.message.as_str());
                        format!("'{}': {why}", c.name)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let fault = causes
                    .first()
                    .and_then(|c| c.error.as_ref())
                    .and_then(|e| e.fault.clone());
                let error = StepFailure {
                    reason: Some(reason),
                    message,
                    retryable: false,
                    fault,
                };
                let step = self.step(index)?;
                set_step(step, StepStatus::Failed)?;
                step.error = Some(error.clone());
                step.finished_at = Some(now);
                let (name, attempt) = (step.name.clone(), step.attempts);
                self.event(RunEvent::StepFailed {
                    step: name,
                    attempt,
                    error,
                });
            }
            Move::StartItems { index, from, to } => {
                let Some((path, map)) = self.read(index).and_then(|s| {
                    let (_, site) = layout.site(&s.name)?;
                    Some((s.name.clone(), site.map.as_ref()?))
                }) else {
                    return Ok(());
                };
                for item in from..to {
                    let prefix = scope_prefix(&path, Scope::Item(item));
                    self.enter_scope(&prefix, &map.steps);
                }
            }
        }
        Ok(())
    }

    fn done(self) -> Transition {
        Transition {
            run: self.run,
            expected_seq: self.expected_seq,
            expected_status: self.expected_status,
            steps: self.changed.into_values().collect(),
            events: self.events,
            effects: self.effects,
        }
    }
}

fn set_step(step: &mut StepRecord, status: StepStatus) -> Result<(), IllegalTransition> {
    step.status.check(status)?;
    step.status = status;
    Ok(())
}

impl Transition {
    /// This transition followed by `later` (computed from this one's run), as
    /// one commit.
    pub fn then(mut self, later: Transition) -> Transition {
        self.steps
            .retain(|s| later.steps.iter().all(|l| l.index != s.index));
        self.steps.extend(later.steps);
        self.steps.sort_by_key(|s| s.index);
        self.events.extend(later.events);
        self.effects.extend(later.effects);
        self.run = later.run;
        self
    }

    /// The run's steps with this transition's changes applied (added
    /// records appended).
    pub fn apply_to(&self, steps: &mut RunSteps) {
        for changed in &self.steps {
            steps.put(changed.clone());
        }
    }
}

/// The workflow version a run starts from.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    pub tenant: &'a str,
    pub workflow_id: &'a str,
    pub number: i64,
    pub definition: &'a WorkflowDefinition,
}

/// A new pending run of a workflow version, its steps pinned to `plugins`,
/// with its `created` event and the records of its top list.
pub fn create(
    id: String,
    of: Version<'_>,
    plugins: super::Pins,
    input: Value,
    trigger: super::Trigger,
    now: i64,
) -> (RunRecord, Vec<StepRecord>, EventRecord) {
    let Version {
        tenant,
        workflow_id,
        number: version,
        definition,
    } = of;
    let run = RunRecord {
        id: id.clone(),
        tenant: tenant.to_owned(),
        workflow_id: workflow_id.to_owned(),
        workflow_version: version,
        status: RunStatus::Pending,
        input: input.clone().into(),
        result: None,
        error: None,
        pending_action: None,
        paused_step: None,
        pause_deadline: None,
        wake_at: None,
        current_action: None,
        steps_total: definition.steps.len() as i64,
        steps_done: 0,
        plugins: std::sync::Arc::new(plugins),
        last_seq: 1,
        created_at: now,
        updated_at: now,
        trigger: Some(trigger.clone()),
        number: 0,
    };
    let steps = new_records(&id, "", &definition.steps, 0);
    let created = EventRecord {
        seq: 1,
        at: now,
        event: RunEvent::Created {
            workflow_version: version,
            input,
            trigger,
        },
    };
    (run, steps, created)
}

/// Starts an attempt of plugin step `index`, with `input` as its templates
/// made it (or the default input) when it is given: a first attempt's.
pub fn start_step(
    run: &RunRecord,
    steps: &RunSteps,
    index: usize,
    input: Option<Value>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    let step = draft.step(index)?;
    let recovered = step.status == StepStatus::Running && step.decision.is_none();
    set_step(step, StepStatus::Running)?;
    if input.is_some() {
        step.input = input;
    }
    step.attempts += 1;
    step.started_at = Some(now);
    step.wake_at = None;
    let (name, attempt) = (step.name.clone(), step.attempts);
    if draft.run.status == RunStatus::Pending {
        draft.set_run(RunStatus::Running)?;
    }
    draft.run.wake_at = None;
    draft.run.current_action = Some(format!("running step '{name}'"));
    draft.event(RunEvent::StepStarted {
        step: name,
        attempt,
        recovered,
    });
    Ok(draft.done())
}

/// Skips step `index` (a plugin step or a construct): its `when` is false.
pub fn skip_step(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    when: Option<String>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    if draft.run.status == RunStatus::Pending {
        draft.set_run(RunStatus::Running)?;
    }
    let step = draft.step(index)?;
    set_step(step, StepStatus::Skipped)?;
    step.finished_at = Some(now);
    let name = step.name.clone();
    draft.run.steps_done += 1;
    draft.event(RunEvent::StepSkipped { step: name, when });
    draft.settle(layout)?;
    Ok(draft.done())
}

/// Fails step `index` for `reason` (the enclosing constructs, and the run,
/// follow as their rules say); `error` is the step's own error when the
/// plugin failed it.
#[allow(clippy::too_many_arguments)]
pub fn fail_step(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    reason: ErrorReason,
    message: &str,
    error: Option<StepFailure>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    if draft.run.status == RunStatus::Pending {
        draft.set_run(RunStatus::Running)?;
    }
    fail_in(&mut draft, index, reason, message, error)?;
    draft.settle(layout)?;
    Ok(draft.done())
}

fn fail_in(
    draft: &mut Draft<'_>,
    index: usize,
    reason: ErrorReason,
    message: &str,
    error: Option<StepFailure>,
) -> Result<(), IllegalTransition> {
    let now = draft.now;
    let error = error.unwrap_or_else(|| StepFailure {
        reason: Some(reason),
        message: message.to_owned(),
        retryable: false,
        fault: None,
    });
    let step = draft.step(index)?;
    set_step(step, StepStatus::Failed)?;
    step.error = Some(error.clone());
    step.finished_at = Some(now);
    step.pending = None;
    step.deadline = None;
    step.wake_at = None;
    let (name, attempt) = (step.name.clone(), step.attempts);
    draft.event(RunEvent::StepFailed {
        step: name,
        attempt,
        error,
    });
    Ok(())
}

/// Fails step `index` with `error`, its own.
fn fail_with(
    draft: &mut Draft<'_>,
    index: usize,
    error: StepFailure,
) -> Result<(), IllegalTransition> {
    let message = error.message.clone();
    fail_in(draft, index, ErrorReason::StepFailed, &message, Some(error))
}

/// Records how an attempt of plugin step `index` ended, with what it
/// logged: the step completes (or waits at its gate), waits for the
/// plugin's question to be answered, waits to be retried, or fails.
#[allow(clippy::too_many_arguments)]
pub fn finish_attempt(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    outcome: Attempt,
    logs: Vec<StepLog>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    let path = draft
        .read(index)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let site = layout.site(&path).map(|(_, site)| site);
    let gate = site.and_then(|s| s.approval.as_ref());
    let retry = site.and_then(|s| s.retry.as_ref());
    let step = draft.step(index)?;
    keep_logs(step, logs);
    step.decision = None;
    match outcome {
        Attempt::Complete { output } => match gate {
            Some(gate) => {
                step.output = Some(output.clone());
                step.error = None;
                let action = PendingAction {
                    step: path.clone(),
                    kind: "approval".to_owned(),
                    message: gate.message.clone(),
                    options: gate.options.clone(),
                    input_schema: None,
                    data: output,
                    gate: Some(GateProgress {
                        reviewers: gate.reviewers.clone(),
                        required: gate.required,
                        approvals: 0,
                        paused_at: timestamp(now),
                    }),
                };
                let lifetime = gate.timeout.as_deref().or(layout.paused_lifetime());
                wait_for_decision(&mut draft, index, action, lifetime, true)?;
            }
            None => {
                set_step(step, StepStatus::Completed)?;
                step.output = Some(output.clone());
                step.error = None;
                step.finished_at = Some(now);
                let attempt = step.attempts;
                draft.run.steps_done += 1;
                draft.event(RunEvent::StepCompleted {
                    step: path,
                    attempt,
                    output,
                });
            }
        },
        Attempt::Pause { action, checkpoint } => {
            step.checkpoint = Some(checkpoint);
            let action = PendingAction {
                step: path,
                gate: None,
                ..action
            };
            let lifetime = layout.paused_lifetime();
            wait_for_decision(&mut draft, index, action, lifetime, false)?;
        }
        Attempt::Fail { error } => {
            let max_attempts = retry.map_or(1, |r| r.max_attempts) as i64;
            if error.retryable && step.attempts < max_attempts {
                let wait = retry
                    .map(|r| r.backoff(step.attempts as u32))
                    .unwrap_or_default();
                set_step(step, StepStatus::Pending)?;
                step.error = Some(error.clone());
                let retry_at = now.saturating_add(wait.as_millis().min(i64::MAX as u128) as i64);
                step.wake_at = Some(retry_at);
                let attempt = step.attempts;
                draft.run.current_action = Some(format!("waiting to retry step '{path}'"));
                draft.event(RunEvent::RetryScheduled {
                    step: path,
                    attempt,
                    error,
                    retry_at,
                });
            } else {
                fail_with(&mut draft, index, error)?;
            }
        }
    }
    draft.settle(layout)?;
    Ok(draft.done())
}

/// Step `index` waits for `action` to be decided, until `lifetime` passes.
fn wait_for_decision(
    draft: &mut Draft<'_>,
    index: usize,
    action: PendingAction,
    lifetime: Option<&str>,
    gate: bool,
) -> Result<(), IllegalTransition> {
    let now = draft.now;
    let step = draft.step(index)?;
    set_step(step, StepStatus::AwaitingInput)?;
    step.pending = Some(action.clone());
    step.deadline = lifetime
        .and_then(|l| parse_duration(l).ok())
        .map(|d| now.saturating_add(d.as_millis().min(i64::MAX as u128) as i64));
    let name = step.name.clone();
    draft.event(RunEvent::Paused {
        step: name,
        pending_action: action,
        gate,
    });
    Ok(())
}

/// How a construct starts, once the host evaluated what it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Its `when` is false.
    Skip { when: Option<String> },
    /// Its templates failed, or a limit stops it.
    Fail {
        reason: ErrorReason,
        message: String,
    },
    /// A `parallel` enters its branches; its input is passed to their first steps.
    Parallel { input: Value },
    /// A `map` runs its steps over `items`.
    Map { items: Vec<Value> },
    /// A `switch` runs `case` (a case's name, or the default's).
    Switch { case: String, input: Value },
    /// A `wait` waits until `until`; its input is its output.
    Wait { until: i64, input: Value },
    /// A `workflow` started its child run `run` with `input`.
    Workflow { run: String, input: Value },
}

/// Starts construct `index` as `entry` says: its first scopes' records are
/// added (a map's first items start as the walk allows).
pub fn enter(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    entry: Entry,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    if draft.run.status == RunStatus::Pending {
        draft.set_run(RunStatus::Running)?;
    }
    let path = draft
        .read(index)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let Some((_, site)) = layout.site(&path) else {
        return Err(IllegalTransition {
            what: "step",
            from: path,
            to: "a site the definition does not have".to_owned(),
        });
    };
    let (input, state) = match entry {
        Entry::Skip { when } => return skip_step(run, steps, layout, index, when, now),
        Entry::Fail { reason, message } => {
            return fail_step(run, steps, layout, index, reason, &message, None, now);
        }
        Entry::Parallel { input } => {
            if let StepKind::Parallel(parallel) = site.kind() {
                for (branch, inner) in &parallel.branches {
                    let prefix = scope_prefix(&path, Scope::Named(branch));
                    draft.enter_scope(&prefix, inner);
                    draft.run.steps_total += inner.len() as i64;
                }
            }
            (input, ConstructState::Parallel)
        }
        Entry::Map { items } => {
            if let StepKind::Map(map) = site.kind() {
                draft.run.steps_total += (items.len() * map.steps.len()) as i64;
            }
            let state = ConstructState::Map { items: items.len() };
            (Value::Array(items), state)
        }
        Entry::Switch { case, input } => {
            if let StepKind::Switch(switch) = site.kind() {
                let inner = switch
                    .cases
                    .iter()
                    .find(|c| c.name == case)
                    .map(|c| &c.steps)
                    .or(switch.default.as_ref().filter(|_| case == DEFAULT_CASE));
                if let Some(inner) = inner {
                    let prefix = scope_prefix(&path, Scope::Named(&case));
                    draft.enter_scope(&prefix, inner);
                    draft.run.steps_total += inner.len() as i64;
                }
            }
            (input, ConstructState::Switch { case })
        }
        Entry::Wait { until, input } => (input, ConstructState::Wait { until }),
        Entry::Workflow { run, input } => (input, ConstructState::Workflow { run }),
    };
    let step = draft.step(index)?;
    set_step(step, StepStatus::Running)?;
    step.attempts = 1;
    step.started_at = Some(now);
    step.input = Some(input);
    step.construct = Some(state);
    let name = step.name.clone();
    draft.event(RunEvent::StepStarted {
        step: name,
        attempt: 1,
        recovered: false,
    });
    draft.settle(layout)?;
    Ok(draft.done())
}

/// How a child run ended, as its parent's step takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildEnd {
    Completed {
        result: Value,
    },
    /// Failed or cancelled: its status and error.
    Ended {
        status: RunStatus,
        error: Option<RunFailure>,
    },
}

/// The child run of sub-workflow step `index` ended: the step completes with
/// the child's result, or fails with its error (or, with `fail_on_error:
/// false`, completes with the error as its output).
pub fn finish_child(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    end: ChildEnd,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    let Some(step) = draft.read(index).cloned() else {
        return Ok(draft.done());
    };
    let child = match &step.construct {
        Some(ConstructState::Workflow { run }) => run.clone(),
        _ => String::new(),
    };
    let fail_on_error = layout
        .site(&step.name)
        .and_then(|(_, site)| site.workflow.as_ref())
        .is_none_or(|w| w.fail_on_error);
    let output = match end {
        ChildEnd::Completed { result } => Ok(result),
        ChildEnd::Ended { status, error } => {
            let (reason, message) = error
                .as_ref()
                .map_or((ErrorReason::StepFailed, String::new()), |e| {
                    (e.reason, e.message.clone())
                });
            if fail_on_error {
                Err(StepFailure {
                    reason: Some(match reason {
                        ErrorReason::Cancelled | ErrorReason::Rejected => ErrorReason::StepFailed,
                        other => other,
                    }),
                    message: format!("child run {child} {status}: {message}"),
                    retryable: false,
                    fault: error.and_then(|e| e.fault),
                })
            } else {
                Ok(serde_json::json!({
                    "run": child,
                    "status": status,
                    "error": error,
                }))
            }
        }
    };
    match output {
        Ok(output) => draft.apply(layout, Move::Complete { index, output })?,
        Err(error) => fail_with(&mut draft, index, error)?,
    }
    draft.settle(layout)?;
    Ok(draft.done())
}

/// What time alone changes: a `wait` that is over, a map that can start
/// more items. `None` when nothing.
pub fn tick(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    now: i64,
) -> Result<Option<Transition>, IllegalTransition> {
    let mut draft = Draft::of(run, steps, now);
    draft.settle(layout)?;
    let changed = !draft.changed.is_empty()
        || !draft.events.is_empty()
        || draft.run.status != run.status
        || draft.run.pending_action != run.pending_action
        || draft.run.wake_at != run.wake_at
        || draft.run.pause_deadline != run.pause_deadline
        || draft.run.current_action != run.current_action;
    Ok(changed.then(|| draft.done()))
}

/// Adds what an attempt logged to the step's log, keeping the latest
/// [`STEP_LOG_BYTES`] of messages.
fn keep_logs(step: &mut StepRecord, lines: Vec<StepLog>) {
    step.logs.extend(lines);
    let mut total: usize = step.logs.iter().map(|l| l.message.len()).sum();
    let mut first = 0;
    while total > STEP_LOG_BYTES && first < step.logs.len() {
        total -= step.logs[first].message.len();
        first += 1;
    }
    step.logs.drain(..first);
}

/// The steps waiting for a decision, in the tree's order.
fn awaiting(steps: &RunSteps, layout: &Layout, now: i64) -> Vec<usize> {
    walk(layout, steps, now).awaiting
}

/// The gate step `index` waits at, when it waits at its gate (not when its
/// plugin paused before it completed).
fn waiting_gate<'l>(
    steps: &RunSteps,
    layout: &'l Layout,
    index: usize,
) -> Option<&'l ApprovalGate> {
    let step = steps.get(index)?;
    let at_gate = step
        .pending
        .as_ref()
        .is_some_and(|action| action.gate.is_some());
    layout
        .site(&step.name)
        .and_then(|(_, site)| site.approval.as_ref())
        .filter(|_| at_gate)
}

/// A decision on step `step` (a path), which waits for one: an option
/// (`"approve"` or `{"decision": "approve", "note": "..."}`) when its
/// pending action offers options, else a value its input schema accepts.
/// At a gate, approvals count towards its quorum of distinct identities; a
/// rejection cancels the run.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    step: &str,
    decision: &Value,
    actor: &Actor,
    now: i64,
) -> Result<Transition, Refusal> {
    if run.status.is_terminal() {
        return Err(Refusal::Conflict(format!(
            "run is {}, not paused",
            run.status
        )));
    }
    let waiting = awaiting(steps, layout, now);
    let Some(index) = steps.index_of(step).filter(|index| waiting.contains(index)) else {
        let names: Vec<String> = waiting
            .iter()
            .filter_map(|&i| steps.get(i))
            .map(|s| format!("'{}'", s.name))
            .collect();
        return Err(Refusal::Conflict(match names.len() {
            0 => format!("run is {}, not paused", run.status),
            1 => format!("run is paused at step {}, not '{step}'", names[0]),
            _ => format!("run is paused at steps {}, not '{step}'", names.join(", ")),
        }));
    };
    let paused = &steps[index];
    let choice = check_decision(paused.pending.as_ref(), decision).map_err(Refusal::Invalid)?;
    let gate = waiting_gate(steps, layout, index);
    if let (Some(gate), Some((option, _))) = (gate, &choice)
        && !gate.reject.contains(option)
        && paused
            .decisions
            .iter()
            .any(|d| d.approving && d.reviewer.eq_ignore_ascii_case(&actor.name))
    {
        return Err(Refusal::Conflict(format!(
            "{} has approved this step already; it needs another reviewer \
             (a quorum counts distinct API keys and link reviewers, not labels)",
            actor.name
        )));
    }
    let answer = Answer {
        value: decision,
        choice,
    };
    Ok(apply_decision(
        run, steps, layout, index, gate, answer, actor, now,
    )?)
}

/// A checked decision: what was sent, and the option (with its note) it
/// picked when the pending action offers options.
struct Answer<'a> {
    value: &'a Value,
    choice: Choice,
}

/// Applies a checked decision to step `index`, which waits for one.
#[allow(clippy::too_many_arguments)]
fn apply_decision(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    index: usize,
    gate: Option<&ApprovalGate>,
    answer: Answer<'_>,
    actor: &Actor,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let Answer {
        value: decision,
        choice,
    } = answer;
    let mut draft = Draft::of(run, steps, now);
    let step = draft.step(index)?;
    let name = step.name.clone();
    let (option, note) = choice.clone().unzip();
    let note = note.flatten();
    let resumed = RunEvent::Resumed {
        step: name.clone(),
        decision: decision.clone(),
        option,
        note,
        actor: actor.name.clone(),
        channel: actor.channel,
    };
    match (gate, choice) {
        (Some(gate), Some((option, note))) => {
            let rejects = gate.reject.contains(&option);
            step.decisions.push(Decision {
                reviewer: actor.name.clone(),
                option: option.clone(),
                note: note.clone(),
                approving: !rejects,
                at: timestamp(now),
                channel: actor.channel,
                label: actor.label.clone(),
            });
            let approved = distinct_approvers(&step.decisions);
            // A timeout's decision is final; people's approvals count to the quorum.
            let by_timer = actor.channel == Channel::Timer;
            if !rejects && !by_timer && approved < gate.required.max(1) as usize {
                // More approvals are needed: the step keeps waiting.
                if let Some(progress) = step.pending.as_mut().and_then(|a| a.gate.as_mut()) {
                    progress.approvals = approved;
                }
                draft.event(RunEvent::ApprovalRecorded {
                    step: name,
                    reviewer: actor.name.clone(),
                    option,
                    note,
                    channel: actor.channel,
                    approvals: approved,
                    required: gate.required,
                });
            } else {
                set_step(step, StepStatus::Completed)?;
                step.finished_at = Some(now);
                step.pending = None;
                step.deadline = None;
                draft.event(resumed);
                if rejects {
                    // Nothing after it runs: cancelled, as by a cancel.
                    draft.end_unfinished()?;
                    draft.set_run(RunStatus::Cancelled)?;
                    draft.unpause();
                    let message = note
                        .clone()
                        .unwrap_or_else(|| format!("rejected at step '{name}'"));
                    draft.run.error = Some(RunFailure {
                        reason: ErrorReason::Rejected,
                        message,
                        step: Some(name.clone()),
                        fault: None,
                        actor: Some(actor.name.clone()),
                    });
                    draft.event(RunEvent::Cancelled(Cancellation::Rejected {
                        reason: ErrorReason::Rejected,
                        step: name,
                        note,
                        actor: actor.name.clone(),
                    }));
                } else {
                    draft.run.steps_done += 1;
                }
            }
        }
        _ => {
            // The plugin paused: it decides what the decision means on resume.
            set_step(step, StepStatus::Running)?;
            step.decision = Some(decision.clone());
            step.pending = None;
            step.deadline = None;
            draft.event(resumed);
        }
    }
    draft.settle(layout)?;
    Ok(draft.done())
}

/// Cancels a pending, running or paused run and its unfinished steps.
pub fn cancel(
    run: &RunRecord,
    steps: &RunSteps,
    actor: &Actor,
    now: i64,
) -> Result<Transition, Refusal> {
    if run.status.is_terminal() {
        return Err(Refusal::Conflict(format!("run is already {}", run.status)));
    }
    let mut draft = Draft::of(run, steps, now);
    draft.end_unfinished()?;
    draft.set_run(RunStatus::Cancelled)?;
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason: ErrorReason::Cancelled,
        message: format!("cancelled by {}", actor.name),
        step: None,
        fault: None,
        actor: None,
    });
    draft.event(RunEvent::Cancelled(Cancellation::ByActor {
        actor: actor.name.clone(),
        channel: actor.channel,
    }));
    if !draft.effects.contains(&Effect::Interrupt) {
        draft.effects.push(Effect::Interrupt);
    }
    Ok(draft.done())
}

/// Applies the timeout of the first step whose wait for a decision is past
/// its deadline: its gate's `on_timeout` (approve, reject), or failing it
/// (and with it the run, as a failed step does). `None` when no wait is
/// past its deadline.
pub fn expire(
    run: &RunRecord,
    steps: &RunSteps,
    layout: &Layout,
    now: i64,
) -> Result<Option<Transition>, Refusal> {
    if run.status.is_terminal() {
        return Ok(None);
    }
    let Some(index) = awaiting(steps, layout, now).into_iter().find(|&i| {
        steps
            .get(i)
            .and_then(|s| s.deadline)
            .is_some_and(|at| at <= now)
    }) else {
        return Ok(None);
    };
    let gate = waiting_gate(steps, layout, index);
    let action = gate.map_or(TimeoutAction::Fail, |g| g.on_timeout);
    let option = gate.and_then(|g| match action {
        TimeoutAction::Approve => g.options.iter().find(|o| !g.reject.contains(o)).cloned(),
        TimeoutAction::Reject => g.reject.first().cloned(),
        TimeoutAction::Fail => None,
    });
    if let Some(option) = option {
        let choice = Some((option.clone(), Some("timed out".to_owned())));
        let decision = Value::String(option);
        let answer = Answer {
            value: &decision,
            choice,
        };
        let actor = Actor::timer();
        return Ok(Some(apply_decision(
            run, steps, layout, index, gate, answer, &actor, now,
        )?));
    }
    let mut draft = Draft::of(run, steps, now);
    let step = draft.step(index)?;
    set_step(step, StepStatus::Failed)?;
    step.error = Some(StepFailure {
        reason: Some(ErrorReason::TimedOut),
        message: "timed out waiting for a decision".to_owned(),
        retryable: false,
        fault: None,
    });
    step.finished_at = Some(now);
    step.pending = None;
    step.deadline = None;
    let name = step.name.clone();
    draft.end_unfinished()?;
    draft.set_run(RunStatus::Failed)?;
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason: ErrorReason::TimedOut,
        message: format!("step '{name}' timed out waiting for a decision"),
        step: Some(name.clone()),
        fault: None,
        actor: None,
    });
    draft.event(RunEvent::TimedOut {
        reason: ErrorReason::TimedOut,
        step: name,
    });
    Ok(Some(draft.done()))
}

/// Fails a run the host cannot go on with (`host_error`): the first step it
/// was at, if any, and the run; whatever else was unfinished is cancelled.
/// Needs no definition (it may be what cannot be read). `None` when the run
/// is finished already.
pub fn abandon(
    run: &RunRecord,
    steps: &RunSteps,
    message: &str,
    now: i64,
) -> Result<Option<Transition>, IllegalTransition> {
    if run.status.is_terminal() {
        return Ok(None);
    }
    let mut draft = Draft::of(run, steps, now);
    let at = steps
        .records()
        .iter()
        .find(|s| !s.status.is_terminal() && s.construct.is_none())
        .map(|s| s.index as usize);
    let step = match at {
        Some(index) => {
            fail_in(&mut draft, index, ErrorReason::HostError, message, None)?;
            draft.read(index).map(|s| s.name.clone())
        }
        None => None,
    };
    draft.end_unfinished()?;
    draft.set_run(RunStatus::Failed)?;
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason: ErrorReason::HostError,
        message: message.to_owned(),
        step: step.clone(),
        fault: None,
        actor: None,
    });
    draft.event(RunEvent::Failed {
        reason: ErrorReason::HostError,
        step,
        message: message.to_owned(),
    });
    Ok(Some(draft.done()))
}
