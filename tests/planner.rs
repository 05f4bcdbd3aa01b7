//! The planner, for real: a stub OpenAI-compatible model server on 127.0.0.1
//! answers with canned plans (valid, wrong then corrected, wrong every time,
//! not JSON, rate-limited, hung, down, refusing), an SMTP receiver gets the
//! plan's email, and its links are followed: a GET changes nothing, a POST
//! decides once, a changed or expired link is refused, and an approved
//! plan's schedule starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::api::{
    assert_problem, create_tenant, create_workflow, plugins_dir, post_form, setup,
};
use crate::common::receivers::{Answer, Delivery, HttpStub, Mail, SmtpReceiver, WebhookReceiver};
use crate::common::server::Server;
use crate::common::{WIT_0_1, component_bytes, eventually};

const VALID: &str = r#"{"name": "AI marketing digest", "description": "Collects the week's stories and formats a digest.", "steps": [
    {"name": "collect", "type": "noop", "config": {}},
    {"name": "format", "type": "transform", "config": {"template": {"digest": "Top stories: {{ input }}"}}}
]}"#;

const PUBLISHING: &str = r#"{"name": "Site digest", "description": "Drafts and publishes.", "steps": [
    {"name": "draft", "type": "transform", "config": {"template": {"html": "<p>{{ input }}</p>", "title": "Digest"}}},
    {"name": "post", "type": "publish", "config": {"mode": "draft"}}
]}"#;

const UNKNOWN_TYPE: &str = r#"{"name": "Digest", "description": "d", "steps": [
    {"name": "search", "type": "scraper", "config": {}}
]}"#;

fn completion(content: &str) -> Answer {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": content}}]});
    (
        200,
        vec![("content-type".into(), "application/json".into())],
        body.to_string(),
    )
}

/// The goal a model request is about (its first user message).
fn goal_of(request: &Delivery) -> String {
    let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
    body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// How many times each goal was asked, counted as requests arrive (the
/// stub logs a request only once it has answered).
type Asked = Arc<Mutex<HashMap<String, usize>>>;

/// A model server whose answer depends on a word in the goal and on how
/// many times that goal was asked before.
fn model_stub() -> (HttpStub, Asked) {
    let counts: Asked = Arc::default();
    let asked = Arc::clone(&counts);
    let stub = HttpStub::start(move |request, _| {
        let goal = goal_of(request);
        let n = {
            let mut asked = asked.lock().expect("lock");
            let n = asked.entry(goal.clone()).or_default();
            *n += 1;
            *n
        };
        let has = |word: &str| goal.contains(word);
        if has("unknown") && n == 1 || has("hopeless") {
            completion(UNKNOWN_TYPE)
        } else if has("legacy") {
            completion(
                r#"{"name": "Old", "description": "d", "steps": [{"name": "old", "type": "legacy", "config": {}}]}"#,
            )
        } else if has("publish") {
            completion(PUBLISHING)
        } else if has("garbled") {
            completion("Sure! Here is the plan: {\"name\": ")
        } else if has("busy") && n == 1 {
            (429, vec![("retry-after".into(), "0".into())], "{}".into())
        } else if has("slow") {
            std::thread::sleep(Duration::from_secs(3));
            completion(VALID)
        } else if has("down") {
            (503, vec![], "overloaded".into())
        } else if has("unauthorized") {
            (401, vec![], r#"{"error": "bad key"}"#.into())
        } else {
            completion(VALID)
        }
    });
    (stub, counts)
}

/// How many model calls were made for goals holding `word`.
fn calls(asked: &Asked, word: &str) -> usize {
    let asked = asked.lock().expect("lock");
    asked
        .iter()
        .filter(|(goal, _)| goal.contains(word))
        .map(|(_, n)| n)
        .sum()
}

fn planner_settings(model: &HttpStub) -> Vec<(&'static str, String)> {
    vec![
        ("CAIRN_PLANNER__BASE_URL", format!("{}/v1", model.base)),
        ("CAIRN_PLANNER__MODEL", "stub-model".into()),
        ("CAIRN_PLANNER__API_KEY", "sk-test".into()),
        ("CAIRN_PLANNER__TIMEOUT", "1s".into()),
        ("CAIRN_PLANNER__MAX_ATTEMPTS", "3".into()),
    ]
}

fn smtp_settings(smtp: &SmtpReceiver) -> Vec<(&'static str, String)> {
    vec![
        ("CAIRN_SMTP__HOST", "127.0.0.1".into()),
        ("CAIRN_SMTP__PORT", smtp.port.to_string()),
        ("CAIRN_SMTP__TLS", "none".into()),
        ("CAIRN_SMTP__FROM", "Cairn <cairn@example.com>".into()),
    ]
}

fn start(dir: &std::path::Path, settings: &[(&'static str, String)]) -> Server {
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(&dir.join("data"), &plugins_dir(dir), &settings)
}

fn requests_about(model: &HttpStub, word: &str) -> Vec<Value> {
    model
        .received()
        .iter()
        .filter(|r| goal_of(r).contains(word))
        .map(|r| serde_json::from_str(&r.body).expect("a JSON request"))
        .collect()
}

fn plan(server: &Server, body: Value) -> crate::common::server::Reply {
    server.post("/v1/workflows", &body)
}

#[test]
fn the_planner_writes_checks_corrects_and_gives_up_as_it_should() {
    let (model, counts) = model_stub();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), &planner_settings(&model));

    // A valid plan is stored as a draft with its provenance.
    let created = plan(
        &server,
        json!({"goal": "Search for the top 5 AI marketing stories this week and format them into a newsletter digest"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let body = &created.body;
    assert_eq!(body["status"], "draft");
    assert_eq!(body["name"], "AI marketing digest");
    assert_eq!(body["definition"]["steps"][1]["type"], "transform");
    assert_eq!(body["plan"]["model"], "stub-model");
    assert_eq!(body["plan"]["attempts"], 1);
    assert_eq!(body["plan"]["state"], "pending");
    assert_eq!(body["plan"]["reviewers"], json!([]));
    assert_eq!(body["plan"]["steps"][0], "1. collect (noop)");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("nobody was sent it"), "{message}");
    let id = body["id"].as_str().expect("id");
    let stored = server.get(&format!("/v1/workflows/{id}"));
    assert_eq!(stored.body["plan"]["goal"], body["plan"]["goal"]);

    // What the model was asked: the catalog's step types, as a schema.
    let asked = &model.received()[0];
    assert_eq!(asked.path, "/v1/chat/completions");
    assert_eq!(asked.headers["authorization"], "Bearer sk-test");
    let request: Value = serde_json::from_str(&asked.body).expect("json");
    assert_eq!(request["model"], "stub-model");
    assert_eq!(request["response_format"]["type"], "json_schema");
    let choices = request["response_format"]["json_schema"]["schema"]["properties"]["steps"]
        ["items"]["anyOf"]
        .as_array()
        .expect("step choices");
    let offered: Vec<&str> = choices
        .iter()
        .map(|c| c["properties"]["type"]["const"].as_str().expect("type"))
        .collect();
    for bundled in ["noop", "transform", "publish", "notify", "ai-generate"] {
        assert!(offered.contains(&bundled), "{bundled} not in {offered:?}");
    }
    let transform = choices
        .iter()
        .find(|c| c["properties"]["type"]["const"] == "transform")
        .expect("transform");
    assert_eq!(
        transform["properties"]["config"]["required"],
        json!(["template"])
    );
    let system = request["messages"][0]["content"].as_str().expect("prompt");
    assert!(system.contains("## transform"), "{system}");

    // A plan naming a step type the tenant does not have is sent back with
    // the problem, and the corrected one is kept.
    let corrected = plan(&server, json!({"goal": "unknown sources, then fixed"}));
    assert_eq!(corrected.status, 201, "{}", corrected.body);
    assert_eq!(corrected.body["plan"]["attempts"], 2);
    let asked = requests_about(&model, "unknown sources");
    assert_eq!(asked.len(), 2);
    let feedback = asked[1]["messages"][3]["content"]
        .as_str()
        .expect("feedback");
    assert!(
        feedback.contains("/steps/0/type") && feedback.contains("unknown step type 'scraper'"),
        "{feedback}"
    );
    assert_eq!(asked[1]["messages"][2]["role"], "assistant");

    // A step that reaches an audience gets a review of its input before it.
    let published = plan(
        &server,
        json!({"goal": "publish a digest", "notify": ["ana@example.com"]}),
    );
    assert_eq!(published.status, 201, "{}", published.body);
    let steps = published.body["definition"]["steps"]
        .as_array()
        .expect("steps");
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["draft", "review_post", "post"]);
    assert_eq!(steps[1]["type"], "noop");
    assert_eq!(
        steps[1]["approval"]["reviewers"],
        json!(["ana@example.com"])
    );
    let lines = published.body["plan"]["steps"].as_array().expect("lines");
    assert!(
        lines[1]
            .as_str()
            .expect("line")
            .contains("waits for approval by ana@example.com"),
        "{lines:?}"
    );
    assert_eq!(published.body.get("warnings"), None);
    let asked = requests_about(&model, "publish a digest");
    let system = asked[0]["messages"][0]["content"].as_str().expect("prompt");
    assert!(
        system.contains("It reaches an audience (the readers of the site"),
        "{system}"
    );

    // Another tenant's private step type is not this tenant's: it is not
    // offered, and a plan naming it is refused like any unknown type.
    let other = create_tenant(&server, "other");
    let uploaded = server.call_with(
        "POST",
        "/v1/plugins",
        Some(&other),
        Some(("application/wasm", component_bytes(WIT_0_1))),
        &[],
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let offered_types = |request: &Value| -> Vec<String> {
        request["response_format"]["json_schema"]["schema"]["properties"]["steps"]["items"]["anyOf"]
            .as_array()
            .expect("choices")
            .iter()
            .map(|c| {
                c["properties"]["type"]["const"]
                    .as_str()
                    .expect("type")
                    .to_owned()
            })
            .collect()
    };
    let stranger = plan(&server, json!({"goal": "use the legacy step"}));
    assert_problem(&stranger, 422, "plan-invalid");
    assert!(
        stranger.body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("unknown step type 'legacy'"),
        "{}",
        stranger.body
    );
    let asked = requests_about(&model, "use the legacy step");
    assert!(!offered_types(&asked[0]).contains(&"legacy".to_owned()));
    let owner = server.call(
        "POST",
        "/v1/workflows",
        Some(&other),
        Some(&json!({"goal": "the legacy step, by its owner"})),
    );
    assert_eq!(owner.status, 201, "{}", owner.body);
    let asked = requests_about(&model, "the legacy step, by its owner");
    assert!(offered_types(&asked[0]).contains(&"legacy".to_owned()));

    let before = server.get("/v1/workflows").body["workflows"]
        .as_array()
        .expect("list")
        .len();

    // Wrong every time: 422 with the last problems, after max_attempts calls.
    let hopeless = plan(&server, json!({"goal": "a hopeless plan"}));
    assert_problem(&hopeless, 422, "plan-invalid");
    assert_eq!(hopeless.body["errors"][0]["path"], "/steps/0/type");
    assert_eq!(requests_about(&model, "hopeless").len(), 3);

    // Not JSON at all: the parse error goes back, then 422.
    let garbled = plan(&server, json!({"goal": "a garbled answer"}));
    assert_problem(&garbled, 422, "plan-invalid");
    let message = garbled.body["errors"][0]["message"].as_str().expect("msg");
    assert!(message.contains("not a JSON object"), "{message}");
    let asked = requests_about(&model, "garbled");
    assert!(
        asked[1]["messages"][3]["content"]
            .as_str()
            .expect("feedback")
            .contains("not a JSON object")
    );

    // A rate limit is waited out.
    let busy = plan(&server, json!({"goal": "a busy model"}));
    assert_eq!(busy.status, 201, "{}", busy.body);
    assert_eq!(busy.body["plan"]["attempts"], 2);

    // A hung model: 504 after the timeout, without retrying.
    let slow = plan(&server, json!({"goal": "a slow model"}));
    assert_problem(&slow, 504, "planner-timeout");
    assert_eq!(calls(&counts, "slow"), 1);

    // A model server that fails: 502 after the attempts; one that refuses
    // the key: 502 at once, with its answer.
    let down = plan(&server, json!({"goal": "model down"}));
    assert_problem(&down, 502, "planner-unavailable");
    assert_eq!(requests_about(&model, "down").len(), 3);
    let refused = plan(&server, json!({"goal": "unauthorized key"}));
    assert_problem(&refused, 502, "planner-unavailable");
    assert!(
        refused.body["detail"]
            .as_str()
            .expect("detail")
            .contains("401")
    );
    assert_eq!(requests_about(&model, "unauthorized").len(), 1);

    // Bad requests are refused before the model is asked.
    let asked_before: usize = counts.lock().expect("lock").values().sum();
    let bad = [
        (json!({"goal": "   "}), "invalid-goal"),
        (json!({"goal": "x".repeat(5000)}), "invalid-goal"),
        (
            json!({"goal": "g", "schedule": "every monday"}),
            "invalid-schedule",
        ),
        (
            json!({"goal": "g", "schedule": "0 9 * * 1", "timezone": "Mars/Olympus"}),
            "invalid-schedule",
        ),
        (json!({"goal": "g", "timezone": "UTC"}), "invalid-goal"),
        (
            json!({"goal": "g", "notify": ["not an address"]}),
            "invalid-goal",
        ),
        (json!({"goal": "g", "status": "active"}), "invalid-goal"),
        (
            json!({"goal": "g", "definition": {"name": "x", "steps": []}}),
            "invalid-request",
        ),
        (json!({}), "invalid-request"),
        (
            json!({"goal": "g", "webhooks": [{"url": "http://127.0.0.1:9/x", "secret": "${secret:none}"}]}),
            "invalid-goal",
        ),
        (
            json!({"goal": "g", "webhooks": [{"url": 5}]}),
            "invalid-goal",
        ),
    ];
    for (body, kind) in bad {
        let reply = plan(&server, body.clone());
        assert_problem(&reply, 422, kind);
        assert!(reply.body["detail"].is_string(), "{body}: {}", reply.body);
    }
    let asked_after: usize = counts.lock().expect("lock").values().sum();
    assert_eq!(asked_after, asked_before, "no model call");

    // The command line against this server: the plan as lines, approved on
    // request; a refusal as the problem's lines, and a failing exit.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("plan")
            .args(args)
            .args(["--server", &server.url, "--api-key", &server.key])
            .output()
            .expect("cairn runs")
    };
    let printed = cli(&[
        "a digest from the command line",
        "--schedule",
        "0 9 * * 1",
        "--approve",
    ]);
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    for expected in [
        "AI marketing digest (workflow ",
        "active), planned by stub-model in 1 attempt(s):",
        "  1. collect (noop)\n  2. format (transform)",
        "Schedule: 0 9 * * 1 (UTC)",
        "Approved: the workflow is active.",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in {stdout}");
    }
    let refused = cli(&["a hopeless plan from the command line"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("(422)") && stderr.contains("/steps/0/type: unknown step type 'scraper'"),
        "{stderr}"
    );

    // Nothing was stored for any failure: the new workflows are the busy
    // model's plan and the command line's.
    let after = server.get("/v1/workflows").body["workflows"]
        .as_array()
        .expect("list")
        .len();
    assert_eq!(after, before + 2);
}

/// The approve and reject links of the plan email sent to `to` about the
/// goal `about`, for the plan's `version`.
fn links_in(
    smtp: &SmtpReceiver,
    server: &Server,
    to: &str,
    about: &str,
    version: i64,
) -> (String, String, Mail) {
    let mail = smtp.wait_for(&format!("the plan email to {to}, version {version}"), |m| {
        m.to.iter().any(|t| t == to)
            && m.data.contains(about)
            && m.data.contains(&format!("version {version},"))
    });
    let prefix = format!("{}/v1/plans/", server.url);
    let links: Vec<String> = mail
        .data
        .split_whitespace()
        .filter(|w| w.starts_with(&prefix))
        .map(|w| w[server.url.len()..].to_owned())
        .collect();
    assert_eq!(links.len(), 2, "{}", mail.data);
    (links[0].clone(), links[1].clone(), mail)
}

fn workflow(server: &Server, id: &str) -> Value {
    server.get(&format!("/v1/workflows/{id}")).body
}

fn runs_of(server: &Server, id: &str) -> Vec<Value> {
    server.get(&format!("/v1/runs?workflow_id={id}")).body["runs"]
        .as_array()
        .expect("runs")
        .clone()
}

#[test]
fn reviewers_approve_or_reject_a_plan_by_its_links_once_per_version() {
    let (model, _) = model_stub();
    let smtp = SmtpReceiver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = planner_settings(&model);
    settings.extend(smtp_settings(&smtp));
    settings.push(("CAIRN_HTTP_ALLOW", r#"["127.0.0.1:*"]"#.into()));
    let server = start(dir.path(), &settings);
    let hooks = WebhookReceiver::start();
    let stored = server.call(
        "PUT",
        "/v1/secrets/hooks",
        Some(&server.key),
        Some(&json!({"value": crate::notifications::SECRET})),
    );
    assert!(stored.status < 300, "{}", stored.body);

    let created = plan(
        &server,
        json!({"goal": "Weekly digest of AI marketing news", "schedule": "*/2 * * * * *",
               "notify": ["owner@example.com", "editor@example.com"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.body["definition"]["schedule"]["cron"],
        "*/2 * * * * *"
    );
    let message = created.body["message"].as_str().expect("message");
    assert!(
        message.contains("owner@example.com, editor@example.com") && message.contains("schedule"),
        "{message}"
    );

    let (approve, reject, mail) = links_in(&smtp, &server, "owner@example.com", "Weekly digest", 1);
    assert!(
        mail.data.contains("Weekly digest of AI marketing news"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("1. collect (noop)"), "{}", mail.data);
    assert!(mail.data.contains("*/2 * * * * *"), "{}", mail.data);
    assert_ne!(approve, reject);

    // A draft's schedule starts nothing: another, active workflow on the same
    // cron fires twice meanwhile, proving the scheduler ran.
    let clock = create_workflow(
        &server,
        json!({"name": "clock", "steps": [{"name": "a", "type": "noop"}],
               "schedule": {"cron": "*/2 * * * * *"}}),
        "active",
    );
    eventually("the active schedule fires twice", || {
        let fires = server.get(&format!("/v1/workflows/{clock}/schedule")).body["recent_fires"]
            .as_array()
            .map_or(0, Vec::len);
        (fires >= 2).then_some(())
    });
    server.post(&format!("/v1/workflows/{clock}/archive"), &json!({}));
    let schedule = server.get(&format!("/v1/workflows/{id}/schedule")).body;
    assert_eq!(schedule["next_fires"], json!([]), "{schedule}");
    assert_eq!(schedule["recent_fires"], json!([]), "{schedule}");
    assert!(runs_of(&server, &id).is_empty());

    // GET shows the plan and changes nothing (HTML, or JSON when asked).
    let page = server.call("GET", &approve, None, None);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let html = page.body.as_str().expect("html");
    assert!(
        html.contains("Approve this plan?") && html.contains("1. collect (noop)"),
        "{html}"
    );
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let shown = server.call_with(
        "GET",
        &approve,
        None,
        None,
        &[("accept", "application/json")],
    );
    assert_eq!(shown.body["decision"], "approve");
    assert_eq!(shown.body["goal"], "Weekly digest of AI marketing news");
    assert_eq!(workflow(&server, &id)["status"], "draft");

    // A changed token is not a link; a run's approval route does not take it.
    let mut tampered = approve.clone().into_bytes();
    let at = tampered.len() - 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(server.call("GET", &tampered, None, None).status, 404);
    assert_eq!(post_form(&server, &tampered, "").status, 404);
    let as_gate = approve.replace("/v1/plans/", "/v1/approvals/");
    assert_eq!(server.call("GET", &as_gate, None, None).status, 404);
    // A link's decision is its own.
    let other = post_form(&server, &approve, "decision=reject");
    assert_eq!(other.status, 422);

    // POST approves, once; the schedule starts.
    let approved = post_form(&server, &approve, "");
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(
        approved
            .body
            .as_str()
            .expect("html")
            .contains("You approved the plan")
    );
    let now = workflow(&server, &id);
    assert_eq!(now["status"], "active");
    assert_eq!(now["plan"]["state"], "approved");
    assert_eq!(now["plan"]["decisions"][0]["reviewer"], "owner@example.com");
    assert_eq!(now["plan"]["decisions"][0]["channel"], "link");
    assert_eq!(now["plan"]["decisions"][0]["decision"], "approve");
    let again = server.call_with(
        "POST",
        &approve,
        None,
        Some(("application/json", b"{}".to_vec())),
        &[],
    );
    assert_problem(&again, 409, "conflict");
    let (_, editors_reject, _) = links_in(&smtp, &server, "editor@example.com", "Weekly digest", 1);
    assert_eq!(post_form(&server, &editors_reject, "note=late").status, 409);
    let run = eventually("the approved plan's schedule starts a run", || {
        runs_of(&server, &id).into_iter().next()
    });
    assert_eq!(run["trigger"]["kind"], "schedule", "{run}");
    server.post(&format!("/v1/workflows/{id}/archive"), &json!({}));

    // A rejection keeps the draft, with the note; an edit sends the new
    // version for review, and the old links stop working.
    let second = plan(
        &server,
        json!({"goal": "Monthly digest", "notify": ["owner@example.com"],
               "webhooks": [{"url": hooks.url, "secret": "${secret:hooks}"}]}),
    );
    assert_eq!(second.status, 201, "{}", second.body);
    let second_id = second.body["id"].as_str().expect("id").to_owned();
    let (old_approve, old_reject, _) =
        links_in(&smtp, &server, "owner@example.com", "Monthly digest", 1);
    let rejected = post_form(
        &server,
        &old_reject,
        "note=Too+long%2C+cut+it+to+three+stories",
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    let now = workflow(&server, &second_id);
    assert_eq!(now["status"], "draft");
    assert_eq!(now["plan"]["state"], "rejected");
    assert_eq!(
        now["plan"]["decisions"][0]["note"],
        "Too long, cut it to three stories"
    );
    let mut edited = now["definition"].clone();
    edited["steps"][1]["config"]["template"]["digest"] = json!("Three stories: {{ input }}");
    let put = server.call(
        "PUT",
        &format!("/v1/workflows/{second_id}"),
        Some(&server.key),
        Some(&json!({"definition": edited})),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(workflow(&server, &second_id)["plan"]["state"], "pending");
    let stale = post_form(&server, &old_approve, "");
    assert_eq!(stale.status, 409);
    assert!(
        stale
            .body
            .as_str()
            .expect("html")
            .contains("version 2 is the latest")
    );
    // The webhook was told of both versions, signed, with links of its own.
    let told = hooks.wait_for("the edited plan's webhook", |d| {
        d.body.contains("\"version\":2")
    });
    assert!(told.headers.contains_key("webhook-signature"));
    let told: Value = serde_json::from_str(&told.body).expect("json");
    assert_eq!(told["type"], "workflow.plan_review");
    assert_eq!(told["data"]["title"], "AI marketing digest");
    let approve_v2 = told["data"]["links"]["approve"]
        .as_str()
        .expect("approve link")
        .strip_prefix(&server.url)
        .expect("on this server")
        .to_owned();
    let (fresh, _, _) = links_in(&smtp, &server, "owner@example.com", "Monthly digest", 2);
    assert_ne!(fresh, approve_v2, "each recipient has links of its own");
    let approved = server.call_with(
        "POST",
        &approve_v2,
        None,
        Some(("application/json", b"{}".to_vec())),
        &[],
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "active");
    let now = workflow(&server, &second_id);
    assert_eq!(now["status"], "active");
    assert_eq!(now["plan"]["decisions"][1]["version"], 2);
    assert_eq!(now["plan"]["decisions"][1]["reviewer"], json!(hooks.url));

    // The owner may approve through the API: the key's name is recorded.
    let third = plan(&server, json!({"goal": "Daily digest"}));
    let third_id = third.body["id"].as_str().expect("id");
    let activated = server.post(&format!("/v1/workflows/{third_id}/activate"), &json!({}));
    assert_eq!(activated.status, 200, "{}", activated.body);
    let now = workflow(&server, third_id);
    assert_eq!(now["plan"]["state"], "approved");
    assert_eq!(now["plan"]["decisions"][0]["reviewer"], "admin");
    assert_eq!(now["plan"]["decisions"][0]["channel"], "api");
}

#[test]
fn plan_links_expire_and_a_server_without_a_planner_says_so() {
    let (model, _) = model_stub();
    let smtp = SmtpReceiver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = planner_settings(&model);
    settings.extend(smtp_settings(&smtp));
    settings.push(("CAIRN_PLAN_LINK_TTL", "1s".into()));
    let server = start(dir.path(), &settings);
    let created = plan(
        &server,
        json!({"goal": "digest", "notify": ["owner@example.com"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let (approve, _, _) = links_in(&smtp, &server, "owner@example.com", "digest", 1);
    std::thread::sleep(Duration::from_millis(1100));
    let expired = server.call_with(
        "GET",
        &approve,
        None,
        None,
        &[("accept", "application/json")],
    );
    assert_problem(&expired, 410, "link-expired");
    assert_eq!(post_form(&server, &approve, "").status, 410);
    let id = created.body["id"].as_str().expect("id");
    assert_eq!(workflow(&server, id)["status"], "draft");

    let (_dir, plain) = setup();
    let refused = plan(&plain, json!({"goal": "digest"}));
    assert_problem(&refused, 422, "planner-not-configured");
}

#[test]
fn a_key_rejects_a_plan_with_a_note_and_an_unplanned_workflow_has_none_to_reject() {
    let (model, _) = model_stub();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), &planner_settings(&model));
    let created = plan(&server, json!({"goal": "a weekly digest"}));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id");

    let rejected = server.post(
        &format!("/v1/workflows/{id}/plan/reject"),
        &json!({"note": "check the links first"}),
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "draft");
    let plan_view = &rejected.body["plan"];
    assert_eq!(plan_view["state"], "rejected");
    let decision = &plan_view["decisions"][0];
    assert_eq!(decision["decision"], "reject");
    assert_eq!(decision["reviewer"], "admin", "the key's name");
    assert_eq!(decision["channel"], "api");
    assert_eq!(decision["note"], "check the links first");
    // Once per version.
    let again = server.post(&format!("/v1/workflows/{id}/plan/reject"), &json!({}));
    assert_problem(&again, 409, "conflict");

    let unplanned = create_workflow(
        &server,
        json!({"name": "plain", "steps": [{"name": "a", "type": "noop"}]}),
        "draft",
    );
    let none = server.post(
        &format!("/v1/workflows/{unplanned}/plan/reject"),
        &json!({}),
    );
    assert_problem(&none, 404, "not-found");
}
