//! Request extractors whose failures are problem+json: the tenant behind a
//! Bearer key, and JSON bodies.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::runner::Idempotency;
use crate::tenants::KeyHolder;

/// The tenant that made the request.
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(holder) = Caller::from_request_parts(parts, state).await?;
        Ok(Tenant(holder.tenant))
    }
}

/// Who made the request: the tenant, and the name (identity) of the key.
pub struct Caller(pub KeyHolder);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("send an API key as 'Authorization: Bearer <key>'".into())
        })?;
        let key = header.to_str().ok().and_then(bearer_key).ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be 'Bearer <key>'".into())
        })?;
        match state.host.keys.authenticate(key) {
            Ok(Some(holder)) => Ok(Caller(holder)),
            Ok(None) => Err(ApiError::Unauthorized("unknown API key".into())),
            Err(e) => Err(e.into()),
        }
    }
}

/// The key of an `Authorization: Bearer <key>` value: the scheme in any case
/// (RFC 9110), then exactly one space, then the key.
fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty() && !key.contains(' ')).then_some(key)
}

/// The SHA-256 of a JSON body in canonical form (objects' keys sorted, no
/// insignificant white space), so that the same body, however it is written,
/// hashes the same; for `Idempotency-Key`.
pub fn canonical_hash(raw: &[u8]) -> String {
    use sha2::Digest as _;
    let canonical = serde_json::from_slice::<serde_json::Value>(raw)
        .and_then(|value| serde_json::to_vec(&value))
        .unwrap_or_else(|_| raw.to_vec());
    hex::encode(sha2::Sha256::digest(canonical))
}

/// The request's `Idempotency-Key` with its body's canonical hash, if it has
/// one; 400 for a key that is empty, too long or not visible ASCII.
pub fn idempotency(headers: &HeaderMap, raw: &[u8]) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= 255)
        .ok_or_else(|| ApiError::BadRequest {
            kind: "bad-idempotency-key",
            detail: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        })?;
    Ok(Some(Idempotency {
        key: key.to_owned(),
        body_hash: canonical_hash(raw),
    }))
}

/// Path parameters; a segment that cannot be read (not UTF-8, say) is a
/// problem+json 400 rather than axum's plain-text one.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| Path(path.0))
            .map_err(|rejection| ApiError::BadRequest {
                kind: "bad-path",
                detail: rejection.body_text(),
            })
    }
}

/// A JSON body; its raw bytes are kept for hashing (idempotency).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        let value = parse_json(&headers, &raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// 400 for a query string that cannot be read.
pub fn bad_query(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        kind: "bad-query",
        detail: detail.into(),
    }
}

/// A component upload: the raw body, sent as `application/wasm` (or
/// `application/octet-stream`).
pub struct WasmBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for WasmBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // The body is read (up to the limit) before any answer, so that a
        // client still sending it is not cut off mid-request.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        if !matches!(
            essence(&content_type).as_str(),
            "application/wasm" | "application/octet-stream"
        ) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the component's bytes as 'Content-Type: application/wasm', not '{content_type}'"
            )));
        }
        Ok(WasmBody(bytes))
    }
}

/// A media type without its parameters, lowercased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(rejection.body_text())
    } else {
        ApiError::BadRequest {
            kind: "unreadable-body",
            detail: rejection.body_text(),
        }
    }
}

/// Parses a JSON request body: 415 unless the content type is JSON, 400 for
/// malformed JSON, 422 for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = essence(content_type);
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "expected 'Content-Type: application/json', got '{content_type}'"
        )));
    }
    // Syntax first (400), then shape (422): serde_json alone files some shape
    // errors, such as a number where an enum belongs, under syntax.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
            kind: "malformed-json",
            detail: format!("the body is not valid JSON: {e}"),
        })?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        ApiError::unprocessable(
            "invalid-body",
            if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_with_one_space() {
        let cases = [
            ("Bearer k1", Some("k1")),
            ("bearer k1", Some("k1")),
            ("BEARER k1", Some("k1")),
            ("Bearer  k1", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("Basic k1", None),
            ("Bearerk1", None),
            ("Bearer k1 k2", None),
        ];
        for (value, expected) in cases {
            assert_eq!(bearer_key(value), expected, "{value:?}");
        }
    }

    #[test]
    fn canonical_hashes_ignore_key_order_and_spacing() {
        let a = canonical_hash(br#"{"a":1,"b":{"c":[1,2],"d":"x"}}"#);
        assert_eq!(
            a,
            canonical_hash(br#"{ "b": {"d": "x", "c": [1, 2]}, "a": 1 }"#)
        );
        assert_ne!(a, canonical_hash(br#"{"a":1,"b":{"c":[2,1],"d":"x"}}"#));
    }
}
