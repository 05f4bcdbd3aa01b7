//! `cairn bench`: how fast a fresh sandbox runs the `noop` step (`engine`),
//! durable runs (`runs`), the HTTP API (`http`), and the API while steps
//! burn every core (`isolation`).
//!
//! Prints figures; nothing here asserts a speed.

pub mod cluster;
pub mod http;
pub mod isolation;
pub mod language;
pub mod peers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::{Call, Engine, Invocation, Plugin, SandboxLimits, StepOutcome};
use crate::run::{RunEvent, Trigger};

/// Figures from one benchmark run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineFigures {
    pub samples: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub workers: usize,
    pub throughput_seconds: f64,
    pub calls: u64,
    pub calls_per_second: f64,
}

/// Measures instantiate + call latency (sequentially, `samples` times after a
/// warm-up) and throughput (`workers` tasks calling for `duration`).
pub async fn engine(
    engine: Arc<Engine>,
    plugin: Arc<Plugin>,
    samples: usize,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<EngineFigures> {
    let invocation = Invocation::first("bench", "noop", json!({}), json!({"n": 1}));
    let limits = SandboxLimits::default();

    for _ in 0..samples.min(1000) {
        call(&engine, &plugin, &invocation, &limits).await?;
    }
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        call(&engine, &plugin, &invocation, &limits).await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let mean_us = latencies.iter().map(Duration::as_secs_f64).sum::<f64>()
        / latencies.len().max(1) as f64
        * 1e6;

    let calls = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (engine, plugin, invocation, calls) = (
            Arc::clone(&engine),
            Arc::clone(&plugin),
            invocation.clone(),
            Arc::clone(&calls),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                call(&engine, &plugin, &invocation, &limits).await?;
                calls.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = calls.load(Ordering::Relaxed);
    Ok(EngineFigures {
        samples,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        mean_us,
        workers,
        throughput_seconds: elapsed,
        calls,
        calls_per_second: calls as f64 / elapsed,
    })
}

async fn call(
    engine: &Engine,
    plugin: &Plugin,
    invocation: &Invocation,
    limits: &SandboxLimits,
) -> anyhow::Result<()> {
    let report = engine
        .run(plugin, invocation, &Call::Run, limits, None)
        .await;
    match report.outcome {
        StepOutcome::Complete { output } if output == invocation.input => Ok(()),
        other => anyhow::bail!("noop did not echo its input: {other:?}"),
    }
}

/// Figures of durable runs on one database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunFigures {
    pub synchronous: String,
    pub runs: usize,
    pub steps_per_run: usize,
    pub seconds: f64,
    pub durable_steps_per_second: f64,
    pub step_to_step_p50_us: f64,
    pub step_to_step_p99_us: f64,
    pub sequential_40_steps_ms: f64,
}

fn noop_workflow(name: &str, steps: usize, gate: bool) -> serde_json::Value {
    let mut steps: Vec<serde_json::Value> = (0..steps)
        .map(|i| json!({ "name": format!("s{i}"), "type": "noop" }))
        .collect();
    if gate {
        steps.push(json!({ "name": "review", "type": "review" }));
    }
    json!({ "name": name, "steps": steps })
}

/// `runs` concurrent runs of `steps` noop steps each, then sequential runs of
/// 40 steps one at a time for the step-to-step latency.
pub async fn runs(
    host: &crate::host::Host,
    synchronous: &str,
    runs: usize,
    steps: usize,
) -> anyhow::Result<RunFigures> {
    use crate::runner::RunView;
    use crate::store::WorkflowStatus;
    const TENANT: &str = "bench";
    let runner = &host.runner;
    let wide = runner
        .create_workflow(
            TENANT,
            noop_workflow("wide", steps, false),
            WorkflowStatus::Active,
        )
        .await?;
    let started = Instant::now();
    let starts: Vec<_> = (0..runs)
        .map(|i| {
            let (runner, workflow) = (runner.clone(), wide.id.clone());
            tokio::spawn(
                async move { runner.start_run(TENANT, &workflow, json!({ "i": i })).await },
            )
        })
        .collect();
    let mut ids = Vec::with_capacity(runs);
    for start in starts {
        ids.push(start.await??.id);
    }
    for id in &ids {
        let view = runner
            .wait_until_state(Some(TENANT), id, Duration::from_secs(600), |status, _| {
                status.is_terminal()
            })
            .await?;
        anyhow::ensure!(
            view.status == crate::run::RunStatus::Completed,
            "run {id} ended {}",
            view.status
        );
    }
    let seconds = started.elapsed().as_secs_f64();

    let long = runner
        .create_workflow(
            TENANT,
            noop_workflow("long", 40, false),
            WorkflowStatus::Active,
        )
        .await?;
    let mut gaps = Vec::new();
    let mut end_to_end = Vec::new();
    for i in 0..20 {
        let mut changes = runner.subscribe();
        let began = Instant::now();
        let run = runner
            .start_run(TENANT, &long.id, json!({ "i": i }))
            .await?;
        let mut last = began;
        let mut completed = 0;
        loop {
            let changed = changes.recv().await?;
            if changed.run != run.id {
                continue;
            }
            let view: RunView = runner.get_run(Some(TENANT), &run.id)?;
            // Time from one step's completion being durable to the next one's.
            let now = Instant::now();
            let newly = view.progress.steps_completed - completed;
            if newly > 0 {
                completed = view.progress.steps_completed;
                let gap = (now - last) / newly as u32;
                gaps.extend(std::iter::repeat_n(gap, newly as usize));
                last = now;
            }
            if view.status.is_terminal() {
                break;
            }
        }
        end_to_end.push(began.elapsed());
    }
    gaps.sort();
    end_to_end.sort();
    let pick = |list: &[Duration], p: f64| {
        list.get(((list.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    Ok(RunFigures {
        synchronous: synchronous.to_owned(),
        runs,
        steps_per_run: steps,
        seconds,
        durable_steps_per_second: (runs * steps) as f64 / seconds,
        step_to_step_p50_us: pick(&gaps, 0.5) * 1e6,
        step_to_step_p99_us: pick(&gaps, 0.99) * 1e6,
        sequential_40_steps_ms: pick(&end_to_end, 0.5) * 1e3,
    })
}

/// Starts `count` runs that pause at a review step and returns the host's
/// resident memory once they all have.
pub async fn paused(host: &crate::host::Host, count: usize) -> anyhow::Result<(usize, f64, u64)> {
    use crate::store::WorkflowStatus;
    const TENANT: &str = "bench";
    let runner = &host.runner;
    let gated = runner
        .create_workflow(
            TENANT,
            noop_workflow("gated", 1, true),
            WorkflowStatus::Active,
        )
        .await?;
    let started = Instant::now();
    let mut last = String::new();
    let mut pending = Vec::with_capacity(1024);
    for i in 0..count {
        pending.push(
            runner
                .start_run(TENANT, &gated.id, json!({ "i": i }))
                .await?
                .id,
        );
        if pending.len() == 1024 || i + 1 == count {
            for id in pending.drain(..) {
                runner
                    .wait_until_state(Some(TENANT), &id, Duration::from_secs(600), |status, _| {
                        status.is_settled()
                    })
                    .await?;
                last = id;
            }
        }
    }
    let view = runner.get_run(Some(TENANT), &last)?;
    anyhow::ensure!(
        view.status == crate::run::RunStatus::Paused,
        "the last run is {}",
        view.status
    );
    Ok((count, started.elapsed().as_secs_f64(), resident_bytes()))
}

/// The process's resident set size (Linux), 0 where unknown.
pub fn resident_bytes() -> u64 {
    status_bytes(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "VmRSS:",
    )
}

/// The field `name` (`VmRSS:`, ...) of a `/proc/<pid>/status` file's
/// `status`, in bytes; 0 where it is not there.
pub(super) fn status_bytes(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Puts `count` finished one-step runs of `workflow_id` (the tenant's) into the
/// store, as long use leaves them: a run row, its step and three events each.
/// Written in transactions of 10,000 runs.
pub async fn finished_history(
    store: &crate::store::Store,
    tenant: &str,
    workflow_id: &str,
    count: usize,
) -> anyhow::Result<()> {
    use crate::run::{RunStatus, StepStatus};
    use crate::store::{EventRecord, RunRecord, StepRecord};
    const CHUNK: usize = 10_000;
    let mut written = 0;
    while written < count {
        let chunk = CHUNK.min(count - written);
        let (tenant, workflow_id) = (tenant.to_owned(), workflow_id.to_owned());
        store
            .transaction(move |tx| {
                let at = crate::clock::now_ms() - 86_400_000;
                for i in 0..chunk {
                    let id = uuid::Uuid::now_v7().to_string();
                    let output = json!({ "i": written + i });
                    let run = RunRecord {
                        id: id.clone(),
                        tenant: tenant.clone(),
                        workflow_id: workflow_id.clone(),
                        workflow_version: 1,
                        status: RunStatus::Completed,
                        input: json!({}).into(),
                        result: Some(output.clone()),
                        error: None,
                        pending_action: None,
                        paused_step: None,
                        pause_deadline: None,
                        wake_at: None,
                        current_action: None,
                        steps_total: 1,
                        steps_done: 1,
                        plugins: Default::default(),
                        last_seq: 4,
                        created_at: at,
                        updated_at: at,
                        trigger: Some(Trigger::Api),
                        number: 0,
                    };
                    let step = StepRecord {
                        status: StepStatus::Completed,
                        attempts: 1,
                        input: Some(json!({})),
                        output: Some(output.clone()),
                        started_at: Some(at),
                        finished_at: Some(at),
                        ..StepRecord::pending(&id, 0, "s".to_owned())
                    };
                    tx.insert_run(&run, &[step])?;
                    let events = [
                        RunEvent::Created {
                            workflow_version: 1,
                            input: json!({}),
                            trigger: Trigger::Api,
                        },
                        RunEvent::StepStarted {
                            step: "s".to_owned(),
                            attempt: 1,
                            recovered: false,
                        },
                        RunEvent::StepCompleted {
                            step: "s".to_owned(),
                            attempt: 1,
                            output: output.clone(),
                        },
                        RunEvent::Completed {
                            result: output.clone(),
                        },
                    ];
                    for (seq, event) in events.into_iter().enumerate() {
                        let event = EventRecord {
                            seq: seq as i64 + 1,
                            at,
                            event,
                        };
                        tx.append_event(&id, &event)?;
                    }
                }
                Ok(())
            })
            .await?;
        written += chunk;
    }
    Ok(())
}
