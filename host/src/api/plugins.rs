//! `GET /v1/plugins`: the step types a tenant can use.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::Tenant;

pub async fn list(State(state): State<AppState>, _tenant: Tenant) -> Json<Value> {
    let mut plugins = state.host.runner.catalog().all();
    plugins.sort_by(|a, b| (&a.info.name, &a.info.version).cmp(&(&b.info.name, &b.info.version)));
    Json(json!({ "plugins": plugins.iter().map(|p| p.summary()).collect::<Vec<_>>() }))
}

pub async fn get(
    State(state): State<AppState>,
    _tenant: Tenant,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let versions: Vec<Value> = state
        .host
        .runner
        .catalog()
        .all()
        .iter()
        .filter(|p| p.info.name == name)
        .map(|p| p.summary())
        .collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({ "name": name, "versions": versions })))
}
