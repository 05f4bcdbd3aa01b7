//! Workflow routes: create, list, get, new version, activate, archive.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Path, Tenant};
use crate::clock::timestamp;
use crate::run::RunStatus;
use crate::runner::ScheduleView;
use crate::runner::{WorkflowRecord, WorkflowStatus};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflow {
    /// The workflow definition: `name`, `steps`, and optionally `concurrency`
    /// and `paused_lifetime` (see the README).
    #[schema(value_type = Object)]
    definition: Value,
    /// `draft` (the default) or `active`.
    #[serde(default)]
    status: NewStatus,
}

/// The status a workflow is created in.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NewStatus {
    #[default]
    Draft,
    Active,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflow {
    #[schema(value_type = Object)]
    definition: Value,
}

/// A workflow: its latest version, and (when one is asked for) its definition
/// and recent runs.
#[derive(Serialize, ToSchema)]
pub struct WorkflowBody {
    id: String,
    name: String,
    status: WorkflowStatus,
    version: i64,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<Value>,
    /// The ten newest runs (on `GET /v1/workflows/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    recent_runs: Option<Vec<RecentRun>>,
}

#[derive(Serialize, ToSchema)]
pub struct RecentRun {
    id: String,
    status: RunStatus,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    workflows: Vec<WorkflowBody>,
}

fn workflow_json(workflow: &WorkflowRecord, definition: Option<Value>) -> WorkflowBody {
    WorkflowBody {
        id: workflow.id.clone(),
        name: workflow.name.clone(),
        status: workflow.status,
        version: workflow.version,
        created_at: timestamp(workflow.created_at),
        updated_at: timestamp(workflow.updated_at),
        definition,
        recent_runs: None,
    }
}

/// Create a workflow, validated against the step types' schemas.
#[utoipa::path(operation_id = "createWorkflow", post, path = "/v1/workflows", tag = "workflows",
    request_body = CreateWorkflow,
    responses(
        (status = 201, description = "Created", body = WorkflowBody),
        (status = 422, description = "The definition is invalid; `errors` lists every problem"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: ApiJson<CreateWorkflow>,
) -> Result<(StatusCode, Json<WorkflowBody>), ApiError> {
    let CreateWorkflow { definition, status } = body.value;
    let status = match status {
        NewStatus::Draft => WorkflowStatus::Draft,
        NewStatus::Active => WorkflowStatus::Active,
    };
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

/// The tenant's workflows.
#[utoipa::path(operation_id = "listWorkflows", get, path = "/v1/workflows", tag = "workflows",
    responses((status = 200, description = "The tenant's workflows", body = WorkflowList)))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<WorkflowList>, ApiError> {
    let workflows = state.host.runner.list_workflows(&tenant)?;
    Ok(Json(WorkflowList {
        workflows: workflows.iter().map(|w| workflow_json(w, None)).collect(),
    }))
}

/// One workflow with its definition and recent runs.
#[utoipa::path(operation_id = "getWorkflow", get, path = "/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    let (workflow, definition) = state.host.runner.get_workflow(&tenant, &id)?;
    let recent = state
        .host
        .runner
        .list_runs(&tenant, Some(&id), None, None, 10)?;
    let mut body = workflow_json(&workflow, Some(definition));
    body.recent_runs = Some(
        recent
            .into_iter()
            .map(|run| RecentRun {
                id: run.id,
                status: run.status,
                created_at: run.created_at,
            })
            .collect(),
    );
    Ok(Json(body))
}

/// A new version of the workflow's definition; running runs keep theirs.
#[utoipa::path(operation_id = "updateWorkflow", put, path = "/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    request_body = UpdateWorkflow,
    responses(
        (status = 200, description = "The new version", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
        (status = 422, description = "The definition is invalid; `errors` lists every problem"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: ApiJson<UpdateWorkflow>,
) -> Result<Json<WorkflowBody>, ApiError> {
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
) -> Result<Json<WorkflowBody>, ApiError> {
    let workflow = state
        .host
        .runner
        .set_workflow_status(&tenant, &id, status)
        .await?;
    Ok(Json(workflow_json(&workflow, None)))
}

/// Let the workflow start runs.
#[utoipa::path(operation_id = "activateWorkflow", post, path = "/v1/workflows/{id}/activate", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The workflow, now active", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn activate(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    set_status(state, tenant, id, WorkflowStatus::Active).await
}

/// Stop the workflow from starting runs; its runs carry on.
#[utoipa::path(operation_id = "archiveWorkflow", post, path = "/v1/workflows/{id}/archive", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The workflow, now archived", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn archive(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    set_status(state, tenant, id, WorkflowStatus::Archived).await
}

/// The workflow's cron schedule: its next five slots and what its latest
/// slots did.
#[utoipa::path(get, operation_id = "getSchedule", path = "/v1/workflows/{id}/schedule", tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(state.host.runner.schedule(&tenant, &id)?))
}

/// Stop the schedule from starting runs.
#[utoipa::path(post, operation_id = "pauseSchedule", path = "/v1/workflows/{id}/schedule/pause", tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The schedule, paused", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn pause_schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(
        state
            .host
            .runner
            .set_schedule_paused(&tenant, &id, true)
            .await?,
    ))
}

/// Start the schedule again, from its next slot after now.
#[utoipa::path(post, operation_id = "resumeSchedule", path = "/v1/workflows/{id}/schedule/resume", tag = "schedules",
    params(("id" = String, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The schedule, running", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn resume_schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json(
        state
            .host
            .runner
            .set_schedule_paused(&tenant, &id, false)
            .await?,
    ))
}
