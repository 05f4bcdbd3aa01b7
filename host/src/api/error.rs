//! API errors as RFC 9457 `application/problem+json`, each kind with a stable
//! `type`. 5xx bodies say nothing internal; the log says everything.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::runner::RunError;
use crate::workflow::Problem;

/// The prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:cairn:problem:";

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, a bad cursor or query).
    BadRequest { kind: &'static str, detail: String },
    /// 401: no key, or an unknown one.
    Unauthorized(String),
    /// 404: no such resource for this tenant.
    NotFound,
    /// 409: the request conflicts with the resource's state.
    Conflict(String),
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
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
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
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        let (detail, errors) = match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Unauthorized(detail)
            | ApiError::Conflict(detail)
            | ApiError::PayloadTooLarge(detail)
            | ApiError::UnsupportedMediaType(detail)
            | ApiError::TooManyRequests(detail) => (Some(detail), Vec::new()),
            ApiError::Unprocessable { detail, errors, .. } => (Some(detail), errors),
            ApiError::NotFound => (None, Vec::new()),
            ApiError::Internal(detail) => {
                tracing::error!("internal error: {detail}");
                (None, Vec::new())
            }
        };
        let mut body = json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{kind}"),
            "title": title,
            "status": status.as_u16(),
        });
        if let Some(detail) = detail {
            body["detail"] = json!(detail);
        }
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
