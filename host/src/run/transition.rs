//! The transitions of a run: functions from a run's state (and what happened:
//! a step's outcome, a decision, a cancel, the clock) to a [`Transition`] (the
//! run as it becomes, the steps that changed, the events to append, what the
//! host must do next) or a typed [`Refusal`]. They read no clock and touch no
//! store: `now` comes in as an argument, and committing is the caller's.

use serde_json::Value;

use super::decision::{Choice, check_decision};
use super::{
    Actor, Cancellation, Channel, Decision, ErrorReason, EventRecord, GateProgress,
    IllegalTransition, PendingAction, RunEvent, RunFailure, RunRecord, RunStatus, StepFailure,
    StepLog, StepRecord, StepStatus, distinct_approvers,
};
use crate::clock::timestamp;
use crate::workflow::{ApprovalGate, TimeoutAction, WorkflowDefinition, parse_duration};

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
    /// The steps that changed, as they become.
    pub steps: Vec<StepRecord>,
    /// The events to append, numbered after `expected_seq`.
    pub events: Vec<EventRecord>,
    /// What the host does once the transition is committed.
    pub effects: Vec<Effect>,
}

/// What a committed transition asks of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The run goes on: a driver must take it.
    Drive,
    /// The run ended under its driver: stop the driver.
    Interrupt,
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

/// A transition being built from a copy of the run.
struct Draft {
    run: RunRecord,
    expected_seq: i64,
    steps: Vec<StepRecord>,
    events: Vec<EventRecord>,
    effects: Vec<Effect>,
    now: i64,
}

impl Draft {
    fn of(run: &RunRecord, now: i64) -> Draft {
        let mut run = run.clone();
        run.updated_at = now;
        Draft {
            expected_seq: run.last_seq,
            run,
            steps: Vec::new(),
            events: Vec::new(),
            effects: Vec::new(),
            now,
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

    fn pause(&mut self, index: i64, action: PendingAction, lifetime: Option<&str>) {
        let now = self.now;
        let run = &mut self.run;
        run.pending_action = Some(action);
        run.paused_step = Some(index);
        run.pause_deadline = lifetime
            .and_then(|l| parse_duration(l).ok())
            .map(|d| now.saturating_add(d.as_millis().min(i64::MAX as u128) as i64));
        run.current_action = Some("waiting for a decision".to_owned());
    }

    fn done(self) -> Transition {
        Transition {
            run: self.run,
            expected_seq: self.expected_seq,
            steps: self.steps,
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
        self.events.extend(later.events);
        self.effects.extend(later.effects);
        self.run = later.run;
        self
    }

    /// Whether the transition only completes a step: the driver may hold it
    /// to commit with what comes next.
    pub fn only_completes_a_step(&self) -> bool {
        !self.events.is_empty()
            && self
                .events
                .iter()
                .all(|e| matches!(e.event, RunEvent::StepCompleted { .. }))
    }

    /// The run's steps with this transition's changes applied.
    pub fn apply_to(&self, steps: &mut [StepRecord]) {
        for changed in &self.steps {
            if let Some(step) = steps.iter_mut().find(|s| s.index == changed.index) {
                *step = changed.clone();
            }
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

/// A new pending run of a workflow version, its steps pinned to `plugins`
/// (digests, by step), with its `created` event.
pub fn create(
    id: String,
    of: Version<'_>,
    plugins: Vec<String>,
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
        plugins,
        last_seq: 1,
        created_at: now,
        updated_at: now,
        trigger: Some(trigger.clone()),
    };
    let steps = definition
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
            decisions: Vec::new(),
            logs: Vec::new(),
        })
        .collect();
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

/// Starts an attempt of `step` (its input prepared).
pub fn start_step(
    run: &RunRecord,
    step: &StepRecord,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, now);
    let mut step = step.clone();
    let recovered = step.status == StepStatus::Running && step.decision.is_none();
    set_step(&mut step, StepStatus::Running)?;
    step.attempts += 1;
    step.started_at = Some(now);
    if draft.run.status == RunStatus::Pending {
        draft.set_run(RunStatus::Running)?;
    }
    draft.run.wake_at = None;
    draft.run.current_action = Some(format!("running step '{}'", step.name));
    draft.event(RunEvent::StepStarted {
        step: step.name.clone(),
        attempt: step.attempts,
        recovered,
    });
    draft.steps.push(step);
    Ok(draft.done())
}

/// Skips `step`: its `when` condition is false.
pub fn skip_step(
    run: &RunRecord,
    step: &StepRecord,
    when: Option<String>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, now);
    let mut step = step.clone();
    set_step(&mut step, StepStatus::Skipped)?;
    step.finished_at = Some(now);
    draft.run.steps_done += 1;
    draft.event(RunEvent::StepSkipped {
        step: step.name.clone(),
        when,
    });
    draft.steps.push(step);
    Ok(draft.done())
}

/// Fails `step` and with it the run, for `reason`; `error` is the step's own
/// error when the plugin failed it.
pub fn fail_step(
    run: &RunRecord,
    step: &StepRecord,
    reason: ErrorReason,
    message: &str,
    error: Option<StepFailure>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, now);
    let mut step = step.clone();
    fail_in(&mut draft, &mut step, reason, message, error)?;
    draft.steps.push(step);
    Ok(draft.done())
}

fn fail_in(
    draft: &mut Draft,
    step: &mut StepRecord,
    reason: ErrorReason,
    message: &str,
    error: Option<StepFailure>,
) -> Result<(), IllegalTransition> {
    set_step(step, StepStatus::Failed)?;
    draft.set_run(RunStatus::Failed)?;
    let fault = error.as_ref().and_then(|e| e.fault.clone());
    let error = error.unwrap_or_else(|| StepFailure {
        reason: Some(reason),
        message: message.to_owned(),
        retryable: false,
        fault: None,
    });
    step.error = Some(error.clone());
    step.finished_at = Some(draft.now);
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason,
        message: message.to_owned(),
        step: Some(step.name.clone()),
        fault,
        actor: None,
    });
    draft.event(RunEvent::StepFailed {
        step: step.name.clone(),
        attempt: step.attempts,
        error,
    });
    draft.event(RunEvent::Failed {
        reason,
        step: Some(step.name.clone()),
        message: message.to_owned(),
    });
    Ok(())
}

/// Records how an attempt of step `index` ended, with what it logged: the
/// step completes (or pauses at its gate), pauses for the plugin, waits to
/// be retried, or fails and with it the run.
pub fn finish_attempt(
    run: &RunRecord,
    step: &StepRecord,
    definition: &WorkflowDefinition,
    outcome: Attempt,
    logs: Vec<StepLog>,
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let step_definition = definition.steps.get(step.index as usize);
    let gate = step_definition.and_then(|s| s.approval.as_ref());
    let retry = step_definition.and_then(|s| s.retry.as_ref());
    let mut draft = Draft::of(run, now);
    let mut step = step.clone();
    keep_logs(&mut step, logs);
    step.decision = None;
    match outcome {
        Attempt::Complete { output } => match gate {
            Some(gate) => {
                set_step(&mut step, StepStatus::AwaitingInput)?;
                step.output = Some(output.clone());
                step.error = None;
                draft.set_run(RunStatus::Paused)?;
                let action = PendingAction {
                    step: step.name.clone(),
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
                let lifetime = gate
                    .timeout
                    .as_deref()
                    .or(definition.paused_lifetime.as_deref());
                draft.pause(step.index, action.clone(), lifetime);
                draft.event(RunEvent::Paused {
                    step: step.name.clone(),
                    pending_action: action,
                    gate: true,
                });
            }
            None => {
                set_step(&mut step, StepStatus::Completed)?;
                step.output = Some(output.clone());
                step.error = None;
                step.finished_at = Some(now);
                draft.run.steps_done += 1;
                draft.event(RunEvent::StepCompleted {
                    step: step.name.clone(),
                    attempt: step.attempts,
                    output,
                });
            }
        },
        Attempt::Pause { action, checkpoint } => {
            set_step(&mut step, StepStatus::AwaitingInput)?;
            step.checkpoint = Some(checkpoint);
            draft.set_run(RunStatus::Paused)?;
            let action = PendingAction {
                step: step.name.clone(),
                gate: None,
                ..action
            };
            draft.pause(
                step.index,
                action.clone(),
                definition.paused_lifetime.as_deref(),
            );
            draft.event(RunEvent::Paused {
                step: step.name.clone(),
                pending_action: action,
                gate: false,
            });
        }
        Attempt::Fail { error } => {
            let max_attempts = retry.map_or(1, |r| r.max_attempts) as i64;
            if error.retryable && step.attempts < max_attempts {
                let wait = retry
                    .map(|r| r.backoff(step.attempts as u32))
                    .unwrap_or_default();
                set_step(&mut step, StepStatus::Pending)?;
                step.error = Some(error.clone());
                let retry_at = now.saturating_add(wait.as_millis().min(i64::MAX as u128) as i64);
                draft.run.wake_at = Some(retry_at);
                draft.run.current_action = Some(format!("waiting to retry step '{}'", step.name));
                draft.event(RunEvent::RetryScheduled {
                    step: step.name.clone(),
                    attempt: step.attempts,
                    error,
                    retry_at,
                });
            } else {
                let message = error.message.clone();
                fail_in(
                    &mut draft,
                    &mut step,
                    ErrorReason::StepFailed,
                    &message,
                    Some(error),
                )?;
            }
        }
    }
    draft.steps.push(step);
    Ok(draft.done())
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

/// Completes the run: every step is finished. Its result is the latest
/// completed step's output.
pub fn complete(
    run: &RunRecord,
    steps: &[StepRecord],
    now: i64,
) -> Result<Transition, IllegalTransition> {
    let mut draft = Draft::of(run, now);
    let result = steps
        .iter()
        .rev()
        .find(|s| s.status == StepStatus::Completed)
        .and_then(|s| s.output.clone())
        .unwrap_or(Value::Null);
    draft.set_run(RunStatus::Completed)?;
    draft.unpause();
    draft.run.result = Some(result.clone());
    draft.event(RunEvent::Completed { result });
    Ok(draft.done())
}

/// The run paused at `index`, and that step.
fn paused_step<'s>(
    run: &RunRecord,
    steps: &'s [StepRecord],
) -> Result<(usize, &'s StepRecord), Refusal> {
    let index = run.paused_step.unwrap_or_default() as usize;
    match steps.get(index) {
        Some(step) => Ok((index, step)),
        None => Err(Refusal::Corrupt(format!(
            "run {} paused at missing step {index}",
            run.id
        ))),
    }
}

/// The gate the run waits at: its step's, when the run paused there (not
/// when the step's plugin paused before it completed).
fn waiting_gate<'d>(
    run: &RunRecord,
    definition: &'d WorkflowDefinition,
    index: usize,
) -> Option<&'d ApprovalGate> {
    let at_gate = run
        .pending_action
        .as_ref()
        .is_some_and(|action| action.gate.is_some());
    definition
        .steps
        .get(index)
        .and_then(|s| s.approval.as_ref())
        .filter(|_| at_gate)
}

/// A decision on the run paused at step `step`: an option (`"approve"` or
/// `{"decision": "approve", "note": "..."}`) when the pending action offers
/// options, else a value its input schema accepts. At a gate, approvals count
/// towards its quorum of distinct identities; a rejection cancels the run.
pub fn decide(
    run: &RunRecord,
    steps: &[StepRecord],
    definition: &WorkflowDefinition,
    step: &str,
    decision: &Value,
    actor: &Actor,
    now: i64,
) -> Result<Transition, Refusal> {
    if run.status != RunStatus::Paused {
        return Err(Refusal::Conflict(format!(
            "run is {}, not paused",
            run.status
        )));
    }
    let (index, paused) = paused_step(run, steps)?;
    if paused.name != step {
        return Err(Refusal::Conflict(format!(
            "run is paused at step '{}', not '{step}'",
            paused.name
        )));
    }
    let choice = check_decision(run.pending_action.as_ref(), decision).map_err(Refusal::Invalid)?;
    let gate = waiting_gate(run, definition, index);
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
    Ok(apply_decision(run, steps, index, gate, answer, actor, now)?)
}

/// A checked decision: what was sent, and the option (with its note) it
/// picked when the pending action offers options.
struct Answer<'a> {
    value: &'a Value,
    choice: Choice,
}

/// Applies a checked decision to a paused run and its paused step `index`.
fn apply_decision(
    run: &RunRecord,
    steps: &[StepRecord],
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
    let mut draft = Draft::of(run, now);
    let mut step = steps[index].clone();
    let (option, note) = choice.clone().unzip();
    let note = note.flatten();
    let resumed = RunEvent::Resumed {
        step: step.name.clone(),
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
                // More approvals are needed: the run stays paused.
                if let Some(progress) = draft
                    .run
                    .pending_action
                    .as_mut()
                    .and_then(|a| a.gate.as_mut())
                {
                    progress.approvals = approved;
                }
                draft.event(RunEvent::ApprovalRecorded {
                    step: step.name.clone(),
                    reviewer: actor.name.clone(),
                    option,
                    note,
                    channel: actor.channel,
                    approvals: approved,
                    required: gate.required,
                });
            } else {
                set_step(&mut step, StepStatus::Completed)?;
                step.finished_at = Some(now);
                draft.event(resumed);
                draft.unpause();
                if rejects {
                    // The steps after it will not run: cancelled, as by a cancel.
                    cancel_steps(&mut draft, &steps[index + 1..])?;
                    draft.set_run(RunStatus::Cancelled)?;
                    let message = note
                        .clone()
                        .unwrap_or_else(|| format!("rejected at step '{}'", step.name));
                    draft.run.error = Some(RunFailure {
                        reason: ErrorReason::Rejected,
                        message,
                        step: Some(step.name.clone()),
                        fault: None,
                        actor: Some(actor.name.clone()),
                    });
                    draft.event(RunEvent::Cancelled(Cancellation::Rejected {
                        reason: ErrorReason::Rejected,
                        step: step.name.clone(),
                        note,
                        actor: actor.name.clone(),
                    }));
                } else {
                    draft.set_run(RunStatus::Running)?;
                    draft.run.steps_done += 1;
                    draft.effects.push(Effect::Drive);
                }
            }
        }
        _ => {
            // The plugin paused: it decides what the decision means on resume.
            set_step(&mut step, StepStatus::Running)?;
            step.decision = Some(decision.clone());
            draft.set_run(RunStatus::Running)?;
            draft.unpause();
            draft.event(resumed);
            draft.effects.push(Effect::Drive);
        }
    }
    draft.steps.push(step);
    Ok(draft.done())
}

/// Cancels a pending, running or paused run and its unfinished steps.
pub fn cancel(
    run: &RunRecord,
    steps: &[StepRecord],
    actor: &Actor,
    now: i64,
) -> Result<Transition, Refusal> {
    if run.status.is_terminal() {
        return Err(Refusal::Conflict(format!("run is already {}", run.status)));
    }
    let mut draft = Draft::of(run, now);
    cancel_steps(&mut draft, steps)?;
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
    draft.effects.push(Effect::Interrupt);
    Ok(draft.done())
}

/// Cancels those of `steps` that are not finished.
fn cancel_steps(draft: &mut Draft, steps: &[StepRecord]) -> Result<(), IllegalTransition> {
    for step in steps.iter().filter(|s| !s.status.is_terminal()) {
        let mut step = step.clone();
        set_step(&mut step, StepStatus::Cancelled)?;
        step.finished_at = Some(draft.now);
        draft.steps.push(step);
    }
    Ok(())
}

/// Applies the timeout of a paused run whose deadline passed: a gate's
/// `on_timeout` (approve, reject), or failing the run. `None` when the run is
/// not paused or its deadline is still ahead.
pub fn expire(
    run: &RunRecord,
    steps: &[StepRecord],
    definition: &WorkflowDefinition,
    now: i64,
) -> Result<Option<Transition>, Refusal> {
    if run.status != RunStatus::Paused || run.pause_deadline.is_none_or(|at| at > now) {
        return Ok(None);
    }
    let (index, step) = paused_step(run, steps)?;
    let gate = waiting_gate(run, definition, index);
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
            run, steps, index, gate, answer, &actor, now,
        )?));
    }
    let mut draft = Draft::of(run, now);
    let mut step = step.clone();
    set_step(&mut step, StepStatus::Failed)?;
    step.error = Some(StepFailure {
        reason: None,
        message: "timed out waiting for a decision".to_owned(),
        retryable: false,
        fault: None,
    });
    step.finished_at = Some(now);
    draft.set_run(RunStatus::Failed)?;
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason: ErrorReason::TimedOut,
        message: format!("step '{}' timed out waiting for a decision", step.name),
        step: Some(step.name.clone()),
        fault: None,
        actor: None,
    });
    draft.event(RunEvent::TimedOut {
        reason: ErrorReason::TimedOut,
        step: step.name.clone(),
    });
    draft.steps.push(step);
    Ok(Some(draft.done()))
}

/// Fails a run the host cannot go on with (`host_error`): the step it was at,
/// if any, and the run. `None` when the run is finished already.
pub fn abandon(
    run: &RunRecord,
    steps: &[StepRecord],
    message: &str,
    now: i64,
) -> Result<Option<Transition>, IllegalTransition> {
    if run.status.is_terminal() {
        return Ok(None);
    }
    if let Some(step) = steps.iter().find(|s| !s.status.is_terminal()) {
        return fail_step(run, step, ErrorReason::HostError, message, None, now).map(Some);
    }
    let mut draft = Draft::of(run, now);
    draft.set_run(RunStatus::Failed)?;
    draft.unpause();
    draft.run.error = Some(RunFailure {
        reason: ErrorReason::HostError,
        message: message.to_owned(),
        step: None,
        fault: None,
        actor: None,
    });
    draft.event(RunEvent::Failed {
        reason: ErrorReason::HostError,
        step: None,
        message: message.to_owned(),
    });
    Ok(Some(draft.done()))
}
