//! `GET /v1/plugins`: the step types a tenant can use.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::Tenant;
use crate::engine::Plugin;

fn describe(plugin: &Plugin) -> Value {
    json!({
        "name": plugin.info.name,
        "version": plugin.info.version,
        "description": plugin.info.description,
        "config_schema": plugin.info.config_schema,
        "input_schema": plugin.info.input_schema,
        "output_schema": plugin.info.output_schema,
        "digest": plugin.digest,
        "size_bytes": plugin.size_bytes,
    })
}

pub async fn list(State(state): State<AppState>, _tenant: Tenant) -> Json<Value> {
    let mut plugins = state.host.runner.catalog().all();
    plugins.sort_by(|a, b| (&a.info.name, &a.info.version).cmp(&(&b.info.name, &b.info.version)));
    Json(json!({ "plugins": plugins.iter().map(|p| describe(p)).collect::<Vec<_>>() }))
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
        .map(|p| describe(p))
        .collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({ "name": name, "versions": versions })))
}
