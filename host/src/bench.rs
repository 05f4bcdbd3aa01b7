//! `cairn bench engine`: how fast a fresh sandbox runs the `noop` step.
//!
//! Prints figures; nothing here asserts a speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::{Call, Engine, Invocation, Plugin, SandboxLimits, StepOutcome};

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
