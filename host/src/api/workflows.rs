//! Workflow routes: create, list, get, new version, activate, archive.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Tenant};
use crate::runner::view::timestamp;
use crate::store::{WorkflowRecord, WorkflowStatus};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflow {
    definition: Value,
    #[serde(default = "draft")]
    status: WorkflowStatus,
}

fn draft() -> WorkflowStatus {
    WorkflowStatus::Draft
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflow {
    definition: Value,
}

fn workflow_json(workflow: &WorkflowRecord, definition: Option<Value>) -> Value {
    let mut body = json!({
        "id": workflow.id,
        "name": workflow.name,
        "status": workflow.status,
        "version": workflow.version,
        "created_at": timestamp(workflow.created_at),
        "updated_at": timestamp(workflow.updated_at),
    });
    if let Some(definition) = definition {
        body["definition"] = definition;
    }
    body
}

pub async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: ApiJson<CreateWorkflow>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let CreateWorkflow { definition, status } = body.value;
    if status == WorkflowStatus::Archived {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "a new workflow is draft or active",
        ));
    }
    let workflow = state
        .host
        .runner
        .create_workflow(&tenant, definition.clone(), status)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(workflow_json(&workflow, Some(definition))),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, ApiError> {
    let workflows = state.host.runner.list_workflows(&tenant)?;
    Ok(Json(
        json!({ "workflows": workflows.iter().map(|w| workflow_json(w, None)).collect::<Vec<_>>() }),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (workflow, definition) = state.host.runner.get_workflow(&tenant, &id)?;
    let recent = state
        .host
        .runner
        .list_runs(&tenant, Some(&id), None, None, 10)?;
    let mut body = workflow_json(&workflow, Some(definition));
    body["recent_runs"] =
        json!(recent
        .iter()
        .map(|run| json!({ "id": run.id, "status": run.status, "created_at": run.created_at }))
        .collect::<Vec<_>>());
    Ok(Json(body))
}

pub async fn update(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: ApiJson<UpdateWorkflow>,
) -> Result<Json<Value>, ApiError> {
    let definition = body.value.definition;
    let workflow = state
        .host
        .runner
        .update_workflow(&tenant, &id, definition.clone())
        .await?;
    Ok(Json(workflow_json(&workflow, Some(definition))))
}

async fn set_status(
    state: AppState,
    tenant: String,
    id: String,
    status: WorkflowStatus,
) -> Result<Json<Value>, ApiError> {
    let workflow = state
        .host
        .runner
        .set_workflow_status(&tenant, &id, status)
        .await?;
    Ok(Json(workflow_json(&workflow, None)))
}

pub async fn activate(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(state, tenant, id, WorkflowStatus::Active).await
}

pub async fn archive(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(state, tenant, id, WorkflowStatus::Archived).await
}
