//! The API description, OpenAPI 3.1: generated from the handlers' `#[utoipa::path]`
//! annotations and the types they take and return, then completed here with
//! what every route shares (the Bearer key, problem+json errors).

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::Ref;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, RefOr, Response};

use super::error::ProblemDetails;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Cairn",
        description = "Runs workflows of sandboxed WebAssembly steps. Every `/v1` route needs \
                       `Authorization: Bearer <api key>`; every resource belongs to one tenant and \
                       is not found by others. Errors are RFC 9457 `application/problem+json` with \
                       a stable `type`.",
        license(name = "Apache-2.0 OR MIT")
    ),
    components(schemas(ProblemDetails)),
    tags(
        (name = "plugins", description = "Step types: shared ones and the tenant's uploads"),
        (name = "workflows", description = "Workflow definitions and their versions"),
        (name = "runs", description = "Runs: start, watch, resume, cancel"),
        (name = "batches", description = "One run per input, as one"),
        (name = "schedules", description = "Runs on a cron schedule"),
        (name = "approvals", description = "Runs waiting for a person"),
        (name = "secrets", description = "Write-only secrets that steps' HTTP requests may use"),
        (name = "operations", description = "Health, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// Routes that need no key.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/approvals/{token}",
];

/// Adds what every operation shares: the Bearer key and its 401 on tenant
/// routes, and the problem+json body of every error answer.
pub fn complete(mut api: OpenApi) -> OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            if !PUBLIC.contains(&path.as_str()) {
                operation.security = Some(vec![SecurityRequirement::new(
                    "api_key",
                    Vec::<String>::new(),
                )]);
                operation.responses.responses.insert(
                    "401".to_owned(),
                    RefOr::T(Response::new("Missing or unknown API key")),
                );
            }
            problem_bodies(operation);
        }
    }
    api
}

fn problem_bodies(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && status.as_str() >= "400"
            && response.content.is_empty()
        {
            response.content.insert(
                "application/problem+json".to_owned(),
                RefOr::T(Content::new(Some(Ref::from_schema_name("ProblemDetails")))),
            );
        }
    }
}
