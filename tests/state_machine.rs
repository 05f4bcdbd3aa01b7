//! Property test of the run state machine, on the real runner: random workflows
//! and random sequences of operations (resume, bad resume, cancel, crash and
//! restart, waiting out timeouts) never reach an illegal or inconsistent state.

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use cairn::host::Host;
use cairn::run::{RunStatus, StepStatus};
use cairn::runner::{Actor, RunError, RunView};
use cairn::store::{EventRecord, WorkflowStatus};
use proptest::prelude::*;
use serde_json::{Value, json};

const TENANT: &str = "prop";

#[derive(Debug, Clone)]
enum StepKind {
    Complete,
    PluginPause,
    Gate {
        on_timeout: &'static str,
        timeout: &'static str,
    },
    FailFatal,
    FailRetryable,
}

#[derive(Debug, Clone)]
enum Operation {
    Resume { option: usize },
    ResumeWrongStep,
    Cancel,
    Crash,
    Wait,
}

fn step_kind() -> impl Strategy<Value = StepKind> {
    prop_oneof![
        3 => Just(StepKind::Complete),
        2 => Just(StepKind::PluginPause),
        2 => prop_oneof![Just("approve"), Just("reject"), Just("fail")].prop_flat_map(|on_timeout| {
            prop_oneof![Just("150ms"), Just("1h")].prop_map(move |timeout| StepKind::Gate { on_timeout, timeout })
        }),
        1 => Just(StepKind::FailFatal),
        1 => Just(StepKind::FailRetryable),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0usize..3).prop_map(|option| Operation::Resume { option }),
        1 => Just(Operation::ResumeWrongStep),
        1 => Just(Operation::Cancel),
        2 => Just(Operation::Crash),
        2 => Just(Operation::Wait),
    ]
}

fn definition(kinds: &[StepKind]) -> Value {
    let steps: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let name = format!("s{i}");
            match kind {
                StepKind::Complete => json!({"name": name, "type": "noop"}),
                StepKind::PluginPause => {
                    json!({"name": name, "type": "review", "config": {"options": ["go", "other", "stop"], "reject": ["stop"]}})
                }
                StepKind::Gate { on_timeout, timeout } => json!({"name": name, "type": "noop",
                    "approval": {"options": ["approve", "maybe", "reject"], "timeout": timeout, "on_timeout": on_timeout}}),
                StepKind::FailFatal => json!({"name": name, "type": "validate", "config": {"schema": {"required": ["never"]}}}),
                StepKind::FailRetryable => json!({"name": name, "type": "hostile", "config": {"attack": "loop"}, "timeout": "30ms",
                    "retry": {"max_attempts": 2, "initial_backoff": "10ms"}}),
            }
        })
        .collect();
    json!({"name": "prop", "steps": steps})
}

async fn start_host(dir: &Path) -> Host {
    common::start_host(dir, 16).await
}

/// Whether `to` can be reached from `from` in zero or more legal steps.
fn reachable<S: Copy + Eq + std::hash::Hash>(
    from: S,
    to: S,
    all: &[S],
    legal: impl Fn(S, S) -> bool,
) -> bool {
    let mut seen = HashSet::from([from]);
    let mut frontier = vec![from];
    while let Some(state) = frontier.pop() {
        if state == to {
            return true;
        }
        for &next in all {
            if legal(state, next) && seen.insert(next) {
                frontier.push(next);
            }
        }
    }
    false
}

struct Observation {
    view: RunView,
    events: Vec<EventRecord>,
}

fn observe(host: &Host, run_id: &str) -> Observation {
    Observation {
        view: host.runner.get_run(Some(TENANT), run_id).expect("run"),
        events: host.runner.events(Some(TENANT), run_id, 0).expect("events"),
    }
}

/// Checks one observation on its own and against the one before it.
fn check(before: Option<&Observation>, now: &Observation) -> Result<(), TestCaseError> {
    let view = &now.view;
    let seqs: Vec<i64> = now.events.iter().map(|e| e.seq).collect();
    prop_assert_eq!(
        seqs,
        (1..=now.events.len() as i64).collect::<Vec<_>>(),
        "event log has gaps"
    );
    prop_assert_eq!(view.last_event, now.events.len() as i64);
    prop_assert!(view.is_settled(), "run did not settle: {:?}", view.status);
    let awaiting = view
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::AwaitingInput)
        .count();
    match view.status {
        RunStatus::Paused => {
            prop_assert_eq!(awaiting, 1);
            prop_assert!(view.pending_action.is_some());
        }
        RunStatus::Completed => {
            prop_assert!(
                view.steps
                    .iter()
                    .all(|s| matches!(s.status, StepStatus::Completed | StepStatus::Skipped))
            );
            prop_assert_eq!(view.progress.percent, 100);
        }
        RunStatus::Failed => {
            prop_assert_eq!(
                view.steps
                    .iter()
                    .filter(|s| s.status == StepStatus::Failed)
                    .count(),
                1
            );
            prop_assert!(view.error.is_some());
        }
        RunStatus::Cancelled => prop_assert!(view.error.is_some()),
        RunStatus::Pending | RunStatus::Running => {}
    }
    if view.status != RunStatus::Paused {
        prop_assert_eq!(awaiting, 0);
        prop_assert!(view.pending_action.is_none());
    }
    if let Some(before) = before {
        prop_assert!(now.events.len() >= before.events.len());
        prop_assert_eq!(
            &now.events[..before.events.len()],
            &before.events[..],
            "the event log was rewritten"
        );
        if before.view.status.is_terminal() {
            prop_assert_eq!(&before.view, view, "a finished run changed");
        }
        prop_assert!(
            reachable(
                before.view.status,
                view.status,
                &RunStatus::ALL,
                RunStatus::can_become
            ),
            "run went from {} to {}",
            before.view.status,
            view.status
        );
        for (old, new) in before.view.steps.iter().zip(&view.steps) {
            prop_assert!(
                reachable(
                    old.status,
                    new.status,
                    &StepStatus::ALL,
                    StepStatus::can_become
                ),
                "step {} went from {} to {}",
                old.name,
                old.status,
                new.status
            );
        }
    }
    Ok(())
}

async fn scenario(kinds: Vec<StepKind>, operations: Vec<Operation>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = start_host(dir.path()).await;
    let workflow = host
        .runner
        .create_workflow(TENANT, definition(&kinds), WorkflowStatus::Active)
        .await
        .expect("valid workflow");
    let run = host
        .runner
        .start_run(TENANT, &workflow.id, json!({"x": 1}))
        .await
        .expect("start");
    let settle = |host: &Host, id: &str| {
        let runner = host.runner.clone();
        let id = id.to_owned();
        async move {
            runner
                .wait_until(
                    Some(TENANT),
                    &id,
                    Duration::from_secs(30),
                    RunView::is_settled,
                )
                .await
                .expect("run")
        }
    };
    settle(&host, &run.id).await;
    let mut before = observe(&host, &run.id);
    check(None, &before)?;
    for operation in operations {
        match operation {
            Operation::Resume { option } => {
                if let Some(action) = before
                    .view
                    .pending_action
                    .clone()
                    .and_then(|a| serde_json::to_value(a).ok())
                {
                    let step = action["step"].as_str().unwrap_or_default().to_owned();
                    let options = action["options"].as_array().cloned().unwrap_or_default();
                    let decision = options
                        .get(option)
                        .cloned()
                        .unwrap_or(json!("not-an-option"));
                    let result = host
                        .runner
                        .resume(TENANT, &run.id, &step, decision.clone(), Actor::api("prop"))
                        .await;
                    // The oracle, written from the rules rather than the code:
                    // an offered option is taken, anything else is refused, and
                    // only a gate with a short timeout may have decided itself
                    // in the meantime.
                    let index: usize = step.trim_start_matches('s').parse().unwrap_or(0);
                    let gate = match kinds.get(index) {
                        Some(StepKind::Gate { timeout, .. }) => Some(*timeout == "150ms"),
                        _ => None,
                    };
                    let may_have_expired = gate == Some(true);
                    let expired = may_have_expired && matches!(result, Err(RunError::Conflict(_)));
                    if options.get(option).is_some() {
                        prop_assert!(
                            result.is_ok() || expired,
                            "{decision} was refused: {result:?}"
                        );
                    } else {
                        prop_assert!(
                            matches!(result, Err(RunError::Rejected(_))) || expired,
                            "{decision} was not refused as no option: {result:?}"
                        );
                    }
                    if result.is_ok() && gate.is_some() {
                        settle(&host, &run.id).await;
                        let after = observe(&host, &run.id);
                        if decision == json!("reject") {
                            prop_assert_eq!(after.view.status, RunStatus::Cancelled);
                        } else {
                            prop_assert_eq!(after.view.steps[index].status, StepStatus::Completed);
                            prop_assert!(after.view.status != RunStatus::Cancelled);
                        }
                    }
                } else {
                    let result = host
                        .runner
                        .resume(TENANT, &run.id, "s0", json!("approve"), Actor::api("prop"))
                        .await;
                    prop_assert!(result.is_err(), "resumed a run that was not paused");
                }
            }
            Operation::ResumeWrongStep => {
                let result = host
                    .runner
                    .resume(
                        TENANT,
                        &run.id,
                        "nope",
                        json!("approve"),
                        Actor::api("prop"),
                    )
                    .await;
                prop_assert!(result.is_err());
            }
            Operation::Cancel => {
                let result = host
                    .runner
                    .cancel(TENANT, &run.id, Actor::api("prop"))
                    .await;
                prop_assert_eq!(result.is_ok(), !before.view.status.is_terminal());
            }
            Operation::Crash => {
                host.stop();
                // As a crash ends the process's connections (and so, on
                // PostgreSQL, its hold on the database).
                host.store.close();
                drop(host);
                host = start_host(dir.path()).await;
            }
            Operation::Wait => tokio::time::sleep(Duration::from_millis(250)).await,
        }
        settle(&host, &run.id).await;
        let now = observe(&host, &run.id);
        check(Some(&before), &now)?;
        before = now;
    }
    host.stop();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_operations_reaches_an_illegal_state(
        kinds in prop::collection::vec(step_kind(), 1..4),
        operations in prop::collection::vec(operation(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(scenario(kinds, operations))?;
    }
}
