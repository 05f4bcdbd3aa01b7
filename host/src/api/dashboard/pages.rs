//! The dashboard's pages and forms. Each reads through the API handler that
//! answers the same question under `/v1`, and each form calls the handler
//! that makes the same change, as the signed-in key: no other path to the
//! runner, so no check differs.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::forms::{self, Field, Fields};
use super::session::{Viewer, is_fragment};
use super::{AppState, PageError, json_body, page, query, render, value};
use crate::api::error::ApiError;
use crate::api::extract::{Caller, Path, Tenant};
use crate::api::{batches, runs, workflows};

/// The examples a workflow may be made from (the repository's `examples/`).
const EXAMPLES: [&str; 3] = [
    include_str!("../../../../examples/review-draft.json"),
    include_str!("../../../../examples/content-pipeline.json"),
    include_str!("../../../../examples/keyword-posts.json"),
];

/// How many runs a page of the runs list shows.
const RUNS_PER_PAGE: usize = 25;

/// How many of a run's latest events its page shows.
const EVENTS_SHOWN: usize = 200;

fn tenant(viewer: &Viewer) -> Tenant {
    Tenant(viewer.holder.tenant.clone())
}

fn caller(viewer: &Viewer) -> Caller {
    Caller(viewer.holder.clone())
}

/// A handler's answer as the templates see it.
fn answer(json: impl serde::Serialize) -> Value {
    serde_json::to_value(json).unwrap_or(Value::Null)
}

/// A form's fields, with its token checked.
fn checked(viewer: &Viewer, form: Vec<(String, String)>) -> Result<Fields, PageError> {
    let fields = Fields(form);
    viewer.check(fields.get("csrf"))?;
    Ok(fields)
}

/// Where a form goes back to: a path on this site it names, else `default`.
fn back(fields: &Fields, default: String) -> String {
    match fields.get("back") {
        Some(path) if super::session::on_this_site(path) => path.to_owned(),
        _ => default,
    }
}

/// The tenant's workflows.
pub async fn workflows(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let Json(list) = workflows::list(State(state), tenant(&viewer)).await?;
    Ok(page(
        StatusCode::OK,
        "workflows.html",
        minijinja::context! { viewer => viewer.context(), nav => "workflows", list => value(&list) },
    ))
}

/// The examples, each with its name, description and text.
fn examples() -> Vec<Value> {
    EXAMPLES
        .iter()
        .filter_map(|text| {
            let parsed: Value = serde_json::from_str(text).ok()?;
            Some(json!({
                "name": parsed.get("name")?,
                "description": parsed.get("description").cloned().unwrap_or(Value::Null),
                "text": text.trim(),
            }))
        })
        .collect()
}

fn new_workflow_page(
    viewer: &Viewer,
    status: StatusCode,
    sent: Option<&Fields>,
    problem: Option<Value>,
) -> Response {
    let field = |name: &str| {
        sent.and_then(|f| f.get(name))
            .unwrap_or_default()
            .to_owned()
    };
    page(
        status,
        "new_workflow.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "workflows", examples => value(examples()),
            definition => field("definition"), goal => field("goal"),
            problem => value(problem),
        },
    )
}

/// A new workflow: from an example, a definition, or a goal for the planner.
pub async fn new_workflow(viewer: Viewer) -> Response {
    new_workflow_page(&viewer, StatusCode::OK, None, None)
}

/// Makes the workflow and shows it, or shows the form again with every
/// problem the API found.
pub async fn create_workflow(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let activate = fields.get("activate").is_some();
    let status = if activate { "active" } else { "draft" };
    let body = if let Some(name) = fields.get("example") {
        let example = examples()
            .into_iter()
            .find(|e| e["name"] == name)
            .ok_or(ApiError::NotFound)?;
        let definition: Value = serde_json::from_str(example["text"].as_str().unwrap_or(""))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        json!({ "definition": definition, "status": status })
    } else if let Some(goal) = fields.get("goal").filter(|g| !g.trim().is_empty()) {
        json!({ "goal": goal })
    } else {
        match serde_json::from_str::<Value>(fields.get("definition").unwrap_or_default()) {
            Ok(definition) => json!({ "definition": definition, "status": status }),
            Err(e) => {
                let problem = json!({
                    "title": "The definition is not JSON",
                    "detail": format!("{e}"),
                });
                return Ok(new_workflow_page(
                    &viewer,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&fields),
                    Some(problem),
                ));
            }
        }
    };
    let created = match json_body(body) {
        Ok(body) => workflows::create(State(state), caller(&viewer), body).await,
        Err(refused) => Err(refused),
    };
    match created {
        Ok((_, Json(workflow))) => {
            let id = answer(workflow)["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Ok(Redirect::to(&format!("/workflows/{id}")).into_response())
        }
        Err(error) => {
            let (status, problem) = error.problem();
            Ok(new_workflow_page(
                &viewer,
                status,
                Some(&fields),
                Some(answer(problem)),
            ))
        }
    }
}

/// A definition's steps as an outline: each with what it does and, for a
/// construct, its groups of steps (branches, a map's item, cases).
fn outline(steps: &Value) -> Vec<Value> {
    let Some(steps) = steps.as_array() else {
        return Vec::new();
    };
    steps
        .iter()
        .map(|step| {
            let mut groups = Vec::new();
            let what = if let Some(parallel) = step.get("parallel") {
                if let Some(branches) = parallel.get("branches").and_then(Value::as_object) {
                    for (name, steps) in branches {
                        groups.push(
                            json!({"label": format!("branch {name}"), "steps": outline(steps)}),
                        );
                    }
                }
                "in parallel".to_owned()
            } else if let Some(map) = step.get("map") {
                groups.push(json!({"label": "for each item", "steps": outline(&map["steps"])}));
                format!("for each of {}", map["items"])
            } else if let Some(switch) = step.get("switch") {
                for case in switch["cases"].as_array().into_iter().flatten() {
                    let label = format!("case {} when {}", case["name"], case["when"]);
                    groups.push(json!({"label": label, "steps": outline(&case["steps"])}));
                }
                if switch.get("default").is_some() {
                    groups
                        .push(json!({"label": "otherwise", "steps": outline(&switch["default"])}));
                }
                "one case of".to_owned()
            } else if let Some(wait) = step.get("wait") {
                match (wait.get("for"), wait.get("until")) {
                    (Some(duration), _) => format!("wait {}", duration.as_str().unwrap_or("")),
                    (_, Some(until)) => format!("wait until {}", until.as_str().unwrap_or("")),
                    _ => "wait".to_owned(),
                }
            } else if let Some(workflow) = step.get("workflow") {
                format!("run workflow {}", workflow["id"].as_str().unwrap_or(""))
            } else {
                step["type"].as_str().unwrap_or("").to_owned()
            };
            json!({
                "name": step["name"],
                "what": what,
                "approval": step.get("approval"),
                "groups": groups,
            })
        })
        .collect()
}

async fn workflow_page(
    state: AppState,
    viewer: &Viewer,
    id: String,
    status: StatusCode,
    input: Option<&str>,
    problem: Option<Value>,
) -> Result<Response, PageError> {
    let Json(workflow) =
        workflows::get(State(state.clone()), tenant(viewer), Path(id.clone())).await?;
    let workflow = answer(workflow);
    let schedule = match workflow.get("schedule") {
        Some(_) => Some(answer(
            workflows::schedule(State(state.clone()), tenant(viewer), Path(id))
                .await?
                .0,
        )),
        None => None,
    };
    let Json(versions) = workflows::versions(
        State(state.clone()),
        tenant(viewer),
        Path(workflow["id"].as_str().unwrap_or_default().to_owned()),
    )
    .await?;
    let steps = outline(&workflow["definition"]["steps"]);
    Ok(page(
        status,
        "workflow.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "workflows",
            workflow => value(&workflow), steps => value(steps), schedule => value(schedule),
            versions => value(versions), input => input.unwrap_or("{}"), problem => value(problem),
        },
    ))
}

/// A workflow: its steps, versions, schedule and latest runs, with its
/// actions.
pub async fn workflow(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    workflow_page(state, &viewer, id, StatusCode::OK, None, None).await
}

/// Starts a run with the input written in the form, and shows it.
pub async fn start_run(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let text = fields.get("input").unwrap_or("{}");
    let input =
        match serde_json::from_str::<Value>(if text.trim().is_empty() { "{}" } else { text }) {
            Ok(input) => input,
            Err(e) => {
                let problem = json!({"title": "The input is not JSON", "detail": e.to_string()});
                return workflow_page(
                    state,
                    &viewer,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(text),
                    Some(problem),
                )
                .await;
            }
        };
    let started = runs::start(
        State(state.clone()),
        tenant(&viewer),
        Path(id.clone()),
        HeaderMap::new(),
        json_body(json!({ "input": input }))?,
    )
    .await;
    match started {
        Ok((_, Json(run))) => Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response()),
        Err(error) => {
            let (status, problem) = error.problem();
            workflow_page(
                state,
                &viewer,
                id,
                status,
                Some(text),
                Some(answer(problem)),
            )
            .await
        }
    }
}

/// Activates (approving a planned draft) or archives the workflow.
pub async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let (state_, who, path) = (State(state), caller(&viewer), Path(id.clone()));
    let Json(_) = match fields.get("status") {
        Some("active") => workflows::activate(state_, who, path).await?,
        Some("archived") => workflows::archive(state_, who, path).await?,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid-body",
                "status must be 'active' or 'archived'",
            )
            .into());
        }
    };
    Ok(Redirect::to(&format!("/workflows/{id}")).into_response())
}

/// One version of a workflow: its steps and definition.
pub async fn workflow_version(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, number)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let Json(version) =
        workflows::version(State(state), tenant(&viewer), Path((id, number))).await?;
    let version = answer(version);
    let steps = outline(&version["definition"]["steps"]);
    Ok(page(
        StatusCode::OK,
        "version.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "workflows",
            version => value(&version), steps => value(steps),
        },
    ))
}

/// Rejects a planned draft's plan with a note, as
/// `POST /v1/workflows/{id}/plan/reject` does.
pub async fn reject_plan(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let note = fields.get("note").unwrap_or_default();
    let Json(_) = workflows::reject_plan(
        State(state),
        caller(&viewer),
        Path(id.clone()),
        json_body(json!({ "note": note }))?,
    )
    .await?;
    Ok(Redirect::to(&format!("/workflows/{id}")).into_response())
}

/// Pauses or resumes the workflow's schedule.
pub async fn set_schedule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let (state_, who, path) = (State(state), tenant(&viewer), Path(id.clone()));
    if fields.get("paused") == Some("true") {
        let Json(_) = workflows::pause_schedule(state_, who, path).await?;
    } else {
        let Json(_) = workflows::resume_schedule(state_, who, path).await?;
    }
    Ok(Redirect::to(&format!("/workflows/{id}")).into_response())
}

/// A list page's query: which workflow, which status, where the page
/// starts; an empty field is no filter.
#[derive(serde::Deserialize)]
pub struct ListFilter {
    workflow: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

impl ListFilter {
    fn non_empty(self) -> (Option<String>, Option<String>, Option<String>) {
        let some = |v: Option<String>| v.filter(|v| !v.is_empty());
        (some(self.workflow), some(self.status), some(self.cursor))
    }
}

/// The tenant's runs, newest first, by workflow and status.
pub async fn runs(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(filter): axum::extract::Query<ListFilter>,
) -> Result<Response, PageError> {
    let (workflow, status, cursor) = filter.non_empty();
    let Json(list) = runs::list(
        State(state.clone()),
        tenant(&viewer),
        query(json!({
            "workflow_id": workflow, "status": status, "cursor": cursor, "limit": RUNS_PER_PAGE,
        }))?,
    )
    .await?;
    let Json(all) = workflows::list(State(state), tenant(&viewer)).await?;
    Ok(page(
        StatusCode::OK,
        "runs.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "runs", list => value(&list),
            workflows => value(&all), workflow, status,
            statuses => ["pending", "running", "paused", "completed", "failed", "cancelled"],
        },
    ))
}

/// What the run page shows, beside the viewer.
struct RunPage {
    run: crate::runner::RunView,
    workflow_name: String,
    events: Vec<Value>,
}

/// The name of the run's workflow (its id, should it be gone).
fn workflow_name(state: &AppState, tenant: &str, run: &crate::runner::RunView) -> String {
    state
        .host
        .runner
        .get_workflow(tenant, &run.workflow_id)
        .map(|(workflow, _)| workflow.name)
        .unwrap_or_else(|_| run.workflow_id.clone())
}

fn read_run(state: &AppState, viewer: &Viewer, id: &str) -> Result<RunPage, PageError> {
    let tenant = viewer.holder.tenant.as_str();
    let run = state.host.runner.get_run(Some(tenant), id)?;
    let workflow_name = workflow_name(state, tenant, &run);
    let after = (run.last_event - EVENTS_SHOWN as i64).max(0);
    let events = state
        .host
        .runner
        .events(Some(tenant), id, after)?
        .into_iter()
        .rev()
        .map(|event| answer(runs::EventView::from(event)))
        .collect();
    Ok(RunPage {
        run,
        workflow_name,
        events,
    })
}

/// The forms for the run's pending actions: a free-form action's fields,
/// by step (`sent` carries a form sent back, with its errors).
fn action_fields(
    run: &crate::runner::RunView,
    sent: Option<(&str, Vec<Field>)>,
) -> serde_json::Map<String, Value> {
    let mut by_step = serde_json::Map::new();
    for action in &run.pending_actions {
        if !action.options.is_empty() {
            continue;
        }
        let fields = match &sent {
            Some((step, fields)) if *step == action.step => Some(answer(fields)),
            _ => action
                .input_schema
                .as_ref()
                .and_then(forms::fields)
                .map(answer),
        };
        by_step.insert(action.step.clone(), fields.unwrap_or(Value::Null));
    }
    by_step
}

/// A key that changes when the pending actions do: the page's script
/// replaces the decision forms (and what was typed in them) only then.
fn action_key(run: &crate::runner::RunView) -> String {
    let steps: Vec<&str> = run
        .pending_actions
        .iter()
        .map(|a| a.step.as_str())
        .collect();
    format!("{}:{}", run.status.as_str(), steps.join(","))
}

/// A form sent back: which step, what the fields say, and the errors.
struct Sent<'a> {
    step: &'a str,
    fields: Option<Vec<Field>>,
    raw: Option<&'a str>,
    errors: Vec<String>,
}

fn run_context(viewer: &Viewer, shown: &RunPage, sent: Option<Sent<'_>>) -> minijinja::Value {
    let (sent_step, errors, raw) = match &sent {
        Some(sent) => (Some(sent.step), sent.errors.clone(), sent.raw),
        None => (None, Vec::new(), None),
    };
    let fields = action_fields(
        &shown.run,
        sent.and_then(|s| s.fields.map(|fields| (s.step, fields))),
    );
    minijinja::context! {
        viewer => viewer.context(), nav => "runs",
        run => value(&shown.run), workflow_name => shown.workflow_name.clone(),
        events => value(&shown.events), fields => value(fields),
        sent_step, errors, raw, action_key => action_key(&shown.run),
    }
}

/// A run: live progress, steps, events, and what it waits for.
pub async fn run(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let shown = read_run(&state, &viewer, &id)?;
    Ok(page(
        StatusCode::OK,
        "run.html",
        run_context(&viewer, &shown, None),
    ))
}

#[derive(serde::Deserialize)]
pub struct ItemsPage {
    offset: Option<usize>,
}

/// How many of a map's items a step's page shows at once.
const ITEMS_PER_PAGE: usize = 50;

/// One step of a run; for a map, a page of its items with their steps.
pub async fn run_step(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, path)): Path<(String, String)>,
    axum::extract::Query(page_of): axum::extract::Query<ItemsPage>,
) -> Result<Response, PageError> {
    let offset = page_of.offset.unwrap_or(0);
    let Json(detail) = runs::step(
        State(state.clone()),
        tenant(&viewer),
        Path((id.clone(), path.clone())),
        query(json!({ "offset": offset, "limit": ITEMS_PER_PAGE }))?,
    )
    .await?;
    // The heading's run number and workflow; not its events.
    let run = state
        .host
        .runner
        .get_run(Some(&viewer.holder.tenant), &id)?;
    let workflow_name = workflow_name(&state, &viewer.holder.tenant, &run);
    let total = detail.step.items.as_ref().map_or(0, |items| items.total);
    let next = (offset + ITEMS_PER_PAGE < total).then_some(offset + ITEMS_PER_PAGE);
    let previous = (offset > 0).then(|| offset.saturating_sub(ITEMS_PER_PAGE));
    Ok(page(
        StatusCode::OK,
        "step.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "runs", run => value(&run),
            workflow_name, detail => value(&detail), path,
            offset, next, previous,
        },
    ))
}

/// The live parts of a run's page, for its script to put in place: JSON with
/// the progress and timeline's HTML, and the decision forms' with their key.
pub async fn run_panel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let shown = read_run(&state, &viewer, &id)?;
    let context = run_context(&viewer, &shown, None);
    Ok(Json(json!({
        "status": shown.run.status.as_str(),
        "ended": shown.run.status.is_terminal(),
        "live": render("run_live.html", &context)?,
        "action_key": action_key(&shown.run),
        "action": render("run_action.html", &context)?,
    }))
    .into_response())
}

/// The run's events as they are committed (server-sent events), for the
/// page's script to refresh the live parts on.
pub async fn run_live(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    // A run of another tenant is not found, as under /v1.
    state
        .host
        .runner
        .run_status(Some(&viewer.holder.tenant), &id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    Ok(runs::event_stream(
        state,
        viewer.holder.tenant.clone(),
        id,
        after,
        false,
    )?)
}

/// The decision a form makes: an option (with its note), JSON written out,
/// or free-form `fields` (which keep what was sent, and why it cannot be
/// read).
fn decision(fields: &Fields, form: Option<&mut Vec<Field>>) -> Result<Value, Vec<String>> {
    if let Some(option) = fields.get("decision") {
        let note = fields.get("note").map(str::trim).unwrap_or_default();
        return Ok(if note.is_empty() {
            Value::String(option.to_owned())
        } else {
            json!({ "decision": option, "note": note })
        });
    }
    if let Some(raw) = fields.get("raw") {
        return serde_json::from_str(raw)
            .map_err(|e| vec![format!("The value is not valid JSON: {e}")]);
    }
    match form {
        Some(form) => forms::read(form, fields).map_err(|()| Vec::new()),
        None => Err(vec!["Choose a decision.".to_owned()]),
    }
}

/// Decides a pending action, as `POST /v1/runs/{id}/resume` does; then back
/// to where the form was (the run, or the approval queue). The page's script
/// asks for the answer as JSON, to stay where it is.
pub async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let step = fields.get("step").unwrap_or_default().to_owned();
    let shown = read_run(&state, &viewer, &id)?;
    let mut free_form = shown
        .run
        .pending_actions
        .iter()
        .find(|a| a.step == step)
        .and_then(|a| a.input_schema.as_ref())
        .and_then(forms::fields);
    let refused = |status: StatusCode, form: Option<Vec<Field>>, errors: Vec<String>| {
        if is_fragment(&headers) {
            let detail = errors.join(" ");
            let detail = if detail.is_empty() {
                "The decision was refused.".to_owned()
            } else {
                detail
            };
            let mut error = ApiError::unprocessable("input-rejected", detail).into_response();
            *error.status_mut() = status;
            return error;
        }
        let sent = Sent {
            step: &step,
            fields: form,
            raw: fields.get("raw"),
            errors,
        };
        page(status, "run.html", run_context(&viewer, &shown, Some(sent)))
    };
    let input = match decision(&fields, free_form.as_mut()) {
        Ok(input) => input,
        Err(errors) => return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, free_form, errors)),
    };
    let resumed = runs::resume(
        State(state.clone()),
        caller(&viewer),
        Path(id.clone()),
        Ok(axum::extract::Query(runs::ResumeQuery::default())),
        json_body(json!({ "step": step, "input": input }))?,
    )
    .await;
    match resumed {
        Ok(Json(run)) if is_fragment(&headers) => Ok(Json(json!({
            "status": run.status.as_str(),
            "message": format!("Recorded. Run #{} is {}.", run.number, run.status.as_str()),
        }))
        .into_response()),
        Ok(_) => Ok(Redirect::to(&back(&fields, format!("/runs/{id}"))).into_response()),
        Err(error) if is_fragment(&headers) => Ok(error.into_response()),
        Err(error) => {
            let (status, problem) = error.problem();
            let mut errors = match &mut free_form {
                Some(form) => forms::mark(form, &problem.errors),
                None => problem
                    .errors
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect(),
            };
            errors.extend(problem.detail.clone());
            Ok(refused(status, free_form, errors))
        }
    }
}

/// Cancels the run, as `POST /v1/runs/{id}/cancel` does.
pub async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = checked(&viewer, form)?;
    let Json(_) = runs::cancel(State(state), caller(&viewer), Path(id.clone())).await?;
    Ok(Redirect::to(&back(&fields, format!("/runs/{id}"))).into_response())
}

/// The tenant's steps that wait for a person, oldest first.
pub async fn approvals(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let Json(list) = runs::approvals(State(state), tenant(&viewer), query(json!({}))?).await?;
    Ok(page(
        StatusCode::OK,
        "approvals.html",
        minijinja::context! { viewer => viewer.context(), nav => "approvals", list => value(&list) },
    ))
}

/// The tenant's batches, newest first, with their progress.
pub async fn batches(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(filter): axum::extract::Query<ListFilter>,
) -> Result<Response, PageError> {
    let (workflow, _, cursor) = filter.non_empty();
    let Json(list) = batches::list(
        State(state.clone()),
        tenant(&viewer),
        query(json!({ "workflow_id": workflow, "cursor": cursor, "limit": 20 }))?,
    )
    .await?;
    let Json(all) = workflows::list(State(state), tenant(&viewer)).await?;
    Ok(page(
        StatusCode::OK,
        "batches.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "batches", list => value(&list),
            workflows => value(&all), workflow,
        },
    ))
}

/// A batch: its progress and its runs.
pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Json(batch) = batches::get(State(state.clone()), tenant(&viewer), Path(id)).await?;
    let tenant_name = viewer.holder.tenant.as_str();
    let runs: Vec<Value> = batch
        .runs
        .iter()
        .map(|run_id| {
            let status = state
                .host
                .runner
                .run_status(Some(tenant_name), run_id)
                .map(|s| s.as_str())
                .unwrap_or("unknown");
            json!({ "id": run_id, "status": status })
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        "batch.html",
        minijinja::context! {
            viewer => viewer.context(), nav => "batches", batch => value(&batch), runs => value(runs),
        },
    ))
}

/// Cancels the batch's unfinished runs.
pub async fn cancel_batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    checked(&viewer, form)?;
    let Json(_) = batches::cancel(State(state), caller(&viewer), Path(id.clone())).await?;
    Ok(Redirect::to(&format!("/batches/{id}")).into_response())
}
