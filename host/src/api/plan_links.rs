//! Plan links, for the reviewers of a planned workflow: `GET` (and `HEAD`)
//! `/v1/plans/{token}` shows the plan and changes nothing, so a mail scanner
//! that fetches the link does no harm; `POST` takes the one decision the link
//! carries (approve, or reject with a note), once per version of the plan.
//! Answers are HTML pages, or JSON to clients that ask for it.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::AppState;
use super::extract::Path;
use super::links::{Refusal, key_fits, not_recorded, read_body, render, wants_json};
use crate::approvals::{LinkError, PlanClaims};
use crate::runner::{WorkflowRecord, WorkflowStatus};
use crate::workflow::{
    PlanChannel, PlanDecision, PlanRecord, PlanReview, WorkflowDefinition, readable_steps,
};

/// Checks a plan link against its workflow, changing nothing.
fn check(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
) -> Result<(PlanClaims, WorkflowRecord, Value, PlanRecord), Refusal> {
    let now = crate::clock::now_ms() / 1000;
    let claims = state
        .host
        .links
        .verify::<PlanClaims>(token, now)
        .map_err(|e| match e {
            LinkError::Invalid => Refusal::invalid(),
            LinkError::Expired => Refusal::new(
                StatusCode::GONE,
                "link-expired",
                "This plan link has expired",
                "Ask the workflow's owner to send the plan again (an edit sends it anew), or \
                 decide in the API.",
            ),
        })?;
    if !key_fits(state, headers, &claims.tenant) {
        return Err(Refusal::invalid());
    }
    let runner = &state.host.runner;
    let (workflow, definition) = runner
        .get_workflow(&claims.tenant, &claims.workflow)
        .map_err(|_| Refusal::invalid())?;
    let (plan, reviews) = runner
        .plan_of(&workflow.id)
        .ok()
        .flatten()
        .ok_or_else(Refusal::invalid)?;
    if workflow.version != claims.version {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "plan-changed",
            "This plan changed",
            format!(
                "The plan was edited after this link was sent: version {} is the latest, and \
                 its reviewers were sent new links.",
                workflow.version
            ),
        ));
    }
    if let Some(review) = reviews.iter().find(|r| r.version == claims.version) {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "link-used",
            "This plan was decided already",
            format!(
                "{} chose to {} it; the workflow is {}.",
                review.reviewer,
                review.decision.as_str(),
                workflow.status.as_str()
            ),
        ));
    }
    if workflow.status != WorkflowStatus::Draft {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "not-waiting",
            "Nothing to decide any more",
            format!("The workflow is {} already.", workflow.status.as_str()),
        ));
    }
    Ok((claims, workflow, definition, plan))
}

/// What the page shows: the goal, the plan's steps, and the link's decision.
fn shown(
    claims: &PlanClaims,
    workflow: &WorkflowRecord,
    definition: &Value,
    plan: &PlanRecord,
) -> Value {
    let parsed = WorkflowDefinition::from_value(definition.clone()).ok();
    json!({
        "workflow": workflow.id,
        "version": workflow.version,
        "title": workflow.name,
        "goal": plan.goal,
        "model": plan.model,
        "reviewer": claims.reviewer,
        "decision": claims.decision,
        "steps": parsed.as_ref().map(readable_steps).unwrap_or_default(),
        "schedule": parsed
            .as_ref()
            .and_then(|d| d.schedule.as_ref())
            .map(|s| format!("{} ({})", s.cron, s.timezone)),
    })
}

/// The page of a plan link: the goal, the plan, and the link's one button.
/// Changes nothing.
#[utoipa::path(get, operation_id = "showPlanLink", path = "/v1/plans/{token}", tag = "workflows",
    params(("token" = String, Path, description = "The token of a plan link")),
    responses(
        (status = 200, description = "The plan (HTML, or JSON when asked for)", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link"),
        (status = 409, description = "Decided already, or the plan changed since the link was sent"),
        (status = 410, description = "Expired"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers);
    match check(&state, &token, &headers) {
        Err(refusal) => refusal.respond(json),
        Ok((claims, workflow, definition, plan)) => {
            let shown = shown(&claims, &workflow, &definition, &plan);
            if json {
                return Json(shown).into_response();
            }
            let title = match claims.decision {
                PlanDecision::Approve => "Approve this plan?",
                PlanDecision::Reject => "Reject this plan?",
            };
            Html(render(title, None, None, Some(shown))).into_response()
        }
    }
}

/// What a plan link's `POST` may carry: the decision (which must be the
/// link's own, if sent) and a note.
#[derive(Deserialize, ToSchema)]
pub struct PlanLinkDecision {
    #[serde(default)]
    decision: Option<PlanDecision>,
    #[serde(default)]
    note: Option<String>,
}

/// Take the link's decision: approve (the workflow becomes active and its
/// schedule starts) or reject (it stays a draft, with the note).
#[utoipa::path(post, operation_id = "decidePlanLink", path = "/v1/plans/{token}", tag = "workflows",
    params(("token" = String, Path, description = "The token of a plan link")),
    request_body(content(
        (PlanLinkDecision = "application/x-www-form-urlencoded"),
        (PlanLinkDecision = "application/json"),
    )),
    responses(
        (status = 200, description = "Recorded (HTML, or the workflow's id, status and the decision as JSON)", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link"),
        (status = 409, description = "Decided already, or the plan changed since the link was sent"),
        (status = 410, description = "Expired"),
        (status = 422, description = "A decision other than the link's"),
    ))]
pub async fn decide(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let json = wants_json(&headers);
    let (claims, workflow, _, _) = match check(&state, &token, &headers) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.respond(json),
    };
    let body = read_body::<PlanLinkDecision>(&state, request, json)
        .await
        .unwrap_or(PlanLinkDecision {
            decision: None,
            note: None,
        });
    if body.decision.is_some_and(|d| d != claims.decision) {
        return Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "input-rejected",
            "Not this link's decision",
            format!(
                "This link can only {} the plan; the other decision has its own link.",
                claims.decision.as_str()
            ),
        )
        .respond(json);
    }
    let review = PlanReview {
        version: claims.version,
        decision: claims.decision,
        reviewer: claims.reviewer.clone(),
        channel: PlanChannel::Link,
        note: body.note.filter(|n| !n.trim().is_empty()),
        at: crate::clock::now_ms(),
    };
    match state
        .host
        .runner
        .decide_plan(&claims.tenant, &workflow.id, review)
        .await
    {
        Ok(workflow) if json => Json(json!({
            "id": workflow.id,
            "status": workflow.status,
            "version": workflow.version,
            "decision": claims.decision,
        }))
        .into_response(),
        Ok(workflow) => {
            let detail = match claims.decision {
                PlanDecision::Approve => format!(
                    "You approved the plan. The workflow \"{}\" is now {}.",
                    workflow.name,
                    workflow.status.as_str()
                ),
                PlanDecision::Reject => format!(
                    "You rejected the plan. The workflow \"{}\" stays a draft; its owner sees \
                     your note.",
                    workflow.name
                ),
            };
            Html(render("Thank you", Some(&detail), None, None)).into_response()
        }
        Err(error) => not_recorded(error, json),
    }
}
