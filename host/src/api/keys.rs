//! Key routes: an admin key lists its tenant's API keys (names, never the
//! keys) and revokes them. Keys are made by the operator with `cairn key
//! create`, so no API caller can give itself a second identity.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, Path};
use crate::tenants::{KeyHolder, KeyRecord, LastAdmin};

/// An API key: its name (the identity of whoever holds it), never the key.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    name: String,
    /// Whether the key may list and revoke the tenant's keys.
    admin: bool,
    /// RFC 3339.
    created_at: String,
}

impl From<KeyRecord> for KeyInfo {
    fn from(record: KeyRecord) -> Self {
        KeyInfo {
            name: record.name,
            admin: record.admin,
            created_at: crate::clock::timestamp(record.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    /// Sorted by name.
    keys: Vec<KeyInfo>,
}

fn admin_only(holder: &KeyHolder) -> Result<(), ApiError> {
    if holder.admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "key '{}' is not an admin key; only admin keys manage keys",
            holder.name
        )))
    }
}

/// The tenant's API keys, by name (admin keys only).
#[utoipa::path(operation_id = "listKeys", get, path = "/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "The tenant's keys", body = KeyList),
        (status = 403, description = "Not an admin key"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(holder): Caller,
) -> Result<Json<KeyList>, ApiError> {
    admin_only(&holder)?;
    let keys = state
        .host
        .keys
        .list(&holder.tenant)
        .map_err(ApiError::from)?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(KeyInfo::from).collect(),
    }))
}

/// Revoke an API key by name (admin keys only); it stops working at once.
/// The tenant's last admin key cannot be revoked.
#[utoipa::path(operation_id = "revokeKey", delete, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin key"),
        (status = 404, description = "No such key"),
        (status = 409, description = "The tenant's last admin key"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(holder): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&holder)?;
    state
        .host
        .keys
        .revoke(&holder.tenant, &name, LastAdmin::Keep)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
