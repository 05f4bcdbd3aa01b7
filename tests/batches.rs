//! Batches over the real HTTP API: one run per input, progress counted from the
//! runs, cancel as one, all or nothing within the quota.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::api::{
    assert_problem, create_tenant, create_workflow, gated, plugins_dir, poll_until, setup,
    status_is,
};
use crate::common::server::Server;

/// Fails its run when `n` is 3 or more.
fn small_numbers() -> Value {
    json!({"name": "small-numbers", "steps": [
        {"name": "check", "type": "validate", "input": "{{ input }}",
         "config": {"schema": {"type": "object", "properties": {"n": {"maximum": 2}}}}}
    ]})
}

fn start_batch(server: &Server, workflow: &str, inputs: Value) -> Value {
    let reply = server.post(
        &format!("/v1/workflows/{workflow}/batches"),
        &json!({ "inputs": inputs }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// Polls the batch until `done` holds.
fn batch_until(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = server.get(&format!("/v1/batches/{id}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        if done(&reply.body) {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "batch never got there: {}",
            reply.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_count(server: &Server) -> usize {
    server.get("/v1/runs?limit=100").body["runs"]
        .as_array()
        .expect("runs")
        .len()
}

#[test]
fn a_batch_runs_once_per_input_and_counts_what_completed_and_failed() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, small_numbers(), "active");
    let inputs = json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 0}]);
    let batch = start_batch(&server, &workflow, inputs.clone());
    assert_eq!(batch["workflow_id"], workflow.as_str());
    assert_eq!(batch["progress"]["total"], 5);
    let id = batch["id"].as_str().expect("id");

    let done = batch_until(&server, id, |b| b["progress"]["unfinished"] == 0);
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["progress"]["completed"], 3, "{done}");
    assert_eq!(done["progress"]["failed"], 2, "{done}");
    // The runs are in the order of the inputs.
    for (run, input) in done["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .zip(inputs.as_array().expect("inputs"))
    {
        let run = server.get(&format!("/v1/runs/{}", run.as_str().expect("id")));
        assert_eq!(&run.body["input"], input);
        let small = input["n"].as_i64().expect("n") <= 2;
        assert_eq!(
            run.body["status"],
            if small { "completed" } else { "failed" }
        );
    }
    assert_problem(
        &server.post(&format!("/v1/batches/{id}/cancel"), &json!({})),
        409,
        "conflict",
    );

    let all_small = start_batch(&server, &workflow, json!([{"n": 1}, {"n": 2}]));
    let all_small = batch_until(&server, all_small["id"].as_str().expect("id"), |b| {
        b["progress"]["unfinished"] == 0
    });
    assert_eq!(all_small["status"], "completed", "{all_small}");
}

#[test]
fn cancelling_a_batch_cancels_its_unfinished_runs_only() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let batch = start_batch(
        &server,
        &workflow,
        json!([{"topic": "a"}, {"topic": "b"}, {"topic": "c"}]),
    );
    let id = batch["id"].as_str().expect("id").to_owned();
    let runs: Vec<String> = batch["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r.as_str().expect("id").to_owned())
        .collect();
    for run in &runs {
        poll_until(&server, run, status_is("paused"));
    }
    assert_eq!(
        server.get(&format!("/v1/batches/{id}")).body["status"],
        "running"
    );
    let resumed = server.post(
        &format!("/v1/runs/{}/resume", runs[0]),
        &json!({"step": "review", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    poll_until(&server, &runs[0], status_is("completed"));

    // Another tenant can neither see nor cancel it.
    let globex = create_tenant(&server, "globex");
    for (method, path) in [
        ("GET", format!("/v1/batches/{id}")),
        ("POST", format!("/v1/batches/{id}/cancel")),
    ] {
        let body = (method == "POST").then(|| json!({}));
        assert_problem(
            &server.call(method, &path, Some(&globex), body.as_ref()),
            404,
            "not-found",
        );
    }
    assert_problem(
        &server.call(
            "POST",
            &format!("/v1/workflows/{workflow}/batches"),
            Some(&globex),
            Some(&json!({"inputs": [{}]})),
        ),
        404,
        "not-found",
    );
    assert_eq!(
        server.get(&format!("/v1/runs/{}", runs[1])).body["status"],
        "paused"
    );

    let cancelled = server.post(&format!("/v1/batches/{id}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        cancelled.body["progress"],
        json!({"total": 3, "completed": 1, "failed": 2, "unfinished": 0})
    );
    assert_eq!(
        server.get(&format!("/v1/runs/{}", runs[0])).body["status"],
        "completed"
    );
    for run in &runs[1..] {
        let run = server.get(&format!("/v1/runs/{run}")).body;
        assert_eq!(run["status"], "cancelled", "{run}");
        assert_eq!(run["error"]["reason"], "cancelled");
    }
    // Again: nothing more to do, the same answer.
    let again = server.post(&format!("/v1/batches/{id}/cancel"), &json!({}));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, cancelled.body);
}

#[test]
fn a_batch_starts_all_its_runs_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &plugins,
        &[("CAIRN_MAX_ACTIVE_RUNS_PER_TENANT", "4")],
    );
    let workflow = create_workflow(&server, gated(), "active");
    let mut single = gated();
    single["concurrency"] = json!("forbid");
    let single = create_workflow(&server, single, "active");
    let draft = create_workflow(&server, gated(), "draft");
    let batches = |workflow: &str| format!("/v1/workflows/{workflow}/batches");
    let five: Vec<Value> = (0..5).map(|i| json!({"topic": format!("t{i}")})).collect();
    let cases = [
        (
            server.post(&batches(&workflow), &json!({"inputs": five})),
            429,
            "quota-exceeded",
        ),
        (
            server.post(&batches(&single), &json!({"inputs": [{}, {}]})),
            409,
            "conflict",
        ),
        (
            server.post(&batches(&draft), &json!({"inputs": [{}]})),
            422,
            "workflow-not-active",
        ),
        (
            server.post(&batches(&workflow), &json!({"inputs": []})),
            422,
            "input-rejected",
        ),
        (
            server.post(&batches(&workflow), &json!({"inputs": {"topic": "x"}})),
            422,
            "invalid-body",
        ),
        (
            server.post(&batches("nope"), &json!({"inputs": [{}]})),
            404,
            "not-found",
        ),
    ];
    for (reply, status, kind) in &cases {
        assert_problem(reply, *status, kind);
    }
    assert_eq!(run_count(&server), 0, "a refused batch starts nothing");
    let four = start_batch(
        &server,
        &workflow,
        json!([{"topic": "a"}, {"topic": "b"}, {}, {}]),
    );
    assert_eq!(four["progress"]["total"], 4);
    assert_eq!(run_count(&server), 4);
    assert_problem(&server.get("/v1/batches/nope"), 404, "not-found");
}

#[test]
fn batches_are_listed_newest_first_a_page_at_a_time_per_tenant() {
    let (_dir, server) = setup();
    let first = create_workflow(&server, small_numbers(), "active");
    let mut second = small_numbers();
    second["name"] = json!("other-numbers");
    let second = create_workflow(&server, second, "active");
    let ids: Vec<String> = [&first, &second, &first]
        .iter()
        .map(|workflow| {
            start_batch(&server, workflow, json!([{"n": 1}, {"n": 5}]))["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    for id in &ids {
        batch_until(&server, id, |b| b["progress"]["unfinished"] == 0);
    }

    let page = server.get("/v1/batches?limit=2");
    assert_eq!(page.status, 200, "{}", page.body);
    let listed: Vec<&str> = page.body["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .map(|b| b["id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(page.body["batches"][0]["progress"]["completed"], 1);
    assert_eq!(page.body["batches"][0]["progress"]["failed"], 1);
    let cursor = page.body["next_cursor"].as_str().expect("a next page");
    let rest = server.get(&format!("/v1/batches?limit=2&cursor={cursor}"));
    assert_eq!(rest.body["batches"][0]["id"], ids[0].as_str());
    assert_eq!(rest.body["batches"].as_array().map(Vec::len), Some(1));
    assert!(rest.body["next_cursor"].is_null());

    let of_first = server.get(&format!("/v1/batches?workflow_id={first}"));
    assert_eq!(of_first.body["batches"].as_array().map(Vec::len), Some(2));
    assert_problem(&server.get("/v1/batches?limit=0"), 400, "bad-query");
    assert_problem(&server.get("/v1/batches?cursor=zz"), 400, "bad-cursor");

    let other = create_tenant(&server, "other");
    let theirs = server.call("GET", "/v1/batches", Some(&other), None);
    assert_eq!(
        theirs.body["batches"],
        json!([]),
        "another tenant sees none"
    );
}
