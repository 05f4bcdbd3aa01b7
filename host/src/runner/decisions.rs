//! Decisions on paused runs (resumes by the API or a link, quorums of
//! distinct identities, rejections) and cancels.

use super::*;

impl Runner {
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

    pub(super) async fn resume_once(
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
        let definitions = Arc::clone(&self.inner.definitions);
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
                    && steps[index]
                        .decisions
                        .iter()
                        .any(|d| d.approving && d.reviewer.eq_ignore_ascii_case(&actor.name))
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
                        save(tx, &definitions, &run, expected, &[&steps[index]], &events)?;
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

    /// Cancels a pending, running or paused run; a running step is interrupted.
    pub async fn cancel(
        &self,
        tenant: &str,
        run_id: &str,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        let (tenant_owned, id) = (tenant.to_owned(), run_id.to_owned());
        let definitions = Arc::clone(&self.inner.definitions);
        self.inner
            .store
            .write(move |tx| cancel_in(tx, &definitions, &tenant_owned, &id, &actor))
            .await??;
        self.cancelled(run_id);
        self.get_run(Some(tenant), run_id)
    }

    /// After a cancel commits: interrupts the run's driver and announces it.
    pub(super) fn cancelled(&self, run_id: &str) {
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
}

/// Clears what a paused run carried.
/// Cancels the tenant's run `id` within `tx`: its unfinished steps and the run.
pub(super) fn cancel_in(
    tx: &Transaction<'_>,
    definitions: &Definitions,
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
    save(tx, definitions, &run, expected, &changed, &[cancelled])?;
    Ok(Ok(()))
}

pub(super) fn finish_paused(run: &mut RunRecord) {
    run.pending_action = None;
    run.paused_step = None;
    run.pause_deadline = None;
    run.wake_at = None;
    run.current_action = None;
}

/// A decision among the pending action's options: the option and the note.
pub(super) type Choice = Option<(String, Option<String>)>;

/// Checks a decision against what the run waits for.
pub(super) fn check_decision(
    pending: Option<&PendingAction>,
    decision: &Value,
) -> Result<Choice, String> {
    let options: Vec<&str> = pending
        .map(|p| p.options.iter().map(String::as_str).collect())
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
        .and_then(|p| p.input_schema.as_ref())
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
pub(super) fn apply_decision(
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
            step.decisions.push(Decision {
                reviewer: actor.name.clone(),
                option: option.clone(),
                note: note.clone(),
                approving: !gate.reject.contains(&option),
                at: crate::clock::timestamp(now),
                channel: actor.channel,
                label: actor.label.clone(),
            });
            let approved = distinct_approvers(&step.decisions);
            // A timeout's decision is final; people's approvals count to the quorum.
            let by_timer = actor.channel == Channel::Timer;
            if !gate.reject.contains(&option)
                && !by_timer
                && approved < gate.required.max(1) as usize
            {
                // More approvals are needed: the run stays paused.
                if let Some(gate) = run.pending_action.as_mut().and_then(|a| a.gate.as_mut()) {
                    gate.approvals = approved;
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
