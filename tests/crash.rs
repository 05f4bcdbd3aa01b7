//! SIGKILL the real `cairn` process with runs in flight, at several points, and
//! check that every run finishes, no completed step runs again, and every event
//! log is gap-free.

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn::run::StepStatus;
use cairn::store::Store;

use crate::common::db::Db;
use common::{HOSTILE, component_path};
use serde_json::{Value, json};

const RUNS: usize = 24;
const STEPS: usize = 6;

fn cairn(data: &Path, plugins: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command
        .envs(crate::common::db::env(data))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .arg("--plugins-dir")
        .arg(plugins);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn completed_steps(db: &Db) -> i64 {
    db.number(
        "SELECT COUNT(*) FROM run_events WHERE kind = 'step_completed'",
        &[],
    )
}

/// Lets `child` work until `threshold` steps have completed, then SIGKILLs it.
fn kill_after(mut child: Child, store: &Db, threshold: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    while completed_steps(store) < threshold && Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("cairn exited before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    completed_steps(store)
}

#[test]
fn runs_survive_sigkill_at_several_points() {
    let steps: Vec<Value> = (0..STEPS)
        .map(|i| json!({"name": format!("s{i}"), "type": "hostile", "config": {"attack": "sleep", "ms": 100}}))
        .collect();
    let workflow = json!({"name": "slow", "steps": steps});
    survive_kills(&workflow, RUNS, STEPS, &[25, 60, 100]);
}

/// Branches and map items in flight when the process dies: no completed
/// item runs again, and none is lost.
#[test]
fn runs_with_branches_and_maps_survive_sigkill() {
    let sleep = |name: &str, ms: u64| json!({"name": name, "type": "hostile", "config": {"attack": "sleep", "ms": ms}});
    let workflow = json!({"name": "tree", "steps": [
        {"name": "fan", "parallel": {"branches": {
            "one": [sleep("a", 80)],
            "many": [{"name": "each", "map": {"items": [0, 1, 2, 3, 4, 5, 6, 7], "concurrency": 3,
                "steps": [sleep("b", 60), sleep("c", 30)]}}]
        }}},
        sleep("last", 20)
    ]});
    // Per run: fan, last, fan.one.a, fan.many.each and 8 items of 2 steps.
    survive_kills(&workflow, 8, 20, &[30, 70, 110]);
}

/// Runs `runs` runs of `workflow` (each to hold `records` steps) with
/// `cairn run`, SIGKILLs the process once `thresholds[0]` steps completed,
/// recovers and kills again at the other thresholds, then recovers to the
/// end and checks every run: complete, a gap-free log, each plugin step
/// completed once with a stable idempotency key, and some attempt
/// interrupted and run again.
fn survive_kills(workflow: &Value, runs: usize, records: usize, thresholds: &[i64]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, plugins) = (dir.path().join("data"), dir.path().join("plugins"));
    std::fs::create_dir_all(&plugins).expect("mkdir");
    std::fs::copy(component_path(HOSTILE), plugins.join("hostile.wasm")).expect("copy fixture");
    let file = dir.path().join("workflow.json");
    std::fs::write(&file, workflow.to_string()).expect("write");

    let count = runs.to_string();
    let mut first = cairn(
        &data,
        &plugins,
        &["run", file.to_str().expect("utf-8"), "--runs", &count],
    )
    .spawn()
    .expect("spawn");
    // Wait for the database the process creates, then for progress, then kill.
    let deadline = Instant::now() + Duration::from_secs(120);
    let observer = loop {
        if let Ok(store) = Store::connect(&crate::common::db::database(&data)) {
            break store;
        }
        assert!(
            Instant::now() < deadline,
            "no database from the first process"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let counter = Db::open(&data);
    // Every run started (they start one after another), and some progress.
    let started = || counter.number("SELECT COUNT(*) FROM runs", &[]) as usize;
    while started() < runs || completed_steps(&counter) == 0 {
        assert!(
            Instant::now() < deadline,
            "no progress from the first process"
        );
        if let Ok(Some(status)) = first.try_wait() {
            panic!("cairn exited before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut done = kill_after(first, &counter, thresholds[0]);
    for &threshold in &thresholds[1..] {
        let child = cairn(&data, &plugins, &["recover"]).spawn().expect("spawn");
        done = kill_after(child, &counter, threshold.max(done + 10));
    }
    assert!(
        done < (runs * records) as i64,
        "the kills came too late to test anything ({done} steps done)"
    );

    let last = cairn(&data, &plugins, &["recover"])
        .output()
        .expect("recover");
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let counts: Value = serde_json::from_slice(&last.stdout).expect("json");
    assert_eq!(counts, json!({"completed": runs}));

    let run_ids = observer
        .reading(|c| c.run_ids_in(&[cairn::run::RunStatus::Completed]))
        .expect("runs");
    assert_eq!(run_ids.len(), runs);
    let mut recovered_attempts = 0;
    for run_id in &run_ids {
        let events = observer
            .reading(|c| c.get_events(run_id, 0))
            .expect("events");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "run {run_id}: gaps in its event log"
        );
        let steps = observer.reading(|c| c.get_steps(run_id)).expect("steps");
        assert_eq!(steps.len(), records, "run {run_id}: steps lost or added");
        for step in &steps {
            assert_eq!(step.status, StepStatus::Completed, "{}", step.name);
            let completions: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    e.kind().as_str() == "step_completed" && e.data()["step"] == step.name
                })
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                completions.len(),
                1,
                "run {run_id} step {}: completed {} times",
                step.name,
                completions.len()
            );
            let started_after = events[completions[0]..]
                .iter()
                .any(|e| e.kind().as_str() == "step_started" && e.data()["step"] == step.name);
            assert!(
                !started_after,
                "run {run_id} step {} ran again after it completed",
                step.name
            );
            if step.construct.is_some() {
                continue;
            }
            let output = step.output.as_ref().expect("output");
            assert_eq!(
                output["key"],
                format!("{run_id}/{}", step.name),
                "the idempotency key is stable"
            );
            assert_eq!(
                output["attempt"], step.attempts,
                "the output is from the last attempt"
            );
        }
        recovered_attempts += events
            .iter()
            .filter(|e| e.kind().as_str() == "step_started" && e.data()["recovered"] == true)
            .count();
    }
    assert!(
        recovered_attempts > 0,
        "no step was interrupted by a kill and run again"
    );
}
