//! Outbound HTTP from plugins, secrets and the content plugins, against stub
//! services on 127.0.0.1 started here: a research API, an OpenAI-compatible
//! model server, a CMS and a chat webhook.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::api::{
    assert_problem, create_tenant, create_workflow, poll_until, poll_until_as, start_run, status_is,
};
use crate::common::receivers::{Delivery, HttpStub};
use crate::common::server::{Reply, Server};

const OPENAI_KEY: &str = "sk-test-7f3a9c1e5b2d4f60a8e1";
const CMS_TOKEN: &str = "cms-token-91b2c3d4e5f6a7b8";
const SLACK_PATH: &str = "T0001/B0002/xoxb9q8w7e6r5t4y";

pub(crate) fn serve(dir: &std::path::Path, settings: &[(&str, &str)]) -> Server {
    let plugins = crate::common::api::plugins_dir(dir);
    Server::start_with(&dir.join("data"), &plugins, settings)
}

/// A server process: its log is checked for secrets.
fn serve_process(dir: &std::path::Path, settings: &[(&str, &str)]) -> Server {
    let plugins = crate::common::api::plugins_dir(dir);
    Server::process_with(&dir.join("data"), &plugins, settings)
}

pub(crate) fn put_secret(server: &Server, key: &str, name: &str, value: &str) -> Reply {
    server.call(
        "PUT",
        &format!("/v1/secrets/{name}"),
        Some(key),
        Some(&json!({ "value": value })),
    )
}

/// The example workflow, pointed at the stubs, with quick retries.
fn content_pipeline(
    research: &HttpStub,
    model: &HttpStub,
    cms: &HttpStub,
    chat: &HttpStub,
) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/content-pipeline.json"
    ))
    .expect("example workflow")
    .replace("https://en.wikipedia.org", &research.base)
    .replace("https://api.openai.com", &model.base)
    .replace("https://cms.example.com", &cms.base)
    .replace("https://hooks.slack.com", &chat.base);
    let mut workflow: Value = serde_json::from_str(&text).expect("json");
    for step in workflow["steps"].as_array_mut().expect("steps") {
        if let Some(retry) = step.get_mut("retry") {
            retry["initial_backoff"] = json!("300ms");
        }
    }
    workflow
}

fn completion(content: &str) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "stub-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
    })
    .to_string()
}

const ARTICLE: &str = "# Rust in 2026\n\nRust keeps memory safe without a garbage collector, \
                       and teams ship it everywhere.\n\nMore text follows here.";

#[test]
fn the_content_pipeline_researches_drafts_waits_for_approval_publishes_and_notifies() {
    let research = HttpStub::start(|request, _| {
        assert!(request.path.starts_with("/api/rest_v1/page/summary/"));
        let answer = json!({"title": "Rust", "extract": "Rust is a systems programming language."});
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            answer.to_string(),
        )
    });
    // The model server is rate limited at first: 429, then the completion.
    let model = HttpStub::start(|_, before| {
        if before == 0 {
            (
                429,
                vec![("retry-after".into(), "0".into())],
                r#"{"error": {"message": "rate limited"}}"#.into(),
            )
        } else {
            (
                200,
                vec![("content-type".into(), "application/json".into())],
                completion(ARTICLE),
            )
        }
    });
    let cms = HttpStub::start(|_, _| {
        (
            201,
            vec![],
            json!({"id": 7, "url": "https://blog.example.com/rust-in-2026"}).to_string(),
        )
    });
    let chat = HttpStub::start(|_, _| (200, vec![], "ok".into()));

    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve_process(
        dir.path(),
        &[
            ("CAIRN_HTTP_ALLOW", "[\"127.0.0.1:*\"]"),
            ("RUST_LOG", "debug"),
        ],
    );
    for (name, value) in [
        ("openai", OPENAI_KEY),
        ("cms", CMS_TOKEN),
        ("slack_webhook", SLACK_PATH),
    ] {
        assert_eq!(put_secret(&server, &server.key, name, value).status, 201);
    }

    let workflow = create_workflow(
        &server,
        content_pipeline(&research, &model, &cms, &chat),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"topic": "Rust"}));
    let paused = poll_until(&server, &run, status_is("paused"));
    let action = &paused["pending_action"];
    assert_eq!(action["step"], "format", "{paused}");
    assert_eq!(action["data"]["title"], "Rust in 2026");
    assert_eq!(
        action["data"]["description"],
        "Rust keeps memory safe without a garbage collector, and teams ship it everywhere."
    );
    assert!(
        action["data"]["html"]
            .as_str()
            .expect("html")
            .contains("<h1>Rust in 2026</h1>")
    );

    // The research call went out with the topic; the draft got the facts.
    assert_eq!(
        research.received()[0].path,
        "/api/rest_v1/page/summary/Rust"
    );
    // 429 first, retried with backoff, and the key reached the model server.
    let calls = model.received();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(300));
    for call in &calls {
        assert_eq!(
            call.headers["authorization"],
            format!("Bearer {OPENAI_KEY}")
        );
        let sent: Value = serde_json::from_str(&call.body).expect("chat request");
        assert_eq!(sent["model"], "gpt-4o-mini");
        assert!(
            sent["messages"][1]["content"]
                .as_str()
                .expect("prompt")
                .contains("Rust is a systems programming language.")
        );
    }
    let draft = &paused["steps"][1];
    assert_eq!(draft["attempts"], 2, "{draft}");
    assert_eq!(draft["output"]["usage"]["total_tokens"], 59);
    let events = server.get(&format!("/v1/runs/{run}/events")).body;
    let retried = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "retry_scheduled")
        .expect("a retry");
    assert!(
        retried["data"]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("429"),
        "{retried}"
    );
    assert!(
        cms.received().is_empty(),
        "nothing is published before approval"
    );

    let resumed = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "format", "input": "approve"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let done = poll_until(&server, &run, status_is("completed"));

    let published = cms.wait_for("the article", |_| true);
    assert_eq!(published.method, "POST");
    assert_eq!(
        published.headers["authorization"],
        format!("Bearer {CMS_TOKEN}")
    );
    assert_eq!(
        published.headers["idempotency-key"],
        format!("{run}/publish")
    );
    let article: Value = serde_json::from_str(&published.body).expect("article");
    assert_eq!(article["title"], "Rust in 2026");
    assert_eq!(article["status"], "publish");
    assert!(
        article["html"]
            .as_str()
            .expect("html")
            .contains("<p>Rust keeps memory safe")
    );
    assert_eq!(
        done["steps"][3]["output"]["url"],
        "https://blog.example.com/rust-in-2026"
    );

    let message = chat.wait_for("the chat message", |_| true);
    assert_eq!(message.path, format!("/services/{SLACK_PATH}"));
    let message: Value = serde_json::from_str(&message.body).expect("slack message");
    assert_eq!(
        message,
        json!({"text": "Published: Rust in 2026 https://blog.example.com/rust-in-2026"})
    );

    assert_secrets_absent(
        &server,
        &run,
        &workflow,
        &[OPENAI_KEY, CMS_TOKEN, SLACK_PATH],
    );
}

/// `examples/keyword-posts.json`, pointed at the stubs.
fn keyword_posts(model: &HttpStub, cms: &HttpStub, chat: &HttpStub) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/keyword-posts.json"
    ))
    .expect("example workflow")
    .replace("https://api.openai.com", &model.base)
    .replace("https://cms.example.com", &cms.base)
    .replace("https://hooks.slack.com", &chat.base);
    serde_json::from_str(&text).expect("json")
}

#[test]
fn keyword_posts_fan_out_route_by_length_and_wait_per_post() {
    // A long post about anything but "go"; for "go", four words.
    let model = HttpStub::start(|request, _| {
        let asked: Value = serde_json::from_str(&request.body).unwrap_or_default();
        let prompt = asked["messages"][1]["content"].as_str().unwrap_or_default();
        let keyword = prompt
            .trim_start_matches("Write a 200-word blog post about ")
            .trim_end_matches('.');
        let article = if keyword == "go" {
            "# Go\n\nToo short here.".to_owned()
        } else {
            format!(
                "# All about {keyword}\n\n{}",
                "Words that fill a post well. ".repeat(6)
            )
        };
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            completion(&article),
        )
    });
    let cms = HttpStub::start(|_, before| {
        (
            201,
            vec![],
            json!({"id": before, "url": format!("https://blog.example.com/{before}")}).to_string(),
        )
    });
    let chat = HttpStub::start(|_, _| (200, vec![], "ok".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir.path(), &[("CAIRN_HTTP_ALLOW", "[\"127.0.0.1:*\"]")]);
    for (name, value) in [
        ("openai", OPENAI_KEY),
        ("cms", CMS_TOKEN),
        ("slack_webhook", SLACK_PATH),
    ] {
        assert_eq!(put_secret(&server, &server.key, name, value).status, 201);
    }
    let workflow = create_workflow(&server, keyword_posts(&model, &cms, &chat), "active");
    let run = start_run(
        &server,
        &workflow,
        json!({"keywords": ["rust", "go", "wasm"]}),
    );

    // Two posts wait for the editor at once; the short one went back.
    let paused = poll_until(&server, &run, |r| r["waiting_steps"] == 2);
    let mut waiting: Vec<(&str, &str)> = paused["pending_actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| Some((a["step"].as_str()?, a["data"]["title"].as_str()?)))
        .collect();
    waiting.sort();
    assert_eq!(
        waiting,
        [
            ("posts[0].route.publishable.review", "All about rust"),
            ("posts[2].route.publishable.review", "All about wasm")
        ]
    );
    let told = chat.wait_for("the rewrite note", |_| true);
    let told: Value = serde_json::from_str(&told.body).expect("slack message");
    assert_eq!(
        told,
        json!({"text": "The draft about go has 4 words: it needs a rewrite."})
    );
    assert!(cms.received().is_empty(), "nothing is published unreviewed");

    for (step, _) in waiting {
        let resumed = server.post(
            &format!("/v1/runs/{run}/resume"),
            &json!({"step": step, "input": "approve"}),
        );
        assert_eq!(resumed.status, 200, "{}", resumed.body);
    }
    let done = poll_until(&server, &run, status_is("completed"));
    let published: Vec<String> = cms
        .received()
        .iter()
        .map(|request| {
            let article: Value = serde_json::from_str(&request.body).expect("article");
            assert_eq!(
                request.headers["idempotency-key"],
                format!(
                    "{run}/posts[{}].route.publishable.publish",
                    if article["title"] == "All about rust" {
                        0
                    } else {
                        2
                    }
                )
            );
            article["title"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    let events = server.get(&format!("/v1/runs/{run}/events")).body;
    let log: Vec<String> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e["seq"],
                e["kind"],
                e["data"]["step"],
                e["data"]["attempt"],
                e["data"]["recovered"]
            )
        })
        .collect();
    assert_eq!(published.len(), 2, "{published:?} {log:#?}");
    assert!(published.contains(&"All about wasm".to_owned()));
    let cases: Vec<&Value> = done["steps"][0]["output"]
        .as_array()
        .expect("the map's output")
        .iter()
        .map(|post| &post["case"])
        .collect();
    assert_eq!(
        cases,
        [
            &json!("publishable"),
            &json!("default"),
            &json!("publishable")
        ]
    );
    let announced = chat.wait_for("the announcement", |d| d.body.contains("new posts"));
    let announced: Value = serde_json::from_str(&announced.body).expect("slack message");
    assert_eq!(announced, json!({"text": "2 new posts are out."}));
}

/// Searches every API answer about the run, and the server's log, for the values.
fn assert_secrets_absent(server: &Server, run: &str, workflow: &str, secrets: &[&str]) {
    let mut seen = String::new();
    for path in [
        format!("/v1/runs/{run}"),
        format!("/v1/runs/{run}/events"),
        "/v1/runs".to_owned(),
        format!("/v1/workflows/{workflow}"),
        "/v1/secrets".to_owned(),
        "/v1/approvals".to_owned(),
        "/metrics".to_owned(),
    ] {
        let reply = server.get(&path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        seen.push_str(&reply.body.to_string());
    }
    let log = std::fs::read_to_string(&server.log).expect("server log");
    assert!(log.contains("DEBUG"), "the server logged at debug level");
    for secret in secrets {
        assert!(!seen.contains(secret), "{secret} appears in an API answer");
        assert!(
            !log.contains(secret),
            "{secret} appears in the server's log"
        );
    }
}

pub(crate) fn http_step(name: &str, url: &str, grant: Value) -> Value {
    json!({"name": name, "type": "http-request", "config": {"url": url}, "http": grant})
}

pub(crate) fn failed_run(server: &Server, key: &str, definition: Value) -> Value {
    let shown = definition.to_string();
    let created = server.call(
        "POST",
        "/v1/workflows",
        Some(key),
        Some(&json!({"definition": definition, "status": "active"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id");
    let started = server.call(
        "POST",
        &format!("/v1/workflows/{id}/runs"),
        Some(key),
        Some(&json!({"input": {}})),
    );
    assert_eq!(started.status, 201, "{}", started.body);
    let run = started.body["id"].as_str().expect("id").to_owned();
    let run = poll_until_as(server, key, &run, |run| {
        run["status"] == "failed" || run["status"] == "completed"
    });
    assert_eq!(run["status"], "failed", "{shown}\n{run}");
    run
}

#[test]
fn requests_outside_a_grant_the_tenant_policy_or_the_allow_list_are_denied_with_the_reason() {
    let allowed = HttpStub::start(|request, _| match request.path.as_str() {
        "/big" => (200, vec![], "x".repeat(4096)),
        "/slow" => {
            std::thread::sleep(Duration::from_millis(1500));
            (200, vec![], "{}".into())
        }
        _ => (200, vec![], "{}".into()),
    });
    let outside = HttpStub::start(|_, _| (200, vec![], "{}".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let operator = format!("[\"{}\", \"{}\"]", allowed.authority(), outside.authority());
    let tenant = format!("[\"{}\"]", allowed.authority());
    let server = serve(
        dir.path(),
        &[
            ("CAIRN_HTTP_ALLOW", &operator),
            ("CAIRN_TENANTS__NARROW__HTTP_ALLOW", &tenant),
            ("CAIRN_LIMITS__HTTP_RESPONSE_BYTES", "1024"),
            ("CAIRN_LIMITS__HTTP_TIMEOUT_MS", "300"),
        ],
    );
    let narrow = create_tenant(&server, "narrow");

    let cases = [
        // The step's grant names another host.
        (
            &server.key,
            http_step(
                "fetch",
                &format!("{}/x", outside.base),
                json!({"allow": [allowed.authority()]}),
            ),
            "is not in this step's http grant",
        ),
        // The grant allows only GET.
        (
            &server.key,
            json!({"name": "post", "type": "http-request",
            "config": {"method": "POST", "url": format!("{}/x", allowed.base), "body": "x"},
            "http": {"allow": [{"host": allowed.authority(), "methods": ["GET"]}]}}),
            "is not in this step's http grant",
        ),
        // No grant at all.
        (
            &server.key,
            json!({"name": "bare", "type": "http-request", "config": {"url": format!("{}/x", allowed.base)}}),
            "this step has no http grant",
        ),
        // Granted, but not on the operator's list.
        (
            &server.key,
            http_step(
                "far",
                "http://127.0.0.1:9/x",
                json!({"allow": ["127.0.0.1:9"]}),
            ),
            "is not on the operator's allow-list",
        ),
        // Granted and on the operator's list, but not in this tenant's policy.
        (
            &narrow,
            http_step(
                "fetch",
                &format!("{}/x", outside.base),
                json!({"allow": [outside.authority()]}),
            ),
            "is not allowed by the tenant's policy",
        ),
        // A secret the step was not granted.
        (
            &server.key,
            json!({"name": "peek", "type": "http-request",
            "config": {"url": format!("{}/x", allowed.base), "headers": {"x-token": "${secret:other}"}},
            "http": {"allow": [allowed.authority()]}}),
            "secret 'other' is not granted to this step",
        ),
    ];
    for (key, step, reason) in cases {
        let run = failed_run(&server, key, json!({"name": "denied", "steps": [step]}));
        let error = run["error"]["message"].as_str().unwrap_or_default();
        assert!(
            error.contains("denied by the host") && error.contains(reason),
            "{reason}: {run}"
        );
        let logs = run["steps"][0]["logs"].as_array().expect("step logs");
        assert!(
            logs.iter().any(|l| l["source"] == "host"
                && l["message"].as_str().unwrap_or_default().contains(reason)),
            "{reason}: {logs:?}"
        );
    }
    assert!(outside.received().is_empty(), "{:?}", outside.received());
    assert!(allowed.received().is_empty(), "{:?}", allowed.received());

    // Allowed, but past the caps on response size and waiting time.
    let grant = json!({"allow": [allowed.authority()]});
    for (path, reason) in [
        ("/big", "the response body is larger than the host allows"),
        ("/slow", "the server did not answer in time"),
    ] {
        let step = http_step("fetch", &format!("{}{path}", allowed.base), grant.clone());
        let workflow = create_workflow(
            &server,
            json!({"name": "capped", "steps": [step]}),
            "active",
        );
        let run = start_run(&server, &workflow, json!({}));
        let run = poll_until(&server, &run, |run| {
            run["status"] != "running" && run["status"] != "pending"
        });
        let error = run["error"]["message"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{path}: {run}");
    }
    // The slow answer is recorded once the stub has given it.
    allowed.wait_for("the slow request", |d| d.path == "/slow");
    let sent = allowed.received().len();
    assert_eq!(sent, 2);

    // The same host inside the grant works: the denials were the policy's doing.
    let created = create_workflow(
        &server,
        json!({"name": "ok", "steps": [
        http_step("fetch", &format!("{}/ok", allowed.base), json!({"allow": [allowed.authority()]}))]}),
        "active",
    );
    let run = start_run(&server, &created, json!({}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(done["steps"][0]["output"]["status"], 200);
    assert_eq!(allowed.received().len(), sent + 1);
}

#[test]
fn a_secret_echoed_back_by_a_server_is_scrubbed_from_outputs_and_logs() {
    let echo = HttpStub::start(|request: &Delivery, _| {
        let token = request.headers.get("x-token").cloned().unwrap_or_default();
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            json!({"you_sent": token}).to_string(),
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let allow = format!("[\"{}\"]", echo.authority());
    let server = serve_process(
        dir.path(),
        &[("CAIRN_HTTP_ALLOW", &allow), ("RUST_LOG", "debug")],
    );
    let secret = "tok-5e1f0a9b8c7d6e5f4a3b";
    assert_eq!(
        put_secret(&server, &server.key, "token", secret).status,
        201
    );
    let workflow = create_workflow(
        &server,
        json!({"name": "echo", "steps": [{
            "name": "call", "type": "http-request",
            "config": {"url": format!("{}/echo", echo.base), "headers": {"x-token": "${secret:token}"}},
            "http": {"allow": [echo.authority()], "secrets": ["token"]}
        }]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(
        echo.received()[0].headers["x-token"],
        secret,
        "the value went to the allowed host"
    );
    assert_eq!(
        done["steps"][0]["output"]["body"]["you_sent"], "[secret:token]",
        "{done}"
    );
    assert_secrets_absent(&server, &run, &workflow, &[secret]);
}

#[test]
fn secrets_are_write_only_and_per_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir.path(), &[]);
    let value = "v-0123456789abcdef";
    let first = put_secret(&server, &server.key, "api", value);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["name"], "api");
    assert!(first.body.get("value").is_none());
    let again = put_secret(&server, &server.key, "api", "v-replaced-0000");
    assert_eq!(again.status, 200, "{}", again.body);
    let listed = server.get("/v1/secrets");
    assert_eq!(listed.body["secrets"].as_array().expect("list").len(), 1);
    assert!(!listed.body.to_string().contains("v-"), "{}", listed.body);

    assert_problem(
        &put_secret(&server, &server.key, "bad%20name", "x"),
        422,
        "invalid-secret",
    );
    assert_problem(
        &put_secret(&server, &server.key, "empty", ""),
        422,
        "invalid-secret",
    );
    let extra = server.call(
        "PUT",
        "/v1/secrets/api",
        Some(&server.key),
        Some(&json!({"value": "x", "other": 1})),
    );
    assert_problem(&extra, 422, "invalid-body");

    let other = create_tenant(&server, "other");
    let theirs = server.call("GET", "/v1/secrets", Some(&other), None);
    assert_eq!(theirs.body["secrets"], json!([]));
    assert_problem(
        &server.call("DELETE", "/v1/secrets/api", Some(&other), None),
        404,
        "not-found",
    );

    assert_eq!(
        server
            .call("DELETE", "/v1/secrets/api", Some(&server.key), None)
            .status,
        204
    );
    assert_problem(
        &server.call("DELETE", "/v1/secrets/api", Some(&server.key), None),
        404,
        "not-found",
    );
    if crate::common::db::on_postgres() {
        // The sealed bytes hold no value in clear, nor does any other table.
        let db = crate::common::db::Db::open(&server.data_dir);
        let clear = db.number(
            "SELECT COUNT(*) FROM secrets WHERE position(convert_to('v-replaced', 'UTF8') in sealed) > 0",
            &[],
        );
        assert_eq!(clear, 0, "a sealed secret holds its value in clear");
        for table in ["run_events", "steps", "runs", "outbox", "workflow_versions"] {
            let found = db.number(
                &format!("SELECT COUNT(*) FROM {table} t WHERE strpos(t::text, 'v-replaced') > 0"),
                &[],
            );
            assert_eq!(found, 0, "{table} holds a value in clear");
        }
        return;
    }
    // Both files exist while the server runs (the database is in WAL mode).
    for file in ["cairn.db", "cairn.db-wal"] {
        let bytes =
            std::fs::read(server.data_dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!bytes.is_empty(), "{file} is empty");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("v-replaced"),
            "{file} holds a value in clear"
        );
    }
}
