//! Secret routes: a tenant writes named secrets and lists their names; no route
//! ever returns a value. Plugins refer to a secret as `${secret:NAME}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, Path, Tenant};
use crate::secrets::{SecretError, SecretInfo};

/// A secret's value. Deliberately not `Debug`: it must not reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// 1 to 16 KiB of text without control characters.
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"
    )]
    value: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecretList {
    /// Sorted by name.
    secrets: Vec<SecretInfo>,
}

/// Store a secret, or replace its value. The value is never returned.
#[utoipa::path(operation_id = "putSecret", put, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "1 to 64 ASCII letters, digits, '_', '-' or '.'",
        pattern = "^[A-Za-z0-9_.-]{1,64}$")),
    request_body = SecretValue,
    responses(
        (status = 201, description = "Stored", body = SecretInfo),
        (status = 200, description = "Replaced", body = SecretInfo),
        (status = 422, description = "A bad name or value"),
    ))]
pub async fn put(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    body: ApiJson<SecretValue>,
) -> Result<(StatusCode, Json<SecretInfo>), ApiError> {
    let created = state
        .host
        .secrets
        .put(&tenant, &name, &body.value.value)
        .await?;
    let info = state
        .host
        .secrets
        .list(&tenant)?
        .into_iter()
        .find(|info| info.name == name)
        .ok_or_else(|| ApiError::Internal("a stored secret is missing".to_owned()))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)))
}

/// The tenant's secrets: names and dates, never values.
#[utoipa::path(operation_id = "listSecrets", get, path = "/v1/secrets", tag = "secrets",
    responses((status = 200, description = "The tenant's secrets", body = SecretList)))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<SecretList>, ApiError> {
    Ok(Json(SecretList {
        secrets: state.host.secrets.list(&tenant)?,
    }))
}

/// Delete a secret. Steps that use it fail their requests from now on.
#[utoipa::path(operation_id = "deleteSecret", delete, path = "/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such secret"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.host.secrets.delete(&tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<SecretError> for ApiError {
    fn from(error: SecretError) -> Self {
        match error {
            SecretError::Invalid(detail) => ApiError::unprocessable("invalid-secret", detail),
            SecretError::NotFound => ApiError::NotFound,
            SecretError::Store(e) => e.into(),
        }
    }
}
