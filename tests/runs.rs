//! Durable runs through the library API: real plugins, real SQLite files, the
//! runner as the host runs it.

use crate::common;

use std::path::Path;
use std::time::Duration;

use cairn::host::Host;
use cairn::run::{RunStatus, StepStatus};
use cairn::runner::{Actor, RunError, RunView};
use cairn::store::WorkflowStatus;
use serde_json::{Value, json};

const TENANT: &str = "acme";

async fn host(dir: &Path) -> Host {
    common::start_host(dir, 64).await
}

async fn workflow(host: &Host, definition: Value) -> String {
    host.runner
        .create_workflow(TENANT, definition, WorkflowStatus::Active)
        .await
        .expect("valid workflow")
        .id
}

async fn settle(host: &Host, run_id: &str) -> RunView {
    host.runner
        .wait_until(
            Some(TENANT),
            run_id,
            Duration::from_secs(60),
            RunView::is_settled,
        )
        .await
        .expect("run exists")
}

async fn run_to_rest(host: &Host, definition: Value, input: Value) -> RunView {
    let id = workflow(host, definition).await;
    let run = host
        .runner
        .start_run(TENANT, &id, input)
        .await
        .expect("run starts");
    settle(host, &run.id).await
}

/// The kinds of the run's events, after checking they are numbered 1, 2, 3, ...
fn event_kinds(host: &Host, run_id: &str) -> Vec<String> {
    let events = host.runner.events(Some(TENANT), run_id, 0).expect("events");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "event log has gaps"
    );
    events
        .into_iter()
        .map(|e| e.kind().as_str().to_owned())
        .collect()
}

fn gate_workflow(on_timeout: &str, timeout: &str) -> Value {
    json!({"name": "gated", "steps": [
        {"name": "draft", "type": "transform", "config": {"template": {"title": "{{ topic | title }}"}}},
        {"name": "review", "type": "noop", "approval": {"message": "Publish?", "timeout": timeout, "on_timeout": on_timeout}},
        {"name": "publish", "type": "transform", "config": {"template": {"published": "{{ title }}"}}}
    ]})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_runs_to_completion_with_a_gap_free_event_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(
        &host,
        json!({"name": "three", "steps": [
            {"name": "draft", "type": "transform", "config": {"template": {"title": "{{ topic | upper }}", "n": "{{ n * 2 }}"}}},
            {"name": "check", "type": "validate", "config": {"schema": {"required": ["title"]}}},
            {"name": "publish", "type": "noop", "input": {"post": "{{ steps.draft.output }}", "topic": "{{ input.topic }}"}}
        ]}),
        json!({"topic": "wasm", "n": 21}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    assert_eq!(
        run.result,
        Some(json!({"post": {"title": "WASM", "n": 42}, "topic": "wasm"}))
    );
    assert_eq!(
        (
            run.progress.percent,
            run.progress.steps_completed,
            run.progress.steps_total
        ),
        (100, 3, 3)
    );
    assert!(
        run.steps
            .iter()
            .all(|s| s.status == StepStatus::Completed && s.attempts == 1)
    );
    assert_eq!(
        event_kinds(&host, &run.id),
        [
            "created",
            "step_started",
            "step_completed",
            "step_started",
            "step_completed",
            "step_started",
            "step_completed",
            "completed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_false_condition_skips_the_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(
        &host,
        json!({"name": "cond", "steps": [
            {"name": "a", "type": "noop"},
            {"name": "b", "type": "transform", "when": "input.urgent", "config": {"template": "urgent!"}},
            {"name": "c", "type": "noop", "input": "{{ steps.a.output }}"}
        ]}),
        json!({"urgent": false}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    let statuses: Vec<StepStatus> = run.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Completed,
            StepStatus::Skipped,
            StepStatus::Completed
        ]
    );
    assert_eq!(run.result, Some(json!({"urgent": false})));
    assert!(event_kinds(&host, &run.id).contains(&"step_skipped".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_pauses_with_the_output_and_approval_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(
        &host,
        gate_workflow("fail", "1h"),
        json!({"topic": "cairn"}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Paused);
    let action =
        serde_json::to_value(run.pending_action.clone().expect("pending action")).expect("json");
    assert_eq!(action["step"], "review");
    assert_eq!(action["message"], "Publish?");
    assert_eq!(action["options"], json!(["approve", "reject"]));
    assert_eq!(action["data"], json!({"title": "Cairn"}));
    assert_eq!(run.steps[1].status, StepStatus::AwaitingInput);
    assert_eq!(run.progress.percent, 33);
    assert!(run.pause_deadline.is_some());

    let resumed = host
        .runner
        .resume(
            TENANT,
            &run.id,
            "review",
            json!({"decision": "approve", "note": "lovely"}),
            Actor::api("editor@acme"),
        )
        .await
        .expect("resume");
    assert!(matches!(
        resumed.status,
        RunStatus::Running | RunStatus::Completed
    ));
    let done = settle(&host, &run.id).await;
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.result, Some(json!({"published": "Cairn"})));
    let events = host
        .runner
        .events(Some(TENANT), &run.id, 0)
        .expect("events");
    let resumed = events
        .iter()
        .find(|e| e.kind().as_str() == "resumed")
        .expect("resumed event");
    assert_eq!(resumed.data()["actor"], "editor@acme");
    assert_eq!(resumed.data()["option"], "approve");
    assert_eq!(resumed.data()["note"], "lovely");
    event_kinds(&host, &run.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_rejection_cancels_the_run_with_the_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(&host, gate_workflow("fail", "1h"), json!({"topic": "x"})).await;
    let rejected = host
        .runner
        .resume(
            TENANT,
            &run.id,
            "review",
            json!({"decision": "reject", "note": "off-brand"}),
            Actor::api("editor"),
        )
        .await
        .expect("resume");
    assert_eq!(rejected.status, RunStatus::Cancelled);
    assert_eq!(error_json(&rejected)["message"], "off-brand");
    assert_eq!(error_json(&rejected)["reason"], "rejected");
    // Publish never ran: cancelled with the run, as a cancel leaves it.
    assert_eq!(rejected.steps[2].status, StepStatus::Cancelled);
    assert_eq!(rejected.steps[2].attempts, 0, "publish never ran");
    assert_eq!(
        event_kinds(&host, &run.id).last().map(String::as_str),
        Some("cancelled")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_pause_resumes_through_the_plugin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let definition = json!({"name": "ask", "steps": [
        {"name": "ask", "type": "review", "config": {"message": "Which?", "options": ["a", "b", "no"], "reject": ["no"]}},
        {"name": "after", "type": "noop"}
    ]});
    let id = workflow(&host, definition).await;
    let first = host
        .runner
        .start_run(TENANT, &id, json!({"q": 1}))
        .await
        .expect("start");
    let second = host
        .runner
        .start_run(TENANT, &id, json!({"q": 2}))
        .await
        .expect("start");
    let first = settle(&host, &first.id).await;
    assert_eq!(
        first.pending_action.as_ref().expect("action").data,
        json!({"q": 1})
    );

    host.runner
        .resume(TENANT, &first.id, "ask", json!("b"), Actor::api("me"))
        .await
        .expect("resume");
    let first = settle(&host, &first.id).await;
    assert_eq!(first.status, RunStatus::Completed);
    assert_eq!(first.result, Some(json!({"decision": "b", "note": null})));
    assert_eq!(
        first.steps[0].attempts, 2,
        "resume is the step's second call"
    );

    settle(&host, &second.id).await;
    host.runner
        .resume(
            TENANT,
            &second.id,
            "ask",
            json!({"decision": "no", "note": "nope"}),
            Actor::api("me"),
        )
        .await
        .expect("resume");
    let second = settle(&host, &second.id).await;
    assert_eq!(second.status, RunStatus::Failed);
    assert_eq!(error_json(&second)["message"], "rejected: nope");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_resumes_are_rejected_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(&host, gate_workflow("fail", "1h"), json!({"topic": "x"})).await;
    let before = host.runner.get_run(Some(TENANT), &run.id).expect("run");
    let actor = || Actor::api("me");

    let wrong_step = host
        .runner
        .resume(TENANT, &run.id, "publish", json!("approve"), actor())
        .await;
    assert!(
        matches!(&wrong_step, Err(RunError::Conflict(m)) if m == "run is paused at step 'review', not 'publish'"),
        "{wrong_step:?}"
    );
    let wrong_option = host
        .runner
        .resume(TENANT, &run.id, "review", json!("maybe"), actor())
        .await;
    assert!(
        matches!(&wrong_option, Err(RunError::Rejected(m)) if m.contains("'maybe' is not one of the options: approve, reject")),
        "{wrong_option:?}"
    );
    let wrong_shape = host
        .runner
        .resume(TENANT, &run.id, "review", json!(42), actor())
        .await;
    assert!(matches!(wrong_shape, Err(RunError::Rejected(_))));
    let other_tenant = host
        .runner
        .resume("globex", &run.id, "review", json!("approve"), actor())
        .await;
    assert!(matches!(other_tenant, Err(RunError::NotFound)));
    assert_eq!(
        host.runner.get_run(Some(TENANT), &run.id).expect("run"),
        before,
        "nothing changed"
    );

    host.runner
        .resume(TENANT, &run.id, "review", json!("approve"), actor())
        .await
        .expect("first resume");
    let twice = host
        .runner
        .resume(TENANT, &run.id, "review", json!("approve"), actor())
        .await;
    assert!(matches!(twice, Err(RunError::Conflict(_))), "{twice:?}");
    let done = settle(&host, &run.id).await;
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(
        event_kinds(&host, &run.id)
            .iter()
            .filter(|k| *k == "resumed")
            .count(),
        1
    );

    let after_end = host.runner.cancel(TENANT, &run.id, actor()).await;
    assert!(
        matches!(&after_end, Err(RunError::Conflict(m)) if m == "run is already completed"),
        "{after_end:?}"
    );
    assert_eq!(
        host.runner.get_run(Some(TENANT), &run.id).expect("run"),
        done
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_paused_or_running_run_ends_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let paused = run_to_rest(&host, gate_workflow("fail", "1h"), json!({"topic": "x"})).await;
    let cancelled = host
        .runner
        .cancel(TENANT, &paused.id, Actor::api("ops"))
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.steps[1].status, StepStatus::Cancelled);
    assert!(cancelled.pending_action.is_none());

    let id = workflow(
        &host,
        json!({"name": "spin", "steps": [
            {"name": "spin", "type": "hostile", "config": {"attack": "loop"}, "timeout": "60s"}
        ]}),
    )
    .await;
    let run = host
        .runner
        .start_run(TENANT, &id, json!({}))
        .await
        .expect("start");
    host.runner
        .wait_until(Some(TENANT), &run.id, Duration::from_secs(30), |r| {
            r.steps[0].status == StepStatus::Running
        })
        .await
        .expect("running");
    let cancelled = host
        .runner
        .cancel(TENANT, &run.id, Actor::api("ops"))
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.steps[0].status, StepStatus::Cancelled);
    // The interrupted step does not write over the cancellation.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        host.runner.get_run(Some(TENANT), &run.id).expect("run"),
        cancelled
    );
    assert_eq!(
        event_kinds(&host, &run.id),
        ["created", "step_started", "cancelled"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_failures_are_retried_with_backoff_then_fail_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(
        &host,
        json!({"name": "flaky", "steps": [
            {"name": "spin", "type": "hostile", "config": {"attack": "loop"}, "timeout": "100ms",
             "retry": {"max_attempts": 3, "initial_backoff": "50ms", "multiplier": 2}}
        ]}),
        json!({}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.steps[0].attempts, 3);
    let error = error_json(&run);
    assert_eq!(error["reason"], "step_failed");
    assert_eq!(error["fault"], "timeout");
    assert_eq!(
        error["message"],
        "step exceeded its wall-time limit of 100 ms"
    );
    assert_eq!(
        event_kinds(&host, &run.id),
        [
            "created",
            "step_started",
            "retry_scheduled",
            "step_started",
            "retry_scheduled",
            "step_started",
            "step_failed",
            "failed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_retryable_failures_are_not_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let run = run_to_rest(
        &host,
        json!({"name": "bad", "steps": [
            {"name": "check", "type": "validate", "config": {"schema": {"required": ["title"]}}, "retry": {"max_attempts": 5}}
        ]}),
        json!({}),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.steps[0].attempts, 1);
    assert!(
        error_json(&run)["message"]
            .as_str()
            .expect("message")
            .contains("\"title\" is a required property")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_run_times_out_by_its_gate_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let approve = run_to_rest(
        &host,
        gate_workflow("approve", "300ms"),
        json!({"topic": "t"}),
    )
    .await;
    let fail = run_to_rest(&host, gate_workflow("fail", "300ms"), json!({"topic": "t"})).await;
    let reject = run_to_rest(
        &host,
        gate_workflow("reject", "300ms"),
        json!({"topic": "t"}),
    )
    .await;
    let settled = |id: String| {
        let host = &host;
        async move {
            host.runner
                .wait_until(Some(TENANT), &id, Duration::from_secs(30), |r| {
                    r.status.is_terminal()
                })
                .await
                .expect("run")
        }
    };
    let approve = settled(approve.id).await;
    assert_eq!(approve.status, RunStatus::Completed);
    let resumed = host
        .runner
        .events(Some(TENANT), &approve.id, 0)
        .expect("events");
    assert!(
        resumed
            .iter()
            .any(|e| e.kind().as_str() == "resumed" && e.data()["actor"] == "timeout")
    );
    let fail = settled(fail.id).await;
    assert_eq!(fail.status, RunStatus::Failed);
    assert_eq!(error_json(&fail)["reason"], "timed_out");
    let reject = settled(reject.id).await;
    assert_eq!(reject.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn workflow_status_and_concurrency_policy_gate_new_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let draft = host
        .runner
        .create_workflow(
            TENANT,
            json!({"name": "d", "steps": [{"name": "a", "type": "noop"}]}),
            WorkflowStatus::Draft,
        )
        .await
        .expect("create");
    let refused = host.runner.start_run(TENANT, &draft.id, json!({})).await;
    assert!(
        matches!(&refused, Err(RunError::NotActive(m)) if m.contains("is draft")),
        "{refused:?}"
    );
    host.runner
        .set_workflow_status(TENANT, &draft.id, WorkflowStatus::Active, "admin")
        .await
        .expect("activate");
    host.runner
        .start_run(TENANT, &draft.id, json!({}))
        .await
        .expect("now it starts");

    let mut single = gate_workflow("fail", "1h");
    single["concurrency"] = json!("forbid");
    let id = workflow(&host, single).await;
    let first = host
        .runner
        .start_run(TENANT, &id, json!({"topic": "a"}))
        .await
        .expect("first");
    let second = host
        .runner
        .start_run(TENANT, &id, json!({"topic": "b"}))
        .await;
    assert!(
        matches!(&second, Err(RunError::Conflict(m)) if m.contains("allows one active run")),
        "{second:?}"
    );
    host.runner
        .cancel(TENANT, &first.id, Actor::api("ops"))
        .await
        .expect("cancel");
    host.runner
        .start_run(TENANT, &id, json!({"topic": "c"}))
        .await
        .expect("a run after the first ended");

    assert!(matches!(
        host.runner.start_run("globex", &id, json!({})).await,
        Err(RunError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_workflows_are_refused_with_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let result = host
        .runner
        .create_workflow(
            TENANT,
            json!({"name": "bad", "steps": [
                {"name": "a", "type": "nope"},
                {"name": "a", "type": "validate", "config": {}},
                {"name": "c", "type": "noop", "input": "{{ steps.d.output }}"},
                {"name": "d", "type": "transform@9", "config": {"template": "x"}}
            ]}),
            WorkflowStatus::Active,
        )
        .await;
    let Err(RunError::Invalid(problems)) = result else {
        panic!("expected problems, got {result:?}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/steps/0/type",
            "/steps/1/name",
            "/steps/1/config",
            "/steps/2/input",
            "/steps/3/type"
        ],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains(
        "unknown step type 'nope' (available: ai-generate, hostile, http-request, markdown, noop, \
         notify, publish, review, transform, validate)"
    ));
    assert!(
        problems[4]
            .message
            .contains("no version of 'transform' matches 'transform@9' (available: 0.1.0)")
    );
    assert!(
        host.runner
            .start_run(TENANT, "nope", json!({}))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_keeps_the_workflow_version_it_started_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let id = workflow(&host, gate_workflow("fail", "1h")).await;
    let run = host
        .runner
        .start_run(TENANT, &id, json!({"topic": "old"}))
        .await
        .expect("start");
    settle(&host, &run.id).await;
    let mut edited = gate_workflow("fail", "1h");
    edited["steps"][2]["config"]["template"] = json!({"edited": true});
    let updated = host
        .runner
        .update_workflow(TENANT, &id, edited)
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    host.runner
        .resume(
            TENANT,
            &run.id,
            "review",
            json!("approve"),
            Actor::api("me"),
        )
        .await
        .expect("resume");
    let done = settle(&host, &run.id).await;
    assert_eq!(
        (done.workflow_version, done.result),
        (1, Some(json!({"published": "Old"})))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_continue_after_a_restart_from_their_last_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (paused_id, retrying_id);
    {
        let host = host(dir.path()).await;
        paused_id = run_to_rest(&host, gate_workflow("fail", "1h"), json!({"topic": "kept"}))
            .await
            .id;
        let id = workflow(&host, json!({"name": "flaky", "steps": [
            {"name": "spin", "type": "hostile", "config": {"attack": "loop"}, "timeout": "100ms",
             "retry": {"max_attempts": 2, "initial_backoff": "1s"}}
        ]}))
        .await;
        let run = host
            .runner
            .start_run(TENANT, &id, json!({}))
            .await
            .expect("start");
        retrying_id = run.id.clone();
        host.runner
            .wait_until(Some(TENANT), &run.id, Duration::from_secs(30), |r| {
                r.steps[0].error.is_some()
            })
            .await
            .expect("first attempt failed");
        host.stop();
    }
    let host = host(dir.path()).await;
    let paused = host
        .runner
        .get_run(Some(TENANT), &paused_id)
        .expect("paused run survived");
    assert_eq!(paused.status, RunStatus::Paused);
    host.runner
        .resume(
            TENANT,
            &paused_id,
            "review",
            json!("approve"),
            Actor::api("me"),
        )
        .await
        .expect("resume");
    assert_eq!(
        settle(&host, &paused_id).await.result,
        Some(json!({"published": "Kept"}))
    );

    let retried = host
        .runner
        .wait_until(Some(TENANT), &retrying_id, Duration::from_secs(30), |r| {
            r.status.is_terminal()
        })
        .await
        .expect("run");
    assert_eq!(retried.status, RunStatus::Failed);
    assert_eq!(
        retried.steps[0].attempts, 2,
        "the retry scheduled before the restart ran once"
    );
    event_kinds(&host, &retrying_id);
    event_kinds(&host, &paused_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_runs_of_five_steps_all_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let steps: Vec<Value> = (0..5)
        .map(|i| json!({"name": format!("s{i}"), "type": "noop"}))
        .collect();
    let id = workflow(&host, json!({"name": "five", "steps": steps})).await;
    let mut runs = Vec::new();
    for i in 0..1000 {
        runs.push(
            host.runner
                .start_run(TENANT, &id, json!({"i": i}))
                .await
                .expect("start")
                .id,
        );
    }
    for (i, run_id) in runs.iter().enumerate() {
        let run = host
            .runner
            .wait_until(Some(TENANT), run_id, Duration::from_secs(120), |r| {
                r.status.is_terminal()
            })
            .await
            .expect("run");
        assert_eq!(
            (run.status, run.result.clone()),
            (RunStatus::Completed, Some(json!({"i": i})))
        );
        assert_eq!(
            event_kinds(&host, run_id).len(),
            12,
            "created, 5 x (started, completed), completed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn free_form_decisions_are_checked_against_the_input_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = host(dir.path()).await;
    let schema = json!({"type": "object", "required": ["budget"], "properties": {"budget": {"type": "integer", "minimum": 0}}});
    let run = run_to_rest(
        &host,
        json!({"name": "ask", "steps": [{"name": "ask", "type": "review", "config": {"message": "Budget?", "input_schema": schema}}]}),
        json!({}),
    )
    .await;
    let action =
        serde_json::to_value(run.pending_action.clone().expect("pending action")).expect("json");
    assert_eq!(action["options"], json!([]));
    assert_eq!(action["input_schema"], schema);
    let before = host.runner.get_run(Some(TENANT), &run.id).expect("run");
    for bad in [
        json!({"budget": -5}),
        json!({"budget": "lots"}),
        json!("approve"),
    ] {
        let refused = host
            .runner
            .resume(TENANT, &run.id, "ask", bad.clone(), Actor::api("me"))
            .await;
        assert!(
            matches!(&refused, Err(RunError::Rejected(m)) if m.starts_with("the decision does not match the input schema")),
            "{bad}: {refused:?}"
        );
    }
    assert_eq!(
        host.runner.get_run(Some(TENANT), &run.id).expect("run"),
        before,
        "nothing changed"
    );
    host.runner
        .resume(
            TENANT,
            &run.id,
            "ask",
            json!({"budget": 1200}),
            Actor::api("me"),
        )
        .await
        .expect("resume");
    let done = settle(&host, &run.id).await;
    assert_eq!(done.result, Some(json!({"input": {"budget": 1200}})));
}

/// A run's error as its JSON, as clients see it.
fn error_json(run: &RunView) -> Value {
    serde_json::to_value(run.error.as_ref().expect("the run has an error")).expect("JSON")
}
