//! The dashboard at `/`: server-rendered pages (minijinja templates embedded
//! in the binary) with one small script for what a page does live, over the
//! API's own handlers. A page reads what `GET /v1/...` answers, and a form
//! sends what the matching `POST /v1/...` takes, in this process: the same
//! runner calls, checks and errors as the API, shown as HTML.
//!
//! Sign-in exchanges an API key for a session cookie (`session.rs`); every
//! form that changes something carries the session's form token (CSRF).

mod forms;
mod pages;
mod session;

use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ProblemDetails};
use super::extract::ApiJson;

/// The dashboard's routes; none lies under `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route(
            "/workflows",
            get(pages::workflows).post(pages::create_workflow),
        )
        .route("/workflows/new", get(pages::new_workflow))
        .route("/workflows/{id}", get(pages::workflow))
        .route("/workflows/{id}/runs", post(pages::start_run))
        .route("/workflows/{id}/status", post(pages::set_status))
        .route("/workflows/{id}/schedule", post(pages::set_schedule))
        .route("/workflows/{id}/plan/reject", post(pages::reject_plan))
        .route(
            "/workflows/{id}/versions/{version}",
            get(pages::workflow_version),
        )
        .route("/runs", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/panel", get(pages::run_panel))
        .route("/runs/{id}/steps/{path}", get(pages::run_step))
        .route("/runs/{id}/live", get(pages::run_live))
        .route("/runs/{id}/decide", post(pages::decide))
        .route("/runs/{id}/cancel", post(pages::cancel))
        .route("/approvals", get(pages::approvals))
        .route("/batches", get(pages::batches))
        .route("/batches/{id}", get(pages::batch))
        .route("/batches/{id}/cancel", post(pages::cancel_batch))
        .route("/assets/{name}", get(asset))
        .layer(axum::middleware::map_response(harden))
}

/// What every dashboard answer carries: its own script and style only, no
/// framing, no referrer off the site, and pages that are not cached.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The script, the style sheet and the icon, each named with its content's hash so
/// that a browser may keep it for good.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/dashboard.css"),
    },
    Asset {
        name: "cairn.svg",
        content_type: "image/svg+xml",
        body: include_str!("assets/cairn.svg"),
    },
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/dashboard.js"),
    },
];

/// `dashboard.css` → `dashboard.<hash>.css`.
fn versioned(asset: &Asset) -> String {
    use sha2::Digest as _;
    let hash = hex::encode(&sha2::Sha256::digest(asset.body)[..6]);
    let (stem, extension) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
    format!("{stem}.{hash}.{extension}")
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| versioned(asset) == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The templates, parsed once.
fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let pages = [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("sign_in.html", include_str!("templates/sign_in.html")),
            ("error.html", include_str!("templates/error.html")),
            ("workflows.html", include_str!("templates/workflows.html")),
            (
                "new_workflow.html",
                include_str!("templates/new_workflow.html"),
            ),
            ("workflow.html", include_str!("templates/workflow.html")),
            ("runs.html", include_str!("templates/runs.html")),
            ("run.html", include_str!("templates/run.html")),
            ("run_live.html", include_str!("templates/run_live.html")),
            ("run_action.html", include_str!("templates/run_action.html")),
            ("step.html", include_str!("templates/step.html")),
            ("approvals.html", include_str!("templates/approvals.html")),
            ("batch.html", include_str!("templates/batch.html")),
            ("batches.html", include_str!("templates/batches.html")),
            ("version.html", include_str!("templates/version.html")),
        ];
        for (name, source) in pages {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("dashboard template {name}: {e:#}"));
        }
        env.add_filter("pretty", |value: minijinja::Value| {
            serde_json::to_value(&value)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_default()
        });
        // An RFC 3339 time as a person reads it at a glance (UTC, to the
        // second); the full one is in the <time> element.
        env.add_filter("when", |time: &str| {
            time.get(..19).unwrap_or(time).replace('T', " ")
        });
        // At most `n` characters, then an ellipsis.
        env.add_filter("clip", |text: &str, n: usize| {
            match text.char_indices().nth(n) {
                Some((at, _)) => format!("{}…", &text[..at]),
                None => text.to_owned(),
            }
        });
        for asset in &ASSETS {
            let key = asset.name.replace('.', "_");
            env.add_global(key, format!("/assets/{}", versioned(asset)));
        }
        env
    })
}

/// Renders template `name` with `context` as a page, or as the fragment it is.
fn render(name: &str, context: &minijinja::Value) -> Result<String, PageError> {
    templates()
        .get_template(name)
        .and_then(|template| template.render(context))
        .map_err(|e| PageError::Api(ApiError::Internal(format!("template {name}: {e:#}"))))
}

/// A page, with `status`.
fn page(status: StatusCode, name: &str, context: minijinja::Value) -> Response {
    match render(name, &context) {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A serialisable value as the templates see it.
fn value(of: impl Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(of))
}

/// Why a page cannot be shown: the API's problem as a page, or a form
/// without its token.
pub enum PageError {
    Api(ApiError),
    /// The form's CSRF token is missing or not this session's.
    Forged,
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError::Api(error)
    }
}

impl From<crate::runner::RunError> for PageError {
    fn from(error: crate::runner::RunError) -> Self {
        PageError::Api(error.into())
    }
}

impl PageError {
    fn problem(self) -> (StatusCode, ProblemDetails) {
        match self {
            PageError::Api(error) => error.problem(),
            PageError::Forged => ApiError::Forbidden(
                "This form did not come from this page of the dashboard, or it was open \
                 before you signed in again. Nothing was changed: reload the page and try again."
                    .into(),
            )
            .problem(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        page(
            status,
            "error.html",
            minijinja::context! { title => problem.title.clone(), problem => value(&problem) },
        )
    }
}

/// An API handler's request body, as it would arrive as JSON.
fn json_body<T: DeserializeOwned>(body: Value) -> Result<ApiJson<T>, ApiError> {
    let raw = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let value = super::extract::parse_json(&headers, &raw)?;
    Ok(ApiJson { value, raw })
}

/// An API handler's query, as it would arrive in the URL.
fn query<T: DeserializeOwned>(
    fields: Value,
) -> Result<Result<Query<T>, axum::extract::rejection::QueryRejection>, ApiError> {
    serde_json::from_value(fields)
        .map(|fields| Ok(Query(fields)))
        .map_err(|e| super::extract::bad_query(e.to_string()))
}
