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

/// Installs the process-wide recorder; `None` if one is installed already.
/// The recorder is global: one per process, however many servers it runs
/// (tests run several).
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            builder.install_recorder().ok()
        })
        .clone()
}

/// Prometheus metrics: runs by status, step durations, sandbox faults by kind,
/// HTTP latency, and on PostgreSQL the transactions this host ran.
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
