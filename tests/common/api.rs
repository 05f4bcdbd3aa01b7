//! Helpers of the HTTP API tests: a server over a fresh directory, workflows
//! and runs made through the API, long-polls, and problem checks.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::{self, Server};
use super::{HOSTILE, component_path};

pub fn setup() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    let server = Server::start(&dir.path().join("data"), &plugins);
    (dir, server)
}

pub fn plugins_dir(root: &Path) -> std::path::PathBuf {
    let plugins = root.join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    std::fs::copy(component_path(HOSTILE), plugins.join("hostile.wasm")).expect("copy fixture");
    plugins
}

pub fn gated() -> Value {
    json!({"name": "gated", "steps": [
        {"name": "draft", "type": "transform", "config": {"template": {"title": "{{ topic | title }}"}}},
        {"name": "review", "type": "noop", "approval": {"message": "Publish?"}},
        {"name": "publish", "type": "transform", "config": {"template": {"published": "{{ title }}"}}}
    ]})
}

/// POSTs `fields` (`a=1&b=2`) as a form, with no key: as a browser
/// submits a link's page.
pub fn post_form(server: &Server, path: &str, fields: &str) -> server::Reply {
    post_form_with(server, path, fields, &[])
}

/// [`post_form`] with more headers (a browser's cookie, say).
pub fn post_form_with(
    server: &Server,
    path: &str,
    fields: &str,
    headers: &[(&str, &str)],
) -> server::Reply {
    server.call_with(
        "POST",
        path,
        None,
        Some((
            "application/x-www-form-urlencoded",
            fields.as_bytes().to_vec(),
        )),
        headers,
    )
}

/// Uploads fixture component `name` as the default tenant's plugin.
pub fn upload_plugin(server: &Server, name: &str) -> server::Reply {
    server.call_with(
        "POST",
        "/v1/plugins",
        Some(&server.key),
        Some(("application/wasm", super::component_bytes(name))),
        &[],
    )
}

pub fn create_workflow(server: &Server, definition: Value, status: &str) -> String {
    let reply = server.post(
        "/v1/workflows",
        &json!({"definition": definition, "status": status}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

pub fn start_run(server: &Server, workflow: &str, input: Value) -> String {
    let reply = server.post(
        &format!("/v1/workflows/{workflow}/runs"),
        &json!({"input": input}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Long-polls the run until `done` holds.
pub fn poll_until(server: &Server, run: &str, done: impl Fn(&Value) -> bool) -> Value {
    poll_until_as(server, &server.key, run, done)
}

/// [`poll_until`] with another tenant's key.
pub fn poll_until_as(
    server: &Server,
    key: &str,
    run: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    // The first look does not wait: the run may be there already. Later
    // looks wait for a change past the event seen last.
    let mut wait = String::new();
    loop {
        let reply = server.call("GET", &format!("/v1/runs/{run}{wait}"), Some(key), None);
        wait = format!("?wait=5s&after={}", reply.body["last_event"]);
        assert_eq!(reply.status, 200, "{}", reply.body);
        if done(&reply.body) {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "run never got there: {}",
            reply.body
        );
    }
}

/// The kinds of the run's events, in order; the log must have no gap.
pub fn event_kinds(server: &Server, run: &str) -> Vec<String> {
    let answer = server.get(&format!("/v1/runs/{run}/events"));
    let events = answer.body["events"].as_array().expect("events");
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "event log has gaps"
    );
    events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect()
}

pub fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |run| run["status"] == status
}

pub fn assert_problem(reply: &server::Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.content_type, "application/problem+json",
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body["type"],
        format!("urn:cairn:problem:{kind}"),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], status);
}

/// Creates a tenant with `cairn tenant create`; returns its key.
pub fn create_tenant(server: &Server, name: &str) -> String {
    let key = crate::common::server::operator(server, &["tenant", "create", name]);
    assert!(key.starts_with("cairn_") && key.len() == 70, "{key}");
    key
}

/// Sends a request that announces a `size`-byte body, writes past the server's
/// limit but not all of it, and reads the answer, as a client that watches for an
/// early response would.
pub fn declare_a_huge_body(
    server: &Server,
    path: &str,
    content_type: &str,
    size: usize,
    sent: usize,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
         content-type: {content_type}\r\ncontent-length: {size}\r\n\r\n",
        server.key
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // More than the server's limit, less than announced.
    let _ = stream.write_all(&vec![b' '; sent]);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}
