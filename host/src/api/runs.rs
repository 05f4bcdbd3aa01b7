//! Run routes: start (idempotent), list, get (long-poll), events (JSON or SSE),
//! resume, cancel.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Tenant};
use crate::model::RunStatus;
use crate::runner::{Actor, Idempotency, RunView};
use crate::workflow::parse_duration;

/// The longest `?wait=` a client may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    #[serde(default)]
    input: Value,
}

pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StartRun>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= 255)
                .ok_or_else(|| ApiError::BadRequest {
                    kind: "bad-idempotency-key",
                    detail: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
                })?;
            Some(Idempotency {
                key: key.to_owned(),
                body_hash: hex::encode(Sha256::digest(&body.raw)),
            })
        }
    };
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

#[derive(Deserialize)]
pub struct ListQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

fn bad_query(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        kind: "bad-query",
        detail: detail.into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
        runs.last().map(|run| hex::encode(run.id.as_bytes()))
    } else {
        None
    };
    Ok(Json(json!({ "runs": runs, "next_cursor": next_cursor })))
}

/// Cursors are opaque to clients: the hex of the last run id of a page.
fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| ApiError::BadRequest {
            kind: "bad-cursor",
            detail: "the cursor is not one this API gave out".into(),
        })
}

#[derive(Deserialize)]
pub struct GetQuery {
    wait: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    query: Result<Query<GetQuery>, QueryRejection>,
) -> Result<Json<RunView>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let run = state.host.runner.get_run(Some(&tenant), &id)?;
    let Some(wait) = query.wait else {
        return Ok(Json(run));
    };
    let wait = parse_duration(&wait)
        .map_err(|e| bad_query(format!("wait: {e}")))?
        .min(MAX_WAIT);
    if run.status.is_terminal() {
        return Ok(Json(run));
    }
    let seen = run.last_event;
    let changed = state
        .host
        .runner
        .wait_until(Some(&tenant), &id, wait, |now| now.last_event != seen)
        .await?;
    Ok(Json(changed))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<i64>,
}

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
        return Ok(Json(json!({ "events": events })).into_response());
    }
    let stream = EventStream {
        state,
        tenant,
        run_id: id,
        after,
        pending: events.into(),
        changes: None,
        done: false,
    };
    let stream = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<Event, Infallible>(event), stream))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// A run's events as server-sent events: what is stored after `after`, then
/// each new one as it is committed, until the run has finished.
struct EventStream {
    state: AppState,
    tenant: String,
    run_id: String,
    after: i64,
    pending: std::collections::VecDeque<crate::store::EventRecord>,
    changes: Option<tokio::sync::broadcast::Receiver<String>>,
    done: bool,
}

impl EventStream {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.after = event.seq;
                let data = json!({ "seq": event.seq, "at": crate::runner::view::timestamp(event.at), "kind": event.kind, "data": event.data });
                return Some(
                    Event::default()
                        .id(event.seq.to_string())
                        .event(event.kind)
                        .data(data.to_string()),
                );
            }
            if self.done {
                return None;
            }
            // Subscribe before reading, so no commit falls between the two.
            let changes = self
                .changes
                .get_or_insert_with(|| self.state.host.runner.subscribe());
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
            loop {
                match changes.recv().await {
                    Ok(changed) if changed != self.run_id => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    _ => break,
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    step: String,
    input: Value,
}

pub async fn resume(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: ApiJson<Resume>,
) -> Result<Json<RunView>, ApiError> {
    let Resume { step, input } = body.value;
    let actor = Actor::api(&format!("api:{tenant}"));
    Ok(Json(
        state
            .host
            .runner
            .resume(&tenant, &id, &step, input, actor)
            .await?,
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let actor = Actor::api(&format!("api:{tenant}"));
    Ok(Json(state.host.runner.cancel(&tenant, &id, actor).await?))
}

#[derive(Deserialize)]
pub struct ApprovalsQuery {
    workflow_id: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/approvals`: the tenant's runs waiting for a person, oldest first.
pub async fn approvals(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad_query("limit must be from 1 to 500"));
    }
    let runs = state
        .host
        .runner
        .paused_runs(&tenant, query.workflow_id.as_deref(), limit)?;
    let waiting: Vec<Value> = runs
        .iter()
        .map(|run| {
            json!({
                "run_id": run.id,
                "workflow_id": run.workflow_id,
                "step": run.pending_action.as_ref().and_then(|a| a.get("step")).cloned(),
                "pending_action": run.pending_action,
                "waiting_since": run.updated_at,
                "deadline": run.pause_deadline,
            })
        })
        .collect();
    Ok(Json(json!({ "approvals": waiting })))
}
