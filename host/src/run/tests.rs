//! Tests of the run core: the JSON of its types, and its transitions
//! against an oracle written apart from them.

use super::*;

#[test]
fn pending_actions_keep_their_json_shape() {
    let gate = serde_json::json!({
        "step": "review", "kind": "approval", "message": "Ship it?", "options": ["approve", "reject"],
        "input_schema": null, "data": {"title": "x"}, "reviewers": ["ana@example.com"],
        "required": 2, "approvals": 1, "paused_at": "2026-12-02T10:00:00.000Z"
    });
    let typed: PendingAction = serde_json::from_value(gate.clone()).expect("a gate's action");
    assert_eq!(typed.gate.as_ref().map(|g| g.approvals), Some(1));
    assert_eq!(serde_json::to_value(&typed).ok(), Some(gate));
    let plugin = serde_json::json!({
        "step": "pick", "kind": "choice", "message": "Which?", "options": [],
        "input_schema": {"type": "string"}, "data": null
    });
    let typed: PendingAction = serde_json::from_value(plugin.clone()).expect("a plugin's");
    assert_eq!(typed.gate, None);
    assert_eq!(serde_json::to_value(&typed).ok(), Some(plugin));
}

#[test]
fn a_quorum_counts_identities_once_whatever_their_case() {
    let decision = |who: &str, approving| Decision {
        reviewer: who.to_owned(),
        option: "approve".to_owned(),
        note: None,
        approving,
        at: String::new(),
        channel: Channel::Api,
        label: None,
    };
    let decisions = [
        decision("ana@example.com", true),
        decision("ANA@example.com", true),
        decision("bo", false),
        decision("cy", true),
    ];
    assert_eq!(distinct_approvers(&decisions), 2);
}

#[test]
fn event_kinds_read_back_as_written() {
    for kind in EventKind::ALL {
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        assert_eq!(
            serde_json::to_value(kind).ok(),
            Some(serde_json::json!(kind.as_str()))
        );
    }
    assert!("exploded".parse::<EventKind>().is_err());
}

#[test]
fn terminal_states_are_final() {
    for from in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
        assert!(
            RunStatus::ALL.into_iter().all(|to| !from.can_become(to)),
            "{from}"
        );
    }
    for from in StepStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
        assert!(
            StepStatus::ALL.into_iter().all(|to| !from.can_become(to)),
            "{from}"
        );
    }
}

#[test]
fn statuses_round_trip_through_text() {
    for status in RunStatus::ALL {
        assert_eq!(status.as_str().parse(), Ok(status));
    }
    for status in StepStatus::ALL {
        assert_eq!(status.as_str().parse(), Ok(status));
    }
    assert!("done".parse::<RunStatus>().is_err());
}

#[test]
fn admission_keeps_the_quota_and_the_concurrency_policy() {
    let definition = |concurrency: &str| -> crate::workflow::WorkflowDefinition {
        serde_json::from_value(serde_json::json!({
            "name": "w", "concurrency": concurrency, "steps": [{"name": "a", "type": "noop"}]
        }))
        .expect("a definition")
    };
    let (allow, forbid) = (definition("allow"), definition("forbid"));
    let load = |tenant, workflow| Load { tenant, workflow };
    assert_eq!(admit(&allow, "w", load(2, 2), 1, 3), Ok(()));
    assert!(
        matches!(admit(&allow, "w", load(3, 0), 1, 3), Err(Refusal::Quota(m)) if m.contains("its quota"))
    );
    assert!(
        matches!(admit(&allow, "w", load(1, 0), 3, 3), Err(Refusal::Quota(m)) if m.contains("(1 now)"))
    );
    assert_eq!(admit(&forbid, "w", load(0, 0), 1, 3), Ok(()));
    assert!(
        matches!(admit(&forbid, "w", load(1, 1), 1, 3), Err(Refusal::Conflict(m)) if m.contains("one is active"))
    );
    assert!(matches!(
        admit(&forbid, "w", load(0, 0), 2, 3),
        Err(Refusal::Conflict(_))
    ));
    assert!(counts_workflow_runs(&forbid) && !counts_workflow_runs(&allow));
}

// ---------------------------------------------------------------------------
// The transitions against an oracle.
//
// The oracle below is written from the rules as a user reads them in the
// README, not from the core's tables: a run goes through its steps in order;
// a step completes, pauses (for the plugin, or at its gate), is retried while
// it fails retryably and has attempts left, or fails and with it the run; a
// gate needs `required` approvals by distinct reviewers (any case), one
// rejection cancels the run, and a reviewer cannot approve twice; a cancel
// ends any unfinished run; a deadline applies the gate's `on_timeout` or fails
// the run. Random workflows and random sequences of what can happen to a run
// are applied to both, and the core must agree with the oracle at every step.

mod oracle {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::*;
    use crate::workflow::WorkflowDefinition;

    #[derive(Debug, Clone)]
    pub enum Kind {
        Plain,
        PluginPause,
        Gate {
            required: u32,
            on_timeout: &'static str,
        },
    }

    #[derive(Debug, Clone)]
    pub struct StepSpec {
        kind: Kind,
        max_attempts: u32,
    }

    #[derive(Debug, Clone, Copy)]
    pub enum Outcome {
        Complete,
        Pause,
        FailRetryable,
        FailFatal,
    }

    #[derive(Debug, Clone)]
    pub enum Op {
        /// The driver runs the next attempt, and it ends so (or it completes
        /// the run when no step is left).
        Drive(Outcome),
        /// Reviewer `who` (0..4; 3 is 1 in other case) picks `option` at `step`
        /// (the paused one, or another).
        Decide {
            who: usize,
            option: &'static str,
            right_step: bool,
        },
        Cancel,
        /// Time passes beyond any deadline.
        Expire,
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            3 => Just(Kind::Plain),
            2 => Just(Kind::PluginPause),
            3 => (1u32..4, prop_oneof![Just("fail"), Just("approve"), Just("reject")])
                .prop_map(|(required, on_timeout)| Kind::Gate { required, on_timeout }),
        ]
    }

    fn step() -> impl Strategy<Value = StepSpec> {
        (kind(), 1u32..4).prop_map(|(kind, max_attempts)| StepSpec { kind, max_attempts })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => prop_oneof![
                4 => Just(Outcome::Complete),
                1 => Just(Outcome::Pause),
                2 => Just(Outcome::FailRetryable),
                1 => Just(Outcome::FailFatal),
            ].prop_map(Op::Drive),
            5 => (0usize..4, prop_oneof![4 => Just("approve"), 1 => Just("reject"), 1 => Just("maybe")], prop::bool::weighted(0.9))
                .prop_map(|(who, option, right_step)| Op::Decide { who, option, right_step }),
            1 => Just(Op::Cancel),
            1 => Just(Op::Expire),
        ]
    }

    pub fn case() -> impl Strategy<Value = (Vec<StepSpec>, Vec<Op>)> {
        (
            prop::collection::vec(step(), 1..5),
            prop::collection::vec(op(), 1..40),
        )
    }

    fn definition(specs: &[StepSpec]) -> WorkflowDefinition {
        let steps: Vec<Value> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut step = json!({
                    "name": format!("s{i}"), "type": "noop",
                    "retry": { "max_attempts": spec.max_attempts, "initial_backoff": "1s" },
                });
                if let Kind::Gate {
                    required,
                    on_timeout,
                } = spec.kind
                {
                    step["approval"] =
                        json!({ "required": required, "on_timeout": on_timeout, "timeout": "1h" });
                }
                step
            })
            .collect();
        let definition = json!({ "name": "w", "steps": steps, "paused_lifetime": "2h" });
        serde_json::from_value(definition).expect("a definition")
    }

    /// What the oracle expects of the run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        /// Before the first attempt, or between steps.
        Going,
        /// Paused at the current step: by the plugin, or at its gate.
        PausedByPlugin,
        AtGate,
        /// The plugin's pause was answered: its step runs again.
        Resumed,
        Completed,
        Failed,
        Cancelled,
    }

    struct Oracle {
        specs: Vec<StepSpec>,
        state: Expect,
        /// The step the run is at.
        at: usize,
        /// Attempts of the step it is at.
        attempts: u32,
        /// Who approved at the current gate (lowercase).
        approvers: Vec<String>,
        /// Steps finished (completed) so far.
        done: usize,
    }

    const REVIEWERS: [&str; 4] = ["ana", "bo", "cy", "ANA"];

    impl Oracle {
        /// Whether `op` is accepted, updating the expectation.
        fn apply(&mut self, op: &Op) -> bool {
            use Expect::*;
            match op {
                Op::Drive(outcome) => {
                    if !matches!(self.state, Going | Resumed) {
                        return false;
                    }
                    let spec = &self.specs[self.at];
                    self.attempts += 1;
                    // A plugin pauses only on its first run of the step; once
                    // resumed, it completes.
                    let completes = match outcome {
                        Outcome::Complete => true,
                        Outcome::Pause => self.state == Resumed,
                        _ => false,
                    };
                    match outcome {
                        _ if completes => match spec.kind {
                            Kind::Gate { .. } => self.state = AtGate,
                            _ => self.next_step(),
                        },
                        Outcome::Complete | Outcome::Pause => self.state = PausedByPlugin,
                        Outcome::FailRetryable if self.attempts < spec.max_attempts => {
                            self.state = Going;
                        }
                        Outcome::FailRetryable | Outcome::FailFatal => self.state = Failed,
                    }
                    true
                }
                Op::Decide {
                    who,
                    option,
                    right_step,
                } => {
                    if !right_step || !matches!(self.state, AtGate | PausedByPlugin) {
                        return false;
                    }
                    if *option == "maybe" {
                        return false;
                    }
                    if self.state == PausedByPlugin {
                        self.state = Resumed;
                        return true;
                    }
                    if *option == "reject" {
                        self.state = Cancelled;
                        return true;
                    }
                    let who = REVIEWERS[*who].to_lowercase();
                    if self.approvers.contains(&who) {
                        return false;
                    }
                    self.approvers.push(who);
                    let Kind::Gate { required, .. } = self.specs[self.at].kind else {
                        unreachable!("at a gate")
                    };
                    if self.approvers.len() >= required as usize {
                        self.next_step();
                    }
                    true
                }
                Op::Cancel => {
                    if matches!(self.state, Completed | Failed | Cancelled) {
                        return false;
                    }
                    self.state = Cancelled;
                    true
                }
                Op::Expire => match self.state {
                    PausedByPlugin => {
                        self.state = Failed;
                        true
                    }
                    AtGate => {
                        let Kind::Gate { on_timeout, .. } = self.specs[self.at].kind else {
                            unreachable!("at a gate")
                        };
                        match on_timeout {
                            "approve" => self.next_step(),
                            "reject" => self.state = Cancelled,
                            _ => self.state = Failed,
                        }
                        true
                    }
                    _ => false,
                },
            }
        }

        /// The current step finished: the next is due, or the run completes
        /// with the last.
        fn next_step(&mut self) {
            self.at += 1;
            self.done += 1;
            self.attempts = 0;
            self.approvers.clear();
            self.state = if self.at == self.specs.len() {
                Expect::Completed
            } else {
                Expect::Going
            };
        }

        fn run_status(&self) -> RunStatus {
            match self.state {
                Expect::Going | Expect::Resumed => {
                    if self.at == 0 && self.attempts == 0 {
                        RunStatus::Pending
                    } else {
                        RunStatus::Running
                    }
                }
                Expect::PausedByPlugin | Expect::AtGate => RunStatus::Paused,
                Expect::Completed => RunStatus::Completed,
                Expect::Failed => RunStatus::Failed,
                Expect::Cancelled => RunStatus::Cancelled,
            }
        }
    }

    /// The core's side: applies `op` by asking the transitions what a driver,
    /// a reviewer, a cancel or the deadline timer would; `None` when refused
    /// (or, for the driver, when it has nothing to do).
    fn through_core(
        run: &RunRecord,
        steps: &RunSteps,
        layout: &Layout,
        op: &Op,
        now: i64,
    ) -> Option<Transition> {
        match op {
            Op::Drive(outcome) => {
                if run.status.is_terminal() || run.status == RunStatus::Paused {
                    return None;
                }
                // The driver waits for a retry's time; here time jumps to it.
                let later = now + 24 * 3_600_000;
                let index = *super::super::tree::walk(layout, steps, later)
                    .attempts
                    .first()?;
                let started = start_step(run, steps, index, None, now).ok()?;
                let mut after = steps.clone();
                started.apply_to(&mut after);
                let step = &after[index];
                let outcome = match outcome {
                    Outcome::Complete => Attempt::Complete {
                        output: json!({ "n": index }),
                    },
                    // A plugin resumed with a decision completes.
                    Outcome::Pause if step.decision.is_some() => Attempt::Complete {
                        output: json!("resumed"),
                    },
                    Outcome::Pause => Attempt::Pause {
                        action: PendingAction {
                            step: String::new(),
                            kind: "choice".to_owned(),
                            message: "which?".to_owned(),
                            options: vec!["approve".to_owned(), "reject".to_owned()],
                            input_schema: None,
                            data: Value::Null,
                            gate: None,
                        },
                        checkpoint: json!({ "at": index }),
                    },
                    Outcome::FailRetryable | Outcome::FailFatal => Attempt::Fail {
                        error: StepFailure {
                            reason: None,
                            message: "no".to_owned(),
                            retryable: matches!(outcome, Outcome::FailRetryable),
                            fault: None,
                        },
                    },
                };
                let finished = finish_attempt(
                    &started.run,
                    &after,
                    layout,
                    index,
                    outcome,
                    Vec::new(),
                    now,
                )
                .ok()?;
                Some(started.then(finished))
            }
            Op::Decide {
                who,
                option,
                right_step,
            } => {
                let paused = run.paused_step.unwrap_or_default() as usize;
                let name = if *right_step {
                    format!("s{paused}")
                } else {
                    format!("s{}", paused + 1)
                };
                let actor = Actor::api(REVIEWERS[*who]);
                decide(run, steps, layout, &name, &json!(option), &actor, now).ok()
            }
            Op::Cancel => cancel(run, steps, &Actor::api("ops"), now).ok(),
            Op::Expire => expire(run, steps, layout, now + 3 * 3_600_000)
                .ok()
                .flatten(),
        }
    }

    pub fn check(specs: Vec<StepSpec>, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let definition = definition(&specs);
        let plugins = Pins::ByType([("noop".to_owned(), "digest".to_owned())].into());
        let version = Version {
            tenant: "t",
            workflow_id: "w",
            number: 1,
            definition: &definition,
        };
        let layout = Layout::of(&definition);
        let (mut run, steps, created) = create(
            "r".to_owned(),
            version,
            plugins,
            Value::Null,
            Trigger::Api,
            0,
        );
        prop_assert_eq!(created.seq, 1);
        let mut steps = RunSteps::new(steps);
        let mut oracle = Oracle {
            specs,
            state: Expect::Going,
            at: 0,
            attempts: 0,
            approvers: Vec::new(),
            done: 0,
        };
        let mut now = 0;
        for op in &ops {
            now += 1_000;
            let accepted = oracle.apply(op);
            let transition = through_core(&run, &steps, &layout, op, now);
            prop_assert_eq!(
                transition.is_some(),
                accepted,
                "{:?}: core {:?}, oracle expects {:?}",
                op,
                transition.as_ref().map(|t| t.run.status),
                oracle.state
            );
            let Some(transition) = transition else {
                continue;
            };
            // The log is numbered on from where the run was, without gaps.
            prop_assert_eq!(transition.expected_seq, run.last_seq);
            for (i, event) in transition.events.iter().enumerate() {
                prop_assert_eq!(event.seq, run.last_seq + 1 + i as i64);
            }
            prop_assert_eq!(
                transition.run.last_seq,
                run.last_seq + transition.events.len() as i64
            );
            run = transition.run.clone();
            transition.apply_to(&mut steps);
            // The run is where the oracle says.
            prop_assert_eq!(run.status, oracle.run_status(), "after {:?}", op);
            prop_assert_eq!(run.steps_done as usize, oracle.done);
            // Steps before the current one completed; after it, untouched
            // (unless the run ended: then they are cancelled, or pending
            // after a failure).
            for (i, step) in steps.records().iter().enumerate() {
                if i < oracle.at {
                    prop_assert_eq!(step.status, StepStatus::Completed, "step {}", i);
                } else if i > oracle.at {
                    let allowed = match run.status {
                        RunStatus::Cancelled | RunStatus::Failed => StepStatus::Cancelled,
                        _ => StepStatus::Pending,
                    };
                    prop_assert_eq!(step.status, allowed, "step {}", i);
                    prop_assert_eq!(step.attempts, 0);
                }
            }
            if let Some(current) = steps.get(oracle.at) {
                let expected = match oracle.state {
                    Expect::Going => StepStatus::Pending,
                    Expect::PausedByPlugin | Expect::AtGate => StepStatus::AwaitingInput,
                    Expect::Resumed => StepStatus::Running,
                    Expect::Failed => StepStatus::Failed,
                    Expect::Cancelled => current.status,
                    Expect::Completed => unreachable!("no step is left"),
                };
                prop_assert_eq!(current.status, expected, "the current step");
                if oracle.state == Expect::Cancelled {
                    prop_assert!(
                        matches!(
                            current.status,
                            StepStatus::Cancelled | StepStatus::Completed
                        ),
                        "a cancelled run's step is {}",
                        current.status
                    );
                }
                prop_assert_eq!(current.attempts as u32, oracle.attempts);
            }
            // A paused run says what it waits for and until when; nothing
            // else does.
            prop_assert_eq!(
                run.status == RunStatus::Paused,
                run.pending_action.is_some()
            );
            prop_assert_eq!(
                run.status == RunStatus::Paused,
                run.pause_deadline.is_some()
            );
            if oracle.state == Expect::AtGate {
                let progress = run.pending_action.as_ref().and_then(|a| a.gate.as_ref());
                prop_assert_eq!(progress.map(|g| g.approvals), Some(oracle.approvers.len()));
            }
            // Ended runs say why; completed ones carry the last output.
            match run.status {
                RunStatus::Completed => {
                    prop_assert!(run.error.is_none());
                    prop_assert!(run.result.is_some());
                }
                RunStatus::Failed | RunStatus::Cancelled => {
                    prop_assert!(run.error.is_some());
                }
                _ => prop_assert!(run.error.is_none()),
            }
            // Notifications go out exactly for pauses and ends.
            for event in &transition.events {
                let notifies = event.event.notification().is_some();
                let ends_or_pauses = matches!(
                    event.kind(),
                    EventKind::Paused
                        | EventKind::Completed
                        | EventKind::Failed
                        | EventKind::Cancelled
                        | EventKind::TimedOut
                );
                prop_assert_eq!(notifies, ends_or_pauses);
                // Every event is stored as its data and reads back from it.
                let stored: Value = serde_json::from_str(&event.event.data_text())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&stored, &event.data());
                let back = RunEvent::from_parts(event.kind(), event.data());
                prop_assert_eq!(back.ok(), Some(event.event.clone()));
            }
        }
        Ok(())
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

    #[test]
    fn transitions_agree_with_the_oracle((specs, ops) in oracle::case()) {
        oracle::check(specs, ops)?;
    }
}

// ---------------------------------------------------------------------------
// Trees: constructs driven through the core as the driver drives them.

mod trees {
    use serde_json::{Value, json};

    use super::super::tree::{Layout, RunSteps, walk};
    use super::super::*;
    use crate::workflow::WorkflowDefinition;

    /// A run of `definition` with its steps, as created.
    fn start(definition: &Value) -> (Layout, RunRecord, RunSteps) {
        let definition: WorkflowDefinition =
            serde_json::from_value(definition.clone()).expect("a definition");
        let layout = Layout::of(&definition);
        let version = Version {
            tenant: "t",
            workflow_id: "w",
            number: 1,
            definition: &definition,
        };
        let (run, steps, _) = create(
            "r".to_owned(),
            version,
            Pins::default(),
            json!({"items": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}),
            Trigger::Api,
            0,
        );
        (layout, run, RunSteps::new(steps))
    }

    fn apply(run: &mut RunRecord, steps: &mut RunSteps, transition: Transition) {
        transition.apply_to(steps);
        *run = transition.run;
    }

    /// Drives the run as the driver would, each attempt completing with its
    /// input (a construct's entry given by `entry`), until nothing is ready;
    /// checks `check` after every change.
    fn drive(
        layout: &Layout,
        run: &mut RunRecord,
        steps: &mut RunSteps,
        entry: impl Fn(&str) -> Entry,
        mut check: impl FnMut(&RunRecord, &RunSteps),
    ) {
        for now in 1..10_000 {
            let frontier = walk(layout, steps, now);
            if let Some(&index) = frontier.entries.first() {
                let name = steps[index].name.clone();
                let entered = enter(run, steps, layout, index, entry(&name), now).expect("enter");
                apply(run, steps, entered);
            } else if let Some(&index) = frontier.attempts.first() {
                let started = start_step(run, steps, index, None, now).expect("start");
                apply(run, steps, started);
                // As the driver prepares a step without templates: its input
                // is what comes before it, and noop passes it on.
                let name = steps[index].name.clone();
                let output = super::super::tree::visible(layout, steps, &run.input, &name, false)
                    .default_input;
                let outcome = Attempt::Complete { output };
                let finished = finish_attempt(run, steps, layout, index, outcome, Vec::new(), now)
                    .expect("finish");
                apply(run, steps, finished);
            } else if let Some(ticked) = tick(run, steps, layout, now + 1_000_000).expect("tick") {
                apply(run, steps, ticked);
            } else {
                return;
            }
            check(run, steps);
        }
    }

    #[test]
    fn a_map_keeps_its_concurrency_and_its_order() {
        let (layout, mut run, mut steps) = start(&json!({"name": "m", "steps": [
            {"name": "each", "map": {"items": "{{ input.items }}", "concurrency": 3, "steps": [
                {"name": "a", "type": "noop"}, {"name": "b", "type": "noop"}
            ]}}
        ]}));
        let items: Vec<Value> = (0..10).map(Value::from).collect();
        let mut most = 0;
        drive(
            &layout,
            &mut run,
            &mut steps,
            |_| Entry::Map {
                items: items.clone(),
            },
            |_, steps| {
                // Items with a step started and not all finished.
                let mut active = std::collections::BTreeSet::new();
                let mut started = std::collections::BTreeSet::new();
                for step in steps.records() {
                    if let Some(rest) = step.name.strip_prefix("each[") {
                        let item: usize = rest
                            .split(']')
                            .next()
                            .and_then(|i| i.parse().ok())
                            .expect("item");
                        started.insert(item);
                        if !step.status.is_terminal() {
                            active.insert(item);
                        }
                    }
                }
                assert!(active.len() <= 3, "{active:?} run at once");
                // Items start in order.
                assert_eq!(
                    started.iter().copied().collect::<Vec<_>>(),
                    (0..started.len()).collect::<Vec<_>>()
                );
                most = most.max(active.len());
            },
        );
        assert_eq!(most, 3);
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.result, Some(json!((0..10).collect::<Vec<_>>())));
        assert_eq!(run.steps_total, 21);
        assert_eq!(run.steps_done, 21);
    }

    #[test]
    fn a_failed_branch_cancels_the_others_and_the_rest_of_the_run() {
        let (layout, mut run, mut steps) = start(&json!({"name": "p", "steps": [
            {"name": "both", "parallel": {"branches": {
                "a": [{"name": "x", "type": "noop"}], "b": [{"name": "y", "type": "noop"}]
            }}},
            {"name": "after", "type": "noop"}
        ]}));
        let frontier = walk(&layout, &steps, 1);
        let entered = enter(
            &run,
            &steps,
            &layout,
            frontier.entries[0],
            Entry::Parallel { input: json!(1) },
            1,
        )
        .expect("enter");
        apply(&mut run, &mut steps, entered);
        let ready = walk(&layout, &steps, 2).attempts;
        assert_eq!(ready.len(), 2, "both branches are ready at once");
        for &index in &ready {
            let started = start_step(&run, &steps, index, None, 2).expect("start");
            apply(&mut run, &mut steps, started);
        }
        let error = StepFailure {
            reason: None,
            message: "no".into(),
            retryable: false,
            fault: None,
        };
        let failed = finish_attempt(
            &run,
            &steps,
            &layout,
            ready[0],
            Attempt::Fail { error },
            Vec::new(),
            3,
        )
        .expect("finish");
        apply(&mut run, &mut steps, failed);
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(
            run.error.as_ref().and_then(|e| e.step.as_deref()),
            Some("both")
        );
        let status = |name: &str| {
            steps
                .records()
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.status)
        };
        assert_eq!(status("both.b.y"), Some(StepStatus::Cancelled));
        assert_eq!(status("after"), Some(StepStatus::Cancelled));
    }

    #[test]
    fn several_steps_wait_and_each_is_decided_by_path() {
        let (layout, mut run, mut steps) = start(&json!({"name": "g", "steps": [
            {"name": "each", "map": {"items": [1, 2], "steps": [
                {"name": "gate", "type": "noop", "approval": {}}
            ]}}
        ]}));
        drive(
            &layout,
            &mut run,
            &mut steps,
            |_| Entry::Map {
                items: vec![json!(1), json!(2)],
            },
            |_, _| {},
        );
        assert_eq!(run.status, RunStatus::Paused);
        let waiting = walk(&layout, &steps, 10).awaiting;
        assert_eq!(waiting.len(), 2);
        let actor = Actor::api("ed");
        let wrong = decide(
            &run,
            &steps,
            &layout,
            "each[5].gate",
            &json!("approve"),
            &actor,
            10,
        );
        assert!(
            matches!(&wrong, Err(Refusal::Conflict(m)) if m == "run is paused at steps 'each[0].gate', 'each[1].gate', not 'each[5].gate'"),
            "{wrong:?}"
        );
        let first = decide(
            &run,
            &steps,
            &layout,
            "each[1].gate",
            &json!("approve"),
            &actor,
            11,
        )
        .expect("decided");
        apply(&mut run, &mut steps, first);
        assert_eq!(run.status, RunStatus::Paused, "the other still waits");
        assert_eq!(
            run.pending_action.as_ref().map(|a| a.step.as_str()),
            Some("each[0].gate")
        );
        let second = decide(
            &run,
            &steps,
            &layout,
            "each[0].gate",
            &json!("approve"),
            &actor,
            12,
        )
        .expect("decided");
        apply(&mut run, &mut steps, second);
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.result, Some(json!([1, 2])));
    }

    #[test]
    fn a_wait_is_due_only_at_its_time() {
        let (layout, mut run, mut steps) = start(&json!({"name": "w", "steps": [
            {"name": "hold", "wait": {"for": "1h"}}
        ]}));
        let entered = enter(
            &run,
            &steps,
            &layout,
            0,
            Entry::Wait {
                until: 5_000,
                input: json!("x"),
            },
            1,
        )
        .expect("enter");
        apply(&mut run, &mut steps, entered);
        assert_eq!(run.status, RunStatus::Running, "a timer is not a pause");
        assert_eq!(run.wake_at, Some(5_000));
        assert!(tick(&run, &steps, &layout, 4_999).expect("tick").is_none());
        let due = tick(&run, &steps, &layout, 5_000)
            .expect("tick")
            .expect("due");
        apply(&mut run, &mut steps, due);
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.result, Some(json!("x")));
    }
}
