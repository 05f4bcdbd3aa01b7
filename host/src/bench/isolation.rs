//! `cairn bench isolation`: how fast the API answers while tenants' steps burn
//! every core. `busy` runs each hold one step that loops in its sandbox until
//! its timeout; meanwhile one client, on a thread and runtime of its own (as a
//! separate process would be), reads a run's status back to back. Figures: the
//! read latency with the machine idle, then with the steps looping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;

use super::http::{Client, create, percentile, read_back_to_back, serve, start, wait_for};
use crate::host::Host;

#[derive(Debug, Clone, serde::Serialize)]
pub struct IsolationFigures {
    pub busy_steps: usize,
    pub seconds: f64,
    pub idle: Latency,
    pub busy: Latency,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub reads: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// A step that loops in its sandbox until its timeout stops it.
fn spinning_workflow() -> serde_json::Value {
    let forever =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    json!({"name": "spin", "steps": [
        {"name": "spin", "type": "transform", "timeout": "120s",
         "config": {"template": {"never": forever}}}
    ]})
}

/// Reads `path` back to back for `duration` from a thread of its own.
fn read_from_another_thread(
    address: SocketAddr,
    key: String,
    path: String,
    duration: Duration,
) -> std::thread::JoinHandle<anyhow::Result<Vec<Duration>>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(read_back_to_back(address, &key, 1, duration, &path))
    })
}

async fn measure(
    address: SocketAddr,
    key: &str,
    path: &str,
    duration: Duration,
) -> anyhow::Result<Latency> {
    let reader = read_from_another_thread(address, key.to_owned(), path.to_owned(), duration);
    let latencies = tokio::task::spawn_blocking(move || reader.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the reading thread panicked"))??;
    Ok(Latency {
        reads: latencies.len(),
        p50_us: percentile(&latencies, 0.5),
        p99_us: percentile(&latencies, 0.99),
        max_us: percentile(&latencies, 1.0),
    })
}

pub async fn isolation(
    host: Arc<Host>,
    busy_steps: usize,
    duration: Duration,
) -> anyhow::Result<IsolationFigures> {
    let server = serve(&host).await?;
    let (address, key) = (server.address, server.key.clone());
    let mut setup = Client::connect(address, &key).await?;
    let gated = create(
        &mut setup,
        json!({"name": "gated", "steps": [
            {"name": "review", "type": "noop", "approval": {"message": "Go on?"}}
        ]}),
    )
    .await?;
    let watched = start(&mut setup, &gated).await?;
    wait_for(&mut setup, &watched, |r| r["status"] == "paused").await?;
    let path = format!("/v1/runs/{watched}");
    let idle = measure(address, &key, &path, duration).await?;

    let spin = create(&mut setup, spinning_workflow()).await?;
    let mut spinning = Vec::with_capacity(busy_steps);
    for _ in 0..busy_steps {
        spinning.push(start(&mut setup, &spin).await?);
    }
    for run in &spinning {
        wait_for(&mut setup, run, |r| r["status"] == "running").await?;
    }
    // Every step has its sandbox: the attempts are under way.
    let began = Instant::now();
    let busy = measure(address, &key, &path, duration).await?;
    let busy_for = began.elapsed();
    for run in &spinning {
        setup
            .json(
                Method::POST,
                &format!("/v1/runs/{run}/cancel"),
                None,
                StatusCode::OK,
            )
            .await?;
    }
    anyhow::ensure!(
        busy_for < Duration::from_secs(100),
        "the busy phase outlasted the steps' timeout"
    );
    Ok(IsolationFigures {
        busy_steps,
        seconds: duration.as_secs_f64(),
        idle,
        busy,
    })
}
