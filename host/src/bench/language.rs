//! `cairn bench language`: a `map` over noop items against the same noops
//! as separate runs, and whether a step costs the same at the end of a long
//! run (a long list, a large map) as at its start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::host::Host;
use crate::run::{RunEvent, RunStatus};
use crate::store::WorkflowStatus;

const TENANT: &str = "bench";

/// Figures of the language's constructs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LanguageFigures {
    pub items: usize,
    pub concurrency: usize,
    /// One run with a `map` over `items` noop items.
    pub map_seconds: f64,
    pub map_items_per_second: f64,
    /// `items` one-step noop runs, started at once.
    pub runs_seconds: f64,
    pub runs_per_second: f64,
    /// Steps per second over the first and the last tenth of a run of
    /// `long_steps` noop steps in a row.
    pub long_steps: usize,
    pub long_first_per_second: f64,
    pub long_last_per_second: f64,
    /// The same over a map of `long_steps` items.
    pub wide_first_per_second: f64,
    pub wide_last_per_second: f64,
}

pub async fn language(
    host: &Host,
    items: usize,
    concurrency: usize,
    long_steps: usize,
) -> anyhow::Result<LanguageFigures> {
    let noop = |name: String| json!({ "name": name, "type": "noop" });
    let map = |count: usize| {
        json!({"name": format!("map-{count}"), "steps": [
            {"name": "each", "map": {"items": "{{ input.items }}", "concurrency": concurrency,
                                     "steps": [noop("step".into())]}}
        ]})
    };
    let list: Vec<Value> = (0..items)
        .collect::<Vec<_>>()
        .into_iter()
        .map(Value::from)
        .collect();

    let started = Instant::now();
    let run = run_once(host, map(items), json!({ "items": list })).await?;
    let map_seconds = started.elapsed().as_secs_f64();
    let _ = run;

    let single = workflow(
        host,
        json!({"name": "single", "steps": [noop("step".into())]}),
    )
    .await?;
    let started = Instant::now();
    let starts: Vec<_> = (0..items)
        .map(|i| {
            let (runner, id) = (host.runner.clone(), single.clone());
            tokio::spawn(async move { runner.start_run(TENANT, &id, json!({ "i": i })).await })
        })
        .collect();
    let mut ids = Vec::with_capacity(items);
    for start in starts {
        ids.push(start.await??.id);
    }
    for id in &ids {
        settle(host, id).await?;
    }
    let runs_seconds = started.elapsed().as_secs_f64();

    let steps: Vec<Value> = (0..long_steps).map(|i| noop(format!("s{i}"))).collect();
    let long = run_once(host, json!({"name": "long", "steps": steps}), json!({})).await?;
    let (long_first, long_last) = rates(host, &long, long_steps)?;
    let wide_list: Vec<Value> = (0..long_steps).map(Value::from).collect();
    let wide = run_once(host, map(long_steps), json!({ "items": wide_list })).await?;
    let (wide_first, wide_last) = rates(host, &wide, long_steps)?;

    Ok(LanguageFigures {
        items,
        concurrency,
        map_seconds,
        map_items_per_second: items as f64 / map_seconds,
        runs_seconds,
        runs_per_second: items as f64 / runs_seconds,
        long_steps,
        long_first_per_second: long_first,
        long_last_per_second: long_last,
        wide_first_per_second: wide_first,
        wide_last_per_second: wide_last,
    })
}

async fn workflow(host: &Host, definition: Value) -> anyhow::Result<String> {
    Ok(host
        .runner
        .create_workflow(TENANT, definition, WorkflowStatus::Active)
        .await?
        .id)
}

/// Waits for run `id` to end, reading only its row at each change (a
/// client reading the whole run at every step would be measured instead).
async fn settle(host: &Host, id: &str) -> anyhow::Result<()> {
    let mut changes = host.runner.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    loop {
        let status = host.runner.run_status(Some(TENANT), id)?;
        if status.is_terminal() {
            anyhow::ensure!(status == RunStatus::Completed, "run {id} ended {status}");
            return Ok(());
        }
        loop {
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                Err(_) => anyhow::bail!("run {id} did not end within an hour"),
                Ok(Ok(changed)) if changed.run != id => continue,
                Ok(_) => break,
            }
        }
    }
}

/// Runs `definition` once with `input`, to its end; its run id.
async fn run_once(host: &Host, definition: Value, input: Value) -> anyhow::Result<String> {
    let id = workflow(host, definition).await?;
    let run = host.runner.start_run(TENANT, &id, input).await?;
    settle(host, &run.id).await?;
    Ok(run.id)
}

/// Plugin steps completed per second over the first and the last tenth of
/// the run's `steps` plugin steps, from its log.
fn rates(host: &Host, run_id: &str, steps: usize) -> anyhow::Result<(f64, f64)> {
    let events = host.runner.events(Some(TENANT), run_id, 0)?;
    let times: Vec<i64> = events
        .iter()
        .filter(|e| matches!(&e.event, RunEvent::StepCompleted { attempt, step, .. } if *attempt > 0 && step != "each"))
        .map(|e| e.at)
        .collect();
    anyhow::ensure!(
        times.len() >= steps,
        "{} steps completed of {steps}",
        times.len()
    );
    let tenth = (steps / 10).max(2);
    let rate = |window: &[i64]| {
        let span = (window[window.len() - 1] - window[0]).max(1) as f64 / 1000.0;
        (window.len() - 1) as f64 / span
    };
    Ok((rate(&times[..tenth]), rate(&times[times.len() - tenth..])))
}
