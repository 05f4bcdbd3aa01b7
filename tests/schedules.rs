//! Cron schedules against the real server: per-second schedules (so nothing
//! waits minutes), pause and resume, the overlap policies with a slow step,
//! and the catch-up policies across a real stop of the process.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::api::{assert_problem, create_workflow, plugins_dir, setup};
use crate::common::eventually;
use crate::common::server::Server;

fn scheduled(name: &str, step: Value, schedule: Value) -> Value {
    json!({"name": name, "steps": [step], "schedule": schedule})
}

fn noop() -> Value {
    json!({"name": "s", "type": "noop"})
}

fn slow(ms: u64) -> Value {
    json!({"name": "s", "type": "hostile", "config": {"attack": "sleep", "ms": ms}})
}

/// The workflow's runs started by its schedule, oldest first.
fn scheduled_runs(server: &Server, workflow: &str) -> Vec<Value> {
    let reply = server.get(&format!("/v1/runs?workflow_id={workflow}&limit=200"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut runs: Vec<Value> = reply.body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["trigger"]["kind"] == "schedule")
        .cloned()
        .collect();
    runs.reverse();
    runs
}

fn schedule_of(server: &Server, workflow: &str) -> Value {
    let reply = server.get(&format!("/v1/workflows/{workflow}/schedule"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// No slot started two runs.
fn assert_slots_unique(runs: &[Value]) {
    let slots: BTreeSet<&str> = runs
        .iter()
        .map(|r| r["trigger"]["slot"].as_str().expect("slot"))
        .collect();
    assert_eq!(slots.len(), runs.len(), "a slot fired twice: {runs:?}");
}

#[test]
fn an_invalid_expression_or_zone_is_a_422_naming_it() {
    let (_dir, server) = setup();
    let reply = server.post(
        "/v1/workflows",
        &json!({"status": "active", "definition": scheduled("bad", noop(),
            json!({"cron": "0 25 * * *", "timezone": "Europe/Atlantis"}))}),
    );
    assert_problem(&reply, 422, "invalid-workflow");
    let paths: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths, ["/schedule/cron", "/schedule/timezone"]);
    let unknown = server.post(
        "/v1/workflows",
        &json!({"definition": scheduled("bad", noop(), json!({"cron": "* * * * *", "overlap": "sometimes"}))}),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(server.get("/v1/workflows").body["workflows"], json!([]));
}

#[test]
fn a_per_second_schedule_starts_runs_that_say_so_and_pauses_at_once() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        scheduled(
            "ticker",
            noop(),
            json!({"cron": "* * * * * *", "timezone": "Europe/Paris", "input": {"n": 1}, "overlap": "allow"}),
        ),
        "active",
    );
    let view = schedule_of(&server, &workflow);
    assert_eq!(view["cron"], "* * * * * *");
    assert_eq!(view["paused"], false);
    let next: Vec<&str> = view["next_fires"]
        .as_array()
        .expect("next")
        .iter()
        .map(|t| t.as_str().expect("time"))
        .collect();
    assert_eq!(next.len(), 5);
    assert!(next.iter().all(|t| t.ends_with("+01:00")), "{next:?}");

    let runs = eventually("three scheduled runs", || {
        let runs = scheduled_runs(&server, &workflow);
        (runs.len() >= 3).then_some(runs)
    });
    for run in &runs {
        assert_eq!(run["input"], json!({"n": 1}));
        assert!(run["trigger"]["slot"].as_str().is_some(), "{run}");
    }
    assert_slots_unique(&runs);
    let fires = schedule_of(&server, &workflow)["recent_fires"].clone();
    assert!(
        fires
            .as_array()
            .expect("fires")
            .iter()
            .any(|f| f["outcome"] == "started" && f["run_id"].is_string()),
        "{fires}"
    );

    // Paused: nothing more starts, and no next fires are shown.
    let paused = server.post(
        &format!("/v1/workflows/{workflow}/schedule/pause"),
        &json!({}),
    );
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["paused"], true);
    assert_eq!(paused.body["next_fires"], json!([]));
    // A second per-second schedule is the witness: once it has fired twice
    // more, the scheduler has passed over at least one of the paused slots.
    let witness = create_workflow(
        &server,
        scheduled(
            "witness",
            noop(),
            json!({"cron": "* * * * * *", "overlap": "allow"}),
        ),
        "active",
    );
    let count = scheduled_runs(&server, &workflow).len();
    witness_fires(&server, &witness, 2);
    assert_eq!(
        scheduled_runs(&server, &workflow).len(),
        count,
        "a paused schedule fired"
    );

    let resumed = server.post(
        &format!("/v1/workflows/{workflow}/schedule/resume"),
        &json!({}),
    );
    assert_eq!(resumed.body["paused"], false);
    eventually("a run after resuming", || {
        (scheduled_runs(&server, &workflow).len() > count).then_some(())
    });

    // Editing the schedule away stops it at once; another workflow has none.
    let edited = server.call(
        "PUT",
        &format!("/v1/workflows/{workflow}"),
        Some(&server.key),
        Some(&json!({"definition": {"name": "ticker", "steps": [noop()]}})),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_problem(
        &server.get(&format!("/v1/workflows/{workflow}/schedule")),
        404,
        "not-found",
    );
    let count = scheduled_runs(&server, &workflow).len();
    witness_fires(&server, &witness, 2);
    assert_eq!(scheduled_runs(&server, &workflow).len(), count);
}

/// Waits until the `witness` schedule has started `more` runs than it had.
fn witness_fires(server: &Server, witness: &str, more: usize) {
    let before = scheduled_runs(server, witness).len();
    eventually("the witness schedule to fire", || {
        (scheduled_runs(server, witness).len() >= before + more).then_some(())
    });
}

#[test]
fn overlap_skip_records_skipped_slots_and_queue_starts_them_after_the_active_run() {
    let (_dir, server) = setup();
    let skip = create_workflow(
        &server,
        scheduled(
            "skip",
            slow(2500),
            json!({"cron": "* * * * * *", "overlap": "skip"}),
        ),
        "active",
    );
    let queue = create_workflow(
        &server,
        scheduled(
            "queue",
            slow(1500),
            json!({"cron": "* * * * * *", "overlap": "queue"}),
        ),
        "active",
    );
    let skipped = eventually("skipped slots", || {
        let fires = schedule_of(&server, &skip)["recent_fires"].clone();
        let skipped: Vec<Value> = fires
            .as_array()
            .expect("fires")
            .iter()
            .filter(|f| f["outcome"] == "skipped")
            .cloned()
            .collect();
        (skipped.len() >= 2).then_some(skipped)
    });
    assert_eq!(
        skipped[0]["detail"]["reason"],
        "a run of the workflow is active"
    );
    // Never two runs of it at once.
    let runs = scheduled_runs(&server, &skip);
    let running = runs
        .iter()
        .filter(|r| r["status"] == "running" || r["status"] == "pending")
        .count();
    assert!(running <= 1, "{runs:?}");

    let started_from_queue = eventually("a queued slot started", || {
        let runs = scheduled_runs(&server, &queue);
        runs.into_iter().find(|r| r["trigger"]["queued"] == true)
    });
    let fires = schedule_of(&server, &queue)["recent_fires"].clone();
    let started = fires
        .as_array()
        .expect("fires")
        .iter()
        .find(|f| f["run_id"] == started_from_queue["id"])
        .cloned()
        .expect("its fire");
    assert_eq!(started["outcome"], "started");
    assert_slots_unique(&scheduled_runs(&server, &queue));
    // The queued run started after the one before it had ended.
    let runs = scheduled_runs(&server, &queue);
    let index = runs
        .iter()
        .position(|r| r["id"] == started_from_queue["id"])
        .expect("listed");
    assert!(index > 0);
    let before = &runs[index - 1];
    let ended = before["steps"][0]["finished_at"]
        .as_str()
        .expect("finished");
    let began = started_from_queue["created_at"].as_str().expect("created");
    assert!(ended <= began, "{ended} > {began}");
}

#[test]
fn across_a_stop_missed_slots_follow_the_catch_up_policy_and_none_fires_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::process(&data, &plugins);
    let none = create_workflow(
        &server,
        scheduled(
            "none",
            noop(),
            json!({"cron": "* * * * * *", "overlap": "allow"}),
        ),
        "active",
    );
    let once = create_workflow(
        &server,
        scheduled(
            "once",
            noop(),
            json!({"cron": "* * * * * *", "overlap": "allow", "catch_up": "once"}),
        ),
        "active",
    );
    for workflow in [&none, &once] {
        eventually("a first run", || {
            (!scheduled_runs(&server, workflow).is_empty()).then_some(())
        });
    }
    server.kill();
    std::thread::sleep(Duration::from_millis(3500));
    let restarted = Instant::now();
    let server = Server::process(&data, &plugins);
    let up = restarted.elapsed();

    for (workflow, catch_up) in [(&none, false), (&once, true)] {
        let missed = eventually("the missed slots recorded", || {
            let fires = schedule_of(&server, workflow)["recent_fires"].clone();
            fires
                .as_array()
                .expect("fires")
                .iter()
                .find(|f| f["outcome"] == "missed" && f["detail"]["reason"] == "the host was down")
                .cloned()
        });
        let count = missed["detail"]["count"].as_u64().expect("count");
        let expected_missed = if catch_up { 2 } else { 3 };
        assert!(count >= expected_missed, "{missed} (restart took {up:?})");
        let runs = eventually("runs after the restart", || {
            let runs = scheduled_runs(&server, workflow);
            let after = runs
                .iter()
                .filter(|r| r["trigger"]["slot"].as_str() > missed["slot"].as_str())
                .count();
            (after >= 2).then_some(runs)
        });
        assert_slots_unique(&runs);
        // Catch-up once ran the latest missed slot; none ran no missed slot.
        let last_missed = missed["detail"]["last"].as_str().expect("last");
        let in_gap: Vec<&Value> = runs
            .iter()
            .filter(|r| {
                let slot = r["trigger"]["slot"].as_str().expect("slot");
                slot >= missed["slot"].as_str().expect("first") && slot <= last_missed
            })
            .collect();
        assert!(in_gap.is_empty(), "a missed slot ran: {in_gap:?}");
        let caught_up: Vec<&Value> = runs
            .iter()
            .filter(|r| r["trigger"]["catch_up"] == true)
            .collect();
        assert_eq!(caught_up.len(), usize::from(catch_up), "{runs:?}");
        if let Some(run) = caught_up.first() {
            assert!(run["trigger"]["slot"].as_str() > Some(last_missed), "{run}");
        }
    }
}

#[test]
fn scheduled_runs_go_through_the_language_constructs() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "fan", "schedule": {"cron": "* * * * * *", "input": {"items": [1, 2, 3]}, "overlap": "skip"},
               "steps": [
            {"name": "each", "map": {"items": "{{ input.items }}", "steps": [
                {"name": "pick", "switch": {
                    "cases": [{"name": "odd", "when": "item % 2 == 1", "steps": [{"name": "keep", "type": "noop"}]}],
                    "default": [{"name": "drop", "type": "transform", "config": {"template": {"dropped": true}}}]
                }}
            ]}}
        ]}),
        "active",
    );
    let run = eventually("a scheduled run that completed", || {
        scheduled_runs(&server, &workflow)
            .into_iter()
            .find(|r| r["status"] == "completed")
    });
    assert_eq!(
        run["result"],
        json!([
            {"case": "odd", "output": 1},
            {"case": "default", "output": {"dropped": true}},
            {"case": "odd", "output": 3}
        ])
    );
    let paused = server.post(
        &format!("/v1/workflows/{workflow}/schedule/pause"),
        &json!({}),
    );
    assert_eq!(paused.status, 200, "{}", paused.body);
}
