//! Notifications with a real webhook receiver and a real SMTP receiver on
//! 127.0.0.1: a paused gate mails each reviewer a working link and posts a
//! signed webhook; the end of the run is announced too; a delivery that fails
//! across a restart is delivered with its one id.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::common::api::{
    create_workflow, plugins_dir, poll_until, post_form, start_run, status_is,
};
use crate::common::db::Db;
use crate::common::receivers::{Delivery, Mail, SmtpReceiver, WebhookReceiver};
use crate::common::server::Server;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A server whose egress policy lets webhooks reach the receivers on
/// 127.0.0.1, with the signing key stored as the tenant secret `hooks`.
fn start(dir: &std::path::Path, smtp: &SmtpReceiver) -> Server {
    start_by(dir, smtp, Server::start_with)
}

/// [`start`] as a server process, which a test can kill.
fn start_process(dir: &std::path::Path, smtp: &SmtpReceiver) -> Server {
    start_by(dir, smtp, Server::process_with)
}

fn start_by(
    dir: &std::path::Path,
    smtp: &SmtpReceiver,
    launch: fn(&std::path::Path, &std::path::Path, &[(&str, &str)]) -> Server,
) -> Server {
    let port = smtp.port.to_string();
    let server = launch(
        &dir.join("data"),
        &plugins_dir(dir),
        &[
            ("CAIRN_SMTP__HOST", "127.0.0.1"),
            ("CAIRN_SMTP__PORT", &port),
            ("CAIRN_SMTP__TLS", "none"),
            ("CAIRN_SMTP__FROM", "Cairn <cairn@example.com>"),
            ("CAIRN_HTTP_ALLOW", r#"["127.0.0.1:*"]"#),
        ],
    );
    let stored = server.call(
        "PUT",
        "/v1/secrets/hooks",
        Some(&server.key),
        Some(&json!({ "value": SECRET })),
    );
    assert!(
        stored.status == 200 || stored.status == 201,
        "{}",
        stored.body
    );
    server
}

fn workflow(hook: &str) -> Value {
    json!({"name": "notified", "steps": [
        {"name": "draft", "type": "transform", "config": {"template": {"title": "{{ input.topic | title }}"}},
         "approval": {"message": "Ship it?", "reviewers": ["ana@example.com", "Bo (no address)"]}},
        {"name": "publish", "type": "noop"}
    ], "notifications": {
        "webhooks": [{"url": hook, "secret": "${secret:hooks}", "events": ["paused", "completed"]}],
        "email": {"to": ["ops@example.com"], "events": ["completed"]}
    }})
}

/// Checks the Standard Webhooks headers and signature; returns the body.
pub fn verified(delivery: &Delivery) -> Value {
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .clone()
    };
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().expect("timestamp");
    let expected = cairn::notify::sign(SECRET, &id, timestamp, &delivery.body).expect("sign");
    assert_eq!(header("webhook-signature"), expected, "signature");
    assert!(id.starts_with("msg_"), "{id}");
    serde_json::from_str(&delivery.body).expect("JSON body")
}

pub fn of_run<'a>(delivery: &'a Delivery, run: &str, kind: &str) -> Option<&'a Delivery> {
    let body: Value = serde_json::from_str(&delivery.body).ok()?;
    (body["type"] == kind && body["data"]["run_id"] == run).then_some(delivery)
}

/// The approval link in `mail`, as a path on `server`.
fn link_in(mail: &Mail, server: &Server) -> String {
    mail.data
        .split_whitespace()
        .find(|word| word.starts_with(&format!("{}/v1/approvals/", server.url)))
        .unwrap_or_else(|| panic!("no link in {}", mail.data))
        .strip_prefix(&server.url)
        .expect("path")
        .to_owned()
}

#[test]
fn a_pause_mails_reviewers_their_link_and_posts_a_signed_webhook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = WebhookReceiver::start();
    let smtp = SmtpReceiver::start();
    let server = start(dir.path(), &smtp);
    let workflow = create_workflow(&server, workflow(&hooks.url), "active");
    let run = start_run(&server, &workflow, json!({"topic": "ferris"}));
    let paused = poll_until(&server, &run, status_is("paused"));

    let hook = hooks.wait_for("run.paused", |d| of_run(d, &run, "run.paused").is_some());
    let body = verified(&hook);
    assert_eq!(body["data"]["pending_action"]["message"], "Ship it?");
    assert_eq!(
        body["data"]["pending_action"]["data"],
        json!({"title": "Ferris"})
    );

    let mail = smtp.wait_for("ana's email", |m| m.to == ["ana@example.com"]);
    assert!(mail.from.contains("cairn@example.com"), "{}", mail.from);
    assert!(
        mail.data.contains("Ship it?") && mail.data.contains("Ferris"),
        "{}",
        mail.data
    );
    let link = link_in(&mail, &server);
    // Nobody without an address was mailed, and ops hears only of the end.
    assert!(smtp.received().iter().all(|m| m.to == ["ana@example.com"]));

    // The link works: looking changes nothing, deciding does.
    let page = server.call_with("GET", &link, None, None, &[]);
    assert_eq!(page.status, 200);
    assert_eq!(server.get(&format!("/v1/runs/{run}")).body, paused);
    let decided = post_form(&server, &link, "decision=approve");
    assert_eq!(decided.status, 200, "{}", decided.body);
    poll_until(&server, &run, status_is("completed"));

    let done = hooks.wait_for("run.completed", |d| {
        of_run(d, &run, "run.completed").is_some()
    });
    assert_eq!(verified(&done)["data"]["status"], "completed");
    let ops = smtp.wait_for("the ops email", |m| m.to == ["ops@example.com"]);
    assert!(ops.data.contains("completed"), "{}", ops.data);
}

#[test]
fn a_delivery_failing_across_a_restart_arrives_once_with_its_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = WebhookReceiver::start();
    let smtp = SmtpReceiver::start();
    hooks.failing.store(true, Ordering::SeqCst);
    let server = start_process(dir.path(), &smtp);
    let workflow = create_workflow(&server, workflow(&hooks.url), "active");
    let run = start_run(&server, &workflow, json!({"topic": "outbox"}));
    poll_until(&server, &run, status_is("paused"));
    hooks.wait_for("a refused attempt", |d| {
        of_run(d, &run, "run.paused").is_some()
    });
    server.kill();

    hooks.failing.store(false, Ordering::SeqCst);
    let server = start_process(dir.path(), &smtp);
    let accepted = hooks.wait_for("the delivery after the restart", |d| {
        d.accepted && of_run(d, &run, "run.paused").is_some()
    });
    verified(&accepted);
    let paused: Vec<Delivery> = hooks
        .received()
        .into_iter()
        .filter(|d| of_run(d, &run, "run.paused").is_some())
        .collect();
    let ids: std::collections::BTreeSet<&String> =
        paused.iter().map(|d| &d.headers["webhook-id"]).collect();
    assert_eq!(ids.len(), 1, "one event, one id: {paused:?}");
    assert!(paused.len() >= 2, "it was retried");
    // Delivered: the outbox row says so and has no attempt left to make,
    // which is what the delivery loop picks rows by.
    let id = &accepted.headers["webhook-id"];
    let (delivered, next): (Option<i64>, Option<i64>) =
        crate::common::eventually("the delivery recorded", || {
            let rows = Db::open(&server.data_dir).query(
                "SELECT delivered_at, next_attempt FROM outbox WHERE id = ?1",
                &[id.into()],
            );
            let row = rows.first()?;
            let row = (row[0].int(), row[1].int());
            row.0.is_some().then_some(row)
        });
    assert!(
        delivered.is_some() && next.is_none(),
        "{delivered:?} {next:?}"
    );
    let after = hooks
        .received()
        .into_iter()
        .filter(|d| d.accepted && of_run(d, &run, "run.paused").is_some())
        .count();
    assert_eq!(after, 1, "delivered exactly once");
    drop(server);
}

#[test]
fn a_gate_timeout_is_announced_as_timed_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = WebhookReceiver::start();
    let smtp = SmtpReceiver::start();
    let server = start(dir.path(), &smtp);
    let workflow = create_workflow(
        &server,
        json!({"name": "expires", "steps": [
            {"name": "review", "type": "noop",
             "approval": {"message": "Ship it?", "timeout": "300ms", "on_timeout": "fail"}}
        ], "notifications": {
            "webhooks": [{"url": hooks.url, "secret": "${secret:hooks}", "events": ["timed_out"]}]
        }}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({}));
    let failed = poll_until(&server, &run, status_is("failed"));
    assert_eq!(failed["error"]["reason"], "timed_out", "{failed}");
    let hook = hooks.wait_for("run.timed_out", |d| {
        of_run(d, &run, "run.timed_out").is_some()
    });
    assert_eq!(verified(&hook)["data"]["status"], "failed");
}

#[test]
fn each_step_waiting_in_a_map_is_announced_with_its_own_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = WebhookReceiver::start();
    let smtp = SmtpReceiver::start();
    let server = start(dir.path(), &smtp);
    let workflow = create_workflow(
        &server,
        json!({"name": "per-item", "steps": [
            {"name": "posts", "map": {"items": "{{ input.topics }}", "steps": [
                {"name": "review", "type": "transform", "input": {"topic": "{{ item }}"},
                 "config": {"template": {"title": "{{ topic | title }}"}},
                 "approval": {"message": "Ship it?", "reviewers": ["ana@example.com"]}}
            ]}}
        ], "notifications": {
            "webhooks": [{"url": hooks.url, "secret": "${secret:hooks}", "events": ["paused"]}],
            "email": {}
        }}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"topics": ["rust", "wasm"]}));
    poll_until(&server, &run, |r| r["waiting_steps"] == 2);

    // One signed webhook per waiting step, each naming its step.
    hooks.wait_for("both pauses", |_| {
        hooks
            .received()
            .iter()
            .filter(|d| of_run(d, &run, "run.paused").is_some())
            .count()
            >= 2
    });
    let mut announced: Vec<(String, String)> = hooks
        .received()
        .iter()
        .filter(|d| of_run(d, &run, "run.paused").is_some())
        .map(|d| {
            let action = verified(d)["data"]["pending_action"].clone();
            (
                action["step"].as_str().expect("step").to_owned(),
                action["data"]["title"].as_str().expect("title").to_owned(),
            )
        })
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [
            ("posts[0].review".to_owned(), "Rust".to_owned()),
            ("posts[1].review".to_owned(), "Wasm".to_owned())
        ]
    );

    // One mail per waiting step; the Wasm mail's link decides that item alone.
    let mail = smtp.wait_for("the Wasm mail", |m| m.data.contains("Wasm"));
    smtp.wait_for("the Rust mail", |m| m.data.contains("Rust"));
    let link = link_in(&mail, &server);
    assert_eq!(post_form(&server, &link, "decision=approve").status, 200);
    let waiting = server.get(&format!("/v1/runs/{run}")).body;
    assert_eq!(waiting["waiting_steps"], 1, "{waiting}");
    assert_eq!(waiting["pending_action"]["step"], "posts[0].review");
}
