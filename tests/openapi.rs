//! The OpenAPI description served at /v1/openapi.json: snapshot-tested, and
//! checked against the routes the server really answers.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::api::{create_workflow, setup};

/// Every route of the API, as DESIGN.md's table lists it.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/plugins"),
    ("POST", "/v1/plugins"),
    ("GET", "/v1/plugins/{name}"),
    ("DELETE", "/v1/plugins/{name}"),
    ("GET", "/v1/workflows"),
    ("POST", "/v1/workflows"),
    ("GET", "/v1/workflows/{id}"),
    ("PUT", "/v1/workflows/{id}"),
    ("GET", "/v1/workflows/{id}/versions"),
    ("GET", "/v1/workflows/{id}/versions/{version}"),
    ("POST", "/v1/workflows/{id}/plan/reject"),
    ("POST", "/v1/workflows/{id}/activate"),
    ("POST", "/v1/workflows/{id}/archive"),
    ("GET", "/v1/workflows/{id}/schedule"),
    ("POST", "/v1/workflows/{id}/schedule/pause"),
    ("POST", "/v1/workflows/{id}/schedule/resume"),
    ("POST", "/v1/workflows/{id}/runs"),
    ("POST", "/v1/workflows/{id}/batches"),
    ("GET", "/v1/batches"),
    ("GET", "/v1/batches/{id}"),
    ("POST", "/v1/batches/{id}/cancel"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/{id}"),
    ("GET", "/v1/runs/{id}/steps/{path}"),
    ("GET", "/v1/runs/{id}/events"),
    ("POST", "/v1/runs/{id}/resume"),
    ("POST", "/v1/runs/{id}/cancel"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/approvals/{token}"),
    ("POST", "/v1/approvals/{token}"),
    ("GET", "/v1/plans/{token}"),
    ("POST", "/v1/plans/{token}"),
    ("GET", "/v1/secrets"),
    ("PUT", "/v1/secrets/{name}"),
    ("DELETE", "/v1/secrets/{name}"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{name}"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

fn described(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            operations.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    operations
}

#[test]
fn the_description_is_openapi_3_1_and_matches_its_snapshot() {
    let (_dir, server) = setup();
    let reply = server.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(reply.body["openapi"], "3.1.0");
    // The version moves with every release; the rest must not move unseen.
    let mut document = reply.body.clone();
    document["info"]["version"] = Value::Null;
    insta::assert_json_snapshot!("openapi", document);
    // Every reference names a schema the document holds.
    let mut dangling = Vec::new();
    refs(&reply.body, &mut |target| {
        let held = target
            .strip_prefix("#")
            .and_then(|pointer| reply.body.pointer(pointer))
            .is_some();
        if !held {
            dangling.push(target.to_owned());
        }
    });
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

/// Calls `found` with every `$ref` in `value`.
fn refs(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("$ref", Value::String(target)) => found(target),
                    _ => refs(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[test]
fn every_route_is_described_and_every_description_is_a_route() {
    let (_dir, server) = setup();
    let document = server.call("GET", "/v1/openapi.json", None, None).body;
    let described = described(&document);
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(described, expected);

    // The server answers every described operation with a handler of its own,
    // and no other method on those paths.
    let paths: BTreeSet<&String> = described.iter().map(|(_, path)| path).collect();
    for path in paths {
        let concrete = path
            .replace("{id}", "no-such-id")
            .replace("{name}", "no-such-name")
            .replace("{path}", "no-such-step");
        for method in METHODS {
            let body = matches!(*method, "POST" | "PUT").then(|| serde_json::json!({}));
            let reply = server.call(method, &concrete, Some(&server.key), body.as_ref());
            let kind = reply.body["type"].as_str().unwrap_or_default();
            let is_described = described.contains(&((*method).to_owned(), path.clone()));
            if is_described {
                assert!(
                    reply.status != 405 && !kind.ends_with(":no-such-route"),
                    "{method} {path} is described but not served: {}",
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status, 405,
                    "{method} {path} is served but not described: {}",
                    reply.body
                );
            }
        }
    }

    // Every tenant route asks for the key, every error answer is a problem,
    // and operation ids are unique.
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{id} twice");
            let public = [
                "/healthz",
                "/metrics",
                "/v1/openapi.json",
                "/v1/approvals/{token}",
                "/v1/plans/{token}",
            ]
            .contains(&path.as_str());
            assert_eq!(
                operation["security"].is_array(),
                !public,
                "{method} {path}: security"
            );
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if status.as_str() >= "400" {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not a problem"
                    );
                }
            }
        }
    }
}

/// The definition's schema comes from the types that parse definitions: it
/// takes what the server takes (the examples, every construct) and refuses
/// what it refuses.
#[test]
fn the_definition_schema_takes_what_the_server_takes() {
    let (_dir, server) = setup();
    let document = server.call("GET", "/v1/openapi.json", None, None).body;
    let schema = json!({
        "$ref": "#/components/schemas/WorkflowDefinition",
        "components": document["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors = |definition: &Value| -> Vec<String> {
        validator
            .iter_errors(definition)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    };

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut definitions: Vec<Value> = std::fs::read_dir(&examples)
        .expect("examples/")
        .map(|entry| {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            serde_json::from_str(&text).expect("JSON")
        })
        .collect();
    assert!(definitions.len() >= 3, "the examples were not found");
    let child = create_workflow(
        &server,
        json!({"name": "child", "steps": [{"name": "n", "type": "noop"}]}),
        "active",
    );
    definitions.push(json!({"name": "every-construct", "concurrency": "forbid", "steps": [
        {"name": "fan", "parallel": {"fail": "all", "branches": {
            "a": [{"name": "x", "type": "noop", "retry": {"max_attempts": 2}, "timeout": "5s"}],
            "b": [{"name": "pause", "wait": {"for": "1s"}}]
        }}},
        {"name": "each", "map": {"items": [1, 2], "concurrency": 2, "steps": [
            {"name": "route", "switch": {
                "cases": [{"name": "one", "when": "item == 1", "steps": [
                    {"name": "check", "type": "noop", "approval": {"message": "Ok?", "timeout": "1h", "on_timeout": "approve"}}
                ]}],
                "default": [{"name": "skip", "type": "noop", "when": "true"}]
            }}
        ]}},
        {"name": "sub", "workflow": {"id": child, "fail_on_error": false}, "input": {"n": 1}},
        {"name": "call", "type": "http-request", "config": {"url": "https://api.example.com/x"},
         "http": {"allow": ["api.example.com", {"host": "*.example.org", "methods": ["GET"]}]}}
    ]}));
    for definition in &definitions {
        assert_eq!(
            errors(definition),
            Vec::<String>::new(),
            "{}",
            definition["name"]
        );
        let created = server.post("/v1/workflows", &json!({"definition": definition}));
        assert_eq!(
            created.status, 201,
            "{}: {}",
            definition["name"], created.body
        );
    }

    // What the parser refuses, the schema refuses.
    for bad in [
        json!({"name": "x", "steps": [{"name": "a", "type": "noop", "colour": "red"}]}),
        json!({"name": "x", "steps": [{"name": "a", "map": {"items": [], "steps": [], "speed": 1}}]}),
        json!({"name": "x", "steps": [{"name": "a", "parallel": {"branches": {}, "fail": "sometimes"}}]}),
        json!({"steps": []}),
    ] {
        assert!(!errors(&bad).is_empty(), "the schema took {bad}");
        let refused = server.post("/v1/workflows", &json!({"definition": bad}));
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
    }
}
