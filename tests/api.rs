//! The HTTP API, black-box: the real `cairn serve` on 127.0.0.1:0, real HTTP,
//! real plugins, a real SQLite file.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::api::*;
use crate::common::server::{self, Server};

#[test]
fn start_poll_pause_resume_complete() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "wasm"}));
    let paused = poll_until(&server, &run, status_is("paused"));
    assert_eq!(paused["progress"]["percent"], 33);
    assert_eq!(paused["progress"]["steps_completed"], 1);
    assert_eq!(paused["progress"]["steps_total"], 3);
    assert_eq!(paused["pending_action"]["step"], "review");
    assert_eq!(paused["pending_action"]["kind"], "approval");
    assert_eq!(
        paused["pending_action"]["options"],
        json!(["approve", "reject"])
    );
    assert_eq!(paused["pending_action"]["data"], json!({"title": "Wasm"}));

    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "review", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!({"published": "Wasm"}));
    assert_eq!(done["progress"]["percent"], 100);
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["status"].as_str().expect("status"))
        .collect();
    assert_eq!(steps, ["completed", "completed", "completed"]);

    assert_eq!(
        event_kinds(&server, &run),
        [
            "created",
            "step_started",
            "step_completed",
            "step_started",
            "paused",
            "resumed",
            "step_started",
            "step_completed",
            "completed"
        ]
    );
    let later = server.get(&format!("/v1/runs/{run}/events?after=7"));
    assert_eq!(later.body["events"].as_array().expect("events").len(), 2);
}

#[test]
fn a_long_poll_answers_at_once_for_a_change_it_missed_and_waits_for_the_next() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "poll"}));
    let paused = poll_until(&server, &run, status_is("paused"));
    let seen = paused["last_event"].as_i64().expect("last_event");

    // A client that last saw an earlier event is answered at once (a 30 s wait
    // would fail the bound by far).
    let began = Instant::now();
    let caught_up = server.get(&format!("/v1/runs/{run}?wait=30s&after={}", seen - 2));
    assert!(began.elapsed() < Duration::from_secs(15), "it waited");
    assert_eq!(caught_up.body["last_event"], seen);

    // One that saw the latest waits for the next change: the resume.
    let url = server.url.clone();
    let key = server.key.clone();
    let resumer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let response = Server::agent()
            .post(format!("{url}/v1/runs/{run}/resume"))
            .header("authorization", format!("Bearer {key}"))
            .send_json(json!({"step": "review", "input": "approve"}))
            .expect("resume");
        assert_eq!(response.status(), 200);
    });
    let run = paused["id"].as_str().expect("id");
    let changed = server.get(&format!("/v1/runs/{run}?wait=30s&after={seen}"));
    resumer.join().expect("resumer");
    assert!(
        changed.body["last_event"].as_i64().expect("last_event") > seen,
        "{}",
        changed.body
    );
    assert_ne!(changed.body["status"], "paused");
}

/// An active workflow of two gates, `first` and `second`, each with steps
/// of 150 ms before and after; returns its id.
fn two_gates(server: &Server) -> String {
    let nap = |name: &str| json!({"name": name, "type": "hostile", "config": {"attack": "sleep", "ms": 150}});
    create_workflow(
        server,
        json!({"name": "two-gates", "steps": [
            nap("research"),
            {"name": "first", "type": "noop", "approval": {"message": "Go on?"}},
            nap("draft"), nap("edit"),
            {"name": "second", "type": "noop", "approval": {"message": "Publish?"}},
            nap("publish")
        ]}),
        "active",
    )
}

#[test]
fn a_long_poll_until_settled_answers_at_the_next_pause_or_the_end() {
    let (_dir, server) = setup();
    let workflow = two_gates(&server);
    let run = start_run(&server, &workflow, json!({}));
    let settled = |after: Option<i64>| {
        let after = after.map(|a| format!("&after={a}")).unwrap_or_default();
        server.get(&format!("/v1/runs/{run}?wait=30s&until=settled{after}"))
    };

    // One request covers the steps before the first gate.
    let first = settled(None);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["status"], "paused", "{}", first.body);
    assert_eq!(first.body["pending_action"]["step"], "first");

    // After a resume, one request covers the two steps up to the next gate,
    // though each of them changed the run.
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "first", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let seen = resumed.body["last_event"].as_i64().expect("last_event");
    let second = settled(Some(seen));
    assert_eq!(second.body["status"], "paused", "{}", second.body);
    assert_eq!(second.body["pending_action"]["step"], "second");
    assert!(second.body["last_event"].as_i64().expect("last_event") >= seen + 4);
    // The answer is the run as stored (the driver that paused it hands its
    // view to the waiter, which does not read the run again).
    let stored = server.get(&format!("/v1/runs/{run}"));
    assert_eq!(second.body, stored.body);
    // Asked again, it finds the run paused already: the answer is the run
    // as the driver that paused it left it (kept for a decision), which is
    // the run as stored.
    let again = settled(Some(seen));
    assert_eq!(again.body, stored.body);

    // A pause the client has seen is not an answer: it waits out `wait`.
    let began = Instant::now();
    let seen = second.body["last_event"].as_i64().expect("last_event");
    let same = server.get(&format!(
        "/v1/runs/{run}?wait=1s&until=settled&after={seen}"
    ));
    assert!(
        began.elapsed() >= Duration::from_millis(900),
        "it did not wait"
    );
    assert_eq!(same.body["last_event"], seen);

    // The end is an answer, whatever `after` says.
    server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "second", "input": "approve"}),
    );
    let done = settled(Some(seen));
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(done.body, server.get(&format!("/v1/runs/{run}")).body);
    let again = settled(done.body["last_event"].as_i64());
    assert_eq!(again.body["status"], "completed");

    let bad = server.get(&format!("/v1/runs/{run}?wait=1s&until=someday"));
    assert_problem(&bad, 400, "bad-query");
}

#[test]
fn a_decision_can_answer_once_the_run_settled_again() {
    let (_dir, server) = setup();
    let workflow = two_gates(&server);
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));

    // A bad wait is refused before anything is decided.
    let bad = server.post(
        &format!("/v1/runs/{run}/resume?wait=soon&until=settled"),
        &json!({"step": "first", "input": "approve"}),
    );
    assert_problem(&bad, 400, "bad-query");
    // ... but a run that is not there is that, whatever the wait says.
    let missing = server.post(
        "/v1/runs/no-such-run/resume?wait=soon",
        &json!({"step": "first", "input": "approve"}),
    );
    assert_problem(&missing, 404, "not-found");
    let still = server.get(&format!("/v1/runs/{run}"));
    assert_eq!(
        still.body["pending_action"]["step"], "first",
        "{}",
        still.body
    );

    // One request: the decision, answered when the run paused at the next gate.
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume?wait=30s&until=settled"),
        &json!({"step": "first", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["status"], "paused", "{}", resumed.body);
    assert_eq!(resumed.body["pending_action"]["step"], "second");
    assert_eq!(resumed.body, server.get(&format!("/v1/runs/{run}")).body);

    // And at the end.
    let done = server.post(
        &format!("/v1/runs/{run}/resume?wait=30s&until=settled"),
        &json!({"step": "second", "input": "approve"}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "completed", "{}", done.body);
}

#[test]
fn a_decision_and_the_start_of_the_step_after_it_are_one_commit() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "gate-then-work", "steps": [
            {"name": "first", "type": "noop", "approval": {"message": "Go on?"}},
            {"name": "draft", "type": "hostile", "config": {"attack": "sleep", "ms": 300}},
            {"name": "second", "type": "noop", "approval": {"message": "Publish?"}},
            {"name": "publish", "type": "noop", "input": {"title": "{{ steps.draft.output }}"}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    // The driver that paused the run stops just after: a decision that
    // finds it still there pokes it, and it starts the step in a commit of
    // its own.
    std::thread::sleep(Duration::from_millis(200));
    let step = |view: &Value, name: &str| -> Value {
        view["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .expect("the step")
    };

    // The answer is the run as the decision's commit left it: the step
    // after the gate (a plugin step without templates) started in it.
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "first", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["status"], "running");
    assert_eq!(step(&resumed.body, "first")["status"], "completed");
    assert_eq!(step(&resumed.body, "draft")["status"], "running");
    assert_eq!(step(&resumed.body, "draft")["attempts"], 1);

    // A step with a template to evaluate starts in its driver's first
    // round, after the decision's commit.
    poll_until(&server, &run, |r| {
        r["status"] == "paused" && r["pending_action"]["step"] == "second"
    });
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "second", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(step(&resumed.body, "publish")["status"], "pending");

    // Each step started once, and ran with its input.
    let done = poll_until(&server, &run, status_is("completed"));
    for name in ["first", "draft", "second", "publish"] {
        assert_eq!(step(&done, name)["attempts"], 1, "{name}: {done}");
    }
    let kinds = event_kinds(&server, &run);
    assert_eq!(kinds.iter().filter(|k| *k == "step_started").count(), 4);
    // (noop answers with its input)
    let published = step(&done, "publish");
    assert_eq!(published["output"]["title"], step(&done, "draft")["output"]);
}

#[test]
fn a_run_s_start_and_the_start_of_its_first_step_are_one_commit() {
    let (_dir, server) = setup();
    let first = |view: &Value| view["steps"][0].clone();
    // The answer of a start, as it came.
    let start = |workflow: &str, topic: &str| -> Value {
        let started = server.post(
            &format!("/v1/workflows/{workflow}/runs"),
            &json!({"input": {"topic": topic}}),
        );
        assert_eq!(started.status, 201, "{}", started.body);
        started.body
    };
    let workflow = create_workflow(
        &server,
        json!({"name": "work", "steps": [
            {"name": "draft", "type": "hostile", "config": {"attack": "sleep", "ms": 300}},
            {"name": "publish", "type": "noop"}
        ]}),
        "active",
    );
    let earlier = start_run(&server, &workflow, json!({}));

    // The answer is the run as its start's commit left it: the first step
    // (a plugin step without templates) started in it.
    let started = start(&workflow, "a");
    assert_eq!(started["status"], "running", "{started}");
    assert_eq!(first(&started)["status"], "running");
    assert_eq!(first(&started)["attempts"], 1);
    let run = started["id"].as_str().expect("id");
    let read = server.get(&format!("/v1/runs/{run}"));
    assert_eq!(read.body["number"], 2, "{}", read.body);
    assert_eq!(started["number"], read.body["number"]);
    assert_eq!(started["last_event"], 2, "{started}");

    // Each step started once (`event_kinds` checks the log has no gap).
    for run in [run, earlier.as_str()] {
        let done = poll_until(&server, run, status_is("completed"));
        assert_eq!(first(&done)["attempts"], 1, "{done}");
        assert_eq!(
            event_kinds(&server, run),
            [
                "created",
                "step_started",
                "step_completed",
                "step_started",
                "step_completed",
                "completed"
            ]
        );
    }

    // A first step with a template to evaluate starts in its driver's
    // first round, after the start's commit.
    let templated = create_workflow(
        &server,
        json!({"name": "templated", "steps": [
            {"name": "echo", "type": "noop", "input": {"title": "{{ input.topic }}"}}
        ]}),
        "active",
    );
    let started = start(&templated, "b");
    assert_eq!(started["status"], "pending", "{started}");
    assert_eq!(first(&started)["status"], "pending");
    let run = started["id"].as_str().expect("id");
    let done = poll_until(&server, run, status_is("completed"));
    assert_eq!(first(&done)["output"]["title"], "b", "{done}");
}

#[test]
fn reject_at_a_gate_and_cancel_while_paused_or_running() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let rejected = start_run(&server, &workflow, json!({"topic": "a"}));
    poll_until(&server, &rejected, status_is("paused"));
    let reply = server.post(
        &format!("/v1/runs/{rejected}/resume"),
        &json!({"step": "review", "input": {"decision": "reject", "note": "off-brand"}}),
    );
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body["error"]["message"], "off-brand");

    let paused = start_run(&server, &workflow, json!({"topic": "b"}));
    poll_until(&server, &paused, status_is("paused"));
    let reply = server.post(&format!("/v1/runs/{paused}/cancel"), &json!({}));
    assert_eq!(reply.body["status"], "cancelled", "{}", reply.body);
    assert_problem(
        &server.post(&format!("/v1/runs/{paused}/cancel"), &json!({})),
        409,
        "conflict",
    );

    let spin = create_workflow(
        &server,
        json!({"name": "spin", "steps": [{"name": "spin", "type": "hostile", "config": {"attack": "loop"}, "timeout": "60s"}]}),
        "active",
    );
    let running = start_run(&server, &spin, json!({}));
    poll_until(&server, &running, |run| {
        run["steps"][0]["status"] == "running"
    });
    let reply = server.post(&format!("/v1/runs/{running}/cancel"), &json!({}));
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body["steps"][0]["status"], "cancelled");
}

#[test]
fn workflow_status_policy_and_idempotency_are_enforced() {
    let (_dir, server) = setup();
    let draft = create_workflow(&server, gated(), "draft");
    assert_problem(
        &server.post(
            &format!("/v1/workflows/{draft}/runs"),
            &json!({"input": {}}),
        ),
        422,
        "workflow-not-active",
    );
    assert_eq!(
        server
            .post(&format!("/v1/workflows/{draft}/activate"), &json!({}))
            .body["status"],
        "active"
    );
    start_run(&server, &draft, json!({"topic": "now"}));

    let mut single = gated();
    single["concurrency"] = json!("forbid");
    let single = create_workflow(&server, single, "active");
    start_run(&server, &single, json!({"topic": "first"}));
    assert_problem(
        &server.post(
            &format!("/v1/workflows/{single}/runs"),
            &json!({"input": {"topic": "second"}}),
        ),
        409,
        "conflict",
    );

    let keyed = |body: &Value| {
        server.call_with(
            "POST",
            &format!("/v1/workflows/{draft}/runs"),
            Some(&server.key),
            Some(("application/json", body.to_string().into_bytes())),
            &[("idempotency-key", "order-17")],
        )
    };
    let first = keyed(&json!({"input": {"topic": "once"}}));
    assert_eq!(first.status, 201);
    let again = keyed(&json!({"input": {"topic": "once"}}));
    assert_eq!((again.status, &again.body["id"]), (200, &first.body["id"]));
    assert_problem(
        &keyed(&json!({"input": {"topic": "different"}})),
        422,
        "input-rejected",
    );
    let runs = server.get(&format!("/v1/runs?workflow_id={draft}"));
    assert_eq!(
        runs.body["runs"].as_array().expect("runs").len(),
        2,
        "one run for the key, one before"
    );
}

#[test]
fn runs_are_listed_newest_first_with_a_cursor() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "n", "steps": [{"name": "a", "type": "noop"}]}),
        "active",
    );
    let started: Vec<String> = (0..5)
        .map(|i| start_run(&server, &workflow, json!({"i": i})))
        .collect();
    let mut seen = Vec::new();
    let mut path = "/v1/runs?limit=2".to_owned();
    loop {
        let page = server.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["runs"]
                .as_array()
                .expect("runs")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/runs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = started.into_iter().rev().collect();
    assert_eq!(seen, newest_first);
    let completed = server.get(&format!(
        "/v1/runs?status=completed&workflow_id={workflow}&limit=200"
    ));
    assert!(
        completed.body["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .all(|r| r["status"] == "completed")
    );
}

#[test]
fn the_workflow_list_shows_each_workflows_shape_schedule_and_latest_run() {
    let (_dir, server) = setup();
    let scheduled = create_workflow(
        &server,
        json!({"name": "weekly", "description": "The Monday newsletter", "steps": [
            {"name": "each", "map": {"items": [1], "steps": [{"name": "n", "type": "noop"}]}},
            {"name": "last", "type": "noop"}
        ], "schedule": {"cron": "0 9 * * 1", "timezone": "Europe/Paris"}}),
        "active",
    );
    let plain = create_workflow(&server, gated(), "draft");
    let first = start_run(&server, &scheduled, json!({}));
    poll_until(&server, &first, status_is("completed"));
    let second = start_run(&server, &scheduled, json!({}));
    let done = poll_until(&server, &second, status_is("completed"));
    assert_eq!(done["number"], 2, "{done}");
    assert_eq!(server.get(&format!("/v1/runs/{first}")).body["number"], 1);

    let list = server.get("/v1/workflows");
    assert_eq!(list.status, 200, "{}", list.body);
    let listed = |id: &str| {
        list.body["workflows"]
            .as_array()
            .expect("workflows")
            .iter()
            .find(|w| w["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is not listed: {}", list.body))
    };
    let weekly = listed(&scheduled);
    assert_eq!(weekly["description"], "The Monday newsletter");
    assert_eq!(weekly["step_count"], 3, "{weekly}");
    assert_eq!(weekly["schedule"]["cron"], "0 9 * * 1");
    assert_eq!(weekly["schedule"]["timezone"], "Europe/Paris");
    assert!(weekly["schedule"]["next_fire"].is_string(), "{weekly}");
    assert_eq!(weekly["latest_run"]["id"], second.as_str());
    assert_eq!(weekly["latest_run"]["number"], 2);
    assert_eq!(weekly["latest_run"]["status"], "completed");
    assert!(
        weekly.get("definition").is_none(),
        "the list leaves definitions out"
    );
    let draft = listed(&plain);
    assert_eq!(draft["step_count"], 3);
    assert!(draft.get("latest_run").is_none(), "{draft}");
    assert!(draft.get("schedule").is_none(), "{draft}");

    // The workflow's page numbers its recent runs too.
    let page = server.get(&format!("/v1/workflows/{scheduled}"));
    assert_eq!(page.body["recent_runs"][0]["number"], 2, "{}", page.body);
    assert_eq!(page.body["recent_runs"][1]["number"], 1);
}

/// `/v1/workflows/{id}/...` takes a workflow's name as well as its id: runs
/// and batches start by name; a name two unarchived workflows share is a
/// conflict; an archived workflow answers to its name only when no other does.
#[test]
fn workflows_are_found_and_started_by_name() {
    let (_dir, server) = setup();
    let id = create_workflow(&server, gated(), "active");
    let page = server.get("/v1/workflows/gated");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["id"], id.as_str());

    let started = server.post(
        "/v1/workflows/gated/runs",
        &json!({"input": {"topic": "names"}}),
    );
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.body["workflow_id"], id.as_str());
    let batch = server.post(
        "/v1/workflows/gated/batches",
        &json!({"inputs": [{"topic": "a"}, {"topic": "b"}]}),
    );
    assert_eq!(batch.status, 201, "{}", batch.body);
    assert_eq!(batch.body["workflow_id"], id.as_str());
    let unknown = server.post("/v1/workflows/no-such-name/runs", &json!({}));
    assert_problem(&unknown, 404, "not-found");

    // A second workflow of that name: the name is ambiguous, the ids are not.
    let twin = create_workflow(&server, gated(), "active");
    let ambiguous = server.post("/v1/workflows/gated/runs", &json!({}));
    assert_problem(&ambiguous, 409, "conflict");
    let detail = ambiguous.body["detail"].as_str().expect("detail");
    assert!(detail.contains(&id) && detail.contains(&twin), "{detail}");
    assert_eq!(
        server
            .post(&format!("/v1/workflows/{twin}/runs"), &json!({}))
            .status,
        201
    );

    // Archived by name: the other one keeps the name to itself.
    let archived = server.post("/v1/workflows/gated/archive", &json!({}));
    assert_problem(&archived, 409, "conflict");
    let archived = server.post(&format!("/v1/workflows/{twin}/archive"), &json!({}));
    assert_eq!(archived.status, 200, "{}", archived.body);
    assert_eq!(server.get("/v1/workflows/gated").body["id"], id.as_str());
    let archived = server.post(&format!("/v1/workflows/{id}/archive"), &json!({}));
    assert_eq!(archived.status, 200, "{}", archived.body);
    // With only archived ones left, the name finds the newest, which says it
    // is archived.
    let refused = server.post("/v1/workflows/gated/runs", &json!({}));
    assert_problem(&refused, 422, "workflow-not-active");
    assert!(
        refused.body["detail"]
            .as_str()
            .expect("detail")
            .contains("archived"),
        "{}",
        refused.body
    );
}

#[test]
fn another_tenants_ids_are_not_found_on_every_route() {
    let (_dir, server) = setup();
    let globex = create_tenant(&server, "globex");

    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "secret"}));
    let before = poll_until(&server, &run, status_is("paused"));
    // Every other tenant's resource the default tenant has, one of each kind.
    let batch = server.post(
        &format!("/v1/workflows/{workflow}/batches"),
        &json!({"inputs": [{"topic": "a"}]}),
    );
    assert_eq!(batch.status, 201, "{}", batch.body);
    let batch = batch.body["id"].as_str().expect("batch id").to_owned();
    let uploaded = upload_plugin(&server, crate::common::GREET);
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let plugin = uploaded.body["name"]
        .as_str()
        .expect("plugin name")
        .to_owned();
    let stored = server.call(
        "PUT",
        "/v1/secrets/api",
        Some(&server.key),
        Some(&json!({"value": "v"})),
    );
    assert_eq!(stored.status, 201, "{}", stored.body);
    crate::common::server::create_key(&server, "default", "alice@example.com");

    // The table comes from the OpenAPI document, so a new route cannot be
    // left out: each tenant route with an id or a name, filled with the
    // default tenant's, and a body its handler would take.
    let document = server.call("GET", "/v1/openapi.json", None, None).body;
    let mut checked = 0;
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let method = method.to_ascii_uppercase();
            if !operation["security"].is_array() || !template.contains('{') {
                continue;
            }
            // Names of secrets are the caller's own: a PUT makes globex one.
            if (method.as_str(), template.as_str()) == ("PUT", "/v1/secrets/{name}") {
                continue;
            }
            let resource = template.split('/').nth(2).expect("a resource");
            let value = match resource {
                "workflows" => workflow.as_str(),
                "runs" => run.as_str(),
                "batches" => batch.as_str(),
                "plugins" => plugin.as_str(),
                "secrets" => "api",
                "keys" => "alice@example.com",
                other => panic!("no id of kind {other} for {method} {template}: add one"),
            };
            let path = template
                .replace("{id}", value)
                .replace("{name}", value)
                .replace("{version}", "1");
            let body = match (method.as_str(), template.as_str()) {
                ("PUT", "/v1/workflows/{id}") => Some(json!({"definition": gated()})),
                ("POST", "/v1/workflows/{id}/runs") => Some(json!({"input": {}})),
                ("POST", "/v1/workflows/{id}/batches") => Some(json!({"inputs": [{}]})),
                ("POST", "/v1/runs/{id}/resume") => {
                    Some(json!({"step": "review", "input": "approve"}))
                }
                ("POST", _) | ("PUT", _) => Some(json!({})),
                _ => None,
            };
            let reply = server.call(&method, &path, Some(&globex), body.as_ref());
            assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
            assert_problem(&reply, 404, "not-found");
            checked += 1;
        }
    }
    assert!(checked >= 19, "only {checked} routes checked");
    for (path, field) in [
        ("/v1/workflows", "workflows"),
        ("/v1/runs", "runs"),
        ("/v1/approvals", "approvals"),
        ("/v1/batches", "batches"),
    ] {
        let listed = server.call("GET", path, Some(&globex), None);
        assert_eq!(
            listed.body[field],
            json!([]),
            "{path} lists another tenant's data"
        );
    }
    let after = server.get(&format!("/v1/runs/{run}"));
    assert_eq!(after.body, before, "another tenant changed the run");
    assert_eq!(
        server.get(&format!("/v1/workflows/{workflow}")).body["status"],
        "active"
    );
}

#[test]
fn bad_input_gets_a_clear_problem_and_persists_nothing() {
    let (_dir, server) = setup();
    let key = server.key.clone();
    let json_body = |text: &str| Some(("application/json", text.as_bytes().to_vec()));
    let cases: Vec<(server::Reply, u16, &str)> = vec![
        (
            server.call("GET", "/v1/workflows", None, None),
            401,
            "unauthorized",
        ),
        (
            server.call("GET", "/v1/workflows", Some("cairn_wrong"), None),
            401,
            "unauthorized",
        ),
        (
            server.call_with(
                "POST",
                "/v1/workflows",
                Some(&key),
                json_body("{\"definition\": "),
                &[],
            ),
            400,
            "malformed-json",
        ),
        (
            server.call_with(
                "POST",
                "/v1/workflows",
                Some(&key),
                json_body("{\"definition\": {\"name\": \"x\", \"steps\": 3}}"),
                &[],
            ),
            422,
            "invalid-workflow",
        ),
        (
            server.call_with(
                "POST",
                "/v1/workflows",
                Some(&key),
                json_body("{\"definition\": {}, \"status\": 7}"),
                &[],
            ),
            422,
            "invalid-body",
        ),
        (
            server.call_with(
                "POST",
                "/v1/workflows",
                Some(&key),
                Some(("text/plain", b"{}".to_vec())),
                &[],
            ),
            415,
            "unsupported-media-type",
        ),
        (
            server.call("GET", "/v1/runs?cursor=not-a-cursor", Some(&key), None),
            400,
            "bad-cursor",
        ),
        (
            server.call("GET", "/v1/runs?limit=0", Some(&key), None),
            400,
            "bad-query",
        ),
        (
            server.call("GET", "/v1/runs?status=done", Some(&key), None),
            400,
            "bad-query",
        ),
        (
            server.call("GET", "/v1/runs/nope", Some(&key), None),
            404,
            "not-found",
        ),
        (
            server.call("GET", "/v1/nothing-here", Some(&key), None),
            404,
            "no-such-route",
        ),
        (
            server.call("PATCH", "/v1/runs", Some(&key), None),
            405,
            "method-not-allowed",
        ),
    ];
    for (reply, status, kind) in &cases {
        assert_problem(reply, *status, kind);
    }
    let (status, head, body) = declare_a_huge_body(
        &server,
        "/v1/workflows",
        "application/json",
        10 << 20,
        3 << 20,
    );
    assert_eq!(status, 413, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(
        body.contains("urn:cairn:problem:payload-too-large"),
        "{body}"
    );
    let unknown = server.post(
        "/v1/workflows",
        &json!({"definition": {"name": "x", "steps": [{"name": "a", "type": "nope"}, {"name": "a", "type": "noop"}]}}),
    );
    assert_problem(&unknown, 422, "invalid-workflow");
    let errors = unknown.body["errors"].as_array().expect("errors");
    assert_eq!(errors[0]["path"], "/steps/0/type");
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .starts_with("unknown step type 'nope'")
    );
    assert_eq!(errors[1]["path"], "/steps/1/name");
    assert_eq!(
        server.get("/v1/workflows").body["workflows"],
        json!([]),
        "nothing was persisted"
    );
}

#[test]
fn events_stream_as_server_sent_events_from_last_event_id() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let run = start_run(&server, &workflow, json!({"topic": "sse"}));
    poll_until(&server, &run, status_is("paused"));
    let url = format!("{}/v1/runs/{run}/events", server.url);
    let request = ureq::http::Request::builder()
        .uri(&url)
        .header("authorization", format!("Bearer {}", server.key))
        .header("accept", "text/event-stream")
        .header("last-event-id", "4")
        .body(())
        .expect("request");
    let agent = Server::agent();
    let reader = std::thread::spawn(move || {
        let mut response = agent.run(request).expect("stream");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/event-stream")
        );
        // The stream ends once the run has finished.
        response.body_mut().read_to_string().expect("stream body")
    });
    std::thread::sleep(Duration::from_millis(200));
    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "review", "input": "approve"}),
    );
    // A failed resume would leave the stream open for ever.
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let text = reader.join().expect("reader");
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["5", "6", "7", "8", "9"], "{text}");
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "paused",
            "resumed",
            "step_started",
            "step_completed",
            "completed"
        ]
    );
}

#[test]
fn a_restart_mid_run_loses_nothing_and_pollers_see_the_run_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins);
    let steps: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("s{i}"), "type": "hostile", "config": {"attack": "sleep", "ms": 150}}))
        .collect();
    let workflow = create_workflow(&server, json!({"name": "slow", "steps": steps}), "active");
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, |r| {
        r["progress"]["steps_completed"].as_i64() >= Some(2)
    });
    let status = server.terminate();
    assert!(status.success(), "graceful exit: {status}");

    let server = Server::process(&data, &plugins);
    let done = poll_until(&server, &run, status_is("completed"));
    assert!(
        done["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "completed")
    );
    let events = server.get(&format!("/v1/runs/{run}/events")).body["events"].clone();
    let seqs: Vec<i64> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let completions = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "step_completed")
        .count();
    assert_eq!(completions, 6, "each step completed exactly once");

    // And after a SIGKILL too.
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, |r| {
        r["progress"]["steps_completed"].as_i64() >= Some(1)
    });
    server.kill();
    let server = Server::process(&data, &plugins);
    poll_until(&server, &run, status_is("completed"));
}

#[test]
fn plugins_and_health_are_served() {
    let (_dir, server) = setup();
    assert_eq!(
        server.call("GET", "/healthz", None, None).body,
        json!({"status": "ok"})
    );
    let plugins = server.get("/v1/plugins");
    let names: Vec<&str> = plugins.body["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "ai-generate",
            "hostile",
            "http-request",
            "markdown",
            "noop",
            "notify",
            "publish",
            "review",
            "transform",
            "validate"
        ]
    );
    let transform = server.get("/v1/plugins/transform");
    assert_eq!(
        transform.body["versions"][0]["config_schema"]["required"],
        json!(["template"])
    );
    assert_problem(&server.get("/v1/plugins/nope"), 404, "not-found");
}

#[test]
fn the_approval_queue_lists_waiting_runs_and_the_quota_answers_429() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &plugins,
        &[("CAIRN_MAX_ACTIVE_RUNS_PER_TENANT", "3")],
    );
    let workflow = create_workflow(&server, gated(), "active");
    let runs: Vec<String> = (0..3)
        .map(|i| {
            let run = start_run(&server, &workflow, json!({"topic": format!("t{i}")}));
            poll_until(&server, &run, status_is("paused"));
            run
        })
        .collect();
    let refused = server.post(
        &format!("/v1/workflows/{workflow}/runs"),
        &json!({"input": {"topic": "one more"}}),
    );
    assert_problem(&refused, 429, "quota-exceeded");

    let queue = server.get("/v1/approvals");
    let waiting = queue.body["approvals"].as_array().expect("approvals");
    let ids: Vec<&str> = waiting
        .iter()
        .map(|a| a["run_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        runs.iter().map(String::as_str).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(waiting[0]["step"], "review");
    assert_eq!(waiting[0]["pending_action"]["data"], json!({"title": "T0"}));
    assert!(waiting[0]["deadline"].is_null());
    let other = server.get("/v1/approvals?workflow_id=none");
    assert_eq!(other.body["approvals"], json!([]));

    server.post(
        &format!("/v1/runs/{}/resume", runs[0]),
        &json!({"step": "review", "input": "approve"}),
    );
    poll_until(&server, &runs[0], status_is("completed"));
    assert_eq!(
        server.get("/v1/approvals").body["approvals"]
            .as_array()
            .expect("approvals")
            .len(),
        2
    );
    start_run(&server, &workflow, json!({"topic": "room again"}));
}

#[test]
fn metrics_count_runs_step_durations_faults_and_http_latency() {
    // Its own process: the metrics recorder is one per process.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::process(&dir.path().join("data"), &plugins_dir(dir.path()));
    let workflow = create_workflow(
        &server,
        json!({"name": "n", "steps": [{"name": "a", "type": "noop"}]}),
        "active",
    );
    let done = start_run(&server, &workflow, json!({}));
    poll_until(&server, &done, status_is("completed"));
    let spin = create_workflow(
        &server,
        json!({"name": "spin", "steps": [{"name": "spin", "type": "hostile", "config": {"attack": "loop"}, "timeout": "50ms"}]}),
        "active",
    );
    let failed = start_run(&server, &spin, json!({}));
    poll_until(&server, &failed, status_is("failed"));

    let reply = server.call("GET", "/metrics", None, None);
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/plain"),
        "{}",
        reply.content_type
    );
    let text = reply.body.as_str().expect("text").to_owned();
    for line in [
        "cairn_runs{status=\"completed\"} 1",
        "cairn_runs{status=\"failed\"} 1",
        "cairn_runs{status=\"paused\"} 0",
        "cairn_sandbox_faults_total{kind=\"timeout\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.contains("cairn_step_duration_seconds_bucket{plugin=\"noop\",le=\"0.001\"}"),
        "{text}"
    );
    assert!(
        text.contains("cairn_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/workflows/{id}/runs\",status=\"201\"} 2"),
        "{text}"
    );
}

#[test]
fn a_refused_decision_leaves_the_paused_run_kept_for_the_next_one() {
    // Its own process: the metrics recorder is one per process.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::process(&dir.path().join("data"), &plugins_dir(dir.path()));
    let gate =
        |name: &str| json!({"name": name, "type": "noop", "approval": {"message": "Go on?"}});
    let workflow = create_workflow(
        &server,
        json!({"name": "gates", "steps": [gate("a"), gate("b")]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    let resume = format!("/v1/runs/{run}/resume");
    let decide = |step: &str, input: &str| {
        server
            .post(&resume, &json!({"step": step, "input": input}))
            .status
    };

    // Refused: a step that does not wait, then an answer the gate does not
    // take. Neither costs the next decision the copy of the run its driver
    // kept as it paused.
    assert_eq!(decide("b", "approve"), 409);
    assert_eq!(decide("a", "maybe"), 422);
    assert_eq!(decide("a", "approve"), 200);
    let paused = poll_until(&server, &run, |r| r["pending_action"]["step"] == "b");
    assert_eq!(paused["status"], "paused");
    assert_eq!(decide("b", "approve"), 200);
    poll_until(&server, &run, status_is("completed"));

    let text = server.get("/metrics").body;
    let text = text.as_str().expect("text");
    assert!(
        text.lines()
            .any(|l| l == "cairn_run_changes_total{steps=\"kept\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains("cairn_run_changes_total{steps=\"database\"}"),
        "{text}"
    );
}

#[test]
fn a_workflow_body_that_is_not_json_is_refused_as_unsupported() {
    let (_dir, server) = setup();
    let body = br#"{"definition": {"name": "x", "steps": [{"name": "a", "type": "noop"}]}}"#;
    for content_type in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
    ] {
        let reply = server.call_with(
            "POST",
            "/v1/workflows",
            Some(&server.key),
            Some((content_type, body.to_vec())),
            &[],
        );
        assert_problem(&reply, 415, "unsupported-media-type");
    }
    assert_eq!(server.get("/v1/workflows").body["workflows"], json!([]));

    // A template syntax error is one line with its pointer, not a debug dump.
    let reply = server.post(
        "/v1/workflows",
        &json!({"definition": {"name": "x", "steps": [
            {"name": "a", "type": "noop", "input": {"t": "{{ input.a + }}", "u": "{% if %}\n{{ x }}"},
             "when": "input.b >"}
        ]}}),
    );
    assert_problem(&reply, 422, "invalid-workflow");
    let errors = reply.body["errors"].as_array().expect("errors");
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths,
        ["/steps/0/input/t", "/steps/0/input/u", "/steps/0/when"],
        "{errors:?}"
    );
    for error in errors {
        let message = error["message"].as_str().expect("message");
        assert!(message.starts_with("template syntax error"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn a_workflow_keeps_every_version_and_shows_each() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let mut longer = gated();
    longer["steps"]
        .as_array_mut()
        .expect("steps")
        .push(json!({"name": "after", "type": "noop"}));
    let updated = server.call(
        "PUT",
        &format!("/v1/workflows/{workflow}"),
        Some(&server.key),
        Some(&json!({"definition": longer})),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);

    let listed = server.get(&format!("/v1/workflows/{workflow}/versions"));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let versions = listed.body["versions"].as_array().expect("versions");
    let numbers: Vec<(i64, bool)> = versions
        .iter()
        .map(|v| (v["version"].as_i64().expect("n"), v["latest"] == true))
        .collect();
    assert_eq!(numbers, [(2, true), (1, false)], "newest first");
    let first = server.get("/v1/workflows/gated/versions/1");
    assert_eq!(first.status, 200, "by name too: {}", first.body);
    assert_eq!(first.body["latest"], false);
    assert_eq!(
        first.body["definition"]["steps"].as_array().map(Vec::len),
        Some(3)
    );
    let second = server.get(&format!("/v1/workflows/{workflow}/versions/2"));
    assert_eq!(
        second.body["definition"]["steps"].as_array().map(Vec::len),
        Some(4)
    );
    assert_problem(
        &server.get(&format!("/v1/workflows/{workflow}/versions/3")),
        404,
        "not-found",
    );
    assert_problem(
        &server.get(&format!("/v1/workflows/{workflow}/versions/first")),
        400,
        "bad-path",
    );
}

/// A run checks each step's config and input against the schemas its plugin
/// declares, as `cairn step run` does: a call they refuse fails the step with
/// every violation, and the plugin is not called.
#[test]
fn a_steps_input_is_checked_against_its_plugins_schema_before_the_call() {
    let (_dir, server) = setup();
    let uploaded = upload_plugin(&server, crate::common::GREET);
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let workflow = create_workflow(
        &server,
        json!({"name": "greeting", "steps": [{"name": "hello", "type": "greet", "input": "{{ input }}"}]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"name": 5, "extra": true}));
    let failed = poll_until(&server, &run, status_is("failed"));
    let message = failed["error"]["message"].as_str().expect("a message");
    assert!(
        message.starts_with(
            "the call does not match the schemas greet declares (1 violation), so it was not called"
        ) && message.contains(r#"input/name: 5 is not of type "string""#),
        "{message}"
    );
    assert_eq!(failed["steps"][0]["attempts"], 1, "not retried");
    let fine = start_run(&server, &workflow, json!({"name": "Ada"}));
    let done = poll_until(&server, &fine, status_is("completed"));
    assert_eq!(done["result"]["greeting"], "Hello, Ada!");
}
