//! The driver of one run: prepares each step, runs its attempts in the
//! engine, retries, pauses, completes or fails it, and commits every change;
//! a completion waits to be committed with the next step's start.

use super::*;

/// Bytes of log messages kept per step, across its attempts; older lines go first.
const STEP_LOG_BYTES: usize = 64 << 10;

impl Inner {
    pub(super) fn definition(
        &self,
        workflow_id: &str,
        version: i64,
    ) -> Result<Arc<WorkflowDefinition>, RunError> {
        self.definitions
            .get(workflow_id, version)
            .map_err(RunError::Store)
    }

    /// Commits a driver's transition, together with a deferred one if any; a
    /// conflict means someone else changed the run.
    pub(super) async fn commit(
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
        let definitions = Arc::clone(&self.definitions);
        self.store
            .write(move |tx| {
                save(
                    tx,
                    &definitions,
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
    pub(super) async fn flush(
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
    pub(super) async fn drive(
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
    pub(super) async fn prepare(
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
    pub(super) fn outbound_http(
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
    pub(super) fn progress_sink(&self, run_id: &str) -> crate::engine::ProgressSink {
        let progress = Arc::clone(&self.progress);
        let run_id = run_id.to_owned();
        Arc::new(move |reported: &StepProgress| {
            if let Ok(mut progress) = progress.lock() {
                progress.insert(run_id.clone(), reported.clone());
            }
        })
    }

    /// Records how a step attempt ended.
    pub(super) async fn finish_attempt(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        steps: &mut [StepRecord],
        index: usize,
        definition: &WorkflowDefinition,
        outcome: StepOutcome,
    ) -> Result<(), RunError> {
        let step_definition = definition.steps.get(index);
        let gate = step_definition.and_then(|s| s.approval.as_ref());
        let retry = step_definition.and_then(|s| s.retry.as_ref());
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
                                paused_at: crate::clock::timestamp(now_ms()),
                            }),
                        };
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
                let action = PendingAction {
                    step: step.name.clone(),
                    kind: pending_action.kind,
                    message: pending_action.message,
                    options: pending_action.options,
                    input_schema: pending_action.input_schema,
                    data: pending_action.data,
                    gate: None,
                };
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
                    let fault = error.fault.map(|f| f.as_str());
                    let events = fail_in(
                        run,
                        step,
                        FailReason::StepFailed,
                        &error.message,
                        fault,
                        serde_json::to_value(&error).ok(),
                    )?;
                    let step = step.clone();
                    return self
                        .commit(run, deferred, expected, vec![step], events)
                        .await;
                }
            }
        }
        let step = step.clone();
        self.commit(run, deferred, expected, vec![step], events)
            .await
    }

    pub(super) fn pause(
        &self,
        run: &mut RunRecord,
        index: usize,
        action: PendingAction,
        lifetime: Option<&str>,
    ) {
        run.pending_action = Some(action);
        run.paused_step = Some(index as i64);
        run.pause_deadline = lifetime
            .and_then(|l| parse_duration(l).ok())
            .map(|d| now_ms() + d.as_millis() as i64);
        run.current_action = Some("waiting for a decision".to_owned());
    }

    /// Fails the step and with it the run.
    pub(super) async fn fail_step(
        &self,
        run: &mut RunRecord,
        deferred: &mut Option<Deferred>,
        step: &mut StepRecord,
        reason: FailReason,
        message: &str,
    ) -> Result<(), RunError> {
        let expected = run.last_seq;
        let events = fail_in(run, step, reason, message, None, None)?;
        self.commit(run, deferred, expected, vec![step.clone()], events)
            .await
    }

    /// Ends a run whose driver stopped on an error that is not a conflict: commits
    /// the completion the driver still held, then fails the step it was at and
    /// the run, so that no run is left unfinished without a driver.
    pub(super) async fn abandon(&self, run_id: &str, deferred: Option<Deferred>, error: &RunError) {
        let id = run_id.to_owned();
        let message = format!("the host could not go on with the run: {error}");
        let definitions = Arc::clone(&self.definitions);
        let written = self
            .store
            .write(move |tx| {
                if let Some(held) = deferred {
                    let steps: Vec<&StepRecord> = held.steps.iter().collect();
                    match save(
                        tx,
                        &definitions,
                        &held.run,
                        held.expected,
                        &steps,
                        &held.events,
                    ) {
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
                        save(tx, &definitions, &run, expected, &[step], &events)
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
                        save(tx, &definitions, &run, expected, &[], &[failed])
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

    pub(super) async fn complete_run(
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
}

/// Adds what an attempt logged (its `log` lines, the host's notes, and its
/// stdout and stderr) to the step's log.
pub(super) fn keep_logs(step: &mut StepRecord, report: &StepReport) {
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

pub(super) fn spawn_driver(inner: &Arc<Inner>, run_id: String) {
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

/// A driver's transition not yet committed: it joins the next commit.
pub(super) struct Deferred {
    pub(super) expected: i64,
    /// The run as this transition left it, for committing it alone.
    pub(super) run: RunRecord,
    pub(super) steps: Vec<StepRecord>,
    pub(super) events: Vec<EventRecord>,
}
