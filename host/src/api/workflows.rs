//! Workflow routes: create, list, get, new version, activate, archive.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Caller, Path, Tenant};
use crate::clock::{now_ms, timestamp};
use crate::host::PlanFailure;
use crate::planner::{Goal, MAX_GOAL_BYTES, PlanError};
use crate::run::RunStatus;
use crate::runner::ScheduleView;
use crate::runner::{WorkflowRecord, WorkflowStatus, WorkflowSummary};
use crate::workflow::{
    PlanChannel, PlanDecision, PlanRecord, PlanReview, Problem, Schedule, ScheduleSpec,
    WebhookTarget, WorkflowDefinition, readable_steps,
};

/// The most reviewers a plan may be sent to.
const MAX_REVIEWERS: usize = 20;

/// A workflow from a definition, or from a goal that a planner turns into
/// one. Send `definition` (with `status`), or `goal` (with `schedule`,
/// `timezone` and `notify`), not both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflow {
    /// The workflow definition (the README's "Workflow definitions" and "The
    /// workflow language"); every problem in it is answered at once.
    #[schema(value_type = Option<WorkflowDefinition>)]
    #[serde(default)]
    definition: Option<Value>,
    /// `draft` (the default) or `active`; a planned workflow is always a draft.
    #[serde(default)]
    status: Option<NewStatus>,
    /// What the workflow should do, in words: the server's planner writes
    /// it, and it is saved as a draft for review.
    #[serde(default)]
    goal: Option<String>,
    /// With a goal: a cron schedule the workflow runs on once approved.
    #[serde(default)]
    schedule: Option<String>,
    /// With a schedule: the IANA zone it is read in (default UTC).
    #[serde(default)]
    timezone: Option<String>,
    /// With a goal: email addresses that review the plan (and the gates it
    /// gets). Default: the requesting key's name, if that is an email address.
    #[serde(default)]
    notify: Option<Vec<String>>,
    /// With a goal: webhooks told of the plan, each `{url, secret}` with
    /// `secret` a `${secret:NAME}` signing key, as in a definition's
    /// notifications; the body carries the plan and its approve and reject
    /// links.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    webhooks: Option<Vec<Value>>,
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
    #[schema(value_type = WorkflowDefinition)]
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
    /// The definition's `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Step entries in the definition, those inside constructs included.
    step_count: usize,
    /// The definition's schedule, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleSummary>,
    /// The newest run (in the list of workflows).
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_run: Option<RecentRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<WorkflowDefinition>)]
    definition: Option<Value>,
    /// The ten newest runs (on `GET /v1/workflows/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    recent_runs: Option<Vec<RecentRun>>,
    /// Where a planned workflow came from, and the decisions on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<PlanView>,
    /// What happens next (when a plan was just made).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// What the definition should still change, though it was accepted
    /// (on create and update): e.g. a step that publishes with no approval
    /// before it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Problem>,
}

/// A planned workflow's provenance and review.
#[derive(Serialize, ToSchema)]
pub struct PlanView {
    /// The goal as the owner wrote it.
    goal: String,
    /// The model that wrote the plan.
    model: String,
    /// Model calls it took.
    attempts: u32,
    created_at: String,
    /// Who reviews the plan.
    reviewers: Vec<String>,
    /// The latest version's review: `pending`, `approved` or `rejected`.
    state: PlanState,
    /// The latest version's steps, as a person reads them.
    steps: Vec<String>,
    /// Every decision on the plan, oldest first.
    decisions: Vec<PlanDecisionView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    Pending,
    Approved,
    Rejected,
}

/// One decision on one version of a plan.
#[derive(Serialize, ToSchema)]
pub struct PlanDecisionView {
    version: i64,
    decision: PlanDecision,
    /// A key's name, or the email address a link was sent to.
    reviewer: String,
    channel: PlanChannel,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    at: String,
}

fn plan_view(
    workflow: &WorkflowRecord,
    definition: &Value,
    plan: PlanRecord,
    reviews: Vec<PlanReview>,
) -> PlanView {
    let current = reviews.iter().rfind(|r| r.version == workflow.version);
    let state = match current.map(|r| r.decision) {
        Some(PlanDecision::Approve) => PlanState::Approved,
        Some(PlanDecision::Reject) => PlanState::Rejected,
        None => PlanState::Pending,
    };
    PlanView {
        goal: plan.goal,
        model: plan.model,
        attempts: plan.attempts,
        created_at: timestamp(plan.created_at),
        reviewers: plan.reviewers,
        state,
        steps: WorkflowDefinition::from_value(definition.clone())
            .map(|d| readable_steps(&d))
            .unwrap_or_default(),
        decisions: reviews
            .into_iter()
            .map(|r| PlanDecisionView {
                version: r.version,
                decision: r.decision,
                reviewer: r.reviewer,
                channel: r.channel,
                note: r.note,
                at: timestamp(r.at),
            })
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecentRun {
    id: String,
    /// Its place among the workflow's runs: #1, #2, ...
    number: i64,
    status: RunStatus,
    created_at: String,
}

/// A workflow's schedule, in brief (`GET /v1/workflows/{id}/schedule` has
/// the rest).
#[derive(Serialize, ToSchema)]
pub struct ScheduleSummary {
    cron: String,
    timezone: String,
    paused: bool,
    /// The next slot, while the workflow is active and the schedule runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_fire: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    workflows: Vec<WorkflowBody>,
}

/// The body of `workflow` at `definition`, which it shows in full when
/// `full`, in brief always.
fn workflow_json(workflow: &WorkflowRecord, definition: &Value, full: bool) -> WorkflowBody {
    let parsed = WorkflowDefinition::from_value(definition.clone()).ok();
    let parsed = parsed.as_ref();
    WorkflowBody {
        id: workflow.id.clone(),
        name: workflow.name.clone(),
        status: workflow.status,
        version: workflow.version,
        created_at: timestamp(workflow.created_at),
        updated_at: timestamp(workflow.updated_at),
        description: parsed
            .map(|d| d.description.clone())
            .filter(|d| !d.is_empty()),
        step_count: parsed.map_or(0, |d| d.all_steps().len()),
        schedule: parsed
            .and_then(|d| d.schedule.as_ref())
            .map(|s| ScheduleSummary {
                cron: s.cron.clone(),
                timezone: s.timezone.clone(),
                paused: s.paused,
                next_fire: None,
            }),
        latest_run: None,
        definition: full.then(|| definition.clone()),
        recent_runs: None,
        plan: None,
        message: None,
        warnings: Vec::new(),
    }
}

/// Create a workflow: from a definition, validated against the step types'
/// schemas; or from a goal, planned by the server's model, saved as a draft
/// and sent to its reviewers.
#[utoipa::path(operation_id = "createWorkflow", post, path = "/v1/workflows", tag = "workflows",
    request_body = CreateWorkflow,
    responses(
        (status = 201, description = "Created (a planned workflow as a draft, with its plan and what happens next)", body = WorkflowBody),
        (status = 422, description = "The definition is invalid (`errors` lists every problem); the goal, schedule or reviewers are invalid; no planner is configured; or the model's plan stayed invalid (`plan-invalid`, with its last problems)"),
        (status = 502, description = "The planner's model server failed or refused; nothing was stored"),
        (status = 504, description = "The planner's model server did not answer in time; nothing was stored"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: ApiJson<CreateWorkflow>,
) -> Result<(StatusCode, Json<WorkflowBody>), ApiError> {
    let mut request = body.value;
    let tenant = caller.tenant.clone();
    let definition = match (request.definition.take(), &request.goal) {
        (Some(definition), None) => definition,
        (None, Some(_)) => {
            return create_planned(&state, &caller.tenant, &caller.name, request).await;
        }
        _ => {
            return Err(ApiError::unprocessable(
                "invalid-request",
                "send a workflow `definition`, or a `goal` for the planner to write one, not both",
            ));
        }
    };
    if request.schedule.is_some()
        || request.timezone.is_some()
        || request.notify.is_some()
        || request.webhooks.is_some()
    {
        return Err(ApiError::unprocessable(
            "invalid-request",
            "`schedule`, `timezone`, `notify` and `webhooks` go with a `goal`; a definition \
             carries its own schedule and notifications",
        ));
    }
    let status = match request.status.unwrap_or_default() {
        NewStatus::Draft => WorkflowStatus::Draft,
        NewStatus::Active => WorkflowStatus::Active,
    };
    let workflow = state
        .host
        .runner
        .create_workflow(&tenant, definition.clone(), status)
        .await?;
    let mut body = workflow_json(&workflow, &definition, true);
    body.warnings = state.host.runner.definition_warnings(&tenant, &definition);
    Ok((StatusCode::CREATED, Json(body)))
}

/// A plan request's webhooks, each checked as a definition's webhook is.
fn plan_webhooks(
    state: &AppState,
    tenant: &str,
    hooks: Vec<Value>,
) -> Result<Vec<WebhookTarget>, ApiError> {
    if hooks.len() > MAX_REVIEWERS {
        return Err(ApiError::unprocessable(
            "invalid-goal",
            format!("at most {MAX_REVIEWERS} webhooks"),
        ));
    }
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (index, mut hook) in hooks.into_iter().enumerate() {
        if let Some(object) = hook.as_object_mut() {
            object
                .entry("events")
                .or_insert_with(|| serde_json::json!([]));
        }
        match serde_json::from_value::<WebhookTarget>(hook) {
            Ok(hook) => parsed.push(hook),
            Err(e) => problems.push(Problem {
                path: format!("/webhooks/{index}"),
                message: format!("a webhook is {{\"url\", \"secret\"}}: {e}"),
            }),
        }
    }
    problems.extend(
        state
            .host
            .runner
            .webhooks_problems(tenant, &parsed, "/webhooks")?,
    );
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::Unprocessable {
            kind: "invalid-goal",
            detail: "a webhook of the plan is not valid".into(),
            errors: problems,
        })
    }
}

/// The goal's half of [`create`]: checks what the owner sent, has the
/// planner write the plan, and answers with the stored draft.
async fn create_planned(
    state: &AppState,
    tenant: &str,
    key_name: &str,
    request: CreateWorkflow,
) -> Result<(StatusCode, Json<WorkflowBody>), ApiError> {
    let invalid = |detail: String| ApiError::unprocessable("invalid-goal", detail);
    let text = request.goal.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(invalid(
            "the goal is empty: say what the workflow should do".into(),
        ));
    }
    if text.len() > MAX_GOAL_BYTES {
        return Err(invalid(format!(
            "the goal is {} bytes; at most {MAX_GOAL_BYTES}",
            text.len()
        )));
    }
    if request.status.is_some() {
        return Err(invalid(
            "a planned workflow starts as a draft; it becomes active when its plan is approved"
                .into(),
        ));
    }
    let schedule = match (request.schedule, request.timezone) {
        (None, None) => None,
        (None, Some(_)) => return Err(invalid("`timezone` goes with a `schedule`".into())),
        (Some(cron), timezone) => {
            let spec: ScheduleSpec = serde_json::from_value(serde_json::json!({
                "cron": cron,
                "timezone": timezone.unwrap_or_else(|| "UTC".to_owned()),
            }))
            .map_err(|e| invalid(e.to_string()))?;
            if let Err(problems) = Schedule::parse(&spec) {
                return Err(ApiError::Unprocessable {
                    kind: "invalid-schedule",
                    detail: "the schedule is not valid".into(),
                    errors: problems
                        .into_iter()
                        .map(|mut p| {
                            p.path = p
                                .path
                                .replace("/schedule", "")
                                .replace("/cron", "/schedule");
                            p
                        })
                        .collect(),
                });
            }
            Some(spec)
        }
    };
    let is_email = |s: &str| s.parse::<lettre::Address>().is_ok();
    let reviewers = match request.notify {
        Some(list) => {
            if list.len() > MAX_REVIEWERS {
                return Err(invalid(format!(
                    "at most {MAX_REVIEWERS} reviewers in `notify`"
                )));
            }
            if let Some(bad) = list.iter().find(|a| !is_email(a)) {
                return Err(invalid(format!(
                    "'{bad}' in `notify` is not an email address"
                )));
            }
            list
        }
        None if is_email(key_name) => vec![key_name.to_owned()],
        None => Vec::new(),
    };
    let webhooks = plan_webhooks(state, tenant, request.webhooks.unwrap_or_default())?;
    let goal = Goal {
        text,
        schedule,
        reviewers,
        today: timestamp(now_ms()).chars().take(10).collect(),
    };
    let (workflow, plan, definition) = state
        .host
        .plan_workflow(tenant, goal, webhooks)
        .await
        .map_err(|failure| match failure {
            PlanFailure::NotConfigured => ApiError::unprocessable(
                "planner-not-configured",
                "this server has no planner: the operator sets `planner.base_url` and \
                     `planner.model` (see the README); send a `definition` instead",
            ),
            PlanFailure::Plan(PlanError::Invalid { problems, attempts }) => {
                ApiError::Unprocessable {
                    kind: "plan-invalid",
                    detail: format!(
                        "the model's plan still had {} problem(s) after {attempts} \
                             attempt(s); nothing was stored. Rephrase the goal, or write the \
                             definition yourself",
                        problems.len()
                    ),
                    errors: problems,
                }
            }
            PlanFailure::Plan(PlanError::Unavailable(detail)) => ApiError::BadGateway {
                kind: "planner-unavailable",
                detail: format!("{detail}; nothing was stored"),
            },
            PlanFailure::Plan(PlanError::TimedOut(detail)) => ApiError::GatewayTimeout {
                kind: "planner-timeout",
                detail: format!("{detail}; nothing was stored"),
            },
            PlanFailure::Run(error) => error.into(),
        })?;
    let scheduled = definition.get("schedule").is_some();
    let mut told = plan.reviewers.clone();
    told.extend(plan.webhooks.iter().map(|hook| hook.url.clone()));
    let message = match told.as_slice() {
        [] => format!(
            "This plan is a draft, and nobody was sent it. Review it, then activate it with POST \
             /v1/workflows/{id}/activate{starts}, or change it with PUT /v1/workflows/{id}.",
            id = workflow.id,
            starts = if scheduled {
                ", which starts its schedule"
            } else {
                ""
            },
        ),
        reviewers => format!(
            "This plan is a draft. It was sent to {} for review: an approve link activates \
             it{starts}; a reject link keeps it a draft with the reviewer's note. You may also \
             activate it with POST /v1/workflows/{id}/activate, or change it with PUT \
             /v1/workflows/{id}, which sends the new version for review.",
            reviewers.join(", "),
            id = workflow.id,
            starts = if scheduled {
                " and starts its schedule"
            } else {
                ""
            },
        ),
    };
    let mut body = workflow_json(&workflow, &definition, true);
    body.plan = Some(plan_view(&workflow, &definition, plan, Vec::new()));
    body.message = Some(message);
    Ok((StatusCode::CREATED, Json(body)))
}

/// The tenant's workflows.
#[utoipa::path(operation_id = "listWorkflows", get, path = "/v1/workflows", tag = "workflows",
    responses((status = 200, description = "The tenant's workflows", body = WorkflowList)))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<WorkflowList>, ApiError> {
    let workflows = state.host.runner.list_workflows(&tenant)?;
    let body = |summary: WorkflowSummary| {
        let mut body = workflow_json(&summary.workflow, &summary.definition, false);
        if let Some(schedule) = &mut body.schedule
            && summary.workflow.status == WorkflowStatus::Active
            && !schedule.paused
        {
            schedule.next_fire = summary.next_fire.map(timestamp);
        }
        body.latest_run = summary.latest_run.map(|run| RecentRun {
            id: run.id,
            number: run.number,
            status: run.status,
            created_at: timestamp(run.created_at),
        });
        body
    };
    Ok(Json(WorkflowList {
        workflows: workflows.into_iter().map(body).collect(),
    }))
}

/// One workflow with its definition and recent runs.
#[utoipa::path(operation_id = "getWorkflow", get, path = "/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    let (workflow, definition) = state.host.runner.get_workflow(&tenant, &id)?;
    let recent = state
        .host
        .runner
        .list_runs(&tenant, Some(&id), None, None, 10)?;
    let plan = state.host.runner.plan_of(&workflow.id)?;
    let mut body = workflow_json(&workflow, &definition, true);
    body.plan = plan.map(|(plan, reviews)| plan_view(&workflow, &definition, plan, reviews));
    body.recent_runs = Some(
        recent
            .into_iter()
            .map(|run| RecentRun {
                id: run.id,
                number: run.number,
                status: run.status,
                created_at: run.created_at,
            })
            .collect(),
    );
    Ok(Json(body))
}

/// A new version of the workflow's definition; running runs keep theirs.
#[utoipa::path(operation_id = "updateWorkflow", put, path = "/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
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
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    let definition = body.value.definition;
    let workflow = state
        .host
        .runner
        .update_workflow(&tenant, &id, definition.clone())
        .await?;
    let mut body = workflow_json(&workflow, &definition, true);
    body.warnings = state.host.runner.definition_warnings(&tenant, &definition);
    Ok(Json(body))
}

async fn set_status(
    state: AppState,
    caller: crate::tenants::KeyHolder,
    id: String,
    status: WorkflowStatus,
) -> Result<Json<WorkflowBody>, ApiError> {
    let id = state.host.runner.workflow_id(&caller.tenant, &id)?;
    let workflow = state
        .host
        .runner
        .set_workflow_status(&caller.tenant, &id, status, &caller.name)
        .await?;
    let (workflow, definition) = state
        .host
        .runner
        .get_workflow(&caller.tenant, &workflow.id)?;
    Ok(Json(workflow_json(&workflow, &definition, false)))
}

/// Let the workflow start runs; for a planned draft, this approves its plan
/// (recorded as the key's decision).
#[utoipa::path(operation_id = "activateWorkflow", post, path = "/v1/workflows/{id}/activate", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The workflow, now active", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn activate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    set_status(state, caller, id, WorkflowStatus::Active).await
}

/// Stop the workflow from starting runs; its runs carry on.
#[utoipa::path(operation_id = "archiveWorkflow", post, path = "/v1/workflows/{id}/archive", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The workflow, now archived", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn archive(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<WorkflowBody>, ApiError> {
    set_status(state, caller, id, WorkflowStatus::Archived).await
}

/// The workflow's cron schedule: its next five slots and what its latest
/// slots did.
#[utoipa::path(get, operation_id = "getSchedule", path = "/v1/workflows/{id}/schedule", tag = "schedules",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    Ok(Json(state.host.runner.schedule(&tenant, &id)?))
}

/// Stop the schedule from starting runs.
#[utoipa::path(post, operation_id = "pauseSchedule", path = "/v1/workflows/{id}/schedule/pause", tag = "schedules",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The schedule, paused", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn pause_schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
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
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The schedule, running", body = ScheduleView),
        (status = 404, description = "No such workflow for this tenant, or it has no schedule"),
    ))]
pub async fn resume_schedule(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    Ok(Json(
        state
            .host
            .runner
            .set_schedule_paused(&tenant, &id, false)
            .await?,
    ))
}

/// One version of a workflow.
#[derive(Serialize, ToSchema)]
pub struct VersionSummary {
    version: i64,
    created_at: String,
    /// Whether it is the version new runs start on.
    latest: bool,
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    /// Newest first.
    versions: Vec<VersionSummary>,
}

/// The workflow's versions, newest first; a run keeps the version it
/// started on.
#[utoipa::path(get, operation_id = "listWorkflowVersions", path = "/v1/workflows/{id}/versions", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        (status = 404, description = "No such workflow for this tenant"),
    ))]
pub async fn versions(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    let versions = state.host.runner.workflow_versions(&tenant, &id)?;
    let newest = versions.first().map(|(version, _)| *version);
    Ok(Json(VersionList {
        versions: versions
            .into_iter()
            .map(|(version, created_at)| VersionSummary {
                version,
                created_at: timestamp(created_at),
                latest: Some(version) == newest,
            })
            .collect(),
    }))
}

/// A version of a workflow, with its definition.
#[derive(Serialize, ToSchema)]
pub struct VersionBody {
    id: String,
    name: String,
    version: i64,
    /// Whether it is the version new runs start on.
    latest: bool,
    #[schema(value_type = WorkflowDefinition)]
    definition: Value,
}

/// One version of the workflow, with its definition.
#[utoipa::path(get, operation_id = "getWorkflowVersion", path = "/v1/workflows/{id}/versions/{version}", tag = "workflows",
    params(
        ("id" = String, Path, description = "Workflow id, or its name"),
        ("version" = i64, Path, description = "The version's number, from 1"),
    ),
    responses(
        (status = 200, description = "The version", body = VersionBody),
        (status = 404, description = "No such workflow for this tenant, or no such version"),
    ))]
pub async fn version(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<VersionBody>, ApiError> {
    let id = state.host.runner.workflow_id(&tenant, &id)?;
    let (workflow, definition) = state.host.runner.workflow_version(&tenant, &id, version)?;
    Ok(Json(VersionBody {
        latest: workflow.version == version,
        id: workflow.id,
        name: workflow.name,
        version,
        definition,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRejection {
    /// Why, for the plan's owner.
    #[serde(default)]
    note: Option<String>,
}

/// Reject a planned draft's latest plan, with a note for its owner (recorded
/// as the key's decision); it stays a draft. Approving is activating it.
#[utoipa::path(post, operation_id = "rejectPlan", path = "/v1/workflows/{id}/plan/reject", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id, or its name")),
    request_body = PlanRejection,
    responses(
        (status = 200, description = "The workflow, with the decision in its plan", body = WorkflowBody),
        (status = 404, description = "No such workflow for this tenant, or it was not planned"),
        (status = 409, description = "This version of the plan was decided already"),
        (status = 422, description = "The body is not a rejection"),
    ))]
pub async fn reject_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: ApiJson<PlanRejection>,
) -> Result<Json<WorkflowBody>, ApiError> {
    let runner = &state.host.runner;
    let id = runner.workflow_id(&caller.tenant, &id)?;
    let (workflow, _) = runner.get_workflow(&caller.tenant, &id)?;
    let review = PlanReview {
        version: workflow.version,
        decision: PlanDecision::Reject,
        reviewer: caller.name.clone(),
        channel: PlanChannel::Api,
        note: body.value.note.filter(|note| !note.trim().is_empty()),
        at: now_ms(),
    };
    runner.decide_plan(&caller.tenant, &id, review).await?;
    get(State(state), Tenant(caller.tenant), Path(id)).await
}
