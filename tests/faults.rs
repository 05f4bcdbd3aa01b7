//! Run-time faults outside the plugin, through the real server: templates and
//! conditions that cannot be evaluated, a pinned plugin that is gone, and runs an
//! older build left without a driver. Each ends its run `failed` with a reason
//! that names the step, and keeps every completion that came before.

use crate::common::api::{create_workflow, plugins_dir, poll_until, start_run, status_is};
use crate::common::component_path;
use crate::common::db::Db;
use crate::common::server::Server;

use serde_json::{Value, json};

/// A fault injected into one step of a workflow.
struct Fault {
    what: &'static str,
    /// Fields merged into the step's definition.
    step: Value,
    /// Words the failed step's error message must contain.
    says: &'static str,
}

fn faults() -> Vec<Fault> {
    vec![
        Fault {
            what: "undefined input",
            step: json!({"input": {"x": "{{ input.missing }}"}}),
            says: "input.missing",
        },
        Fault {
            what: "division by zero",
            step: json!({"input": {"x": "{{ 1 / 0 }}"}}),
            says: "input of step",
        },
        Fault {
            what: "attribute of a number",
            step: json!({"input": {"x": "{{ input.n.x.y }}"}}),
            says: "input of step",
        },
        Fault {
            what: "failing condition",
            step: json!({"when": "input.missing > 1"}),
            says: "condition of step",
        },
    ]
}

/// Three noop steps with `fault` merged into step `at`, one run at a time.
fn faulty_workflow(name: &str, fault: &Fault, at: usize) -> Value {
    let steps: Vec<Value> = (0..3)
        .map(|i| {
            let mut step = json!({"name": format!("s{i}"), "type": "noop"});
            if i == at {
                for (key, value) in fault.step.as_object().expect("object") {
                    step[key] = value.clone();
                }
            }
            step
        })
        .collect();
    json!({"name": name, "concurrency": "forbid", "steps": steps})
}

fn events_of(server: &Server, run: &str) -> Vec<Value> {
    let events = server.get(&format!("/v1/runs/{run}/events")).body["events"].clone();
    events.as_array().expect("events").clone()
}

/// The run failed at step `at` for `reason`, every step before it completed
/// exactly once, and the event log says so.
fn assert_failed_at(server: &Server, run: &Value, at: usize, reason: &str, says: &str) {
    let id = run["id"].as_str().expect("id");
    let label = format!("{}", run["error"]);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["reason"], reason, "{label}");
    assert_eq!(run["error"]["step"], format!("s{at}"), "{label}");
    let message = run["error"]["message"].as_str().expect("message");
    assert!(message.contains(&format!("s{at}")), "{message}");
    assert!(message.contains(says), "{message}");
    let steps = run["steps"].as_array().expect("steps");
    for step in &steps[..at] {
        assert_eq!(step["status"], "completed", "{step}");
    }
    assert_eq!(steps[at]["status"], "failed", "{}", steps[at]);
    assert_eq!(steps[at]["error"]["reason"], reason, "{}", steps[at]);
    let events = events_of(server, id);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    // A step completes with `step_completed`, a gate with `resumed`.
    let completed = kinds
        .iter()
        .filter(|k| matches!(**k, "step_completed" | "resumed"))
        .count();
    assert_eq!(completed, at, "{kinds:?}");
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["step_failed", "failed"],
        "{kinds:?}"
    );
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}

#[test]
fn template_and_condition_faults_fail_the_step_at_any_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), &plugins_dir(dir.path()));
    for (f, fault) in faults().iter().enumerate() {
        for at in 0..3 {
            let name = format!("fault-{f}-at-{at}");
            let workflow = create_workflow(&server, faulty_workflow(&name, fault, at), "active");
            let run = start_run(&server, &workflow, json!({"n": 1}));
            let done = poll_until(&server, &run, |r| {
                r["status"] != "running" && r["status"] != "pending"
            });
            assert_failed_at(&server, &done, at, "template_error", fault.says);
            // The run is over, so a workflow that allows one run at a time takes
            // the next.
            let next = server.post(
                &format!("/v1/workflows/{workflow}/runs"),
                &json!({"input": {"n": 1}}),
            );
            assert_eq!(next.status, 201, "{} at {at}: {}", fault.what, next.body);
            let next = next.body["id"].as_str().expect("id").to_owned();
            poll_until(&server, &next, status_is("failed"));
        }
    }
}

#[test]
fn a_pinned_plugin_that_is_gone_fails_its_step_when_the_run_gets_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    std::fs::copy(
        component_path(crate::common::GREET),
        plugins.join("greet.wasm"),
    )
    .expect("copy");
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins);
    let workflow = create_workflow(
        &server,
        json!({"name": "greets", "steps": [
            {"name": "s0", "type": "noop", "approval": {"message": "Go on?"}},
            {"name": "s1", "type": "greet", "input": {"name": "Ada"}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    assert!(server.terminate().success());

    std::fs::remove_file(plugins.join("greet.wasm")).expect("remove the plugin");
    let server = Server::process(&data, &plugins);
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "s0", "input": {"decision": "approve"}}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let done = poll_until(&server, &run, status_is("failed"));
    assert_failed_at(
        &server,
        &done,
        1,
        "plugin_unavailable",
        "not loaded on this host",
    );
}

/// Rewrites run `run` in the database at `data` into what an older build left
/// behind when its driver stopped at step `at`: steps before `done` completed,
/// step `done` (if any) started but its completion lost, nothing after, and no
/// terminal status.
fn wedge(data: &std::path::Path, run: &str, done: usize, at: usize) {
    let db = Db::open(data);
    let running = done < at;
    let events: Vec<&str> = std::iter::once("created")
        .chain((0..done).flat_map(|_| ["step_started", "step_completed"]))
        .chain(running.then_some("step_started"))
        .collect();
    db.execute(
        "DELETE FROM run_events WHERE run_id = ?1 AND seq > ?2",
        &[run.into(), (events.len() as i64).into()],
    );
    let status = if done == 0 && !running {
        "pending"
    } else {
        "running"
    };
    db.execute(
        "UPDATE runs SET status = ?2, error = NULL, result = NULL, steps_done = ?3, last_seq = ?4 WHERE id = ?1",
        &[run.into(), status.into(), (done as i64).into(), (events.len() as i64).into()],
    );
    db.execute(
        "UPDATE steps SET status = 'pending', error = NULL, attempts = 0, finished_at = NULL WHERE run_id = ?1 AND step_index >= ?2",
        &[run.into(), (done as i64).into()],
    );
    if running {
        db.execute(
            "UPDATE steps SET status = 'running', attempts = 1 WHERE run_id = ?1 AND step_index = ?2",
            &[run.into(), (done as i64).into()],
        );
    }
}

#[test]
fn runs_an_older_build_left_without_a_driver_are_ended_on_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins);
    // (steps whose completion was saved, the faulty step): a run stuck `pending`
    // before its first step, and runs stuck `running` at the step before the
    // faulty one, whose completion the old driver never saved; for each fault.
    let shapes = [(0, 0), (0, 1), (1, 2)];
    let faults = faults();
    let mut runs = Vec::new();
    for (f, fault) in faults.iter().enumerate() {
        for (done, at) in shapes {
            let name = format!("wedged-{f}-{at}");
            let workflow = create_workflow(&server, faulty_workflow(&name, fault, at), "active");
            let run = start_run(&server, &workflow, json!({"n": 1}));
            poll_until(&server, &run, status_is("failed"));
            runs.push((run, done, at, fault));
        }
    }
    assert!(server.terminate().success());
    for (run, done, at, _) in &runs {
        wedge(&data, run, *done, *at);
    }

    let server = Server::process(&data, &plugins);
    for (run, done, at, fault) in &runs {
        let ended = poll_until(&server, run, status_is("failed"));
        assert_failed_at(&server, &ended, *at, "template_error", fault.says);
        let steps = ended["steps"].as_array().expect("steps");
        for step in &steps[..*done] {
            assert_eq!(
                step["attempts"], 1,
                "a saved completion never runs again: {step}"
            );
        }
        if done < at {
            // Its completion was never saved: it runs again as after a crash.
            assert_eq!(steps[*done]["attempts"], 2, "{}", steps[*done]);
        }
    }
}

#[test]
fn templates_past_their_bounds_fail_the_step_and_the_server_keeps_its_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::process(&dir.path().join("data"), &plugins_dir(dir.path()));
    let run_with = |name: &str, template: &str| {
        let workflow = create_workflow(
            &server,
            json!({"name": name, "steps": [{"name": "s0", "type": "noop", "input": {"v": template}}]}),
            "active",
        );
        let run = start_run(&server, &workflow, json!({"n": 1}));
        poll_until(&server, &run, |r| {
            r["status"] != "running" && r["status"] != "pending"
        })
    };
    // An honest template never notices the bounds; it also loads the sandbox.
    let honest = run_with(
        "honest",
        "{% for i in range(2000) %}{{ i }},{% endfor %}{{ input.n * 2 }}",
    );
    assert_eq!(honest["status"], "completed", "{honest}");
    let before = server.resident_bytes();
    let bounded = [
        (
            "chain",
            "{{ ('x' * 1000000) | replace('x','xxxxxxxxxx') | replace('x','xxxxxxxxxx') | replace('x','xxxxxxxxxx') | length }}",
        ),
        ("huge-range", "{{ range(10**9) | length }}"),
        (
            "nested-loops",
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        ),
        ("repeat", "{{ ('x' * 90000000) | length }}"),
        (
            "doubling",
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        ),
        ("output", "{{ 'x' * 5000000 }}"),
    ];
    for (name, template) in bounded {
        let done = run_with(name, template);
        assert_failed_at(&server, &done, 0, "template_limit", "of step 's0'");
        // The allocator hands freed memory back after a moment (mimalloc
        // purges after 1 s): the server must come back within bounds, not
        // stay grown.
        let began = std::time::Instant::now();
        let settled = crate::common::eventually(&format!("{name}: memory back"), || {
            let now = server.resident_bytes();
            (now < before + (50 << 20) || began.elapsed() > std::time::Duration::from_secs(5))
                .then_some(now)
        });
        assert!(
            settled < before + (50 << 20),
            "{name}: the server grew from {} MiB to {} MiB and stayed there",
            before >> 20,
            settled >> 20
        );
    }
    // The host goes on.
    let after = run_with("after", "{{ input.n + 1 }}");
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["result"], json!({"v": 2}));
}

#[test]
fn a_run_the_host_cannot_go_on_with_ends_failed_and_keeps_its_completions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins);
    let steps: Vec<Value> = (0..3)
        .map(|i| json!({"name": format!("s{i}"), "type": "noop"}))
        .collect();
    let workflow = create_workflow(&server, json!({"name": "plain", "steps": steps}), "active");
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    assert!(server.terminate().success());
    // Left mid-run at s1, with a stored definition this build cannot read.
    wedge(&data, &run, 1, 2);
    Db::open(&data).execute(
        "UPDATE workflow_versions SET definition = '{\"name\": 7}' WHERE workflow_id = ?1",
        &[(&workflow).into()],
    );

    let server = Server::process(&data, &plugins);
    let ended = poll_until(&server, &run, status_is("failed"));
    assert_eq!(ended["error"]["reason"], "host_error", "{ended}");
    let message = ended["error"]["message"].as_str().expect("message");
    assert!(message.contains("could not go on"), "{message}");
    let steps = ended["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["status"], "completed");
    assert_eq!(steps[0]["attempts"], 1);
    assert_eq!(steps[1]["status"], "failed");
    assert_eq!(steps[1]["error"]["reason"], "host_error");
    let kinds: Vec<String> = events_of(&server, &run)
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["step_failed", "failed"],
        "{kinds:?}"
    );
}
