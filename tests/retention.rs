//! Retention: finished runs older than the `retention` setting are deleted
//! with everything that belongs to them; unfinished runs are kept.

use crate::common::api::{create_workflow, gated, plugins_dir, poll_until, start_run, status_is};
use crate::common::db::Db;
use crate::common::server::Server;

use serde_json::json;

#[test]
fn finished_runs_past_their_retention_are_deleted_with_their_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &plugins_dir(dir.path()),
        &[("CAIRN_RETENTION", "1s")],
    );
    let single = create_workflow(
        &server,
        json!({"name": "single", "steps": [{"name": "s", "type": "noop"}]}),
        "active",
    );
    let finished: Vec<String> = (0..3)
        .map(|i| {
            let run = start_run(&server, &single, json!({"i": i}));
            poll_until(&server, &run, status_is("completed"));
            run
        })
        .collect();
    let gated = create_workflow(&server, gated(), "active");
    let waiting = start_run(&server, &gated, json!({"topic": "kept"}));
    poll_until(&server, &waiting, status_is("paused"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for run in &finished {
        while server.get(&format!("/v1/runs/{run}")).status != 404 {
            assert!(std::time::Instant::now() < deadline, "run {run} was kept");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    assert_eq!(server.get(&format!("/v1/runs/{waiting}")).status, 200);

    let db = Db::open(&data);
    for table in [
        "steps",
        "run_events",
        "outbox",
        "idempotency_keys",
        "batch_runs",
    ] {
        for run in &finished {
            let left = db.number(
                &format!("SELECT COUNT(*) FROM {table} WHERE run_id = ?1"),
                &[run.into()],
            );
            assert_eq!(left, 0, "{table} keeps rows of {run}");
        }
    }
    let kept = db.number(
        "SELECT COUNT(*) FROM run_events WHERE run_id = ?1",
        &[(&waiting).into()],
    );
    assert!(kept > 0, "the paused run keeps its events");
    let metrics = server.call("GET", "/metrics", None, None).body;
    let metrics = metrics.as_str().expect("text");
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("cairn_runs{status=\"completed\"}") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains("cairn_runs{status=\"paused\"} 1"),
        "{metrics}"
    );
}
