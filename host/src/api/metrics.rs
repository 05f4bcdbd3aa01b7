//! `GET /metrics`: Prometheus text. Runs by status are read from the database at
//! scrape time; step durations, sandbox faults and HTTP latency are recorded as
//! they happen (through the `metrics` facade, so the runner knows nothing of
//! Prometheus).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::error::ApiError;
use crate::run::RunStatus;

/// Histogram buckets in seconds, from a fast step to a slow request.
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0,
];

/// How often the recorder's upkeep runs, scraped or not.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the process-wide recorder; `None` if one is installed already.
/// The recorder is global: one per process, however many servers it runs
/// (tests run several).
///
/// The recorder keeps each value a histogram is given (a step's duration,
/// a request's latency) until its upkeep sorts it into the buckets, which
/// a scrape also does. A thread of its own runs the upkeep every
/// [`UPKEEP_EVERY`], so that a host nobody scrapes does not keep every
/// value it ever recorded: 16 bytes each, about 1 GiB an hour at the
/// durable steps/s `bench peers` measures.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            let handle = builder.install_recorder().ok()?;
            let upkept = handle.clone();
            let upkeep = std::thread::Builder::new()
                .name("cairn-metrics".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkept.run_upkeep();
                    }
                });
            if let Err(e) = upkeep {
                tracing::warn!("no metrics upkeep thread ({e}): histograms grow until scraped");
            }
            Some(handle)
        })
        .clone()
}

/// Prometheus metrics: runs by status, step durations, sandbox faults by kind,
/// HTTP latency, decisions and cancels committed (by whether the run's steps
/// were the copy its driver kept), and on PostgreSQL the transactions this
/// host ran.
#[utoipa::path(operation_id = "metrics", get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format",
        content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(handle) = &state.metrics else {
        return Err(ApiError::NotFound);
    };
    let counts = state.host.runner.run_counts().map_err(ApiError::from)?;
    for status in RunStatus::ALL {
        let count = counts
            .iter()
            .find(|(name, _)| name == status.as_str())
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("cairn_runs", "status" => status.as_str()).set(count as f64);
    }
    if let Some(transactions) = state.host.runner.database_transactions() {
        metrics::counter!("cairn_database_transactions_total").absolute(transactions);
    }
    handle.run_upkeep();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

/// Records each request's latency by method, route and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("cairn_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Set in the process the test starts for itself.
    const ALONE: &str = "CAIRN_TEST_METRICS_ALONE";

    /// The resident memory of this process, in KiB.
    fn resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// A host nobody scrapes keeps the values its histograms were given only
    /// until its upkeep: recording 3 million in bursts a second apart (48 MB
    /// of them, were they all held) leaves about one burst's resident. Run
    /// in a process of its own, so that the memory measured is this test's
    /// alone.
    #[test]
    fn a_host_nobody_scrapes_does_not_keep_every_value_it_recorded() {
        if std::env::var_os(ALONE).is_none() {
            let name =
                "api::metrics::tests::a_host_nobody_scrapes_does_not_keep_every_value_it_recorded";
            let alone = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", name, "--test-threads", "1"])
                .env(ALONE, "1")
                .output()
                .expect("the test in a process of its own");
            let report = String::from_utf8_lossy(&alone.stdout);
            // Passed, and ran: a name that matched nothing would pass too.
            assert!(
                alone.status.success() && report.contains("test result: ok. 1 passed"),
                "{report}{}",
                String::from_utf8_lossy(&alone.stderr)
            );
            return;
        }
        let _handle = install().expect("the recorder");
        let before = resident_kib();
        for _ in 0..6 {
            for _ in 0..500_000 {
                metrics::histogram!("cairn_test_upkeep_seconds").record(0.0002);
            }
            std::thread::sleep(UPKEEP_EVERY + Duration::from_millis(300));
        }
        let grown = resident_kib().saturating_sub(before);
        assert!(grown < 24 * 1024, "grew by {grown} KiB");
    }
}
