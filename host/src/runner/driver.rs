//! The driver of one run: prepares each step, runs its attempts in the
//! engine, and commits the transitions the run core computes from what
//! happened; a step's completion waits to be committed with the next step's
//! start.

use super::*;

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

    /// Takes `transition` into the driver's copy of the run, and commits it
    /// together with the one held before, if any; a step's completion alone
    /// is held instead, to join the next commit.
    async fn advance(
        &self,
        run: &mut RunRecord,
        steps: &mut [StepRecord],
        held: &mut Option<Transition>,
        transition: Transition,
    ) -> Result<(), RunError> {
        transition.apply_to(steps);
        let only_completes = transition.only_completes_a_step();
        let transition = match held.take() {
            Some(earlier) => earlier.then(transition),
            None => transition,
        };
        if only_completes {
            *run = transition.run.clone();
            *held = Some(transition);
            return Ok(());
        }
        *run = self.commit(transition).await?.run;
        Ok(())
    }

    /// Commits a held transition on its own, before the driver waits or stops.
    async fn flush(&self, held: &mut Option<Transition>) -> Result<(), RunError> {
        if let Some(transition) = held.take() {
            self.commit(transition).await?;
        }
        Ok(())
    }

    /// Drives one run until it finishes, pauses, or is cancelled or shut down.
    /// When the driver fails, its caller commits what is left in `held`.
    pub(super) async fn drive(
        &self,
        run_id: &str,
        stop: &CancellationToken,
        held: &mut Option<Transition>,
    ) -> Result<(), RunError> {
        let (mut run, mut steps) = self.load(None, run_id)?;
        let definition = self.definition(&run.workflow_id, run.workflow_version)?;
        loop {
            let next = self
                .next(&mut run, &mut steps, &definition, held, stop)
                .await?;
            match next {
                Some(transition) => {
                    self.advance(&mut run, &mut steps, held, transition).await?;
                }
                None => return self.flush(held).await,
            }
        }
    }

    /// What comes next for the run: completing it, skipping or failing a step
    /// that cannot run, or an attempt of the next step and how it ended;
    /// `None` when the driver's work is done (or it was told to stop).
    async fn next(
        &self,
        run: &mut RunRecord,
        steps: &mut [StepRecord],
        definition: &WorkflowDefinition,
        held: &mut Option<Transition>,
        stop: &CancellationToken,
    ) -> Result<Option<Transition>, RunError> {
        if run.status.is_terminal() || run.status == RunStatus::Paused {
            return Ok(None);
        }
        let Some(index) = steps.iter().position(|s| !s.status.is_terminal()) else {
            return Ok(Some(run::complete(run, steps, now_ms())?));
        };
        let Some(step_definition) = definition.steps.get(index) else {
            return Err(RunError::Store(StoreError::Corrupt(format!(
                "run {} has a step {index} that its workflow version does not define",
                run.id
            ))));
        };
        match steps[index].status {
            StepStatus::AwaitingInput => return Ok(None),
            StepStatus::Pending => {
                if let Some(wake_at) = run.wake_at {
                    self.flush(held).await?;
                    let wait =
                        Duration::from_millis(wake_at.saturating_sub(now_ms()).max(0) as u64);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => return Ok(None),
                    }
                }
                if steps[index].decision.is_none() {
                    let prepared = self.prepare(run, steps, index, step_definition).await;
                    let step = &mut steps[index];
                    match prepared {
                        Ok(Some(input)) => step.input = Some(input),
                        Ok(None) => {
                            let when = step_definition.when.clone();
                            return Ok(Some(run::skip_step(run, step, when, now_ms())?));
                        }
                        Err(failure) => {
                            let reason = match failure {
                                TemplateFailure::Error(_) => ErrorReason::TemplateError,
                                TemplateFailure::Limit(_) => ErrorReason::TemplateLimit,
                            };
                            let message = failure.to_string();
                            let failed =
                                run::fail_step(run, step, reason, &message, None, now_ms())?;
                            return Ok(Some(failed));
                        }
                    }
                }
            }
            _ => {}
        }
        self.attempt(run, steps, index, definition, held, stop)
            .await
    }

    /// Runs one attempt of step `index` in the engine (once a slot is free),
    /// committing its start first; the transition of how it ended (`None`:
    /// told to stop).
    async fn attempt(
        &self,
        run: &mut RunRecord,
        steps: &mut [StepRecord],
        index: usize,
        definition: &WorkflowDefinition,
        held: &mut Option<Transition>,
        stop: &CancellationToken,
    ) -> Result<Option<Transition>, RunError> {
        let step_definition = &definition.steps[index];
        let digest = run.plugins.get(index).cloned().unwrap_or_default();
        let Some(plugin) = self.catalog.by_digest(&digest) else {
            let message = format!(
                "the plugin that step '{}' is pinned to ({digest}) is not loaded on this host",
                step_definition.name
            );
            let reason = ErrorReason::PluginUnavailable;
            let failed = run::fail_step(run, &steps[index], reason, &message, None, now_ms())?;
            return Ok(Some(failed));
        };
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.flush(held).await?;
                tokio::select! {
                    permit = Arc::clone(&self.slots).acquire_owned() => permit.map_err(|_| RunError::Conflict("runner stopped".into()))?,
                    () = stop.cancelled() => return Ok(None),
                }
            }
        };
        let started = run::start_step(run, &steps[index], now_ms())?;
        self.advance(run, steps, held, started).await?;

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
            () = stop.cancelled() => return Ok(None),
        };
        drop(permit);
        metrics::histogram!("cairn_step_duration_seconds", "plugin" => plugin.info.name.clone())
            .record(report.duration.as_secs_f64());
        if let Some(fault) = report.fault() {
            metrics::counter!("cairn_sandbox_faults_total", "kind" => fault.as_str()).increment(1);
        }
        let logs = log_lines(step.attempts, &report);
        let finished = run::finish_attempt(
            run,
            step,
            definition,
            attempt_of(report.outcome),
            logs,
            now_ms(),
        )?;
        Ok(Some(finished))
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
        let context = template_context(&run.id, &step.name, &run.input, &outputs);
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

    /// Ends a run whose driver stopped on an error that is not a conflict: commits
    /// the completion the driver still held, then fails the step it was at and
    /// the run, so that no run is left unfinished without a driver.
    pub(super) async fn abandon(&self, run_id: &str, held: Option<Transition>, error: &RunError) {
        if let Some(held) = held {
            match self.commit(held).await {
                Ok(_) | Err(RunError::Conflict(_)) => {}
                Err(e) => tracing::error!(run = %run_id, "cannot commit the held completion: {e}"),
            }
        }
        let message = format!("the host could not go on with the run: {error}");
        // Someone else may move the run in between: look again, a few times.
        for _ in 0..3 {
            let failed = self
                .load(None, run_id)
                .and_then(|(run, steps)| Ok(run::abandon(&run, &steps, &message, now_ms())?));
            let outcome = match failed {
                Ok(Some(transition)) => self.commit(transition).await,
                Ok(None) => return,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(_) => return,
                Err(RunError::Conflict(_)) => continue,
                Err(e) => {
                    tracing::error!(run = %run_id, "cannot fail the abandoned run: {e}");
                    return;
                }
            }
        }
    }
}

/// What an attempt logged (its `log` lines, the host's notes, and its stdout
/// and stderr), as lines of the step's log.
fn log_lines(attempt: i64, report: &StepReport) -> Vec<StepLog> {
    let line = |level: &str, source: &str, message: String| StepLog {
        attempt,
        level: level.to_owned(),
        source: source.to_owned(),
        message,
    };
    let mut lines: Vec<StepLog> = report
        .logs
        .iter()
        .map(|l| line(l.level.as_str(), l.source.as_str(), l.message.clone()))
        .collect();
    for (stream, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
        if !text.is_empty() {
            lines.push(line("info", stream, text.clone()));
        }
    }
    if report.logs_dropped > 0 {
        let message = format!(
            "{} log lines dropped past the attempt's budget",
            report.logs_dropped
        );
        lines.push(line("warn", "host", message));
    }
    lines
}

/// The engine's outcome of an attempt, as the run core takes it.
fn attempt_of(outcome: StepOutcome) -> Attempt {
    match outcome {
        StepOutcome::Complete { output } => Attempt::Complete { output },
        StepOutcome::Pause {
            pending_action,
            checkpoint,
        } => Attempt::Pause {
            action: PendingAction {
                step: String::new(),
                kind: pending_action.kind,
                message: pending_action.message,
                options: pending_action.options,
                input_schema: pending_action.input_schema,
                data: pending_action.data,
                gate: None,
            },
            checkpoint,
        },
        StepOutcome::Fail { error } => Attempt::Fail {
            error: StepFailure {
                reason: None,
                message: error.message,
                retryable: error.retryable,
                fault: error.fault.map(|f| f.as_str().to_owned()),
            },
        },
    }
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
        let mut held = None;
        if let Err(error) = inner.drive(&run_id, &token, &mut held).await {
            match error {
                RunError::Conflict(_) => {
                    tracing::debug!(run = %run_id, "driver stopped: the run changed under it")
                }
                other => {
                    tracing::error!(run = %run_id, "driver stopped: {other}");
                    inner.abandon(&run_id, held.take(), &other).await;
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
