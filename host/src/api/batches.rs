//! Batch routes: one run of a workflow per input, watched and cancelled as one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Tenant};
use crate::runner::{Actor, BatchView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBatch {
    /// One run's `input` per item.
    inputs: Vec<Value>,
}

/// `POST /v1/workflows/{id}/batches`: starts every run or none.
pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(workflow_id): Path<String>,
    body: ApiJson<StartBatch>,
) -> Result<(StatusCode, Json<BatchView>), ApiError> {
    let batch = state
        .host
        .runner
        .start_batch(&tenant, &workflow_id, body.value.inputs)
        .await?;
    Ok((StatusCode::CREATED, Json(batch)))
}

pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<BatchView>, ApiError> {
    Ok(Json(state.host.runner.get_batch(&tenant, &id)?))
}

/// `POST /v1/batches/{id}/cancel`: cancels the batch's unfinished runs.
pub async fn cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<BatchView>, ApiError> {
    let actor = Actor::api(&format!("api:{tenant}"));
    Ok(Json(
        state.host.runner.cancel_batch(&tenant, &id, actor).await?,
    ))
}
