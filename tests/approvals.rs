//! Approval gates with reviewers, over the real server: signed single-use
//! links whose page changes nothing, a quorum of different reviewers, the
//! audit trail on the run, and refusals of used, expired, changed and foreign
//! links.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::api::{
    assert_problem, create_tenant, create_workflow, poll_until, post_form, setup, start_run,
    status_is,
};
use crate::common::server::{Reply, Server};

fn reviewed(required: u32) -> Value {
    json!({"name": "reviewed", "steps": [
        {"name": "draft", "type": "transform", "config": {"template": {"title": "{{ input.topic | title }}"}},
         "approval": {"message": "Publish this draft?", "reviewers": ["ana@example.com", "bo@example.com"],
                      "required": required}},
        {"name": "publish", "type": "noop"}
    ]})
}

/// The run's approval links, by reviewer, from the tenant's queue.
pub(crate) fn links(server: &Server, run: &str) -> Vec<(String, String)> {
    let queue = server.get("/v1/approvals");
    let entry = queue.body["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .find(|a| a["run_id"] == run)
        .cloned()
        .expect("the run waits");
    entry["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| {
            let url = l["url"].as_str().expect("url");
            (
                l["reviewer"].as_str().expect("reviewer").to_owned(),
                url.strip_prefix(&server.url)
                    .expect("same server")
                    .to_owned(),
            )
        })
        .collect()
}

fn open(server: &Server, path: &str) -> Reply {
    server.call_with("GET", path, None, None, &[])
}

#[test]
fn two_reviewers_approve_through_single_use_links_and_the_page_changes_nothing() {
    let (_dir, server) = setup();
    let workflow = create_workflow(&server, reviewed(2), "active");
    let run = start_run(&server, &workflow, json!({"topic": "wasm"}));
    let paused = poll_until(&server, &run, status_is("paused"));
    assert_eq!(
        paused["pending_action"]["reviewers"],
        json!(["ana@example.com", "bo@example.com"])
    );
    assert_eq!(paused["pending_action"]["required"], 2);
    let links = links(&server, &run);
    assert_eq!(links.len(), 2);
    let (ana, bo) = (&links[0].1, &links[1].1);
    let only_bo = server.get("/v1/approvals?reviewer=bo@example.com");
    assert_eq!(only_bo.body["approvals"].as_array().expect("list").len(), 1);
    let nobody = server.get("/v1/approvals?reviewer=carol@example.com");
    assert_eq!(nobody.body["approvals"], json!([]));

    // Fetching the link (as a mail scanner would) shows the page, changes nothing.
    for method in ["GET", "HEAD", "GET"] {
        let page = server.call_with(method, ana, None, None, &[]);
        assert_eq!(page.status, 200, "{method}: {}", page.body);
    }
    let page = open(&server, ana);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    let html = page.body.as_str().expect("html");
    assert!(
        html.contains("Publish this draft?") && html.contains("Wasm"),
        "{html}"
    );
    assert!(html.contains("ana@example.com") && html.contains("value=\"approve\""));
    assert_eq!(server.get(&format!("/v1/runs/{run}")).body, paused);

    // Ana approves: one of two; the run still waits.
    let thanks = post_form(&server, ana, "decision=approve&note=Looks+good");
    assert_eq!(thanks.status, 200, "{}", thanks.body);
    assert!(thanks.body.as_str().expect("html").contains("recorded"));
    let waiting = server.get(&format!("/v1/runs/{run}")).body;
    assert_eq!(waiting["status"], "paused");
    assert_eq!(waiting["pending_action"]["approvals"], 1);
    // Her link is spent; nor may she approve again through the API.
    assert_eq!(open(&server, ana).status, 409);
    assert_eq!(post_form(&server, ana, "decision=approve").status, 409);
    let ana_key = crate::common::server::create_key(&server, "default", "Ana@Example.com");
    let again = server.call(
        "POST",
        &format!("/v1/runs/{run}/resume"),
        Some(&ana_key),
        Some(&json!({"step": "draft", "input": "approve"})),
    );
    assert_problem(&again, 409, "conflict");

    // Bo approves over JSON: the quorum is met and the run goes on.
    let done = server.call_with(
        "POST",
        bo,
        None,
        Some(("application/json", br#"{"decision": "approve"}"#.to_vec())),
        &[],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let finished = poll_until(&server, &run, status_is("completed"));
    let decisions = finished["steps"][0]["decisions"]
        .as_array()
        .expect("decisions")
        .clone();
    let who: Vec<(&str, &str, &str)> = decisions
        .iter()
        .map(|d| {
            (
                d["reviewer"].as_str().expect("reviewer"),
                d["option"].as_str().expect("option"),
                d["channel"].as_str().expect("channel"),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("ana@example.com", "approve", "link"),
            ("bo@example.com", "approve", "link")
        ]
    );
    assert_eq!(decisions[0]["note"], "Looks good");
    let events = server.get(&format!("/v1/runs/{run}/events")).body;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert!(
        kinds.contains(&"approval_recorded") && kinds.contains(&"resumed"),
        "{kinds:?}"
    );
    assert_eq!(open(&server, bo).status, 409, "used");
}

#[test]
fn a_rejection_ends_the_run_and_bad_links_change_nothing() {
    let (dir, server) = setup();
    let workflow = create_workflow(&server, reviewed(1), "active");
    let run = start_run(&server, &workflow, json!({"topic": "rust"}));
    let paused = poll_until(&server, &run, status_is("paused"));
    let links = links(&server, &run);
    let ana = links[0].1.clone();

    // One byte changed: not valid.
    let token = ana.rsplit('/').next().expect("token").to_owned();
    let mut bytes = token.clone().into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'x' { b'y' } else { b'x' };
    let changed = format!("/v1/approvals/{}", String::from_utf8(bytes).expect("ascii"));
    assert_eq!(open(&server, &changed).status, 404);
    assert_eq!(post_form(&server, &changed, "decision=approve").status, 404);
    // Made with another secret: not valid.
    let elsewhere = tempfile::tempdir().expect("dir");
    let foreign = cairn::approvals::LinkSigner::load_or_create(
        elsewhere.path(),
        None,
        Duration::from_secs(3600),
        "http://x",
    )
    .expect("signer");
    let claims = cairn::approvals::Claims {
        tenant: "default".into(),
        run: run.clone(),
        step: "draft".into(),
        reviewer: "ana@example.com".into(),
        expires: i64::MAX / 2,
    };
    let forged = format!("/v1/approvals/{}", foreign.token(&claims));
    assert_eq!(post_form(&server, &forged, "decision=approve").status, 404);
    // Expired: signed with this server's secret, a minute ago.
    let own = cairn::approvals::LinkSigner::load_or_create(
        &dir.path().join("data"),
        None,
        Duration::from_secs(3600),
        "http://x",
    )
    .expect("signer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let expired = format!(
        "/v1/approvals/{}",
        own.token(&cairn::approvals::Claims {
            expires: now - 60,
            ..claims.clone()
        })
    );
    assert_eq!(open(&server, &expired).status, 410);
    assert_eq!(post_form(&server, &expired, "decision=approve").status, 410);
    // Presented with another tenant's key: as if it did not exist.
    let globex = create_tenant(&server, "globex");
    let theirs = server.call_with(
        "POST",
        &ana,
        Some(&globex),
        Some((
            "application/x-www-form-urlencoded",
            b"decision=approve".to_vec(),
        )),
        &[],
    );
    assert_eq!(theirs.status, 404);
    // Not an option: refused, and the link still works.
    assert_eq!(post_form(&server, &ana, "decision=maybe").status, 422);
    assert_eq!(
        server.get(&format!("/v1/runs/{run}")).body,
        paused,
        "nothing changed"
    );

    let rejected = post_form(&server, &ana, "decision=reject&note=Off+brand");
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    let ended = poll_until(&server, &run, status_is("cancelled"));
    assert_eq!(ended["error"]["reason"], "rejected");
    assert_eq!(ended["error"]["message"], "Off brand");
    assert_eq!(ended["steps"][0]["decisions"][0]["channel"], "link");
    // Bo's link now has nothing to decide.
    assert_eq!(open(&server, &links[1].1).status, 409);
}

#[test]
fn a_gate_timeout_decides_whatever_the_quorum_and_says_so() {
    let (_dir, server) = setup();
    let mut definition = reviewed(2);
    definition["steps"][0]["approval"]["timeout"] = json!("300ms");
    definition["steps"][0]["approval"]["on_timeout"] = json!("approve");
    let workflow = create_workflow(&server, definition, "active");
    let run = start_run(&server, &workflow, json!({"topic": "late"}));
    let done = poll_until(&server, &run, status_is("completed"));
    let decisions = &done["steps"][0]["decisions"];
    assert_eq!(decisions.as_array().map(Vec::len), Some(1), "{decisions}");
    assert_eq!(decisions[0]["reviewer"], "timeout", "{decisions}");
    assert_eq!(decisions[0]["channel"], "timer");
    assert_eq!(decisions[0]["option"], "approve");
}
