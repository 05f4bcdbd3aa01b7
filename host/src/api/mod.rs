//! The HTTP control API (`/v1`): axum routes, tenant authentication, problem+json
//! errors, and the OpenAPI description generated from the same routes; and the
//! dashboard (`/`), pages over the same handlers. Knows nothing of SQL or
//! wasmtime: it speaks to the runner.

mod batches;
mod dashboard;
mod doc;
mod error;
mod extract;
mod keys;
mod links;
pub mod metrics;
mod plan_links;
mod plugins;
mod runs;
mod secrets;
mod workflows;

use std::sync::{Arc, OnceLock};

use axum::extract::DefaultBodyLimit;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use error::{ApiError, PROBLEM_TYPE_PREFIX};

use crate::host::Host;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub host: Arc<Host>,
    /// The Prometheus recorder's handle, when this process installed one.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Cancelled when the server starts to shut down: long-polls answer and
    /// event streams end, so that the graceful shutdown is not held open by
    /// the clients that follow runs (they reconnect to the next server).
    pub closing: tokio_util::sync::CancellationToken,
}

/// Request bodies above this are refused with 413 (plugin uploads have their
/// own limit).
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// The API's routes, each with its description.
fn routes(max_plugin_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<doc::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(health))
        .routes(
            routes!(plugins::list, plugins::upload).layer(DefaultBodyLimit::max(max_plugin_bytes)),
        )
        .routes(routes!(plugins::get, plugins::delete))
        .routes(routes!(workflows::list, workflows::create))
        .routes(routes!(workflows::get, workflows::update))
        .routes(routes!(workflows::versions))
        .routes(routes!(workflows::version))
        .routes(routes!(workflows::reject_plan))
        .routes(routes!(workflows::activate))
        .routes(routes!(workflows::archive))
        .routes(routes!(workflows::schedule))
        .routes(routes!(workflows::pause_schedule))
        .routes(routes!(workflows::resume_schedule))
        .routes(routes!(runs::start))
        .routes(routes!(batches::start))
        .routes(routes!(batches::list))
        .routes(routes!(batches::get))
        .routes(routes!(batches::cancel))
        .routes(routes!(runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::step))
        .routes(routes!(runs::events))
        .routes(routes!(runs::resume))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::approvals))
        .routes(
            routes!(links::show, links::decide)
                .layer(axum::middleware::map_response(links::harden)),
        )
        .routes(
            routes!(plan_links::show, plan_links::decide)
                .layer(axum::middleware::map_response(links::harden)),
        )
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(openapi_json))
        .route_layer(axum::middleware::from_fn(metrics::track))
        // Scrapes are not counted as API traffic.
        .routes(routes!(metrics::render))
}

/// The API's description, as served at `/v1/openapi.json`.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static OPENAPI: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    OPENAPI.get_or_init(|| doc::complete(routes(MAX_BODY_BYTES).split_for_parts().1))
}

/// The API's routes.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes(state.host.max_plugin_bytes).split_for_parts();
    router
        .merge(dashboard::routes())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` while the server answers.
    status: &'static str,
}

/// Liveness.
#[utoipa::path(operation_id = "health", get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server answers", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// This description of the API (OpenAPI 3.1).
#[utoipa::path(operation_id = "openapi", get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi())
}
