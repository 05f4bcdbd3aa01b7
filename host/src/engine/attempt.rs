//! One step attempt: a fresh store and instance under the limits, the call,
//! and what came of it (checked against the limits, scrubbed of secrets,
//! a fault classified).

use super::*;

impl Engine {
    /// Runs one step attempt in a fresh sandbox. Never fails: every fault of the
    /// plugin becomes a failed outcome with a readable reason.
    pub async fn run(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
    ) -> StepReport {
        self.run_with_http(plugin, invocation, call, limits, on_progress, None)
            .await
    }

    /// [`Engine::run`] for a step that may send HTTP requests under `outbound`.
    /// Whatever the attempt produced is scrubbed of the secrets it could use.
    /// A call whose config or input breaks the schemas the plugin declares
    /// fails with every violation, and the guest is not called.
    pub async fn run_with_http(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
    ) -> StepReport {
        let problems = plugin.call_problems(&invocation.config, &invocation.input);
        if !problems.is_empty() {
            return StepReport::refused(super::checks::refusal(&plugin.info.name, &problems));
        }
        let limits = limits.clamped_to(&self.caps);
        self.run_within(plugin, invocation, call, &limits, on_progress, outbound)
            .await
    }

    /// [`Engine::run`] without the schema check: for a caller that checked
    /// the call itself (`cairn step run`, which refuses as a usage error), or
    /// wants the guest to answer a call its schemas refuse (`--skip-checks`,
    /// to test the plugin's own errors).
    pub async fn run_unchecked(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
    ) -> StepReport {
        let limits = limits.clamped_to(&self.caps);
        self.run_within(plugin, invocation, call, &limits, None, None)
            .await
    }

    /// [`Engine::run_with_http`] under `limits` as they are: the caller keeps
    /// them within the operator's caps.
    pub(super) async fn run_within(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
    ) -> StepReport {
        let limits = *limits;
        let wit_invocation = wit::Invocation {
            run_id: invocation.run_id.clone(),
            step: invocation.step.clone(),
            attempt: invocation.attempt,
            idempotency_key: invocation.idempotency_key.clone(),
            config: invocation.config.to_string(),
            input: invocation.input.to_string(),
        };
        let guest_call = match call {
            Call::Run => GuestCall::Run(wit_invocation),
            Call::Resume {
                checkpoint,
                decision,
            } => GuestCall::Resume(wit_invocation, checkpoint.to_string(), decision.to_string()),
        };
        let (result, state, duration) = self
            .execute(&plugin.pre, &limits, on_progress, outbound, guest_call)
            .await;
        let outcome = match result {
            Ok(GuestReturn::Outcome(outcome)) => check_outcome(outcome, &limits),
            Ok(GuestReturn::Info(_)) => Err(StepFault::Trap {
                message: "unexpected describe result".to_owned(),
            }),
            Err(fault) => Err(fault),
        };
        let mut outcome = outcome.unwrap_or_else(|fault| StepOutcome::Fail {
            error: fault.into_step_error(),
        });
        let notes = state.outbound.take_notes();
        if let (StepOutcome::Fail { error }, Some(last)) = (&mut outcome, notes.last()) {
            // The plugin saw only a typed error code: say what the host refused.
            error.message = format!("{} ({last})", error.message);
        }
        let mut logs = state.logs;
        logs.extend(notes.into_iter().map(|message| LogLine {
            level: LogLevel::Warn,
            message,
            source: LogSource::Host,
        }));
        let mut report = StepReport {
            outcome,
            logs,
            logs_dropped: state.logs_dropped,
            stdout: String::from_utf8_lossy(&state.stdout.contents()).into_owned(),
            stderr: String::from_utf8_lossy(&state.stderr.contents()).into_owned(),
            progress: state.progress,
            duration,
        };
        if let Some(access) = state.outbound.access() {
            scrub_report(access, &mut report);
        }
        report
    }

    /// Instantiates `pre` in a new store under `limits` and makes one call.
    pub(super) async fn execute(
        &self,
        pre: &StepPre,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
        call: GuestCall,
    ) -> (Result<GuestReturn, StepFault>, StepState, Duration) {
        let started = Instant::now();
        let mut store = Store::new(&self.engine, StepState::new(limits, on_progress, outbound));
        store.limiter(|state| &mut state.limits);
        if self.fuel {
            // Fuel is only metered when the engine was built for it; the error
            // case cannot happen then.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        let deadline = started + limits.wall_time();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });

        let outcome = tokio::time::timeout(limits.wall_time() + TIMEOUT_GRACE, async {
            pre.call(&mut store, &call).await
        })
        .await;
        let duration = started.elapsed();
        let state = store.into_data();
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((error, instantiating))) => {
                let evidence = Evidence {
                    stdout_len: state.stdout.contents().len(),
                    stderr: &state.stderr.contents(),
                };
                let fault = fault::classify(&error, limits, &evidence);
                Err(match fault {
                    StepFault::Trap { message } if instantiating => {
                        StepFault::Capacity { detail: message }
                    }
                    other => other,
                })
            }
            Err(_elapsed) => Err(StepFault::Timeout {
                limit_ms: limits.wall_time_ms,
            }),
        };
        (result, state, duration)
    }
}

/// Everything one step attempt produced.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub outcome: StepOutcome,
    pub logs: Vec<LogLine>,
    /// Log lines dropped past the per-attempt budget.
    pub logs_dropped: usize,
    pub stdout: String,
    pub stderr: String,
    /// The last progress the plugin reported.
    pub progress: Option<StepProgress>,
    pub duration: Duration,
}

impl StepReport {
    /// An attempt that never called the guest: it fails, not to be retried.
    fn refused(message: String) -> StepReport {
        StepReport {
            outcome: StepOutcome::Fail {
                error: StepError {
                    message,
                    retryable: false,
                    fault: None,
                },
            },
            logs: Vec::new(),
            logs_dropped: 0,
            stdout: String::new(),
            stderr: String::new(),
            progress: None,
            duration: Duration::ZERO,
        }
    }

    pub fn fault(&self) -> Option<FaultKind> {
        match &self.outcome {
            StepOutcome::Fail { error } => error.fault,
            _ => None,
        }
    }
}

/// Takes every secret the step could use out of what it produced, whichever
/// way a value got there (an echoing server, say).
pub(super) fn scrub_report(access: &OutboundHttp, report: &mut StepReport) {
    let access = &access.scrubber;
    match &mut report.outcome {
        StepOutcome::Complete { output } => access.scrub_json(output),
        StepOutcome::Pause {
            pending_action,
            checkpoint,
        } => {
            access.scrub(&mut pending_action.kind);
            access.scrub(&mut pending_action.message);
            pending_action
                .options
                .iter_mut()
                .for_each(|o| access.scrub(o));
            if let Some(schema) = &mut pending_action.input_schema {
                access.scrub_json(schema);
            }
            access.scrub_json(&mut pending_action.data);
            access.scrub_json(checkpoint);
        }
        StepOutcome::Fail { error } => access.scrub(&mut error.message),
    }
    for line in &mut report.logs {
        access.scrub(&mut line.message);
    }
    access.scrub(&mut report.stdout);
    access.scrub(&mut report.stderr);
    if let Some(progress) = &mut report.progress {
        access.scrub(&mut progress.action);
    }
}

/// Checks sizes and JSON of what the plugin returned.
pub(super) fn check_outcome(
    outcome: wit::Outcome,
    limits: &SandboxLimits,
) -> Result<StepOutcome, StepFault> {
    match outcome {
        wit::Outcome::Complete(output) => Ok(StepOutcome::Complete {
            output: parse_json("output", &output, limits.output_bytes)?,
        }),
        wit::Outcome::Pause(pause) => {
            let action = pause.action;
            let size = action.kind.len()
                + action.message.len()
                + action.options.iter().map(String::len).sum::<usize>()
                + action.input_schema.as_ref().map_or(0, String::len)
                + action.data.len();
            if size > limits.output_bytes {
                return Err(StepFault::OutputTooLarge {
                    what: "pending action",
                    size,
                    limit: limits.output_bytes,
                });
            }
            let input_schema = match &action.input_schema {
                Some(text) => Some(parse_json(
                    "pending action input schema",
                    text,
                    limits.output_bytes,
                )?),
                None => None,
            };
            Ok(StepOutcome::Pause {
                pending_action: PendingAction {
                    kind: action.kind,
                    message: action.message,
                    options: action.options,
                    input_schema,
                    data: parse_json("pending action data", &action.data, limits.output_bytes)?,
                },
                checkpoint: parse_json("checkpoint", &pause.checkpoint, limits.checkpoint_bytes)?,
            })
        }
        wit::Outcome::Fail(error) => {
            let mut message = error.message;
            sandbox::truncate_utf8(&mut message, 4096);
            Ok(StepOutcome::Fail {
                error: StepError {
                    message,
                    retryable: error.retryable,
                    fault: None,
                },
            })
        }
    }
}
