//! Run routes: start (idempotent), list, get (long-poll), events (JSON or SSE),
//! resume, cancel.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Caller, Path, Tenant, bad_query, idempotency};
use crate::clock::timestamp;
use crate::run::{EventKind, PendingAction, RunStatus};
use crate::runner::{Actor, EventRecord, RunView};
use crate::workflow::parse_duration;

/// The longest `?wait=` a client may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// What the run's templates see as `input`.
    #[serde(default)]
    input: Value,
}

/// Start a run of the workflow's current version.
#[utoipa::path(operation_id = "startRun", post, path = "/v1/workflows/{id}/runs", tag = "runs",
    params(
        ("id" = String, Path, description = "Workflow id, or its name"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "The same key and body return the run started the first time"),
    ),
    request_body = StartRun,
    responses(
        (status = 201, description = "Started", body = RunView),
        (status = 200, description = "Started before with this Idempotency-Key and body", body = RunView),
        (status = 404, description = "No such workflow for this tenant"),
        (status = 409, description = "The workflow's concurrency policy forbids a second run"),
        (status = 422, description = "The workflow is not active, or the Idempotency-Key was used with another body"),
        (status = 429, description = "The tenant's quota of unfinished runs is full"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StartRun>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let idempotency = idempotency(&headers, &body.raw)?;
    let (run, created) = state
        .host
        .runner
        .start_run_once(&tenant, &workflow_id, body.value.input, idempotency)
        .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(run),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this workflow's runs.
    workflow_id: Option<String>,
    /// Only runs with this status.
    #[param(value_type = Option<RunStatus>)]
    status: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^(3[0-9]|[46][1-6]){8}2[dD]((3[0-9]|[46][1-6]){4}2[dD]){3}(3[0-9]|[46][1-6]){12}$"
    )]
    cursor: Option<String>,
    /// 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    /// Newest first.
    runs: Vec<RunView>,
    /// Where the next page starts; absent on the last page.
    next_cursor: Option<String>,
}

/// The tenant's runs, newest first, a page at a time.
#[utoipa::path(operation_id = "listRuns", get, path = "/v1/runs", tag = "runs", params(ListQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunList),
        (status = 400, description = "A bad cursor, status or limit"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RunList>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad_query("limit must be from 1 to 200"));
    }
    let status = match &query.status {
        Some(status) => Some(
            status
                .parse::<RunStatus>()
                .map_err(|e| bad_query(e.to_string()))?,
        ),
        None => None,
    };
    let before = match &query.cursor {
        Some(cursor) => Some(decode_cursor(cursor)?),
        None => None,
    };
    let runs = state.host.runner.list_runs(
        &tenant,
        query.workflow_id.as_deref(),
        status,
        before.as_deref(),
        limit,
    )?;
    let next_cursor = if runs.len() == limit {
        runs.last().map(|run| encode_cursor(&run.id))
    } else {
        None
    };
    Ok(Json(RunList { runs, next_cursor }))
}

/// Cursors are opaque to clients: the hex of the last id of a page (a run's,
/// or a batch's).
pub(super) fn encode_cursor(id: &str) -> String {
    hex::encode(id.as_bytes())
}

/// The id in a cursor [`encode_cursor`] made.
pub(super) fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| ApiError::BadRequest {
            kind: "bad-cursor",
            detail: "the cursor is not one this API gave out".into(),
        })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetQuery {
    /// Long-poll: answer when the run changes, or after this long (`30s`; at
    /// most 60 s).
    wait: Option<String>,
    /// With `wait`: the `last_event` the client has seen. The answer comes at
    /// once if the run has moved past it, so no change between two polls is
    /// missed. Without it, the wait is for a change after the request arrives.
    after: Option<i64>,
    /// With `wait`: what to wait for. `changed` (the default): the next event.
    /// `settled`: the run paused or finished (with `after`, a pause after
    /// that event), so one request covers a resume's whole effect.
    #[param(inline)]
    until: Option<Until>,
}

/// What a long-poll of a run waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    /// The run's next event.
    #[default]
    Changed,
    /// The run paused or finished.
    Settled,
}

/// A run: status, progress, steps, what it waits for, how it ended.
#[utoipa::path(operation_id = "getRun", get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id"), GetQuery),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run for this tenant"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    query: Result<Query<GetQuery>, QueryRejection>,
) -> Result<Json<RunView>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let Some(wait) = query.wait else {
        return Ok(Json(state.host.runner.get_run(Some(&tenant), &id)?));
    };
    // The run's row says whether to answer; the whole run is read once, for
    // the answer. (A run that is not there is that, whatever `wait` says.)
    let (_, arrived_at) = state.host.runner.run_state(Some(&tenant), &id)?;
    let wait = wait_of(&wait)?;
    let until = query.until.unwrap_or_default();
    let answered = long_poll(&state, &tenant, &id, wait, until, query.after, arrived_at).await?;
    Ok(Json(answered))
}

/// A long-poll's `wait`, at most [`MAX_WAIT`].
fn wait_of(wait: &str) -> Result<Duration, ApiError> {
    Ok(parse_duration(wait)
        .map_err(|e| bad_query(format!("wait: {e}")))?
        .min(MAX_WAIT))
}

/// Waits up to `wait` for the tenant's run `id` to pass `until` (past
/// `after`, else past `arrived_at`, the last event when the request
/// arrived); answers with the run as it is then.
async fn long_poll(
    state: &AppState,
    tenant: &str,
    id: &str,
    wait: Duration,
    until: Until,
    after: Option<i64>,
    arrived_at: i64,
) -> Result<RunView, ApiError> {
    let past = match until {
        Until::Changed => Some(after.unwrap_or(arrived_at)),
        Until::Settled => after,
    };
    let answered = state
        .host
        .runner
        .wait_until_state(Some(tenant), id, wait, answers(until, past));
    until_closing(state, tenant, id, answered).await
}

/// Whether a run at `status` and `last_event` answers a wait for `until`
/// past event `past` (`None`: any pause will do): it ended, or it moved
/// past that event, and for `settled` is paused.
fn answers(until: Until, past: Option<i64>) -> impl Fn(RunStatus, i64) -> bool + Send + Sync {
    move |status, last_event| {
        status.is_terminal()
            || (past.is_none_or(|past| last_event > past)
                && (until == Until::Changed || status == RunStatus::Paused))
    }
}

/// What a long-poll `answered`; once the server begins to close, the
/// tenant's run `id` as it is then.
async fn until_closing(
    state: &AppState,
    tenant: &str,
    id: &str,
    answered: impl std::future::Future<Output = Result<RunView, crate::runner::RunError>>,
) -> Result<RunView, ApiError> {
    Ok(tokio::select! {
        answered = answered => answered?,
        () = state.closing.cancelled() => state.host.runner.get_run(Some(tenant), id)?,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StepQuery {
    /// A map's first item to show; 0 when absent.
    offset: Option<usize>,
    /// Items to show, 1 to 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// One step of a run by its path (`draft`, `research.web.fetch`,
/// `per_article[2].review`); for a map, a page of its items with their steps.
#[utoipa::path(operation_id = "getRunStep", get, path = "/v1/runs/{id}/steps/{path}", tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        ("path" = String, Path, description = "The step's path"),
        StepQuery,
    ),
    responses(
        (status = 200, description = "The step", body = crate::runner::StepDetail),
        (status = 400, description = "A bad offset or limit"),
        (status = 404, description = "No such run for this tenant, or no such step in it"),
    ))]
pub async fn step(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((id, path)): Path<(String, String)>,
    query: Result<Query<StepQuery>, QueryRejection>,
) -> Result<Json<crate::runner::StepDetail>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad_query("limit must be from 1 to 500"));
    }
    let offset = query.offset.unwrap_or(0);
    let detail = state
        .host
        .runner
        .step_detail(&tenant, &id, &path, offset, limit)?;
    Ok(Json(detail))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events with a greater sequence number.
    after: Option<i64>,
}

/// One entry of a run's event log.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// The event's sequence number in its run, from 1.
    seq: i64,
    at: String,
    kind: EventKind,
    data: Value,
}

impl From<EventRecord> for EventView {
    fn from(event: EventRecord) -> Self {
        EventView {
            seq: event.seq,
            at: timestamp(event.at),
            kind: event.kind(),
            data: event.event.data(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
}

/// The run's event log, as JSON or (with `Accept: text/event-stream`) as
/// server-sent events that follow the run until it ends.
#[utoipa::path(operation_id = "listRunEvents", get, path = "/v1/runs/{id}/events", tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume a stream after this event"),
    ),
    responses(
        (status = 200, description = "The events", content(
            (EventList = "application/json"),
            (EventView = "text/event-stream"),
        )),
        (status = 404, description = "No such run for this tenant"),
    ))]
pub async fn events(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| bad_query("Last-Event-ID must be an event sequence number"))
        })
        .transpose()?;
    let after = last_event_id.or(query.after).unwrap_or(0).max(0);
    let events = state.host.runner.events(Some(&tenant), &id, after)?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !wants_stream {
        let events = events.into_iter().map(EventView::from).collect();
        return Ok(Json(EventList { events }).into_response());
    }
    Ok(follow(state, tenant, id, after, events, true))
}

/// The run's events after `after` as server-sent events that follow it
/// until it ends; each named by its kind when `named` (the dashboard's
/// script listens to unnamed ones).
pub(super) fn event_stream(
    state: AppState,
    tenant: String,
    id: String,
    after: i64,
    named: bool,
) -> Result<Response, ApiError> {
    let events = state.host.runner.events(Some(&tenant), &id, after)?;
    Ok(follow(state, tenant, id, after, events, named))
}

fn follow(
    state: AppState,
    tenant: String,
    run_id: String,
    after: i64,
    events: Vec<EventRecord>,
    named: bool,
) -> Response {
    let stream = EventStream {
        state,
        tenant,
        run_id,
        after,
        pending: events.into(),
        changes: None,
        done: false,
        named,
    };
    let stream = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<Event, Infallible>(event), stream))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A run's events as server-sent events: what is stored after `after`, then
/// each new one as it is committed, until the run has finished (or the
/// server shuts down).
struct EventStream {
    state: AppState,
    tenant: String,
    run_id: String,
    after: i64,
    pending: std::collections::VecDeque<EventRecord>,
    changes: Option<crate::runner::Wait>,
    done: bool,
    named: bool,
}

impl EventStream {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.after = event.seq;
                let (id, kind) = (event.seq.to_string(), event.kind().as_str());
                let data = serde_json::to_string(&EventView::from(event)).ok()?;
                let event = Event::default().id(id).data(data);
                return Some(if self.named { event.event(kind) } else { event });
            }
            if self.done {
                return None;
            }
            // Watch before reading, so no commit falls between the two.
            let changes = self.changes.get_or_insert_with(|| {
                let any = std::sync::Arc::new(|_, _| true);
                self.state.host.runner.watch(&self.run_id, any)
            });
            let runner = &self.state.host.runner;
            let run = runner.get_run(Some(&self.tenant), &self.run_id).ok()?;
            self.pending = runner
                .events(Some(&self.tenant), &self.run_id, self.after)
                .ok()?
                .into();
            if !self.pending.is_empty() {
                continue;
            }
            if run.status.is_terminal() {
                self.done = true;
                return None;
            }
            // Hosts sharing the database hear of each other's changes
            // through hints, which may be lost: look again now and then.
            let look_again = runner.look_again();
            tokio::select! {
                () = changes.changed() => {}
                () = tokio::time::sleep(look_again) => {}
                // The server is shutting down: the client reconnects,
                // with Last-Event-ID, to whichever server serves next.
                () = self.state.closing.cancelled() => return None,
            }
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The step the run is paused at.
    step: String,
    /// An option (`"approve"`, or `{"decision": "reject", "note": "..."}`) when
    /// the pending action offers options, else a value its input schema accepts.
    input: Value,
    /// A label for the audit trail, recorded beside the decision. The decision
    /// counts for the API key's name (its holder's identity), whatever this
    /// says: a label never counts as a second reviewer in a quorum.
    reviewer: Option<String>,
}

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeQuery {
    /// Answer once the run, after the decision, has done what `until`
    /// says, or after this long (`30s`; at most 60 s), as a long-poll of
    /// the run after the decision's event would; without it, the answer
    /// comes as the decision is committed.
    wait: Option<String>,
    /// With `wait`: `changed` (the default), the run's next event after the
    /// decision; `settled`, the run paused again or finished, so one request
    /// covers a decision's whole effect.
    #[param(inline)]
    until: Option<Until>,
}

/// Resume a paused run with a decision.
#[utoipa::path(operation_id = "resumeRun", post, path = "/v1/runs/{id}/resume", tag = "runs",
    params(("id" = String, Path, description = "Run id"), ResumeQuery),
    request_body = Resume,
    responses(
        (status = 200, description = "The run, resumed (or ended, on a rejection)", body = RunView),
        (status = 404, description = "No such run for this tenant"),
        (status = 409, description = "The run is not paused at that step, or this key's holder approved it already"),
        (status = 422, description = "The decision is not one the pending action allows"),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    Caller(holder): Caller,
    Path(id): Path<String>,
    query: Result<Query<ResumeQuery>, QueryRejection>,
    body: ApiJson<Resume>,
) -> Result<Json<RunView>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let Resume {
        step,
        input,
        reviewer,
    } = body.value;
    let tenant = holder.tenant;
    // A bad `wait` is refused before anything is decided (and a run that
    // is not there is that, whatever `wait` says: looked for only then).
    let wait = query
        .wait
        .as_deref()
        .map(|wait| {
            wait_of(wait).or_else(|refused| {
                state.host.runner.run_state(Some(&tenant), &id)?;
                Err(refused)
            })
        })
        .transpose()?;
    let actor = Actor {
        label: reviewer.filter(|label| !label.eq_ignore_ascii_case(&holder.name)),
        ..Actor::api(&holder.name)
    };
    let runner = &state.host.runner;
    let Some(wait) = wait else {
        return Ok(Json(
            runner.resume(&tenant, &id, &step, input, actor).await?,
        ));
    };
    // Watched from before the decision: what follows it, however soon, is
    // seen as it happens, without reading the run again.
    let until = query.until.unwrap_or_default();
    let watch = runner.watch_view(&id, until == Until::Settled);
    let decided = runner.decide(&tenant, &id, &step, input, actor).await?;
    let answered = runner.follow(
        watch,
        Some(&tenant),
        &id,
        wait,
        answers(until, Some(decided)),
    );
    Ok(Json(until_closing(&state, &tenant, &id, answered).await?))
}

/// Cancel a pending, running or paused run.
#[utoipa::path(operation_id = "cancelRun", post, path = "/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run, cancelled", body = RunView),
        (status = 404, description = "No such run for this tenant"),
        (status = 409, description = "The run has ended already"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(holder): Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let (tenant, actor) = (holder.tenant, Actor::api(&holder.name));
    Ok(Json(state.host.runner.cancel(&tenant, &id, actor).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// Only this workflow's runs.
    workflow_id: Option<String>,
    /// Only runs waiting for this reviewer.
    reviewer: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// A step waiting for a person (a run has one entry per waiting step).
#[derive(Serialize, ToSchema)]
pub struct Approval {
    run_id: String,
    workflow_id: String,
    /// The step that waits (its path).
    step: Option<String>,
    /// What it waits for.
    pending_action: Option<PendingAction>,
    waiting_since: String,
    /// When the pause times out, if it does.
    deadline: Option<String>,
    /// The gate's reviewers and their approval links.
    links: Vec<ApprovalLink>,
}

/// One reviewer's approval link: it works once, until `expires_at`.
#[derive(Serialize, ToSchema)]
pub struct ApprovalLink {
    reviewer: String,
    url: String,
    expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    /// Oldest first.
    approvals: Vec<Approval>,
}

/// The tenant's runs waiting for a person, oldest first.
#[utoipa::path(operation_id = "listApprovals", get, path = "/v1/approvals", tag = "approvals", params(ApprovalsQuery),
    responses(
        (status = 200, description = "The queue", body = ApprovalList),
        (status = 400, description = "A bad limit"),
    ))]
pub async fn approvals(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Result<Json<ApprovalList>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad_query("limit must be from 1 to 500"));
    }
    let runs = state.host.runner.paused_runs(
        &tenant,
        query.workflow_id.as_deref(),
        query.reviewer.as_deref(),
        limit,
    )?;
    let mut approvals = Vec::new();
    for run in &runs {
        for action in &run.pending_actions {
            let reviewers = action.gate.as_ref().map(|g| &g.reviewers);
            if let Some(reviewer) = &query.reviewer
                && !reviewers.is_some_and(|r| r.contains(reviewer))
            {
                continue;
            }
            let step = run.steps.iter().find(|s| s.name == action.step);
            approvals.push(Approval {
                links: approval_links(&state, &tenant, &run.id, action),
                step: Some(action.step.clone()),
                run_id: run.id.clone(),
                workflow_id: run.workflow_id.clone(),
                pending_action: Some(action.clone()),
                waiting_since: action
                    .gate
                    .as_ref()
                    .map_or_else(|| run.updated_at.clone(), |g| g.paused_at.clone()),
                deadline: step.and_then(|s| s.deadline.clone()),
            });
        }
    }
    Ok(Json(ApprovalList { approvals }))
}

/// The approval links of a step of run `run_id` waiting at a gate with reviewers.
fn approval_links(
    state: &AppState,
    tenant: &str,
    run_id: &str,
    action: &PendingAction,
) -> Vec<ApprovalLink> {
    let Some(gate) = action.gate.as_ref() else {
        return Vec::new();
    };
    gate.reviewers
        .iter()
        .filter_map(|reviewer| {
            let (url, expires) = state.host.links.link_for(
                tenant,
                run_id,
                &action.step,
                &gate.paused_at,
                reviewer,
            )?;
            Some(ApprovalLink {
                reviewer: reviewer.to_owned(),
                url,
                expires_at: timestamp(expires * 1000),
            })
        })
        .collect()
}
