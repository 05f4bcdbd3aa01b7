//! Plugin routes: the step types a tenant can use (shared ones and its own
//! uploads), uploading a private one, and deleting it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::ApiError;
use super::extract::{Path, Tenant, WasmBody, bad_query};
use crate::catalog::Entry;
use crate::engine::{Plugin, PluginSummary};
use crate::plugins::PluginError;

/// Who can use a plugin.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Bundled with the host or installed by the operator: every tenant.
    Shared,
    /// Uploaded by this tenant: only this tenant.
    Tenant,
}

#[derive(Serialize, ToSchema)]
pub struct PluginBody {
    #[serde(flatten)]
    summary: PluginSummary,
    scope: Scope,
}

impl PluginBody {
    fn new(plugin: &Plugin, scope: Scope) -> Self {
        PluginBody {
            summary: plugin.summary(),
            scope,
        }
    }

    fn of(entry: &Entry) -> Self {
        let scope = if entry.owner.is_some() {
            Scope::Tenant
        } else {
            Scope::Shared
        };
        PluginBody::new(&entry.plugin, scope)
    }
}

#[derive(Serialize, ToSchema)]
pub struct PluginList {
    /// Sorted by name, then version.
    plugins: Vec<PluginBody>,
}

#[derive(Serialize, ToSchema)]
pub struct PluginVersions {
    name: String,
    versions: Vec<PluginBody>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedPlugin {
    name: String,
    deleted_versions: Vec<String>,
}

/// The step types the tenant can use.
#[utoipa::path(operation_id = "listPlugins", get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Shared plugins and the tenant's own", body = PluginList)))]
pub async fn list(State(state): State<AppState>, Tenant(tenant): Tenant) -> Json<PluginList> {
    let plugins = state.host.runner.catalog().visible(&tenant);
    Json(PluginList {
        plugins: plugins.iter().map(PluginBody::of).collect(),
    })
}

/// Every version of one step type.
#[utoipa::path(operation_id = "getPlugin", get, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Step type name")),
    responses(
        (status = 200, description = "Its versions", body = PluginVersions),
        (status = 404, description = "No such step type for this tenant"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> Result<Json<PluginVersions>, ApiError> {
    let versions: Vec<PluginBody> = state
        .host
        .runner
        .catalog()
        .visible(&tenant)
        .iter()
        .filter(|e| e.plugin.info.name == name)
        .map(PluginBody::of)
        .collect();
    if versions.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(PluginVersions { name, versions }))
}

/// A WebAssembly component's bytes, as an upload's body (described only:
/// the handler reads the raw body).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ComponentBytes(Vec<u8>);

/// Upload a private step type: a `cairn:step` component, checked and compiled.
#[utoipa::path(operation_id = "uploadPlugin", post, path = "/v1/plugins", tag = "plugins",
    request_body(
        content(
            (ComponentBytes = "application/wasm"),
            (ComponentBytes = "application/octet-stream"),
        ),
        description = "The component's bytes"),
    responses(
        (status = 201, description = "Uploaded", body = PluginBody),
        (status = 200, description = "The tenant uploaded these bytes before", body = PluginBody),
        (status = 409, description = "The name is a shared plugin's, or this version exists with other bytes"),
        (status = 413, description = "Larger than the host's `max_plugin_bytes`"),
        (status = 415, description = "Not sent as `application/wasm`"),
        (status = 422, description = "Not a valid `cairn:step` component; `detail` says why"),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    WasmBody(wasm): WasmBody,
) -> Result<(StatusCode, Json<PluginBody>), ApiError> {
    let (plugin, created) = state.host.upload_plugin(&tenant, &wasm).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(PluginBody::new(&plugin, Scope::Tenant))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Only this version; all of the tenant's versions when absent.
    version: Option<String>,
}

/// Delete the tenant's own step type. Runs already pinned to it keep it.
#[utoipa::path(operation_id = "deletePlugin", delete, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Step type name"), DeleteQuery),
    responses(
        (status = 200, description = "Deleted", body = DeletedPlugin),
        (status = 404, description = "No such step type for this tenant"),
        (status = 409, description = "A shared plugin, or in use by a workflow or an unfinished run"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Result<Json<DeletedPlugin>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(e.body_text()))?;
    let deleted_versions = state
        .host
        .delete_plugin(&tenant, &name, query.version.as_deref())
        .await?;
    Ok(Json(DeletedPlugin {
        name,
        deleted_versions,
    }))
}

impl From<PluginError> for ApiError {
    fn from(error: PluginError) -> Self {
        match error {
            PluginError::Invalid(reason) => {
                ApiError::unprocessable("invalid-plugin", reason.to_string())
            }
            PluginError::Conflict(detail) => ApiError::Conflict(detail),
            PluginError::NotFound => ApiError::NotFound,
            PluginError::Internal(e) => match e.downcast::<crate::tenants::StoreError>() {
                Ok(e) => e.into(),
                Err(e) => ApiError::Internal(format!("{e:#}")),
            },
        }
    }
}
