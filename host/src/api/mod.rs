//! The HTTP control API (`/v1`): axum routes, tenant authentication, problem+json
//! errors. Knows nothing of SQL or wasmtime: it speaks to the runner.

mod batches;
mod error;
mod extract;
pub mod metrics;
mod plugins;
mod runs;
mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::{ApiError, PROBLEM_TYPE_PREFIX};

use crate::host::Host;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub host: Arc<Host>,
    /// The Prometheus recorder's handle, when this process installed one.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// The API's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/v1/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(state.host.max_plugin_bytes)),
        )
        .route(
            "/v1/plugins/{name}",
            get(plugins::get).delete(plugins::delete),
        )
        .route(
            "/v1/workflows",
            get(workflows::list).post(workflows::create),
        )
        .route(
            "/v1/workflows/{id}",
            get(workflows::get).put(workflows::update),
        )
        .route("/v1/workflows/{id}/activate", post(workflows::activate))
        .route("/v1/workflows/{id}/archive", post(workflows::archive))
        .route("/v1/workflows/{id}/runs", post(runs::start))
        .route("/v1/workflows/{id}/batches", post(batches::start))
        .route("/v1/batches/{id}", get(batches::get))
        .route("/v1/batches/{id}/cancel", post(batches::cancel))
        .route("/v1/runs", get(runs::list))
        .route("/v1/runs/{id}", get(runs::get))
        .route("/v1/runs/{id}/events", get(runs::events))
        .route("/v1/runs/{id}/resume", post(runs::resume))
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/approvals", get(runs::approvals))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .route("/metrics", get(metrics::render))
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
