//! Plugin routes: the step types a tenant can use (shared ones and its own
//! uploads), uploading a private one, and deleting it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Tenant, WasmBody};
use crate::plugins::PluginError;
use crate::runner::Entry;

fn summary(entry: &Entry) -> Value {
    let mut summary = entry.plugin.summary();
    summary["scope"] = json!(if entry.owner.is_some() {
        "tenant"
    } else {
        "shared"
    });
    summary
}

pub async fn list(State(state): State<AppState>, Tenant(tenant): Tenant) -> Json<Value> {
    let plugins: Vec<Value> = state
        .host
        .runner
        .catalog()
        .visible(&tenant)
        .iter()
        .map(summary)
        .collect();
    Json(json!({ "plugins": plugins }))
}

pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let versions: Vec<Value> = state
        .host
        .runner
        .catalog()
        .visible(&tenant)
        .iter()
        .filter(|e| e.plugin.info.name == name)
        .map(summary)
        .collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({ "name": name, "versions": versions })))
}

/// `POST /v1/plugins`: 201 with the new plugin, 200 if the tenant uploaded the
/// same bytes before.
pub async fn upload(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    WasmBody(wasm): WasmBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (plugin, created) = state.host.upload_plugin(&tenant, &wasm).await?;
    let mut body = plugin.summary();
    body["scope"] = json!("tenant");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    version: Option<String>,
}

/// `DELETE /v1/plugins/{name}[?version=]`: the tenant's own plugin, one version
/// or all of them.
pub async fn delete(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest {
        kind: "bad-query",
        detail: e.body_text(),
    })?;
    let deleted = state
        .host
        .delete_plugin(&tenant, &name, query.version.as_deref())
        .await?;
    Ok(Json(json!({ "name": name, "deleted_versions": deleted })))
}

impl From<PluginError> for ApiError {
    fn from(error: PluginError) -> Self {
        match error {
            PluginError::Invalid(reason) => {
                ApiError::unprocessable("invalid-plugin", reason.to_string())
            }
            PluginError::Conflict(detail) => ApiError::Conflict(detail),
            PluginError::NotFound => ApiError::NotFound,
            PluginError::Internal(e) => ApiError::Internal(format!("{e:#}")),
        }
    }
}
