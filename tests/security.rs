//! The holes a probe of the built binary found, each closed and shown closed
//! through the real server: webhooks under the egress policy, the address
//! guard after DNS, path and IPv6 matching, encoded secrets scrubbed, webhook
//! signing keys kept sealed (and migrated), and quorums of distinct verified
//! identities with named, revocable keys.

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::approvals::links;
use crate::common::api::{
    assert_problem, create_workflow, plugins_dir, poll_until, start_run, status_is,
};
use crate::common::db::{Db, on_postgres};
use crate::common::receivers::{Delivery, HttpStub, WebhookReceiver};
use crate::common::server::{Reply, Server, create_key, wait_for_log};
use crate::egress::{failed_run, http_step, put_secret};
use crate::notifications::{SECRET, of_run, verified};

/// A server process, for tests that restart it or read its log.
fn serve_process(data: &Path, settings: &[(&str, &str)]) -> Server {
    let root = data.parent().expect("data dir has a parent");
    Server::process_with(data, &plugins_dir(root), settings)
}

fn serve(data: &Path, settings: &[(&str, &str)]) -> Server {
    let root = data.parent().expect("data dir has a parent");
    Server::start_with(data, &plugins_dir(root), settings)
}

fn hooked(url: &str) -> Value {
    json!({"name": "hooked", "steps": [{"name": "n", "type": "noop"}],
           "notifications": {"webhooks": [{"url": url, "secret": "${secret:hooks}", "events": ["completed"]}]}})
}

fn create(server: &Server, definition: &Value) -> Reply {
    server.post(
        "/v1/workflows",
        &json!({"definition": definition, "status": "active"}),
    )
}

/// The one problem of a refused definition, at `path`; its message.
fn refused_at(reply: &Reply, path: &str) -> String {
    assert_problem(reply, 422, "invalid-workflow");
    let errors = reply.body["errors"].as_array().expect("errors");
    errors
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {}", reply.body))["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

fn port_of(base: &str) -> &str {
    base.rsplit(':').next().expect("port")
}

#[test]
fn webhooks_go_out_only_where_the_egress_policy_allows_when_saved_and_when_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let hooks = WebhookReceiver::start();
    let port = port_of(hooks.url.trim_end_matches("/hook")).to_owned();
    let by_name = format!("http://localhost:{port}/hook");

    // No http_allow: no outbound HTTP, webhooks included, by any spelling.
    let server = serve_process(&data, &[]);
    put_secret(&server, &server.key, "hooks", SECRET);
    for url in [
        hooks.url.clone(),
        by_name.clone(),
        format!("http://[::1]:{port}/hook"),
    ] {
        let message = refused_at(
            &create(&server, &hooked(&url)),
            "/notifications/webhooks/0/url",
        );
        assert!(
            message.contains("operator's allow-list"),
            "{url}: {message}"
        );
    }
    server.kill();

    // Any host allowed, but no address allowance: a loopback literal is
    // refused when saved; a name is refused at delivery, after DNS.
    let server = serve_process(&data, &[("CAIRN_HTTP_ALLOW", r#"["*:*"]"#)]);
    let message = refused_at(
        &create(&server, &hooked(&hooks.url)),
        "/notifications/webhooks/0/url",
    );
    assert!(message.contains("is a loopback address"), "{message}");
    let workflow = create(&server, &hooked(&by_name));
    assert_eq!(workflow.status, 201, "{}", workflow.body);
    let workflow = workflow.body["id"].as_str().expect("id").to_owned();
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    let log = wait_for_log(&server, "notification not delivered");
    assert!(log.contains("is a loopback address"), "{log}");
    assert!(hooks.received().is_empty(), "{:?}", hooks.received());
    server.kill();

    // The operator allows the address by IP: the same webhook arrives.
    let server = serve_process(&data, &[("CAIRN_HTTP_ALLOW", r#"["*:*", "127.0.0.1:*"]"#)]);
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    let delivered = hooks.wait_for("the webhook", |d| {
        of_run(d, &run, "run.completed").is_some()
    });
    verified(&delivered);
    server.kill();

    // The settings changed since the workflow was saved: delivery refuses.
    let server = serve_process(&data, &[("CAIRN_HTTP_ALLOW", r#"["api.example.com"]"#)]);
    let before = hooks.received().len();
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    let log = wait_for_log(&server, "is not on the operator's allow-list");
    assert!(log.contains(&format!("localhost:{port}")), "{log}");
    assert_eq!(hooks.received().len(), before);
}

#[test]
fn plugins_reach_special_addresses_by_name_only_with_an_operator_ip_allowance() {
    let allowed = HttpStub::start(|_, _| (200, vec![], "{}".into()));
    let other = HttpStub::start(|_, _| (200, vec![], "{}".into()));
    let (allowed_port, other_port) = (port_of(&allowed.base), port_of(&other.base));
    let dir = tempfile::tempdir().expect("tempdir");
    let operator = format!(r#"["localhost:*", "*:*", "127.0.0.1:{allowed_port}"]"#);
    let server = serve(&dir.path().join("data"), &[("CAIRN_HTTP_ALLOW", &operator)]);
    let grant = json!({"allow": ["localhost:*", "*:*"]});

    // `localhost` is allowed by name, and resolves to loopback: without an
    // address allowance for that port the connection is never made.
    let run = failed_run(
        &server,
        &server.key,
        json!({"name": "by-name", "steps": [
            http_step("fetch", &format!("http://localhost:{other_port}/x"), grant.clone())]}),
    );
    let error = run["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("is a loopback address"), "{run}");
    assert!(other.received().is_empty());

    // Cloud metadata and private literals are refused before any connect.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[fd00::1]/",
    ] {
        let run = failed_run(
            &server,
            &server.key,
            json!({"name": "literal", "steps": [http_step("fetch", url, grant.clone())]}),
        );
        let error = run["error"]["message"].as_str().unwrap_or_default();
        assert!(error.contains("only by IP or CIDR"), "{url}: {run}");
    }

    // The same name on the port the operator allowed by IP goes through.
    let created = create_workflow(
        &server,
        json!({"name": "allowed", "steps": [
            http_step("fetch", &format!("http://localhost:{allowed_port}/ok"), grant)]}),
        "active",
    );
    let run = start_run(&server, &created, json!({}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["steps"][0]["output"]["status"], 200, "{done}");
    assert_eq!(allowed.received().len(), 1);
}

#[test]
fn path_prefixes_see_dot_segments_and_ipv6_literals_match() {
    let v4 = HttpStub::start(|_, _| (200, vec![], "{}".into()));
    let v6 = HttpStub::start_on("[::1]:0", |_, _| (200, vec![], "{}".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let v6_authority = v6.base.trim_start_matches("http://").to_owned();
    let operator = format!(r#"["{}", "{v6_authority}"]"#, v4.authority());
    let server = serve(&dir.path().join("data"), &[("CAIRN_HTTP_ALLOW", &operator)]);

    let grant = json!({"allow": [{"host": v4.authority(), "path_prefixes": ["/allowed"]}]});
    for path in [
        "/allowed/../admin",
        "/allowed/%2e%2e/admin",
        "/allowed/%2E%2E/admin",
        "/allowed/..%2fadmin",
        "/allowed/..%5Cadmin",
    ] {
        let run = failed_run(
            &server,
            &server.key,
            json!({"name": "escape", "steps": [
                http_step("fetch", &format!("{}{path}", v4.base), grant.clone())]}),
        );
        let error = run["error"]["message"].as_str().unwrap_or_default();
        assert!(
            error.contains("not in this step's http grant"),
            "{path}: {run}"
        );
    }
    assert!(v4.received().is_empty(), "{:?}", v4.received());

    for (url, grant) in [
        (format!("{}/allowed/./report", v4.base), grant.clone()),
        (
            format!("{}/v6", v6.base),
            json!({"allow": [v6_authority.clone()]}),
        ),
    ] {
        let created = create_workflow(
            &server,
            json!({"name": "inside", "steps": [http_step("fetch", &url, grant)]}),
            "active",
        );
        let run = start_run(&server, &created, json!({}));
        let done = poll_until(&server, &run, |r| {
            r["status"] == "completed" || r["status"] == "failed"
        });
        assert_eq!(done["status"], "completed", "{url}: {done}");
    }
    assert_eq!(v4.received().len(), 1);
    assert_eq!(v6.received().len(), 1);
}

/// What an echoing server might give back of a header, in every encoding
/// the scrubber knows.
fn encodings(value: &str) -> Vec<(&'static str, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let percent: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    vec![
        ("base64", b64.encode(value)),
        ("base64_basic", b64.encode(format!("user:{value}"))),
        ("base64url", b64url.encode(format!("Bearer {value}"))),
        ("hex", hex::encode(value)),
        ("percent", percent),
        ("json_escaped", serde_json::to_string(value).expect("json")),
    ]
}

#[test]
fn secrets_echoed_back_encoded_are_scrubbed_from_the_step_output() {
    const TOKEN: &str = r#"tok/5e1f+0a9b?8c7d"6e5f4a3b"#;
    let echo = HttpStub::start(|request: &Delivery, _| {
        let token = request.headers.get("x-token").cloned().unwrap_or_default();
        let mut body = serde_json::Map::new();
        for (name, encoded) in encodings(&token) {
            body.insert(name.to_owned(), json!(encoded));
        }
        // JSON escaping, as the raw text of the body rather than a string.
        let text = Value::Object(body).to_string();
        let text = text.replacen(
            '}',
            &format!(r#","raw":"{}"}}"#, token.replace('"', "\\\"")),
            1,
        );
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            text,
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let allow = format!("[\"{}\"]", echo.authority());
    let server = serve(&dir.path().join("data"), &[("CAIRN_HTTP_ALLOW", &allow)]);
    put_secret(&server, &server.key, "tok", TOKEN);
    let created = create_workflow(
        &server,
        json!({"name": "echo", "steps": [{"name": "fetch", "type": "http-request",
            "config": {"url": format!("{}/echo", echo.base), "headers": {"x-token": "${secret:tok}"}},
            "http": {"allow": [echo.authority()], "secrets": ["tok"]}}]}),
        "active",
    );
    let run = start_run(&server, &created, json!({}));
    let done = poll_until(&server, &run, status_is("completed"));
    let body = &done["steps"][0]["output"]["body"];
    let shown = done.to_string();
    for (name, encoded) in encodings(TOKEN) {
        let encoded = encoded.trim_matches('"').to_owned();
        assert!(
            !shown.contains(&encoded),
            "{name} ({encoded}) leaked: {shown}"
        );
        assert!(
            body[name]
                .as_str()
                .is_some_and(|text| text.contains("[secret:tok]")),
            "{name}: {body}"
        );
    }
    assert_eq!(body["raw"], "[secret:tok]", "{body}");
    // The request itself carried the real value.
    let sent = echo.wait_for("the request", |_| true);
    assert_eq!(sent.headers["x-token"], TOKEN);
}

fn column_text(data: &Path, sql: &str) -> String {
    let rows: Vec<String> = Db::open(data)
        .query(sql, &[])
        .into_iter()
        .map(|row| row[0].text().expect("text").to_owned())
        .collect();
    rows.join("\n")
}

#[test]
fn webhook_signing_keys_are_tenant_secrets_and_old_definitions_are_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let hooks = WebhookReceiver::start();
    let allow = [("CAIRN_HTTP_ALLOW", r#"["127.0.0.1:*"]"#)];
    let server = serve_process(&data, &allow);

    let mut literal = hooked(&hooks.url);
    literal["notifications"]["webhooks"][0]["secret"] = json!(SECRET);
    let reply = create(&server, &literal);
    let message = refused_at(&reply, "/notifications/webhooks/0/secret");
    assert!(
        message.contains("${secret:NAME}") && message.contains("PUT /v1/secrets/NAME"),
        "{message}"
    );
    assert!(!reply.body.to_string().contains(SECRET));
    let missing = refused_at(
        &create(&server, &hooked(&hooks.url)),
        "/notifications/webhooks/0/secret",
    );
    assert!(missing.contains("no secret named 'hooks'"), "{missing}");
    put_secret(&server, &server.key, "hooks", "not-a-signing-key");
    let weak = refused_at(
        &create(&server, &hooked(&hooks.url)),
        "/notifications/webhooks/0/secret",
    );
    assert!(weak.contains("not a signing key"), "{weak}");

    put_secret(&server, &server.key, "hooks", SECRET);
    let workflow = create_workflow(&server, hooked(&hooks.url), "active");
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    verified(&hooks.wait_for("the webhook", |d| {
        of_run(d, &run, "run.completed").is_some()
    }));
    let shown = server.get(&format!("/v1/workflows/{workflow}")).body;
    assert!(!shown.to_string().contains("whsec_"), "{shown}");
    let log = server.log.clone();
    server.kill();
    let stored = column_text(&data, "SELECT definition FROM workflow_versions")
        + &column_text(&data, "SELECT target FROM outbox");
    assert!(!stored.contains("whsec_"), "{stored}");
    let log = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("the server's log: {e}"));
    assert!(!log.contains(SECRET));

    // What an older build left: the key in clear in the definition and in a
    // notification still to be delivered.
    let db = Db::open(&data);
    db.execute(
        "UPDATE workflow_versions SET definition = replace(definition, '${secret:hooks}', ?1)",
        &[SECRET.into()],
    );
    let old_target = if on_postgres() {
        "json_build_object('url', target::json ->> 'url', 'secret', ?1::text)::text"
    } else {
        "json_object('url', json_extract(target, '$.url'), 'secret', ?1)"
    };
    db.execute(
        &format!("UPDATE outbox SET target = {old_target}, next_attempt = 0, delivered_at = NULL"),
        &[SECRET.into()],
    );
    drop(db);
    let restarted = std::time::Instant::now();
    let server = serve_process(&data, &allow);
    // The old row is delivered again, signed with the key it named.
    let again = hooks.wait_for("the redelivery", |d| {
        d.at >= restarted && of_run(d, &run, "run.completed").is_some()
    });
    verified(&again);
    let names: Vec<String> = server.get("/v1/secrets").body["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_owned())
        .collect();
    let migrated = names
        .iter()
        .find(|n| n.starts_with("webhook-"))
        .unwrap_or_else(|| panic!("no migrated secret in {names:?}"));
    let definition = server.get(&format!("/v1/workflows/{workflow}")).body;
    assert_eq!(
        definition["definition"]["notifications"]["webhooks"][0]["secret"],
        format!("${{secret:{migrated}}}"),
        "{definition}"
    );
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("completed"));
    verified(&hooks.wait_for("a new run's webhook", |d| {
        of_run(d, &run, "run.completed").is_some()
    }));
    server.kill();
    let stored = column_text(&data, "SELECT definition FROM workflow_versions")
        + &column_text(&data, "SELECT target FROM outbox");
    assert!(!stored.contains("whsec_"), "{stored}");
}

fn gate(required: u32) -> Value {
    json!({"name": "quorum", "steps": [
        {"name": "review", "type": "noop",
         "approval": {"message": "Ship it?", "reviewers": ["alice@example.com", "bob@example.com"],
                      "required": required}},
        {"name": "ship", "type": "noop"}
    ]})
}

fn resume_as(server: &Server, key: &str, run: &str, reviewer: Option<&str>) -> Reply {
    let mut body = json!({"step": "review", "input": "approve"});
    if let Some(reviewer) = reviewer {
        body["reviewer"] = json!(reviewer);
    }
    server.call(
        "POST",
        &format!("/v1/runs/{run}/resume"),
        Some(key),
        Some(&body),
    )
}

#[test]
fn a_quorum_counts_distinct_verified_identities_not_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("data"), &[]);
    let workflow = create_workflow(&server, gate(2), "active");

    // One key, two labels: one identity.
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    let first = resume_as(&server, &server.key, &run, Some("mallory"));
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["pending_action"]["approvals"], 1);
    let second = resume_as(&server, &server.key, &run, Some("mallory2"));
    assert_problem(&second, 409, "conflict");
    let decisions = &server.get(&format!("/v1/runs/{run}")).body["steps"][0]["decisions"];
    assert_eq!(decisions[0]["reviewer"], "admin", "{decisions}");
    assert_eq!(decisions[0]["label"], "mallory", "{decisions}");

    // Alice by link, then Alice's own key under another spelling: one person.
    let alice = create_key(&server, "default", "alice@example.com");
    let run = start_run(&server, &workflow, json!({}));
    poll_until(&server, &run, status_is("paused"));
    let (_, link) = links(&server, &run)
        .into_iter()
        .find(|(reviewer, _)| reviewer == "alice@example.com")
        .expect("alice's link");
    let by_link = server.call_with(
        "POST",
        &link,
        None,
        Some(("application/json", br#"{"decision": "approve"}"#.to_vec())),
        &[],
    );
    assert_eq!(by_link.status, 200, "{}", by_link.body);
    let again = resume_as(&server, &alice, &run, Some("ALICE@example.com"));
    assert_problem(&again, 409, "conflict");
    // The admin key claiming to be Alice counts as the admin, not as Alice.
    let admin = resume_as(&server, &server.key, &run, Some("ALICE@example.com"));
    assert_eq!(admin.status, 200, "{}", admin.body);
    let done = poll_until(&server, &run, status_is("completed"));
    let who: Vec<(&str, &str)> = done["steps"][0]["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| {
            (
                d["reviewer"].as_str().expect("reviewer"),
                d["channel"].as_str().expect("channel"),
            )
        })
        .collect();
    assert_eq!(who, [("alice@example.com", "link"), ("admin", "api")]);
}

#[test]
fn named_keys_are_listed_by_admins_and_revoked_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(&dir.path().join("data"), &[]);
    let bob = create_key(&server, "default", "Bob@Example.com");
    assert_eq!(server.call("GET", "/v1/runs", Some(&bob), None).status, 200);

    let listed = server.get("/v1/keys");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let names: Vec<(&str, bool)> = listed.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["name"].as_str().expect("name"), k["admin"] == true))
        .collect();
    assert_eq!(names, [("admin", true), ("bob@example.com", false)]);
    assert!(!listed.body.to_string().contains(&bob));

    let forbidden = server.call("GET", "/v1/keys", Some(&bob), None);
    assert_problem(&forbidden, 403, "forbidden");
    let forbidden = server.call("DELETE", "/v1/keys/admin", Some(&bob), None);
    assert_problem(&forbidden, 403, "forbidden");
    assert_problem(
        &server.call("DELETE", "/v1/keys/admin", Some(&server.key), None),
        409,
        "conflict",
    );
    assert_problem(
        &server.call("DELETE", "/v1/keys/nobody", Some(&server.key), None),
        404,
        "not-found",
    );

    let revoked = server.call(
        "DELETE",
        "/v1/keys/bob@example.com",
        Some(&server.key),
        None,
    );
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    assert_problem(
        &server.call("GET", "/v1/runs", Some(&bob), None),
        401,
        "unauthorized",
    );
    // A key name is unique in its tenant, whatever its case.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["key", "create", "--tenant", "default", "--name", "ADMIN"])
        .env("CAIRN_DATA_DIR", &server.data_dir)
        .envs(crate::common::db::env(&server.data_dir))
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("has a key named 'admin' already"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
