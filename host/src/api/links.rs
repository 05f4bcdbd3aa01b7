//! Approval links, for reviewers without an API key: `GET` (and `HEAD`)
//! `/v1/approvals/{token}` shows what is asked and changes nothing, so a mail
//! scanner that fetches the link does no harm; `POST` applies the reviewer's
//! decision, once. Answers are HTML pages, or problem+json to clients that ask
//! for JSON.

use std::sync::OnceLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};

use super::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use crate::approvals::{Claims, LinkError, token_id};
use crate::runner::{RunError, RunView};

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
pre { background: #f4f4f4; padding: 1rem; overflow: auto; border-radius: 6px }
button { font-size: 1rem; padding: .5rem 1.25rem; margin-right: .5rem; border-radius: 6px; border: 1px solid #888; cursor: pointer }
textarea { width: 100%; min-height: 5rem; font: inherit }
.muted { color: #666; font-size: .9rem }
</style></head>
<body>
<h1>{{ title }}</h1>
{% if detail %}<p>{{ detail }}</p>{% endif %}
{% if ask %}
<p><strong>{{ ask.message }}</strong></p>
<p class="muted">Step <code>{{ ask.step }}</code> of run <code>{{ ask.run }}</code>, asked of {{ ask.reviewer }}{% if ask.required > 1 %}; {{ ask.approvals }} of {{ ask.required }} approvals so far{% endif %}.</p>
<h2>To review</h2>
<pre>{{ ask.data }}</pre>
<form method="post">
<p><label for="note">Note (optional)</label><br><textarea id="note" name="note"></textarea></p>
<p>{% for option in ask.options %}<button type="submit" name="decision" value="{{ option }}">{{ option | capitalize }}</button>{% endfor %}</p>
</form>
<p class="muted">Nothing changes until you press a button. This link works once.</p>
{% endif %}
{% if plan %}
<p><strong>Goal:</strong> {{ plan.goal }}</p>
<p class="muted">Workflow <code>{{ plan.workflow }}</code>, version {{ plan.version }}, planned by {{ plan.model }}; sent to {{ plan.reviewer }}.</p>
<h2>{{ plan.title }}</h2>
{% for step in plan.steps %}<p>{{ step }}</p>{% endfor %}
{% if plan.schedule %}<p>Once approved, it runs on the schedule <code>{{ plan.schedule }}</code>.</p>{% endif %}
<form method="post">
{% if plan.decision == "reject" %}<p><label for="note">Why (optional)</label><br><textarea id="note" name="note"></textarea></p>{% endif %}
<p><button type="submit" name="decision" value="{{ plan.decision }}">{{ plan.decision | capitalize }} this plan</button></p>
</form>
<p class="muted">Nothing changes until you press the button. This link works once.</p>
{% endif %}
</body></html>
"#;

/// The page's `Content-Security-Policy`: nothing but its own inline style
/// (by hash) and forms posted back to it; no script, no framing.
fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let style = PAGE
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map_or("", |(style, _)| style);
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// What every answer about an approval link carries: the token is in the URL,
/// so it is sent to nobody (no referrer), kept nowhere (no cache), and the page
/// runs no script and cannot be framed.
pub async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, content_security_policy()),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

/// A page: a title, a sentence, and what a gate asks or a plan to review.
pub(super) fn render(
    title: &str,
    detail: Option<&str>,
    ask: Option<Value>,
    plan: Option<Value>,
) -> String {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.add_template("page.html", PAGE)
            .expect("the approval page template parses");
        env
    });
    env.get_template("page.html")
        .and_then(|t| {
            let ask = ask.map(|a| minijinja::Value::from(minijinja::value::Serde(a)));
            let plan = plan.map(|p| minijinja::Value::from(minijinja::value::Serde(p)));
            t.render(minijinja::context! { title, detail, ask, plan })
        })
        .unwrap_or_else(|e| {
            tracing::error!("approval page: {e}");
            "Approval page unavailable".to_owned()
        })
}

/// A refusal: an HTML page, or problem+json for a client that asks for JSON.
pub(super) struct Refusal {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
}

impl Refusal {
    pub(super) fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Refusal {
            status,
            kind,
            title,
            detail: detail.into(),
        }
    }

    pub(super) fn invalid() -> Self {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "invalid-link",
            "This approval link is not valid",
            LinkError::Invalid.to_string(),
        )
    }

    pub(super) fn respond(self, json: bool) -> Response {
        if json {
            let error = match self.status {
                StatusCode::NOT_FOUND => ApiError::NotFound,
                StatusCode::CONFLICT => ApiError::Conflict(self.detail),
                StatusCode::GONE => ApiError::Gone(self.detail),
                _ => ApiError::unprocessable(self.kind, self.detail),
            };
            return error.into_response();
        }
        let page = render(self.title, Some(&self.detail), None, None);
        (self.status, Html(page)).into_response()
    }
}

pub(super) fn wants_json(headers: &HeaderMap) -> bool {
    let has = |name, what| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v: &str| v.contains(what))
    };
    has(header::ACCEPT, "application/json") || has(header::CONTENT_TYPE, "application/json")
}

/// Whether a link of `tenant` may be used with the request's key: a request
/// with another tenant's key is refused as if the link did not exist.
pub(super) fn key_fits(state: &AppState, headers: &HeaderMap, tenant: &str) -> bool {
    let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return true;
    };
    matches!(state.host.keys.authenticate(key.trim()), Ok(Some(ref holder)) if holder.tenant == tenant)
}

/// Checks a token against the run, changing nothing.
fn check(state: &AppState, token: &str, headers: &HeaderMap) -> Result<(Claims, RunView), Refusal> {
    let now = crate::clock::now_ms() / 1000;
    let claims = state
        .host
        .links
        .verify::<Claims>(token, now)
        .map_err(|e| match e {
            LinkError::Invalid => Refusal::invalid(),
            LinkError::Expired => Refusal::new(
                StatusCode::GONE,
                "link-expired",
                "This approval link has expired",
                "Ask for a new link, or decide in the API.",
            ),
        })?;
    if !key_fits(state, headers, &claims.tenant) {
        return Err(Refusal::invalid());
    }
    let used = state
        .host
        .runner
        .approval_link_used(&token_id(token))
        .map_err(|_| Refusal::invalid())?;
    if used {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "link-used",
            "This approval link was used already",
            "Each link works once; the decision it carried is recorded on the run.",
        ));
    }
    let run = state
        .host
        .runner
        .get_run(Some(&claims.tenant), &claims.run)
        .map_err(|_| Refusal::invalid())?;
    let waiting =
        !run.status.is_terminal() && run.pending_actions.iter().any(|a| a.step == claims.step);
    if !waiting {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "not-waiting",
            "Nothing to decide any more",
            format!(
                "The run is {} and no longer waits at this step.",
                run.status
            ),
        ));
    }
    Ok((claims, run))
}

/// What the page asks, from the run's pending action.
fn ask(claims: &Claims, run: &RunView) -> Value {
    let action = run.pending_actions.iter().find(|a| a.step == claims.step);
    let gate = action.and_then(|a| a.gate.as_ref());
    json!({
        "message": action.map(|a| &a.message),
        "step": claims.step,
        "run": run.id,
        "reviewer": claims.reviewer,
        "options": action.map(|a| &a.options),
        "required": gate.map(|g| g.required),
        "approvals": gate.map(|g| g.approvals),
        "data": action
            .and_then(|a| serde_json::to_string_pretty(&a.data).ok())
            .unwrap_or_default(),
    })
}

/// The page of an approval link: what is asked, the data to review, and the
/// options. Changes nothing.
#[utoipa::path(get, operation_id = "showApprovalLink", path = "/v1/approvals/{token}", tag = "approvals",
    params(("token" = String, Path, description = "The token of an approval link")),
    responses(
        (status = 200, description = "What is asked (HTML, or JSON when asked for)", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link"),
        (status = 409, description = "Used already, or the run no longer waits"),
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
        Ok((claims, run)) if json => Json(ask(&claims, &run)).into_response(),
        Ok((claims, run)) => Html(render(
            "Approval requested",
            None,
            Some(ask(&claims, &run)),
            None,
        ))
        .into_response(),
    }
}

/// A form's or a JSON body's fields, or `None` when they do not parse.
pub(super) async fn read_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: Request,
    json: bool,
) -> Option<T> {
    if json {
        Bytes::from_request(request, state)
            .await
            .ok()
            .and_then(|body| serde_json::from_slice::<T>(&body).ok())
    } else {
        axum::Form::<T>::from_request(request, state)
            .await
            .ok()
            .map(|form| form.0)
    }
}

/// A reviewer's decision, as a form or JSON.
#[derive(Deserialize, ToSchema)]
pub struct LinkDecision {
    /// One of the options the page shows.
    decision: String,
    #[serde(default)]
    note: Option<String>,
}

/// Apply the reviewer's decision; the link works once.
#[utoipa::path(post, operation_id = "decideApprovalLink", path = "/v1/approvals/{token}", tag = "approvals",
    params(("token" = String, Path, description = "The token of an approval link")),
    request_body(content(
        (LinkDecision = "application/x-www-form-urlencoded"),
        (LinkDecision = "application/json"),
    )),
    responses(
        (status = 200, description = "Recorded (HTML, or the run as JSON)", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link"),
        (status = 409, description = "Used already, or the run no longer waits"),
        (status = 410, description = "Expired"),
        (status = 422, description = "Not one of the options"),
    ))]
pub async fn decide(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let json = wants_json(&headers);
    let (claims, _) = match check(&state, &token, &headers) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.respond(json),
    };
    let decision = read_body::<LinkDecision>(&state, request, json).await;
    let Some(decision) = decision else {
        return Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "No decision",
            "Send the decision (one of the options) and an optional note.",
        )
        .respond(json);
    };
    let chosen = decision.decision.clone();
    let value = json!({ "decision": decision.decision, "note": decision.note.filter(|n| !n.trim().is_empty()) });
    match state
        .host
        .runner
        .resume_by_link(&claims, token_id(&token), value)
        .await
    {
        Ok(run) if json => Json(run).into_response(),
        Ok(run) => {
            let detail = format!(
                "Your decision ({chosen}) is recorded. The run is now {}.",
                run.status
            );
            Html(render("Thank you", Some(&detail), None, None)).into_response()
        }
        Err(error) => not_recorded(error, json),
    }
}

/// The answer to a link's decision the runner refused: a page, or
/// problem+json; what the refusal does not explain stays internal.
pub(super) fn not_recorded(error: RunError, json: bool) -> Response {
    match error {
        RunError::Conflict(detail) => {
            Refusal::new(StatusCode::CONFLICT, "conflict", "Not recorded", detail).respond(json)
        }
        RunError::Rejected(detail) => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "input-rejected",
            "Not one of the options",
            detail,
        )
        .respond(json),
        RunError::NotFound => Refusal::invalid().respond(json),
        other => ApiError::from(other).into_response(),
    }
}
