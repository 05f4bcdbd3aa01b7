//! Hardening that users of trusted systems expect: approval pages that leak
//! their token nowhere, an `Authorization` scheme read as RFC 9110 says,
//! idempotency by canonical JSON, and a data directory only its owner reads.

use std::os::unix::fs::PermissionsExt;

use crate::approvals::links;
use crate::common::api::{
    assert_problem, create_workflow, gated, plugins_dir, poll_until, setup, status_is,
};
use crate::common::server::Server;

use serde_json::json;

#[test]
fn approval_pages_send_no_referrer_no_cache_no_script_and_no_framing() {
    let (_dir, server) = setup();
    let workflow = create_workflow(
        &server,
        json!({"name": "reviewed", "steps": [
            {"name": "draft", "type": "noop", "approval": {"message": "Ship?", "reviewers": ["ana@example.com"]}}
        ]}),
        "active",
    );
    let run = crate::common::api::start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    let (_, link) = links(&server, &run).remove(0);
    let bad = format!("{}x", &link[..link.len() - 1]);
    for (method, path) in [("GET", &link), ("HEAD", &link), ("GET", &bad)] {
        let page = server.call_with(method, path, None, None, &[]);
        let header = |name: &str| page.headers.get(name).cloned().unwrap_or_default();
        let policy = header("content-security-policy");
        assert!(
            policy.contains("default-src 'none'"),
            "{method} {path}: {policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert_eq!(header("cache-control"), "no-store");
    }
    let page = server.call_with("GET", &link, None, None, &[]);
    let html = page.body.as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
}

#[test]
fn the_authorization_scheme_is_case_insensitive_with_exactly_one_space() {
    let (_dir, server) = setup();
    let with = |value: String| {
        server.call_with(
            "GET",
            "/v1/workflows",
            None,
            None,
            &[("authorization", &value)],
        )
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply = with(format!("{scheme} {}", server.key));
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.body);
    }
    for value in [
        format!("Bearer  {}", server.key),
        format!("Bearer\t{}", server.key),
        format!("Basic {}", server.key),
        format!("Bearer{}", server.key),
    ] {
        assert_problem(&with(value), 401, "unauthorized");
    }
}

/// POSTs `body`, as written, with the `Idempotency-Key` `key`.
fn post_keyed(server: &Server, path: &str, key: &str, body: &str) -> crate::common::server::Reply {
    server.call_with(
        "POST",
        path,
        Some(&server.key),
        Some(("application/json", body.as_bytes().to_vec())),
        &[("idempotency-key", key)],
    )
}

#[test]
fn an_idempotency_key_matches_the_same_body_in_any_key_order() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let path = format!("/v1/workflows/{workflow}/runs");
    let send = |body: &str| post_keyed(&server, &path, "order-1", body);
    let first = send(r#"{"input": {"a": 1, "b": 2}}"#);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send(r#"{ "input" : { "b" : 2, "a" : 1 } }"#);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let other = send(r#"{"input": {"a": 2, "b": 1}}"#);
    assert_problem(&other, 422, "input-rejected");
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_data_directory_and_its_secrets_are_its_owners_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let plugins = plugins_dir(dir.path());
    // The database's files, when it is SQLite; then the key files.
    let database = if crate::common::db::on_postgres() {
        &[][..]
    } else {
        &["cairn.db", "cairn.db-wal", "cairn.db-shm"][..]
    };
    let private: Vec<&str> = database
        .iter()
        .chain(&["default-api-key", "approval-secret", "secrets-key"])
        .copied()
        .collect();
    let check = || {
        assert_eq!(mode(&data), 0o700, "the data directory");
        for name in &private {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    };
    let server = Server::process(&data, &plugins);
    check();
    assert!(server.terminate().success());
    // As a build before this one, or a loose umask, left them.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for name in &private {
        let _ = std::fs::set_permissions(data.join(name), std::fs::Permissions::from_mode(0o644));
    }
    let server = Server::process(&data, &plugins);
    check();
    drop(server);
}

#[test]
fn an_idempotency_key_starts_a_batch_once() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, gated(), "active");
    let path = format!("/v1/workflows/{workflow}/batches");
    let send = |body: &str| post_keyed(&server, &path, "batch-1", body);
    let first = send(r#"{"inputs": [{"topic": "a"}, {"topic": "b"}]}"#);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send(r#"{ "inputs": [ {"topic": "a"}, {"topic": "b"} ] }"#);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["runs"], first.body["runs"]);
    assert_problem(
        &send(r#"{"inputs": [{"topic": "c"}]}"#),
        422,
        "input-rejected",
    );
    let runs = server.get(&format!("/v1/runs?workflow_id={workflow}"));
    assert_eq!(
        runs.body["runs"].as_array().expect("runs").len(),
        2,
        "one batch of two"
    );
}
