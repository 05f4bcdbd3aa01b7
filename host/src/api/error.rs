//! API errors as RFC 9457 `application/problem+json`, each kind with a stable
//! `type`. 5xx bodies say nothing internal; the log says everything.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::runner::RunError;
use crate::tenants::StoreError;
use crate::workflow::Problem;

/// The prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:cairn:problem:";

/// An RFC 9457 problem, as every error answer carries it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// Stable per kind of error: `urn:cairn:problem:<kind>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:cairn:problem:not-found")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every problem with the request, each with its JSON pointer (422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Problem>,
}

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, a bad cursor or query).
    BadRequest { kind: &'static str, detail: String },
    /// 401: no key, or an unknown one.
    Unauthorized(String),
    /// 403: the key is valid, but may not do this.
    Forbidden(String),
    /// 404: no such resource for this tenant.
    NotFound,
    /// 404: no such route.
    NoRoute,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the resource's state.
    Conflict(String),
    /// 410: an approval link that expired.
    Gone(String),
    /// 413.
    PayloadTooLarge(String),
    /// 415.
    UnsupportedMediaType(String),
    /// 422: well-formed but not acceptable; `errors` lists each problem with its path.
    Unprocessable {
        kind: &'static str,
        detail: String,
        errors: Vec<Problem>,
    },
    /// 429.
    TooManyRequests(String),
    /// 502: a server Cairn depends on (the planner's model) failed.
    BadGateway { kind: &'static str, detail: String },
    /// 504: a server Cairn depends on did not answer in time.
    GatewayTimeout { kind: &'static str, detail: String },
    /// 503: the database cannot be reached; logged, and the client may try
    /// again (nothing was changed).
    Unavailable(String),
    /// 500: logged, never shown.
    Internal(String),
}

impl ApiError {
    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { kind, .. } => (StatusCode::BAD_REQUEST, kind, "Bad request"),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid API key",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "no-such-route", "No such route"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "link-expired", "Expired"),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Unprocessable { kind, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                kind,
                "Unprocessable request",
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "quota-exceeded",
                "Too many requests",
            ),
            ApiError::BadGateway { kind, .. } => {
                (StatusCode::BAD_GATEWAY, kind, "The upstream server failed")
            }
            ApiError::GatewayTimeout { kind, .. } => (
                StatusCode::GATEWAY_TIMEOUT,
                kind,
                "The upstream server did not answer in time",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The database is unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::NotFound => ApiError::NotFound,
            RunError::Invalid(errors) => ApiError::Unprocessable {
                kind: "invalid-workflow",
                detail: format!("the workflow definition has {} problem(s)", errors.len()),
                errors,
            },
            RunError::NotActive(detail) => ApiError::unprocessable("workflow-not-active", detail),
            RunError::Conflict(detail) => ApiError::Conflict(detail),
            RunError::Rejected(detail) => ApiError::unprocessable("input-rejected", detail),
            RunError::QuotaExceeded(detail) => ApiError::TooManyRequests(detail),
            RunError::Store(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) | StoreError::WriterGone => {
                ApiError::Unavailable(error.to_string())
            }
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.problem();
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl ApiError {
    /// The error's status and problem, as an answer carries them (and the
    /// dashboard shows them); a 5xx's detail is logged here, not shown.
    pub fn problem(self) -> (StatusCode, ProblemDetails) {
        let (status, kind, title) = self.parts();
        let (detail, errors) = match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Unauthorized(detail)
            | ApiError::Forbidden(detail)
            | ApiError::Conflict(detail)
            | ApiError::Gone(detail)
            | ApiError::PayloadTooLarge(detail)
            | ApiError::UnsupportedMediaType(detail)
            | ApiError::TooManyRequests(detail) => (Some(detail), Vec::new()),
            ApiError::Unprocessable { detail, errors, .. } => (Some(detail), errors),
            ApiError::BadGateway { detail, .. } | ApiError::GatewayTimeout { detail, .. } => {
                (Some(detail), Vec::new())
            }
            ApiError::NotFound | ApiError::NoRoute | ApiError::MethodNotAllowed => {
                (None, Vec::new())
            }
            ApiError::Unavailable(detail) => {
                tracing::error!("{detail}");
                (
                    Some(
                        "the database cannot be reached; nothing was changed, try again".to_owned(),
                    ),
                    Vec::new(),
                )
            }
            ApiError::Internal(detail) => {
                tracing::error!("internal error: {detail}");
                (None, Vec::new())
            }
        };
        let body = ProblemDetails {
            kind: format!("{PROBLEM_TYPE_PREFIX}{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        };
        (status, body)
    }
}
