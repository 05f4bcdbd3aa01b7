//! The driver of one run: walks its tree, starts constructs and prepares
//! steps, runs their attempts in the engine (several at once in branches and
//! map items), and commits the transitions the run core computes from what
//! happened, a round at a time: the steps that ended and those that start
//! next go in one commit.

use std::future::Future;
use std::pin::Pin;

use futures_util::FutureExt as _;
use tokio::task::{AbortHandle, JoinSet};

use super::*;
use crate::run::tree;
use crate::workflow::StepKind;

/// Why a step whose templates failed fails.
fn template_reason(failure: &TemplateFailure) -> ErrorReason {
    match failure {
        TemplateFailure::Error(_) => ErrorReason::TemplateError,
        TemplateFailure::Limit(_) => ErrorReason::TemplateLimit,
    }
}

/// `null`, `a string`, ...: what a JSON value is, in a message.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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

    /// Drives one run until it finishes, pauses, or is cancelled or shut
    /// down: starts what its tree has ready (several steps at once in
    /// branches and map items), commits each round of changes in one
    /// transaction, and takes the attempts' outcomes as they end. Someone
    /// else's change of the run (a decision while it runs) pokes the driver,
    /// which reads the run again. It begins from `state` when given (the run
    /// as a commit just left it), else from the database, and launches
    /// first the attempts `launch` whose starts that commit held.
    pub(super) async fn drive(
        self: &Arc<Self>,
        run_id: &str,
        state: Option<(RunRecord, RunSteps)>,
        launch: Launch,
        stop: &CancellationToken,
        poke: &Poke,
    ) -> Result<(), RunError> {
        let (run, steps) = match state {
            Some(state) => state,
            None => {
                let (run, steps) = self.load(None, run_id)?;
                (run, RunSteps::new(steps))
            }
        };
        let layout = self
            .definitions
            .layout(&run.workflow_id, run.workflow_version)
            .map_err(RunError::Store)?;
        let mut driver = Driver {
            run,
            steps,
            layout,
            flight: JoinSet::new(),
            here: None,
            in_flight: HashMap::new(),
            finished: Vec::new(),
        };
        for (index, permit) in launch {
            self.launch(&mut driver, index, permit)?;
        }
        loop {
            if driver.run.status.is_terminal() {
                return Ok(());
            }
            match self.round(&mut driver, stop).await {
                Ok(Round::Go) => {}
                Ok(Round::Stop) => return Ok(()),
                Err(RunError::Conflict(_)) if !driver.run.status.is_terminal() => {
                    // Someone moved the run: read it again, keep what ended.
                    driver.reload(self, run_id)?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            if driver.run.status == RunStatus::Paused && driver.in_flight.is_empty() {
                // For a decision that may come soon (see `recent.rs`).
                self.recent.keep(driver.run, driver.steps);
                return Ok(());
            }
            if driver.in_flight.is_empty() && driver.finished.is_empty() {
                let frontier = tree::walk(&driver.layout, &driver.steps, now_ms());
                if frontier.attempts.is_empty() && frontier.entries.is_empty() {
                    let wake = [frontier.next_timer, frontier.next_deadline]
                        .into_iter()
                        .flatten()
                        .min();
                    if wake.is_none() && frontier.children.is_empty() {
                        if frontier.root == tree::ScopeEnd::Active && frontier.awaiting.is_empty() {
                            return Err(RunError::Store(StoreError::Corrupt(format!(
                                "run {run_id} has nothing that can run, and has not ended"
                            ))));
                        }
                        return Ok(());
                    }
                    // A timer, or a child run's end (which pokes; from
                    // another host, the poke may be lost: look now and then).
                    let idle = if frontier.children.is_empty() {
                        Duration::from_secs(3600)
                    } else {
                        self.look_again()
                    };
                    let wait = wake.map_or(idle, |at| {
                        Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64)
                    });
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = poke.notified() => driver.reload(self, run_id)?,
                        () = stop.cancelled() => return Ok(()),
                    }
                }
                continue;
            }
            let frontier = tree::walk(&driver.layout, &driver.steps, now_ms());
            let wait = [frontier.next_timer, frontier.next_deadline]
                .into_iter()
                .flatten()
                .min()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                joined = driver.flight.join_next(), if !driver.flight.is_empty() => {
                    if let Some(joined) = joined {
                        driver.ended(joined);
                    }
                    driver.more_ended();
                }
                ended = Driver::ended_here(&mut driver.here) => {
                    driver.here = None;
                    driver.ended(Ok(ended));
                    driver.more_ended();
                }
                () = tokio::time::sleep(wait) => {}
                () = poke.notified() => driver.reload(self, run_id)?,
                () = stop.cancelled() => return Ok(()),
            }
        }
    }

    /// One round: the attempts that ended, what time changed, constructs to
    /// start and steps to prepare, committed together; then the attempts
    /// started in it are launched.
    async fn round(
        self: &Arc<Self>,
        driver: &mut Driver,
        stop: &CancellationToken,
    ) -> Result<Round, RunError> {
        let mut round: Option<Transition> = None;
        let take = |driver: &mut Driver, round: &mut Option<Transition>, t: Transition| {
            t.apply_to(&mut driver.steps);
            driver.run = t.run.clone();
            *round = Some(match round.take() {
                Some(earlier) => earlier.then(t),
                None => t,
            });
        };
        // The outcomes stay with the driver until a commit holds them: a
        // conflict (someone moved the run) reads the run again and takes
        // them anew, so none is lost and no step runs twice.
        for (index, attempt, logs) in driver.finished.clone() {
            let running = driver
                .steps
                .get(index)
                .is_some_and(|s| s.status == StepStatus::Running);
            if !running || driver.run.status.is_terminal() {
                continue;
            }
            let finished = run::finish_attempt(
                &driver.run,
                &driver.steps,
                &driver.layout,
                index,
                attempt,
                logs,
                now_ms(),
            )?;
            take(driver, &mut round, finished);
        }
        let mut launch = Vec::new();
        // Constructs may add steps, which may be ready at once: look again
        // while something changes (each look is bounded by the tree).
        for _ in 0..64 {
            if driver.run.status.is_terminal() {
                break;
            }
            let now = now_ms();
            let mut frontier = tree::walk(&driver.layout, &driver.steps, now);
            // Every transition settles its own changes: what is left to move
            // on its own is what time made due (a wait that is over).
            if !frontier.moves.is_empty()
                && let Some(ticked) = run::tick(&driver.run, &driver.steps, &driver.layout, now)?
            {
                take(driver, &mut round, ticked);
                frontier = tree::walk(&driver.layout, &driver.steps, now);
            }
            if frontier.next_deadline.is_some_and(|at| at <= now)
                && let Some(expired) = run::expire(&driver.run, &driver.steps, &driver.layout, now)?
            {
                take(driver, &mut round, expired);
                continue;
            }
            let mut changed = false;
            for (index, child) in frontier.children {
                if let Some(end) = self.child_end(&child)? {
                    let (run, steps, layout) = (&driver.run, &driver.steps, &driver.layout);
                    let finished = run::finish_child(run, steps, layout, index, end, now_ms())?;
                    take(driver, &mut round, finished);
                    changed = true;
                }
            }
            for index in frontier.entries {
                let entry = self.entry(driver, index).await;
                let entered = run::enter(
                    &driver.run,
                    &driver.steps,
                    &driver.layout,
                    index,
                    entry,
                    now_ms(),
                )?;
                take(driver, &mut round, entered);
                changed = true;
            }
            for index in frontier.attempts {
                if driver.in_flight.contains_key(&index)
                    || launch.iter().any(|(i, _)| *i == index)
                    || driver.run.status.is_terminal()
                {
                    continue;
                }
                let permit = match Arc::clone(&self.slots).try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) if driver.in_flight.is_empty() && launch.is_empty() => {
                        if let Some(t) = round.take() {
                            self.commit(t, Some(&driver.steps)).await?;
                            driver.finished.clear();
                        }
                        tokio::select! {
                            permit = Arc::clone(&self.slots).acquire_owned() => {
                                permit.map_err(|_| RunError::Conflict("runner stopped".into()))?
                            }
                            () = stop.cancelled() => return Ok(Round::Stop),
                        }
                    }
                    Err(_) => break,
                };
                match self.prepare_attempt(driver, index).await? {
                    Prepared::Ended(t) => {
                        // Skipped or failed without running.
                        take(driver, &mut round, *t);
                        changed = true;
                    }
                    Prepared::Start(input) => {
                        let (run, steps) = (&driver.run, &driver.steps);
                        let started = run::start_step(run, steps, index, input, now_ms())?;
                        take(driver, &mut round, started);
                        launch.push((index, permit));
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if let Some(t) = round {
            driver.run = self.commit(t, Some(&driver.steps)).await?.run;
        }
        driver.finished.clear();
        if driver.run.status.is_terminal() {
            return Ok(Round::Stop);
        }
        for (index, permit) in launch {
            self.launch(driver, index, permit)?;
        }
        // Attempts of steps that a change ended (a failed branch cancels
        // the others) stop.
        let ended: Vec<usize> = driver
            .in_flight
            .keys()
            .copied()
            .filter(|&i| {
                driver
                    .steps
                    .get(i)
                    .is_none_or(|s| s.status != StepStatus::Running)
            })
            .collect();
        for index in ended {
            match driver.in_flight.remove(&index) {
                Some(Some(handle)) => handle.abort(),
                Some(None) => driver.here = None,
                None => {}
            }
        }
        Ok(Round::Go)
    }

    /// How construct `index` starts: its `when`, then what it needs
    /// evaluated (a map's items, a switch's cases, a wait's time), within
    /// the operator's limits.
    async fn entry(self: &Arc<Self>, driver: &Driver, index: usize) -> Entry {
        let record = &driver.steps[index];
        let Some((_, site)) = driver.layout.site(&record.name) else {
            return Entry::Fail {
                reason: ErrorReason::HostError,
                message: format!("step '{}' is not in its workflow version", record.name),
            };
        };
        let seen = tree::visible(
            &driver.layout,
            &driver.steps,
            &driver.run.input,
            &record.name,
            true,
        );
        let context = template_context(
            &driver.run.id,
            &record.name,
            &driver.run.input,
            &seen.outputs,
            seen.item.as_ref(),
        );
        let evaluate = |when, template| self.evaluate(&record.name, &context, when, template);
        let failed = |failure: TemplateFailure| Entry::Fail {
            reason: template_reason(&failure),
            message: failure.to_string(),
        };
        if let Some(when) = site.when.as_deref() {
            match evaluate(Some(when), None).await {
                Ok(Evaluation::Skip) => {
                    return Entry::Skip {
                        when: site.when.clone(),
                    };
                }
                Ok(Evaluation::Run { .. }) => {}
                Err(failure) => return failed(failure),
            }
        }
        let input = seen.default_input;
        let name = &record.name;
        let language = &self.language;
        let room = language
            .max_steps_per_run
            .saturating_sub(driver.run.steps_total.max(0) as usize);
        let too_big = |adds: usize| {
            (adds > room).then(|| Entry::Fail {
                reason: ErrorReason::LimitExceeded,
                message: format!(
                    "step '{name}' would grow the run to {} steps, above this host's limit of {}",
                    driver.run.steps_total.max(0) as usize + adds,
                    language.max_steps_per_run
                ),
            })
        };
        match site.kind() {
            StepKind::Parallel(parallel) => {
                let adds = parallel.branches.values().map(Vec::len).sum();
                too_big(adds).unwrap_or(Entry::Parallel { input })
            }
            StepKind::Map(map) => {
                let items = match evaluate(None, Some(&map.items)).await {
                    Ok(Evaluation::Run { input: Some(items) }) => items,
                    Ok(_) => Value::Null,
                    Err(failure) => return failed(failure),
                };
                let Value::Array(items) = items else {
                    return Entry::Fail {
                        reason: ErrorReason::TemplateError,
                        message: format!(
                            "the items of map '{name}' are {}, not an array",
                            json_kind(&items)
                        ),
                    };
                };
                if items.len() > language.max_items {
                    return Entry::Fail {
                        reason: ErrorReason::LimitExceeded,
                        message: format!(
                            "map '{name}' has {} items, above this host's limit of {}",
                            items.len(),
                            language.max_items
                        ),
                    };
                }
                too_big(items.len() * map.steps.len()).unwrap_or(Entry::Map { items })
            }
            StepKind::Switch(switch) => {
                for case in &switch.cases {
                    match evaluate(Some(&case.when), None).await {
                        Ok(Evaluation::Skip) => continue,
                        Ok(Evaluation::Run { .. }) => {
                            return too_big(case.steps.len()).unwrap_or(Entry::Switch {
                                case: case.name.clone(),
                                input,
                            });
                        }
                        Err(failure) => return failed(failure),
                    }
                }
                match &switch.default {
                    Some(default) => too_big(default.len()).unwrap_or(Entry::Switch {
                        case: crate::workflow::DEFAULT_CASE.to_owned(),
                        input,
                    }),
                    None => Entry::Fail {
                        reason: ErrorReason::StepFailed,
                        message: format!("no case of switch '{name}' holds, and it has no default"),
                    },
                }
            }
            StepKind::Wait(wait) => {
                let until = match (&wait.duration, &wait.until) {
                    (Some(duration), _) => match parse_duration(duration) {
                        Ok(d) => {
                            now_ms().saturating_add(d.as_millis().min(i64::MAX as u128) as i64)
                        }
                        Err(e) => {
                            return Entry::Fail {
                                reason: ErrorReason::TemplateError,
                                message: e,
                            };
                        }
                    },
                    (None, Some(until)) => {
                        let template = Value::String(until.clone());
                        let text = match evaluate(None, Some(&template)).await {
                            Ok(Evaluation::Run { input: Some(text) }) => text,
                            Ok(_) => Value::Null,
                            Err(failure) => return failed(failure),
                        };
                        match text.as_str().and_then(crate::clock::parse_timestamp) {
                            Some(at) => at,
                            None => {
                                return Entry::Fail {
                                    reason: ErrorReason::TemplateError,
                                    message: format!(
                                        "wait '{name}': until gave {text}, not an RFC 3339 time \
                                         (e.g. \"2026-12-24T09:00:00Z\")"
                                    ),
                                };
                            }
                        }
                    }
                    (None, None) => now_ms(),
                };
                Entry::Wait { until, input }
            }
            StepKind::Workflow(workflow) => {
                let input = match &site.input {
                    Some(template) => match evaluate(None, Some(template)).await {
                        Ok(Evaluation::Run { input: Some(input) }) => input,
                        Ok(_) => input,
                        Err(failure) => return failed(failure),
                    },
                    None => input,
                };
                self.start_child(driver, index, &workflow.id, input).await
            }
            StepKind::Plugin(_) => Entry::Fail {
                reason: ErrorReason::HostError,
                message: format!("step '{name}' is not a construct this host can start"),
            },
        }
    }

    /// How child run `child` ended; `None` while it has not.
    fn child_end(&self, child: &str) -> Result<Option<run::ChildEnd>, RunError> {
        let run = self.store.run(None, child)?;
        Ok(match run.status {
            RunStatus::Completed => Some(run::ChildEnd::Completed {
                result: run.result.unwrap_or(Value::Null),
            }),
            status if status.is_terminal() => Some(run::ChildEnd::Ended {
                status,
                error: run.error,
            }),
            _ => None,
        })
    }

    /// Starts the child run of sub-workflow step `index` (at most once: a
    /// second start for the same step finds the first child).
    async fn start_child(
        self: &Arc<Self>,
        driver: &Driver,
        index: usize,
        workflow_id: &str,
        input: Value,
    ) -> Entry {
        let record = &driver.steps[index];
        let depth = match &driver.run.trigger {
            Some(Trigger::Parent { depth, .. }) => depth + 1,
            _ => 1,
        };
        if depth as usize > self.language.max_workflow_depth {
            return Entry::Fail {
                reason: ErrorReason::LimitExceeded,
                message: format!(
                    "step '{}' would start a child run {depth} deep, above this host's limit of {}",
                    record.name, self.language.max_workflow_depth
                ),
            };
        }
        let trigger = Trigger::Parent {
            run_id: driver.run.id.clone(),
            step: record.name.clone(),
            depth,
        };
        let once = Idempotency {
            key: format!("parent:{}/{}", driver.run.id, record.name),
            body_hash: String::new(),
        };
        let runner = Runner {
            inner: Arc::clone(self),
        };
        let started = runner
            .start_with(
                &driver.run.tenant,
                workflow_id,
                input.clone(),
                Some(once),
                trigger,
            )
            .await;
        match started {
            Ok((child, _)) => Entry::Workflow {
                run: child.id,
                input,
            },
            Err(e) => Entry::Fail {
                reason: ErrorReason::StepFailed,
                message: format!(
                    "step '{}' cannot start workflow {workflow_id}: {}",
                    record.name,
                    match e {
                        RunError::NotFound => "the tenant has no such workflow".to_owned(),
                        other => other.to_string(),
                    }
                ),
            },
        }
    }

    /// Evaluates a condition or a template over `context` in the sandbox.
    async fn evaluate(
        &self,
        name: &str,
        context: &Value,
        when: Option<&str>,
        template: Option<&Value>,
    ) -> Result<Evaluation, TemplateFailure> {
        self.engine
            .evaluate_templates(name, context.clone(), when, template, &self.step_limits)
            .await
    }

    /// Gets plugin step `index` ready for an attempt: a pending step's
    /// templates are evaluated. Says how it starts, or gives the transition
    /// by which it does not run after all: skipped, or failed (templates, a
    /// plugin that is gone).
    async fn prepare_attempt(&self, driver: &Driver, index: usize) -> Result<Prepared, RunError> {
        let record = &driver.steps[index];
        let (site, digest) = pinned(&driver.run, &driver.layout, record)?;
        if self.catalog.by_digest(&digest).is_none() {
            let message = format!(
                "the plugin that step '{}' is pinned to ({digest}) is not loaded on this host",
                record.name
            );
            let failed = driver.fail(index, ErrorReason::PluginUnavailable, &message)?;
            return Ok(Prepared::Ended(Box::new(failed)));
        }
        if record.status != StepStatus::Pending || record.decision.is_some() {
            return Ok(Prepared::Start(None));
        }
        let seen = tree::visible(
            &driver.layout,
            &driver.steps,
            &driver.run.input,
            &record.name,
            site.when.is_some() || site.input.is_some(),
        );
        let prepared = self.prepare(&driver.run, &record.name, site, seen).await;
        let (run, steps, layout) = (&driver.run, &driver.steps, &driver.layout);
        Ok(match prepared {
            Ok(Some(input)) => Prepared::Start(Some(input)),
            Ok(None) => {
                let when = site.when.clone();
                let skipped = run::skip_step(run, steps, layout, index, when, now_ms())?;
                Prepared::Ended(Box::new(skipped))
            }
            Err(failure) => {
                let reason = template_reason(&failure);
                Prepared::Ended(Box::new(driver.fail(
                    index,
                    reason,
                    &failure.to_string(),
                )?))
            }
        })
    }

    /// What a driver beginning at the run as `transition` left it (`steps`)
    /// would commit first, when the run core alone can say it: the starts of
    /// the plugin steps its tree has ready, when nothing else is (no
    /// construct to start, nothing made due by time), and each has its
    /// plugin loaded, a free slot and no templates to evaluate (a `when` or
    /// an `input` needs the sandbox). With the slots taken for them; else
    /// `None`, and the driver's first round does it.
    pub(super) fn first_starts(
        &self,
        transition: &Transition,
        steps: &RunSteps,
    ) -> Option<(Transition, Launch)> {
        if !transition.effects.contains(&Effect::Drive) {
            return None;
        }
        self.first_starts_of(&transition.run, steps)
    }

    /// [`Inner::first_starts`], for a driver beginning at `run` (a new
    /// run, before it is saved).
    pub(super) fn first_starts_of(
        &self,
        run: &RunRecord,
        steps: &RunSteps,
    ) -> Option<(Transition, Launch)> {
        if run.status.is_terminal() {
            return None;
        }
        let layout = self
            .definitions
            .layout(&run.workflow_id, run.workflow_version)
            .ok()?;
        let now = now_ms();
        let frontier = tree::walk(&layout, steps, now);
        let quiet = frontier.entries.is_empty()
            && frontier.children.is_empty()
            && frontier.moves.is_empty()
            && frontier.next_deadline.is_none_or(|at| at > now);
        if !quiet || frontier.attempts.is_empty() {
            return None;
        }
        let mut starts: Option<Transition> = None;
        let mut launch = Vec::with_capacity(frontier.attempts.len());
        for index in frontier.attempts {
            let record = steps.get(index)?;
            let (site, digest) = pinned(run, &layout, record).ok()?;
            self.catalog.by_digest(&digest)?;
            let first = record.status == StepStatus::Pending && record.decision.is_none();
            if first && (site.when.is_some() || site.input.is_some()) {
                return None;
            }
            let input = first.then(|| {
                tree::visible(&layout, steps, &run.input, &record.name, false).default_input
            });
            let permit = Arc::clone(&self.slots).try_acquire_owned().ok()?;
            let at = starts.as_ref().map_or(run, |s| &s.run);
            let started = run::start_step(at, steps, index, input, now).ok()?;
            starts = Some(match starts {
                Some(earlier) => earlier.then(started),
                None => started,
            });
            launch.push((index, permit));
        }
        starts.map(|starts| (starts, launch))
    }

    /// Launches the attempt of step `index`, whose start was committed.
    fn launch(
        self: &Arc<Self>,
        driver: &mut Driver,
        index: usize,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<(), RunError> {
        let step = driver.steps[index].clone();
        let layout = Arc::clone(&driver.layout);
        let (site, digest) = pinned(&driver.run, &layout, &step)?;
        let plugin = self.catalog.by_digest(&digest).ok_or_else(|| {
            RunError::Store(StoreError::Corrupt(format!(
                "the plugin of step '{}' was unloaded",
                step.name
            )))
        })?;
        let invocation = Invocation {
            run_id: driver.run.id.clone(),
            step: step.name.clone(),
            attempt: step.attempts as u32,
            idempotency_key: format!("{}/{}", driver.run.id, step.name),
            config: site.config.clone(),
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
        if let Some(timeout) = site.timeout.as_deref().and_then(|t| parse_duration(t).ok()) {
            limits.wall_time_ms = timeout.as_millis().min(u128::from(u64::MAX)) as u64;
        }
        let outbound = self.outbound_http(&driver.run.tenant, site)?;
        let sink = self.progress_sink(&driver.run.id);
        let inner = Arc::clone(self);
        let attempt = step.attempts;
        let run = async move {
            let report = inner
                .engine
                .run_with_http(&plugin, &invocation, &call, &limits, Some(sink), outbound)
                .await;
            drop(permit);
            metrics::histogram!("cairn_step_duration_seconds", "plugin" => plugin.info.name.clone())
                .record(report.duration.as_secs_f64());
            if let Some(fault) = report.fault() {
                metrics::counter!("cairn_sandbox_faults_total", "kind" => fault.as_str())
                    .increment(1);
            }
            let logs = log_lines(attempt, &report);
            (index, attempt_of(report.outcome), logs)
        };
        let run = guarded(index, run);
        // The first attempt in flight is polled by the driver's own task:
        // a sequence of steps then runs without waking another task, or
        // another thread, at each step's end. Those that start beside it
        // (branches, map items) get tasks of their own, to run on other
        // threads at once.
        let handle = match driver.in_flight.is_empty() {
            true => {
                driver.here = Some(std::sync::Mutex::new(Box::pin(run)));
                None
            }
            false => Some(driver.flight.spawn(run)),
        };
        driver.in_flight.insert(index, handle);
        Ok(())
    }

    /// Evaluates a plugin step's `when` and `input` templates in the
    /// template sandbox: `None` when the step is to be skipped, else its
    /// input. Without an input template a step takes `seen.default_input`;
    /// a step with no templates needs no sandbox.
    pub(super) async fn prepare(
        &self,
        run: &RunRecord,
        path: &str,
        step: &crate::workflow::StepDefinition,
        seen: tree::Visible,
    ) -> Result<Option<Value>, TemplateFailure> {
        if step.when.is_none() && step.input.is_none() {
            return Ok(Some(seen.default_input));
        }
        let context =
            template_context(&run.id, path, &run.input, &seen.outputs, seen.item.as_ref());
        let evaluation = self
            .engine
            .evaluate_templates(
                path,
                context,
                step.when.as_deref(),
                step.input.as_ref(),
                &self.step_limits,
            )
            .await?;
        Ok(match evaluation {
            Evaluation::Skip => None,
            Evaluation::Run { input } => Some(input.unwrap_or(seen.default_input)),
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

    /// Ends a run whose driver stopped on an error that is not a conflict:
    /// fails the step it was at and the run, so that no run is left
    /// unfinished without a driver.
    pub(super) async fn abandon(self: &Arc<Self>, run_id: &str, error: &RunError) {
        let message = format!("the host could not go on with the run: {error}");
        // Someone else may move the run in between: look again, a few times.
        for _ in 0..3 {
            let failed = self.load(None, run_id).and_then(|(run, steps)| {
                let steps = RunSteps::new(steps);
                Ok(run::abandon(&run, &steps, &message, now_ms())?)
            });
            let outcome = match failed {
                Ok(Some(transition)) => self.commit(transition, None).await,
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

/// The attempt in `here`, to poll.
fn pinned_attempt(here: &mut Here) -> Pin<&mut (dyn Future<Output = Ended> + Send)> {
    match here.get_mut() {
        Ok(run) => run.as_mut(),
        // Poisoned only by a panic while locked, and it is never locked.
        Err(poisoned) => poisoned.into_inner().as_mut(),
    }
}

/// The attempt `run` of step `index`, whose fault of the host's own (a
/// panic) fails its step: the driver and its other attempts go on.
fn guarded(
    index: usize,
    run: impl Future<Output = Ended> + Send,
) -> impl Future<Output = Ended> + Send {
    std::panic::AssertUnwindSafe(run)
        .catch_unwind()
        .map(move |ran| ran.unwrap_or_else(|panic| (index, host_fault(&*panic), Vec::new())))
}

/// A failed attempt for a fault of the host's own (a panic) while it ran.
fn host_fault(panic: &(dyn std::any::Any + Send)) -> Attempt {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".to_owned());
    Attempt::Fail {
        error: StepFailure {
            reason: Some(ErrorReason::HostError),
            message: format!("the host failed while running the attempt: {what}"),
            retryable: false,
            fault: None,
        },
    }
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

/// An attempt's end: its step, outcome and logs.
type Ended = (usize, Attempt, Vec<StepLog>);

/// An attempt a driver's task runs itself. In a mutex only so that the
/// driver may be shared while it waits (the future is not `Sync`); it is
/// reached through `get_mut`, never locked.
type Here = std::sync::Mutex<Pin<Box<dyn Future<Output = Ended> + Send>>>;

/// What a driver holds of its run between rounds.
struct Driver {
    run: RunRecord,
    steps: RunSteps,
    layout: Arc<Layout>,
    /// The attempts running in tasks of their own, each answering with its
    /// step, outcome and logs.
    flight: JoinSet<Ended>,
    /// The attempt the driver's task runs itself (see [`Inner::launch`]).
    here: Option<Here>,
    /// Each attempt running: its task's handle, or none for the one `here`.
    in_flight: HashMap<usize, Option<AbortHandle>>,
    /// Attempts that ended, to be committed in the next round.
    finished: Vec<Ended>,
}

impl Driver {
    /// Fails step `index` without running it.
    fn fail(
        &self,
        index: usize,
        reason: ErrorReason,
        message: &str,
    ) -> Result<Transition, RunError> {
        let (run, steps, layout) = (&self.run, &self.steps, &self.layout);
        Ok(run::fail_step(
            run,
            steps,
            layout,
            index,
            reason,
            message,
            None,
            now_ms(),
        )?)
    }

    fn ended(&mut self, joined: Result<Ended, tokio::task::JoinError>) {
        // An error is an abort: its step ended under it.
        if let Ok((index, attempt, logs)) = joined {
            self.in_flight.remove(&index);
            self.finished.push((index, attempt, logs));
        }
    }

    /// Takes the attempts in tasks of their own that ended meanwhile, for
    /// the same round (the one `here` moves only while the driver waits).
    fn more_ended(&mut self) {
        while let Some(joined) = self.flight.try_join_next() {
            self.ended(joined);
        }
    }

    /// The end of the attempt `here`; pending while there is none.
    async fn ended_here(here: &mut Option<Here>) -> Ended {
        match here {
            Some(run) => pinned_attempt(run).await,
            None => std::future::pending().await,
        }
    }

    /// Reads the run again after someone else moved it; attempts in flight
    /// and outcomes not yet committed are kept.
    fn reload(&mut self, inner: &Inner, run_id: &str) -> Result<(), RunError> {
        let (run, steps) = inner.load(None, run_id)?;
        self.run = run;
        self.steps = RunSteps::new(steps);
        Ok(())
    }
}

/// The site plugin step `step` of `run` runs, and the digest it is pinned to.
fn pinned<'l>(
    run: &RunRecord,
    layout: &'l Layout,
    step: &StepRecord,
) -> Result<(&'l crate::workflow::StepDefinition, String), RunError> {
    let Some((site_index, site)) = layout.site(&step.name) else {
        return Err(RunError::Store(StoreError::Corrupt(format!(
            "run {} has a step '{}' that its workflow version does not define",
            run.id, step.name
        ))));
    };
    let digest = run.plugins.digest(site_index, &site.step_type);
    Ok((site, digest.unwrap_or_default().to_owned()))
}

/// How a plugin step is to start (`Some`: with this input, made by its
/// templates or the default), or the transition by which it ended without
/// running.
enum Prepared {
    Start(Option<Value>),
    Ended(Box<Transition>),
}

/// Steps whose starts were committed, each with the slot it runs in, for
/// a driver to launch.
pub(super) type Launch = Vec<(usize, tokio::sync::OwnedSemaphorePermit)>;

/// What a round of the driver leaves it to do.
enum Round {
    Go,
    Stop,
}

/// A nudge to a run's driver: someone else changed the run.
#[derive(Default)]
pub(super) struct Poke {
    poked: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Poke {
    pub(super) fn poke(&self) {
        self.poked.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    async fn notified(&self) {
        self.notify.notified().await;
        self.poked.store(false, Ordering::SeqCst);
    }

    fn take(&self) -> bool {
        self.poked.swap(false, Ordering::SeqCst)
    }
}

/// A run's driver as the runner knows it.
#[derive(Clone)]
pub(super) struct DriverHandle {
    generation: u64,
    pub(super) token: CancellationToken,
    pub(super) poke: Arc<Poke>,
}

/// Pokes the run's driver, or starts one when it has none.
/// One driver per run: the look for one and the start of a new one happen
/// under the drivers' lock, so that two callers at once (a start, and the
/// lease loop finding the run without a driver) never start two.
pub(super) fn drive_run(inner: &Arc<Inner>, run_id: String) {
    drive_run_from(inner, run_id, None);
}

/// [`drive_run`], from the run as a commit just left it (`state`): a
/// driver that starts then does not read it again. Should the run have moved
/// since, the driver's first commit is refused and it reads the run anew.
pub(super) fn drive_run_from(
    inner: &Arc<Inner>,
    run_id: String,
    state: Option<(RunRecord, RunSteps)>,
) {
    if let Some(place) = claim(inner, &run_id, true) {
        place.drive(state, Vec::new());
    }
}

/// Takes run `run_id`'s place in the drivers of this host, for a driver
/// that [`Place::drive`] starts; `None` when the run has a driver here
/// (which `poke` pokes).
fn claim(inner: &Arc<Inner>, run_id: &str, poke: bool) -> Option<Place> {
    let generation = inner.next_driver.fetch_add(1, Ordering::Relaxed);
    let handle = DriverHandle {
        generation,
        token: inner.shutdown.child_token(),
        poke: Arc::new(Poke::default()),
    };
    let mut drivers = inner.drivers.lock().ok()?;
    match drivers.entry(run_id.to_owned()) {
        std::collections::hash_map::Entry::Occupied(known) => {
            if poke {
                known.get().poke.poke();
            }
            None
        }
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(handle.clone());
            Some(Place {
                inner: Arc::clone(inner),
                run_id: run_id.to_owned(),
                handle: Some(handle),
            })
        }
    }
}

/// How a transition that committed a run's starts has its driver begin:
/// from the run as it left it (`state`), in the `place` taken for it before
/// (none: the run had a driver then, which is poked), launching the
/// attempts of those starts.
pub(super) struct Start {
    pub(super) state: (RunRecord, RunSteps),
    pub(super) place: Option<Place>,
    pub(super) launch: Launch,
}

impl Start {
    pub(super) fn drive(self, inner: &Arc<Inner>, run_id: &str) {
        match self.place {
            Some(place) => place.drive(Some(self.state), self.launch),
            None => drive_run_from(inner, run_id.to_owned(), Some(self.state)),
        }
    }
}

/// Run `run_id`'s place in the drivers of this host, taken before its
/// driver starts: whoever wants the run driven meanwhile pokes the place.
/// Dropped unused, it is given back, unless it was poked: then the driver
/// starts all the same, from the database.
pub(super) struct Place {
    inner: Arc<Inner>,
    run_id: String,
    handle: Option<DriverHandle>,
}

impl Place {
    /// Takes the place of run `run_id`, unless it has a driver on this host
    /// (which is left alone).
    pub(super) fn take(inner: &Arc<Inner>, run_id: &str) -> Option<Place> {
        claim(inner, run_id, false)
    }

    /// Starts the run's driver in this place, from `state` (else the
    /// database), launching first the attempts `launch` whose starts were
    /// committed.
    pub(super) fn drive(mut self, state: Option<(RunRecord, RunSteps)>, launch: Launch) {
        if let Some(handle) = self.handle.take() {
            let run_id = std::mem::take(&mut self.run_id);
            spawn_driver(&self.inner, run_id, handle, state, launch);
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let Ok(mut drivers) = self.inner.drivers.lock() else {
            return;
        };
        // Pokes come under the drivers' lock: none can come after this look.
        if handle.poke.take() && !handle.token.is_cancelled() {
            drop(drivers);
            let run_id = std::mem::take(&mut self.run_id);
            spawn_driver(&self.inner, run_id, handle, None, Vec::new());
            return;
        }
        if drivers
            .get(&self.run_id)
            .is_some_and(|h| h.generation == handle.generation)
        {
            drivers.remove(&self.run_id);
        }
    }
}

/// Spawns run `run_id`'s driver, whose place `handle` holds.
fn spawn_driver(
    inner: &Arc<Inner>,
    run_id: String,
    handle: DriverHandle,
    mut state: Option<(RunRecord, RunSteps)>,
    mut launch: Launch,
) {
    let inner = Arc::clone(inner);
    let runtime = inner.runtime.clone();
    runtime.spawn(async move {
        loop {
            let result = inner
                .drive(
                    &run_id,
                    state.take(),
                    std::mem::take(&mut launch),
                    &handle.token,
                    &handle.poke,
                )
                .await;
            if let Err(error) = result {
                match error {
                    RunError::Conflict(_) => {
                        tracing::debug!(run = %run_id, "driver stopped: the run changed under it")
                    }
                    RunError::Store(StoreError::Lost(_)) => {
                        tracing::warn!(run = %run_id, "driver stopped: another host drives the run now")
                    }
                    // The database is away, or asks to try again: nothing
                    // is wrong with the run. Drive it again from what was
                    // committed, once it may be back.
                    RunError::Store(StoreError::Unavailable(why)) => {
                        tracing::warn!(run = %run_id, "driving again in a moment: {why}");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            () = handle.token.cancelled() => {}
                        }
                    }
                    other => {
                        tracing::error!(run = %run_id, "driver stopped: {other}");
                        inner.abandon(&run_id, &other).await;
                    }
                }
            }
            // A poke that came as the driver stopped: drive again.
            let mut drivers = match inner.drivers.lock() {
                Ok(drivers) => drivers,
                Err(_) => return,
            };
            if handle.poke.take() && !handle.token.is_cancelled() {
                continue;
            }
            if drivers
                .get(&run_id)
                .is_some_and(|h| h.generation == handle.generation)
            {
                drivers.remove(&run_id);
            }
            break;
        }
        if let Ok(mut progress) = inner.progress.lock() {
            progress.remove(&run_id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_an_attempt_runs_fails_its_step_as_the_hosts_fault() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (index, attempt, logs) = runtime.block_on(guarded(3, async {
            tokio::task::yield_now().await;
            panic!("an index out of bounds");
        }));
        assert_eq!(index, 3);
        assert!(logs.is_empty());
        let Attempt::Fail { error } = attempt else {
            panic!("not a failure: {attempt:?}");
        };
        assert_eq!(error.reason, Some(ErrorReason::HostError));
        assert!(!error.retryable);
        assert!(
            error.message.ends_with("an index out of bounds"),
            "{}",
            error.message
        );
    }
}
