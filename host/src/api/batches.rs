//! Batch routes: one run of a workflow per input, watched and cancelled as one.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Caller, Path, Tenant, bad_query, idempotency};
use super::runs::{decode_cursor, encode_cursor};
use crate::runner::{Actor, BatchView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBatch {
    /// One run's `input` per item: 1 to 10,000 of them.
    #[schema(min_items = 1, max_items = 10000)]
    inputs: Vec<Value>,
}

/// Start one run of the workflow per input: all of them, or none.
#[utoipa::path(operation_id = "startBatch", post, path = "/v1/workflows/{id}/batches", tag = "batches",
    params(("id" = String, Path, description = "Workflow id, or its name"),
        ("Idempotency-Key" = Option<String>, Header,
         description = "Starts the batch at most once: the same key with the same body answers the same batch")),
    request_body = StartBatch,
    responses(
        (status = 201, description = "Started", body = BatchView),
        (status = 200, description = "Started before with this Idempotency-Key and body", body = BatchView),
        (status = 404, description = "No such workflow for this tenant"),
        (status = 409, description = "The workflow's concurrency policy allows one run at a time"),
        (status = 422, description = "The workflow is not active, no inputs (or too many), or the Idempotency-Key was used with another body"),
        (status = 429, description = "The runs would exceed the tenant's quota of unfinished runs"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StartBatch>,
) -> Result<(StatusCode, Json<BatchView>), ApiError> {
    let idempotency = idempotency(&headers, &body.raw)?;
    let (batch, created) = state
        .host
        .runner
        .start_batch(&tenant, &workflow_id, body.value.inputs, idempotency)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(batch)))
}

/// A batch: status, progress and its runs.
#[utoipa::path(operation_id = "getBatch", get, path = "/v1/batches/{id}", tag = "batches",
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 404, description = "No such batch for this tenant"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<BatchView>, ApiError> {
    Ok(Json(state.host.runner.get_batch(&tenant, &id)?))
}

/// Cancel the batch's unfinished runs, all in one transaction.
#[utoipa::path(operation_id = "cancelBatch", post, path = "/v1/batches/{id}/cancel", tag = "batches",
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "The batch, cancelled", body = BatchView),
        (status = 404, description = "No such batch for this tenant"),
        (status = 409, description = "Every run of the batch has ended already"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(holder): Caller,
    Path(id): Path<String>,
) -> Result<Json<BatchView>, ApiError> {
    let (tenant, actor) = (holder.tenant, Actor::api(&holder.name));
    Ok(Json(
        state.host.runner.cancel_batch(&tenant, &id, actor).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchesQuery {
    /// Only this workflow's batches.
    workflow_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(3[0-9]|[46][1-6]){8}2[dD]((3[0-9]|[46][1-6]){4}2[dD]){3}(3[0-9]|[46][1-6]){12}$"
    )]
    cursor: Option<String>,
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchList {
    /// Newest first, each with its progress.
    batches: Vec<BatchView>,
    /// Where the next page starts; absent on the last page.
    next_cursor: Option<String>,
}

/// The tenant's batches, newest first, a page at a time.
#[utoipa::path(operation_id = "listBatches", get, path = "/v1/batches", tag = "batches", params(BatchesQuery),
    responses(
        (status = 200, description = "A page of batches", body = BatchList),
        (status = 400, description = "A bad cursor or limit"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<BatchesQuery>, QueryRejection>,
) -> Result<Json<BatchList>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad_query("limit must be from 1 to 100"));
    }
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let batches = state.host.runner.list_batches(
        &tenant,
        query.workflow_id.as_deref(),
        before.as_deref(),
        limit,
    )?;
    let next_cursor = (batches.len() == limit)
        .then(|| batches.last().map(|batch| encode_cursor(&batch.id)))
        .flatten();
    Ok(Json(BatchList {
        batches,
        next_cursor,
    }))
}
