//! Tenant-private plugin uploads over the real HTTP API: checked, stored by
//! digest, invisible to other tenants, kept across restarts, deletable only
//! when nothing uses them.

use serde_json::{Value, json};

use crate::common::api::{
    assert_problem, create_tenant, create_workflow, declare_a_huge_body, plugins_dir, poll_until,
    start_run, status_is,
};
use crate::common::server::{Reply, Server};
use crate::common::{CLI_COMMAND, GREET, component_bytes};

fn upload(server: &Server, key: &str, bytes: Vec<u8>) -> Reply {
    server.call_with(
        "POST",
        "/v1/plugins",
        Some(key),
        Some(("application/wasm", bytes)),
        &[],
    )
}

fn greeting_workflow() -> Value {
    json!({"name": "greeting", "steps": [
        {"name": "greet", "type": "greet@0.1", "input": {"name": "{{ input.who }}"}}
    ]})
}

fn plugin_names(server: &Server, key: &str) -> Vec<String> {
    let reply = server.call("GET", "/v1/plugins", Some(key), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The same component with a custom section appended: still valid, another digest.
fn with_custom_section(mut wasm: Vec<u8>) -> Vec<u8> {
    wasm.extend_from_slice(&[0, 6, 4, b'n', b'o', b't', b'e', b'!']);
    wasm
}

#[test]
fn an_uploaded_plugin_is_private_durable_and_deletable_once_unused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&data, &plugins);
    let globex = create_tenant(&server, "globex");
    let greet = component_bytes(GREET);

    let created = upload(&server, &server.key, greet.clone());
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["name"], "greet");
    assert_eq!(created.body["version"], "0.1.0");
    assert_eq!(created.body["scope"], "tenant");
    let digest = created.body["digest"].as_str().expect("digest").to_owned();
    assert!(
        data.join("plugins").join(format!("{digest}.wasm")).exists(),
        "stored by digest"
    );
    let again = upload(&server, &server.key, greet.clone());
    assert_eq!(again.status, 200, "the same bytes again: {}", again.body);
    assert_eq!(again.body["digest"], digest.as_str());

    // Versions cannot change: other bytes under the same name and version.
    assert_problem(
        &upload(&server, &server.key, with_custom_section(greet.clone())),
        409,
        "conflict",
    );
    // Nor can a tenant take a shared plugin's name.
    let shared = upload(
        &server,
        &server.key,
        component_bytes("cairn_plugin_transform.wasm"),
    );
    assert_problem(&shared, 409, "conflict");
    assert!(
        shared.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("every tenant shares")),
        "{}",
        shared.body
    );

    // Another tenant sees none of it.
    assert!(plugin_names(&server, &server.key).contains(&"greet".to_owned()));
    assert!(!plugin_names(&server, &globex).contains(&"greet".to_owned()));
    assert_problem(
        &server.call("GET", "/v1/plugins/greet", Some(&globex), None),
        404,
        "not-found",
    );
    assert_problem(
        &server.call("DELETE", "/v1/plugins/greet", Some(&globex), None),
        404,
        "not-found",
    );
    let theirs = server.call(
        "POST",
        "/v1/workflows",
        Some(&globex),
        Some(&json!({"definition": greeting_workflow(), "status": "active"})),
    );
    assert_problem(&theirs, 422, "invalid-workflow");

    // The owner's workflows run it, and it survives a restart.
    let workflow = create_workflow(&server, greeting_workflow(), "active");
    drop(server);
    let server = Server::start(&data, &plugins);
    let run = start_run(&server, &workflow, json!({"who": "Ada"}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["result"], json!({"greeting": "Hello, Ada!"}));
    assert_eq!(
        server.get("/v1/plugins/greet").body["versions"][0]["digest"],
        digest.as_str()
    );

    // In use by an active workflow: refused, and nothing changes.
    let in_use = server.call("DELETE", "/v1/plugins/greet", Some(&server.key), None);
    assert_problem(&in_use, 409, "conflict");
    assert!(
        in_use.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("workflow 'greeting'")),
        "{}",
        in_use.body
    );
    assert!(plugin_names(&server, &server.key).contains(&"greet".to_owned()));

    assert_eq!(
        server
            .post(&format!("/v1/workflows/{workflow}/archive"), &json!({}))
            .status,
        200
    );
    assert_problem(
        &server.call(
            "DELETE",
            "/v1/plugins/greet?version=9.9.9",
            Some(&server.key),
            None,
        ),
        404,
        "not-found",
    );
    let deleted = server.call(
        "DELETE",
        "/v1/plugins/greet?version=0.1.0",
        Some(&server.key),
        None,
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["deleted_versions"], json!(["0.1.0"]));
    assert!(!plugin_names(&server, &server.key).contains(&"greet".to_owned()));
    let after = server.post(
        "/v1/workflows",
        &json!({"definition": greeting_workflow(), "status": "active"}),
    );
    assert_problem(&after, 422, "invalid-workflow");
    // Shared plugins are not the tenant's to delete.
    assert_problem(
        &server.call("DELETE", "/v1/plugins/transform", Some(&server.key), None),
        409,
        "conflict",
    );

    // Deleted for good: the next start purges the record and the bytes.
    drop(server);
    let server = Server::start(&data, &plugins);
    assert!(!plugin_names(&server, &server.key).contains(&"greet".to_owned()));
    assert!(
        !data.join("plugins").join(format!("{digest}.wasm")).exists(),
        "the bytes of a deleted, unused plugin are removed"
    );
    // The finished run still shows what it ran.
    assert_eq!(
        server.get(&format!("/v1/runs/{run}")).body["status"],
        "completed"
    );
}

#[test]
fn bad_uploads_are_refused_with_the_reason_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &plugins, &[("CAIRN_MAX_PLUGIN_BYTES", "1000000")]);
    let before = plugin_names(&server, &server.key);
    let cases: Vec<(Reply, u16, &str, &str)> = vec![
        (
            upload(&server, &server.key, b"definitely not wasm".to_vec()),
            422,
            "invalid-plugin",
            "not a WebAssembly binary",
        ),
        (
            upload(&server, &server.key, component_bytes(CLI_COMMAND)),
            422,
            "invalid-plugin",
            "cairn:step",
        ),
        (
            upload(
                &server,
                &server.key,
                component_bytes(GREET)[..5000].to_vec(),
            ),
            422,
            "invalid-plugin",
            "not a valid WebAssembly component",
        ),
        (
            server.call_with(
                "POST",
                "/v1/plugins",
                Some(&server.key),
                Some(("application/json", component_bytes(GREET))),
                &[],
            ),
            415,
            "unsupported-media-type",
            "application/wasm",
        ),
        (
            // Small: the key is checked before the body is read.
            upload(&server, "cairn_wrong", b"\0asm".to_vec()),
            401,
            "unauthorized",
            "",
        ),
    ];
    for (reply, status, kind, detail) in &cases {
        assert_problem(reply, *status, kind);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(detail)),
            "{kind}: {}",
            reply.body
        );
    }
    let (status, head, body) = declare_a_huge_body(
        &server,
        "/v1/plugins",
        "application/wasm",
        50 << 20,
        2 << 20,
    );
    assert_eq!(status, 413, "{head}");
    assert!(body.contains("payload-too-large"), "{body}");
    assert_eq!(plugin_names(&server, &server.key), before);
    let stored = data.join("plugins");
    assert!(
        !stored.exists() || std::fs::read_dir(&stored).expect("dir").next().is_none(),
        "nothing stored"
    );
}
