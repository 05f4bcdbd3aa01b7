//! The workflow language's constructs through the HTTP API: `map`,
//! `switch`, `parallel` and `wait`, pauses inside them, failures and limits,
//! and what the run view shows of a tree of steps.

use crate::common;

use std::time::{Duration, Instant};

use common::api::{
    assert_problem, create_workflow, plugins_dir, poll_until, post_form, setup, start_run,
    status_is,
};
use common::db::Db;
use common::server::Server;
use serde_json::{Value, json};

/// Keywords drafted one post each, routed by length, then published two ways.
fn pipeline() -> Value {
    json!({"name": "pipeline", "steps": [
        {"name": "keywords", "type": "transform", "config": {"template": {"list": "{{ topics }}"}}},
        {"name": "per_keyword", "map": {"items": "{{ steps.keywords.output.list }}", "concurrency": 2, "steps": [
            {"name": "draft", "type": "transform", "input": {"kw": "{{ item }}", "at": "{{ index }}"},
             "config": {"template": {"title": "Post about {{ kw }}", "at": "{{ at }}", "words": "{{ kw | length }}"}}},
            {"name": "route", "switch": {
                "cases": [{"name": "long", "when": "steps.draft.output.words > 3", "steps": [
                    {"name": "tag", "type": "transform", "config": {"template": {"tagged": "long: {{ title }}"}}}
                ]}],
                "default": [{"name": "keep", "type": "noop"}]
            }}
        ]}},
        {"name": "publish", "parallel": {"branches": {
            "site": [{"name": "post", "type": "transform",
                      "input": {"n": "{{ steps.per_keyword.output | length }}"},
                      "config": {"template": {"posted": "{{ n }}"}}}],
            "mail": [{"name": "send", "type": "transform", "config": {"template": {"sent": true}}}]
        }}}
    ]})
}

fn step<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step {name} in {run}"))
}

#[test]
fn map_switch_and_parallel_run_a_content_pipeline() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, pipeline(), "active");
    let run = start_run(
        &server,
        &workflow,
        json!({"topics": ["wasm", "go", "components"]}),
    );
    let done = poll_until(&server, &run, status_is("completed"));

    // The map's output is its items' outputs in order; each is the switch's
    // case and that case's last output.
    let items = &step(&done, "per_keyword")["output"];
    assert_eq!(
        items,
        &json!([
            {"case": "long", "output": {"tagged": "long: Post about wasm"}},
            {"case": "default", "output": {"title": "Post about go", "at": 1, "words": 2}},
            {"case": "long", "output": {"tagged": "long: Post about components"}},
        ])
    );
    // A parallel's output is keyed by branch.
    assert_eq!(
        done["result"],
        json!({"mail": {"sent": true}, "site": {"posted": 3}})
    );
    // Progress counts every step the run held: 3 at the top, 2 per item,
    // one per case that ran, 2 branch steps.
    assert_eq!(done["progress"]["steps_total"], 14, "{done}");
    assert_eq!(done["progress"]["steps_completed"], 14, "{done}");
    assert_eq!(done["progress"]["percent"], 100);

    // The view leaves items' steps to the map's own page, with a summary.
    let names: Vec<&str> = done["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "keywords",
            "per_keyword",
            "publish",
            "publish.mail.send",
            "publish.site.post"
        ]
    );
    assert_eq!(
        step(&done, "per_keyword")["items"],
        json!({"total": 3, "started": 3, "completed": 3, "failed": 0, "cancelled": 0, "waiting": 0})
    );
    let page = server.get(&format!(
        "/v1/runs/{run}/steps/per_keyword?offset=1&limit=2"
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    let listed: Vec<(u64, Vec<&str>)> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let steps = item["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .filter_map(|s| s["name"].as_str())
                .collect();
            (item["index"].as_u64().expect("index"), steps)
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                1,
                vec![
                    "per_keyword[1].draft",
                    "per_keyword[1].route",
                    "per_keyword[1].route.default.keep"
                ]
            ),
            (
                2,
                vec![
                    "per_keyword[2].draft",
                    "per_keyword[2].route",
                    "per_keyword[2].route.long.tag"
                ]
            ),
        ]
    );
    let route = server.get(&format!("/v1/runs/{run}/steps/per_keyword%5B1%5D.route"));
    assert_eq!(route.status, 200, "{}", route.body);
    assert_eq!(route.body["step"]["case"], "default");
    let missing = server.get(&format!("/v1/runs/{run}/steps/per_keyword%5B7%5D.route"));
    assert_problem(&missing, 404, "not-found");

    // Every step instance's events are in the one gap-free log.
    let events = server.get(&format!("/v1/runs/{run}/events"));
    let events = events.body["events"].as_array().expect("events").clone();
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    let completed = events
        .iter()
        .filter(|e| e["kind"] == "step_completed")
        .count();
    assert_eq!(completed, 14);
}

#[test]
fn steps_in_items_wait_at_once_and_are_resumed_by_path() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "reviews", "steps": [
            {"name": "articles", "map": {"items": "{{ input.articles }}", "steps": [
                {"name": "review", "type": "noop", "approval": {"message": "Publish this one?", "reviewers": ["ed@example.com"]}}
            ]}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"articles": ["a", "b"]}));
    let paused = poll_until(&server, &run, |r| {
        r["status"] == "paused" && r["waiting_steps"] == 2
    });
    let waiting: Vec<&str> = paused["pending_actions"]
        .as_array()
        .expect("pending actions")
        .iter()
        .filter_map(|a| a["step"].as_str())
        .collect();
    assert_eq!(waiting, ["articles[0].review", "articles[1].review"]);
    assert_eq!(paused["pending_action"], paused["pending_actions"][0]);
    assert_eq!(paused["pending_actions"][1]["data"], "b");

    // The queue has one entry per waiting step, each with its own link.
    let queue = server.get("/v1/approvals?reviewer=ed@example.com");
    let entries = queue.body["approvals"].as_array().expect("queue");
    assert_eq!(entries.len(), 2, "{}", queue.body);
    assert_eq!(entries[1]["step"], "articles[1].review");
    let link = entries[1]["links"][0]["url"].as_str().expect("a link");
    assert!(!link.is_empty());

    let wrong = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "articles[2].review", "input": "approve"}),
    );
    assert_problem(&wrong, 409, "conflict");
    assert!(
        wrong.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("'articles[0].review', 'articles[1].review'")),
        "{}",
        wrong.body
    );
    let second = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "articles[1].review", "input": "approve"}),
    );
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["status"], "paused");
    assert_eq!(second.body["waiting_steps"], 1);
    assert_eq!(second.body["pending_action"]["step"], "articles[0].review");
    let first = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "articles[0].review", "input": "approve"}),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!(["a", "b"]));
    assert!(done.get("pending_action").is_none());
    assert_eq!(done["pending_actions"], json!([]));
}

#[test]
fn decisions_sent_at_once_to_many_waiting_items_all_count() {
    // Ten items wait at once (a map's default concurrency). Each
    // decision's commit starts the run's driver from the run as that
    // commit left it; the others move the run under it at once, so a
    // driver may begin from a state that is already old.
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "many-reviews", "steps": [
            {"name": "items", "map": {"items": "{{ input.items }}", "steps": [
                {"name": "review", "type": "noop", "approval": {"message": "Go?"}},
                {"name": "after", "type": "noop"}
            ]}}
        ]}),
        "active",
    );
    let items: Vec<usize> = (0..10).collect();
    let run = start_run(&server, &workflow, json!({ "items": items }));
    poll_until(&server, &run, |r| {
        r["status"] == "paused" && r["waiting_steps"] == 10
    });
    std::thread::scope(|scope| {
        for i in 0..10 {
            let (server, run) = (&server, &run);
            scope.spawn(move || {
                let resumed = server.post(
                    &format!("/v1/runs/{run}/resume"),
                    &json!({"step": format!("items[{i}].review"), "input": "approve"}),
                );
                assert_eq!(resumed.status, 200, "{}", resumed.body);
            });
        }
    });
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!(items), "{done}");
    let events = server.get(&format!("/v1/runs/{run}/events"));
    let resumed = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "resumed")
        .count();
    assert_eq!(resumed, 10, "{}", events.body);
}

fn parallel_with(fail: &str) -> Value {
    json!({"name": format!("fan-{fail}"), "steps": [
        {"name": "fan", "parallel": {"fail": fail, "branches": {
            "bad": [{"name": "boom", "type": "hostile", "config": {"attack": "panic"}}],
            "slow": [{"name": "nap", "type": "hostile", "config": {"attack": "sleep", "ms": 1500}}]
        }}},
        {"name": "after", "type": "noop"}
    ]})
}

#[test]
fn a_failed_branch_cancels_the_others_or_waits_for_them() {
    let (_dir, server) = setup();

    let fast = create_workflow(&server, parallel_with("fast"), "active");
    let run = start_run(&server, &fast, json!({}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "step_failed", "{failed}");
    assert_eq!(failed["error"]["step"], "fan", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("'fan.bad.boom': ")),
        "{failed}"
    );
    assert_eq!(step(&failed, "fan.slow.nap")["status"], "cancelled");
    assert_eq!(step(&failed, "after")["status"], "cancelled");

    let all = create_workflow(&server, parallel_with("all"), "active");
    let run = start_run(&server, &all, json!({}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(step(&failed, "fan.slow.nap")["status"], "completed");
    assert_eq!(step(&failed, "fan")["status"], "failed");
    assert_eq!(step(&failed, "after")["status"], "cancelled");
}

#[test]
fn waits_are_timers_and_bad_input_fails_the_step_readably() {
    let (_dir, server) = setup();

    // `for`: the run waits, shows until when, and goes on.
    let wait = create_workflow(
        &server,
        json!({"name": "cool-off", "steps": [
            {"name": "draft", "type": "transform", "config": {"template": {"title": "t"}}},
            {"name": "cool_off", "wait": {"for": "1500ms"}},
            {"name": "publish", "type": "noop"}
        ]}),
        "active",
    );
    let started = Instant::now();
    let run = start_run(&server, &wait, json!({}));
    let waiting = poll_until(&server, &run, |r| {
        r["steps"][1]["wait_until"].is_string() || r["status"] == "completed"
    });
    assert_eq!(waiting["status"], "running", "{waiting}");
    assert!(
        waiting["progress"]["current_action"]
            .as_str()
            .is_some_and(|a| a.starts_with("waiting until ")),
        "{waiting}"
    );
    let done = poll_until(&server, &run, status_is("completed"));
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // A wait passes its input on.
    assert_eq!(done["result"], json!({"title": "t"}));

    // `until` in the past is due at once; a bad time fails the step.
    let until = create_workflow(
        &server,
        json!({"name": "until", "steps": [
            {"name": "hold", "wait": {"until": "{{ input.at }}"}}
        ]}),
        "active",
    );
    let run = start_run(&server, &until, json!({"at": "2020-01-01T00:00:00Z"}));
    poll_until(&server, &run, status_is("completed"));
    let run = start_run(&server, &until, json!({"at": "next tuesday"}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "template_error");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not an RFC 3339 time")),
        "{failed}"
    );

    // Cancel ends a long wait.
    let run = start_run(&server, &until, json!({"at": "2099-01-01T00:00:00Z"}));
    poll_until(&server, &run, |r| r["steps"][0]["status"] == "running");
    let cancelled = server.post(&format!("/v1/runs/{run}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let cancelled = poll_until(&server, &run, status_is("cancelled"));
    assert_eq!(step(&cancelled, "hold")["status"], "cancelled");

    // A map over something that is not a list, a switch that matches
    // nothing: the step fails with a reason, the run ends.
    let bad = create_workflow(
        &server,
        json!({"name": "bad", "steps": [
            {"name": "route", "switch": {"cases": [
                {"name": "big", "when": "input.n > 10", "steps": [{"name": "a", "type": "noop"}]}
            ]}},
            {"name": "each", "map": {"items": "{{ input.things }}", "steps": [{"name": "b", "type": "noop"}]}}
        ]}),
        "active",
    );
    let run = start_run(&server, &bad, json!({"n": 1}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["step"], "route");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no case of switch 'route' holds")),
        "{failed}"
    );
    let run = start_run(&server, &bad, json!({"n": 11, "things": "abc"}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "template_error");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the items of map 'each' are a string, not an array")),
        "{failed}"
    );
}

#[test]
fn limits_hold_at_creation_and_as_a_run_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &plugins,
        &[
            ("CAIRN_LANGUAGE__MAX_ITEMS", "3"),
            ("CAIRN_LANGUAGE__MAX_DEPTH", "2"),
        ],
    );
    let each = create_workflow(
        &server,
        json!({"name": "each", "steps": [
            {"name": "each", "map": {"items": "{{ input }}", "concurrency": 3, "steps": [{"name": "b", "type": "noop"}]}}
        ]}),
        "active",
    );
    let run = start_run(&server, &each, json!([1, 2, 3, 4]));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "limit_exceeded", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("4 items, above this host's limit of 3")),
        "{failed}"
    );
    let run = start_run(&server, &each, json!([1, 2, 3]));
    poll_until(&server, &run, status_is("completed"));

    // At creation: every problem, each with its pointer.
    let reply = server.post(
        "/v1/workflows",
        &json!({"status": "active", "definition": {"name": "bad", "steps": [
            {"name": "a", "parallel": {"branches": {
                "x": [{"name": "deep", "map": {"items": [1], "steps": [
                    {"name": "deeper", "switch": {"cases": [{"name": "c", "when": "true", "steps": [{"name": "n", "type": "noop"}]}]}}
                ]}}],
                "y": [{"name": "peek", "type": "noop", "input": "{{ steps.deep.output }}"}]
            }}},
            {"name": "b", "type": "noop", "input": "{{ item }}"},
            {"name": "c", "wait": {"for": "1s", "until": "x"}, "retry": {"max_attempts": 2}},
            {"name": "d", "switch": {"cases": [{"name": "default", "when": "true", "steps": [{"name": "a", "type": "noop"}]}]}},
            {"name": "e", "map": {"items": [1, 2, 3, 4], "steps": [{"name": "f", "type": "noop"}]}}
        ]}}),
    );
    assert_problem(&reply, 422, "invalid-workflow");
    let problems: Vec<(String, String)> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap_or_default().to_owned(),
                p["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expect = [
        (
            "/steps/0/parallel/branches/x/0/map/steps/0",
            "nest 3 deep here, above this host's limit of 2",
        ),
        (
            "/steps/0/parallel/branches/y/0/input",
            "refers to unknown step 'deep'",
        ),
        ("/steps/1/input", "'item' exists only inside a map's steps"),
        ("/steps/2/wait", "give one of `for`"),
        ("/steps/2/retry", "`retry` belongs to a plugin step"),
        (
            "/steps/3/switch/cases/0/name",
            "'default' cannot name a case",
        ),
        (
            "/steps/3/switch/cases/0/steps/0/name",
            "'a' is the name of a step around this one",
        ),
        (
            "/steps/4/map/items",
            "4 items, above this host's limit of 3",
        ),
    ];
    for (path, words) in expect {
        assert!(
            problems.iter().any(|(p, m)| p == path && m.contains(words)),
            "no problem at {path} with '{words}' in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

/// A workflow whose step waits at a gate, a parent workflow that runs it as
/// a child, and a run of the parent whose child waits: (child workflow,
/// parent workflow, parent run, child run).
fn parent_of_a_waiting_child(server: &Server) -> (String, String, String, String) {
    let waiting = create_workflow(
        server,
        json!({"name": "waiting", "steps": [{"name": "review", "type": "noop", "approval": {}}]}),
        "active",
    );
    let parent = create_workflow(
        server,
        json!({"name": "impatient", "steps": [{"name": "sub", "workflow": {"id": waiting}}]}),
        "active",
    );
    let run = start_run(server, &parent, json!({}));
    let started = poll_until(server, &run, |r| step(r, "sub")["child_run"].is_string());
    let child = step(&started, "sub")["child_run"]
        .as_str()
        .expect("child")
        .to_owned();
    poll_until(server, &child, status_is("paused"));
    (waiting, parent, run, child)
}

#[test]
fn a_workflow_step_runs_a_child_run_and_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &plugins,
        &[("CAIRN_LANGUAGE__MAX_WORKFLOW_DEPTH", "2")],
    );
    let child = create_workflow(
        &server,
        json!({"name": "child", "steps": [
            {"name": "double", "type": "transform", "config": {"template": {"doubled": "{{ n * 2 }}"}}}
        ]}),
        "active",
    );
    let parent = create_workflow(
        &server,
        json!({"name": "parent", "steps": [
            {"name": "sub", "workflow": {"id": child}, "input": {"n": "{{ input.n }}"}},
            {"name": "after", "type": "transform", "config": {"template": {"got": "{{ doubled }}"}}}
        ]}),
        "active",
    );
    let run = start_run(&server, &parent, json!({"n": 21}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!({"got": 42}));
    let sub = step(&done, "sub");
    assert_eq!(sub["output"], json!({"doubled": 42}));
    let child_run = sub["child_run"].as_str().expect("the child's run id");
    let child_view = server.get(&format!("/v1/runs/{child_run}"));
    assert_eq!(child_view.body["parent"], run.as_str());
    assert_eq!(child_view.body["trigger"]["kind"], "parent");
    assert_eq!(child_view.body["trigger"]["step"], "sub");
    assert_eq!(child_view.body["workflow_id"], child.as_str());

    // A child's failure fails the step, or is its output.
    let failing = create_workflow(
        &server,
        json!({"name": "failing", "steps": [
            {"name": "boom", "type": "hostile", "config": {"attack": "panic"}}
        ]}),
        "active",
    );
    for fail_on_error in [true, false] {
        let parent = create_workflow(
            &server,
            json!({"name": "careful", "steps": [
                {"name": "sub", "workflow": {"id": failing, "fail_on_error": fail_on_error}}
            ]}),
            "active",
        );
        let run = start_run(&server, &parent, json!({}));
        let ended = poll_until(&server, &run, |r| {
            r["status"] == "failed" || r["status"] == "completed"
        });
        if fail_on_error {
            assert_eq!(ended["status"], "failed", "{ended}");
            assert!(
                ended["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("child run ") && m.contains(" failed: ")),
                "{ended}"
            );
        } else {
            assert_eq!(ended["status"], "completed", "{ended}");
            assert_eq!(ended["result"]["status"], "failed", "{ended}");
            assert_eq!(ended["result"]["error"]["step"], "boom", "{ended}");
        }
    }

    // The parent's cancel cancels the child.
    let (waiting, parent, run, child_run) = parent_of_a_waiting_child(&server);
    let cancelled = server.post(&format!("/v1/runs/{run}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let child_after = poll_until(&server, &child_run, status_is("cancelled"));
    assert!(
        child_after["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("parent run {run}"))),
        "{child_after}"
    );

    // At creation: a workflow the tenant lacks, a cycle, a chain too deep.
    let unknown = server.post(
        "/v1/workflows",
        &json!({"status": "active", "definition": {"name": "x", "steps": [
            {"name": "sub", "workflow": {"id": "0000"}}
        ]}}),
    );
    assert_problem(&unknown, 422, "invalid-workflow");
    assert_eq!(unknown.body["errors"][0]["path"], "/steps/0/workflow/id");
    let top = create_workflow(
        &server,
        json!({"name": "top", "steps": [{"name": "sub", "workflow": {"id": parent}}]}),
        "active",
    );
    let cycle = server.call(
        "PUT",
        &format!("/v1/workflows/{waiting}"),
        Some(&server.key),
        Some(&json!({"definition": {"name": "waiting", "steps": [
            {"name": "sub", "workflow": {"id": top}}
        ]}})),
    );
    assert_problem(&cycle, 422, "invalid-workflow");
    assert!(
        cycle.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("a cycle: ")),
        "{}",
        cycle.body
    );
    let deeper = server.post(
        "/v1/workflows",
        &json!({"status": "active", "definition": {"name": "deeper", "steps": [
            {"name": "sub", "workflow": {"id": top}}
        ]}}),
    );
    assert_problem(&deeper, 422, "invalid-workflow");
    assert!(
        deeper.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nest 3 deep, above this host's limit of 2")),
        "{}",
        deeper.body
    );
}

#[test]
fn a_wait_survives_a_kill_without_starting_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let server = Server::process(&data, &plugins);
    let workflow = create_workflow(
        &server,
        json!({"name": "durable-wait", "steps": [
            {"name": "hold", "wait": {"for": "3s"}},
            {"name": "after", "type": "noop"}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"x": 1}));
    let waiting = poll_until(&server, &run, |r| r["steps"][0]["wait_until"].is_string());
    let until = waiting["steps"][0]["wait_until"].clone();
    server.kill();

    let server = Server::process(&data, &plugins);
    let again = server.get(&format!("/v1/runs/{run}"));
    assert_eq!(
        again.body["steps"][0]["wait_until"], until,
        "the timer was reset"
    );
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!({"x": 1}));
    let finished = done["steps"][0]["finished_at"].as_str().expect("finished");
    assert!(
        finished >= until.as_str().expect("until"),
        "the wait ended at {finished}, before {until}"
    );
}

#[test]
fn a_step_inside_an_item_is_retried_on_its_own() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "retries", "steps": [
            {"name": "each", "map": {"items": "{{ input.xs }}", "steps": [
                {"name": "call", "type": "hostile", "input": {"x": "{{ item }}"},
                 "config": {"attack": "flaky", "succeed_at": 2},
                 "retry": {"max_attempts": 3, "initial_backoff": "20ms"}}
            ]}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"xs": [1, 2]}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(
        done["result"],
        json!([{"attempt": 2, "input": {"x": 1}}, {"attempt": 2, "input": {"x": 2}}])
    );
    let page = server.get(&format!("/v1/runs/{run}/steps/each"));
    assert_eq!(page.status, 200, "{}", page.body);
    for (index, item) in page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .enumerate()
    {
        let call = &item["steps"][0];
        assert_eq!(call["name"], format!("each[{index}].call"), "{item}");
        assert_eq!(call["attempts"], 2, "{item}");
        assert_eq!(call["status"], "completed", "{item}");
    }
    // Each retry names its item's step; the map itself ran once.
    let events = server.get(&format!("/v1/runs/{run}/events"));
    let mut retried: Vec<&str> = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "retry_scheduled")
        .filter_map(|e| e["data"]["step"].as_str())
        .collect();
    retried.sort_unstable();
    assert_eq!(retried, ["each[0].call", "each[1].call"], "{}", events.body);
    assert_eq!(step(&done, "each")["attempts"], 1, "{done}");
}

#[test]
fn a_gate_in_a_branch_times_out_while_the_other_branch_runs() {
    let (_dir, server) = setup();
    let fan = |on_timeout: &str| {
        json!({"name": format!("gate-{on_timeout}"), "steps": [
            {"name": "fan", "parallel": {"branches": {
                "review": [{"name": "check", "type": "noop",
                            "approval": {"message": "Fine?", "timeout": "1s", "on_timeout": on_timeout}}],
                "work": [{"name": "nap", "type": "hostile", "config": {"attack": "sleep", "ms": 3000}}]
            }}},
            {"name": "after", "type": "noop"}
        ]})
    };
    let approving = create_workflow(&server, fan("approve"), "active");
    let failing = create_workflow(&server, fan("fail"), "active");
    let approve = start_run(&server, &approving, json!({}));
    let fail = start_run(&server, &failing, json!({}));

    // The gate waits while the other branch works: the run is running, and
    // says which step waits for a decision.
    let waiting = poll_until(&server, &approve, |r| r["waiting_steps"] == 1);
    assert_eq!(waiting["status"], "running", "{waiting}");
    assert_eq!(waiting["pending_actions"][0]["step"], "fan.review.check");
    assert_eq!(step(&waiting, "fan.work.nap")["status"], "running");

    // The timer decides the gate before the other branch is done.
    let decided = poll_until(&server, &approve, |r| {
        step(r, "fan.review.check")["status"] == "completed"
    });
    assert_eq!(
        step(&decided, "fan.work.nap")["status"],
        "running",
        "{decided}"
    );
    let decision = &step(&decided, "fan.review.check")["decisions"][0];
    assert_eq!(decision["channel"], "timer", "{decided}");
    assert_eq!(decision["option"], "approve", "{decided}");
    assert_eq!(decided["waiting_steps"], 0);
    let done = poll_until(&server, &approve, status_is("completed"));
    // `after` passes the parallel's output on: one entry per branch.
    assert_eq!(done["result"]["review"], json!({}), "{done}");
    assert_eq!(done["result"]["work"]["step"], "fan.work.nap", "{done}");

    // `on_timeout: fail` fails the run at once and stops the other branch.
    let failed = poll_until(&server, &fail, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "timed_out", "{failed}");
    assert_eq!(failed["error"]["step"], "fan.review.check", "{failed}");
    assert_eq!(step(&failed, "fan.work.nap")["status"], "cancelled");
    assert_eq!(step(&failed, "after")["status"], "cancelled");
}

#[test]
fn an_approval_link_decides_a_step_inside_an_item() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "linked", "steps": [
            {"name": "posts", "map": {"items": "{{ input.posts }}", "steps": [
                {"name": "review", "type": "transform", "input": {"post": "{{ item }}"},
                 "config": {"template": {"title": "{{ post | title }}"}},
                 "approval": {"message": "Publish this post?", "reviewers": ["ed@example.com"]}}
            ]}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"posts": ["first", "second"]}));
    poll_until(&server, &run, |r| r["waiting_steps"] == 2);
    let link_of = |step: &str| {
        let queue = server.get("/v1/approvals");
        let entry = queue.body["approvals"]
            .as_array()
            .expect("approvals")
            .iter()
            .find(|a| a["run_id"] == run.as_str() && a["step"] == step)
            .cloned()
            .unwrap_or_else(|| panic!("{step} does not wait: {}", queue.body));
        let url = entry["links"][0]["url"].as_str().expect("url").to_owned();
        url.strip_prefix(&server.url)
            .expect("same server")
            .to_owned()
    };
    let second = link_of("posts[1].review");
    let page = server.call_with("GET", &second, None, None, &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    let html = page.body.as_str().expect("html");
    assert!(
        html.contains("Publish this post?") && html.contains("Second"),
        "{html}"
    );

    let thanks = post_form(&server, &second, "decision=approve&note=Good");
    assert_eq!(thanks.status, 200, "{}", thanks.body);
    let waiting = server.get(&format!("/v1/runs/{run}")).body;
    assert_eq!(waiting["waiting_steps"], 1, "{waiting}");
    assert_eq!(waiting["pending_action"]["step"], "posts[0].review");
    // The link is spent; the other item's link still works.
    assert_eq!(post_form(&server, &second, "decision=approve").status, 409);
    let first = link_of("posts[0].review");
    assert_eq!(post_form(&server, &first, "decision=approve").status, 200);

    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(
        done["result"],
        json!([{"title": "First"}, {"title": "Second"}])
    );
    let page = server.get(&format!("/v1/runs/{run}/steps/posts"));
    let decision = &page.body["items"][1]["steps"][0]["decisions"][0];
    assert_eq!(decision["channel"], "link", "{}", page.body);
    assert_eq!(decision["reviewer"], "ed@example.com", "{}", page.body);
    assert_eq!(decision["note"], "Good", "{}", page.body);
}

#[test]
fn a_child_left_running_by_a_crash_after_its_parent_ended_is_cancelled_on_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), plugins_dir(dir.path()));
    let server = Server::process(&data, &plugins);
    let (_, _, run, child) = parent_of_a_waiting_child(&server);
    server.kill();

    // What a crash between the parent's cancel and its child's leaves.
    let changed = Db::open(&data).execute(
        "UPDATE runs SET status = 'cancelled' WHERE id = ?1",
        &[(&run).into()],
    );
    assert_eq!(changed, 1);

    let server = Server::process(&data, &plugins);
    let cancelled = poll_until(&server, &child, status_is("cancelled"));
    assert!(
        cancelled["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("its ended parent run")),
        "{cancelled}"
    );
    assert_eq!(step(&cancelled, "review")["status"], "cancelled");
}
