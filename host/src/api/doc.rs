//! The API description, OpenAPI 3.1: generated from the handlers' `#[utoipa::path]`
//! annotations and the types they take and return, then completed here with
//! what every route shares (the Bearer key, problem+json errors).

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Ref, SchemaFormat, Type};
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
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(ProblemDetails)),
    tags(
        (name = "plugins", description = "Step types: shared ones and the tenant's uploads"),
        (name = "workflows", description = "Workflow definitions and their versions"),
        (name = "runs", description = "Runs: start, watch, resume, cancel"),
        (name = "batches", description = "One run per input, as one"),
        (name = "schedules", description = "Runs on a cron schedule"),
        (name = "approvals", description = "Runs waiting for a person"),
        (name = "secrets", description = "Write-only secrets that steps' HTTP requests and webhooks may use"),
        (name = "keys", description = "The tenant's named API keys: listed and revoked by admin keys"),
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
    "/v1/plans/{token}",
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
            shared_refusals(path, operation);
            problem_bodies(operation);
            if path == "/v1/approvals/{token}" || path == "/v1/plans/{token}" {
                html_refusals(operation);
            }
        }
    }
    api
}

/// The refusals any operation may give before its handler runs: 400 for a
/// request that cannot be read (a path segment that is not UTF-8, a bad
/// query or header, malformed JSON), and for a body 413 and 415. The
/// `Idempotency-Key` header's format is stated where it is taken.
fn shared_refusals(path: &str, operation: &mut Operation) {
    if path == "/v1/openapi.json" || path == "/healthz" || path == "/metrics" {
        return;
    }
    let responses = &mut operation.responses.responses;
    responses.entry("400".to_owned()).or_insert_with(|| {
        RefOr::T(Response::new(
            "The request cannot be read: a bad path, query, header or JSON body",
        ))
    });
    if operation.request_body.is_some() {
        responses
            .entry("413".to_owned())
            .or_insert_with(|| RefOr::T(Response::new("The body is too large")));
        responses.entry("415".to_owned()).or_insert_with(|| {
            RefOr::T(Response::new(
                "The body is not of a content type the route takes",
            ))
        });
    }
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "Last-Event-ID"
        {
            parameter.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .into(),
            ));
        }
        if let RefOr::T(parameter) = parameter
            && parameter.name == "Idempotency-Key"
        {
            parameter.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$"))
                    .into(),
            ));
        }
    }
}

/// Approval links are opened in browsers: their refusals are pages, unless
/// the client asks for JSON.
fn html_refusals(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && status.as_str() >= "400"
        {
            response.content.insert(
                "text/html".to_owned(),
                RefOr::T(Content::new(Some(RefOr::T(
                    ObjectBuilder::new().schema_type(Type::String).into(),
                )))),
            );
        }
    }
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
