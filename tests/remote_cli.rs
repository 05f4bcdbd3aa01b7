//! The `cairn` command line driving a real server over HTTP, as a user at a
//! terminal or a script would: workflows applied from files, runs started by
//! name and followed to a pause, resumed, listed; plugins uploaded; batches,
//! secrets and the approval queue; exit codes for each way a command ends;
//! `cairn login`; and `runs watch` across a server restart.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::api::{plugins_dir, poll_until, status_is};
use common::server::Server;
use common::{GREET, component_path};
use serde_json::{Value, json};

/// `cairn ARGS` against `server`, with a config directory of its own (so no
/// login file of the machine's is read).
fn cairn(server: &Server, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env("CAIRN_SERVER", &server.url)
        .env("CAIRN_API_KEY", &server.key)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("CAIRN_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("cairn runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The output of a command that must exit with `code`.
#[track_caller]
fn exits(output: Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

#[track_caller]
fn json_of(output: Output) -> Value {
    let text = exits(output, 0);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let file = dir.join(name);
    std::fs::write(&file, value.to_string()).expect("write");
    file.display().to_string()
}

fn review() -> Value {
    json!({"name": "review", "description": "Draft, then wait for an editor.", "steps": [
        {"name": "draft", "type": "transform",
         "config": {"template": {"title": "{{ topic | title }}"}}, "input": "{{ input }}"},
        {"name": "check", "type": "noop", "input": "{{ steps.draft.output }}",
         "approval": {"message": "Publish this draft?"}},
        {"name": "publish", "type": "noop", "input": {"published": "{{ steps.check.output.title }}"}}
    ]})
}

#[test]
fn the_cli_drives_a_server_through_a_review_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), &plugins_dir(dir.path()));
    let config = dir.path().join("config");
    let cli = |args: &[&str]| cairn(&server, &config, args);

    // Apply: created as active, then the same file again is a new version.
    let file = write(dir.path(), "review.json", &review());
    let created = exits(cli(&["workflows", "apply", &file, "--activate"]), 0);
    assert!(
        created.starts_with("Created workflow review ("),
        "{created}"
    );
    let again = exits(cli(&["workflows", "apply", &file]), 0);
    assert!(
        again.starts_with("Saved version 2 of workflow review"),
        "{again}"
    );
    let listed = exits(cli(&["workflows", "list"]), 0);
    let row = listed.lines().nth(1).expect("a row");
    assert!(
        listed.lines().next().expect("header").starts_with("NAME"),
        "{listed}"
    );
    assert!(
        row.starts_with("review") && row.contains("active"),
        "{listed}"
    );
    let shown = exits(cli(&["workflows", "show", "review"]), 0);
    assert!(
        shown.contains("2. check (noop); then waits for approval: Publish this draft?"),
        "{shown}"
    );

    // Start by name and follow until it pauses: exit 3, the pending action
    // and the exact command that resumes it.
    let followed = cli(&[
        "runs",
        "start",
        "review",
        "--input",
        r#"{"topic": "wasm"}"#,
        "--follow",
        "--until-paused",
    ]);
    let printed = exits(followed, 3);
    assert!(printed.contains("Run #1 of review ("), "{printed}");
    assert!(printed.contains("✓ draft"), "{printed}");
    assert!(
        printed.contains("Waiting at check (approval): Publish this draft?"),
        "{printed}"
    );
    let resume_line = printed
        .lines()
        .find(|line| line.contains("--decision approve"))
        .expect("the resume command");
    let run = resume_line
        .split_whitespace()
        .nth(4)
        .expect("the run id")
        .to_owned();
    assert_eq!(
        resume_line.trim(),
        format!("Resume: cairn runs resume {run} --step check --decision approve")
    );

    // The run list and the approval queue show it.
    let runs = exits(cli(&["runs", "list", "--workflow", "review"]), 0);
    let row = runs.lines().nth(1).expect("a run");
    assert!(row.contains("#1") && row.contains("paused"), "{runs}");
    let queue = json_of(cli(&["approvals", "list", "--json"]));
    assert_eq!(queue["approvals"][0]["run_id"], run.as_str());
    assert_eq!(queue["approvals"][0]["step"], "check");

    // Resume with the printed command's arguments, following to the end: 0.
    let done = exits(
        cli(&[
            "runs",
            "resume",
            &run,
            "--step",
            "check",
            "--decision",
            "approve",
            "--follow",
        ]),
        0,
    );
    assert!(done.contains("✓ publish"), "{done}");
    assert!(
        done.contains(r#"Completed: {"published":"Wasm"}"#),
        "{done}"
    );
    let view = json_of(cli(&["runs", "show", &run, "--json"]));
    assert_eq!(view["status"], "completed");
    assert_eq!(view["number"], 1);

    // A run whose step fails (no topic for the template): exit 1, with the
    // step's error.
    let failed = exits(cli(&["runs", "start", "review", "--follow"]), 1);
    assert!(failed.contains("✗ draft: template at '/title'"), "{failed}");
    assert!(failed.contains("Run failed:"), "{failed}");

    // A second run, rejected through the approval queue with a note: a
    // rejection cancels the run, so the watch that follows it exits 2.
    // Starts a run of `review` and waits until it pauses at its gate.
    let paused_run = || {
        let started = json_of(cli(&[
            "runs",
            "start",
            "review",
            "--input",
            r#"{"topic": "t"}"#,
            "--json",
        ]));
        let id = started["id"].as_str().expect("id").to_owned();
        poll_until(&server, &id, status_is("paused"));
        id
    };
    let second = paused_run();
    let rejected = exits(
        cli(&["approvals", "reject", &second, "--note", "not yet"]),
        0,
    );
    assert!(
        rejected.starts_with(&format!("Rejected: run {second}")),
        "{rejected}"
    );
    let watched = exits(cli(&["runs", "watch", &second]), 2);
    assert!(watched.contains("Run cancelled: not yet"), "{watched}");

    // A third, cancelled while it waits: its watch exits 2.
    let third = paused_run();
    exits(cli(&["runs", "cancel", &third]), 0);
    exits(cli(&["runs", "watch", &third]), 2);

    // Upload a plugin, use it in a batch, and see the batch's progress.
    let greet = component_path(GREET).display().to_string();
    let uploaded = exits(cli(&["plugins", "upload", &greet]), 0);
    assert!(
        uploaded.starts_with("Uploaded greet 0.1.0 (sha256:"),
        "{uploaded}"
    );
    let plugins = exits(cli(&["plugins", "list"]), 0);
    assert!(
        plugins
            .lines()
            .any(|line| line.starts_with("greet") && line.contains("tenant")),
        "{plugins}"
    );
    assert!(
        !plugins.contains("input_schema"),
        "a table, not the schemas"
    );
    let greeter = write(
        dir.path(),
        "greeter.json",
        &json!({"name": "greeter", "steps": [{"name": "hello", "type": "greet", "input": "{{ input }}"}]}),
    );
    exits(cli(&["workflows", "apply", &greeter, "--activate"]), 0);
    let inputs = write(
        dir.path(),
        "inputs.json",
        &json!([{"name": "Ada"}, {"name": "Grace"}]),
    );
    let batch = json_of(cli(&[
        "batches", "start", "greeter", "--inputs", &inputs, "--json",
    ]));
    let batch_id = batch["id"].as_str().expect("id").to_owned();
    for run in batch["runs"].as_array().expect("runs") {
        poll_until(&server, run.as_str().expect("id"), status_is("completed"));
    }
    let progress = exits(cli(&["batches", "show", &batch_id]), 0);
    assert!(
        progress.contains("2 runs: 2 completed, 0 failed, 0 unfinished"),
        "{progress}"
    );

    // Secrets: the value from standard input, never printed back.
    let mut set = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["secrets", "set", "smtp-password"])
        .env("CAIRN_SERVER", &server.url)
        .env("CAIRN_API_KEY", &server.key)
        .env("XDG_CONFIG_HOME", &config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write as _;
    set.stdin
        .take()
        .expect("stdin")
        .write_all(b"hunter2\n")
        .expect("write");
    assert!(set.wait_with_output().expect("wait").status.success());
    let secrets = exits(cli(&["secrets", "list"]), 0);
    assert!(secrets.contains("smtp-password"), "{secrets}");
    assert!(!secrets.contains("hunter2"));
    exits(cli(&["secrets", "delete", "smtp-password"]), 0);
    assert!(exits(cli(&["secrets", "list"]), 0).contains("No secrets."));

    // Each way a command can go wrong has its exit code and one readable line.
    let missing = cli(&["runs", "show", "no-such-run"]);
    let stderr = String::from_utf8_lossy(&missing.stderr).into_owned();
    exits(missing, 6);
    assert_eq!(
        stderr.trim(),
        "error: GET /v1/runs/no-such-run: Not found (404)"
    );
    exits(cli(&["runs", "cancel", &run]), 7);
    exits(cli(&["runs", "start", "review", "--input", "{oops"]), 5);
    exits(cli(&["runs", "frobnicate"]), 5);
    let bad_key = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "workflows",
            "list",
            "--server",
            &server.url,
            "--api-key",
            "nope",
        ])
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .expect("cairn runs");
    exits(bad_key, 8);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nowhere = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let unreachable = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["workflows", "list", "--server", &nowhere, "--api-key", "k"])
        .env("XDG_CONFIG_HOME", &config)
        .output()
        .expect("cairn runs");
    exits(unreachable, 9);
    // A name two workflows share is ambiguous: use an id.
    let twin = write(dir.path(), "twin.json", &review());
    let body = json!({"definition": serde_json::from_str::<Value>(&std::fs::read_to_string(&twin).expect("read")).expect("json"), "status": "active"});
    assert_eq!(server.post("/v1/workflows", &body).status, 201);
    exits(cli(&["runs", "start", "review"]), 7);
}

#[test]
fn login_saves_the_server_and_key_for_the_remote_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), &plugins_dir(dir.path()));
    let config = dir.path().join("config");
    let bare = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .env("XDG_CONFIG_HOME", &config)
            .env_remove("CAIRN_SERVER")
            .env_remove("CAIRN_API_KEY")
            // Not the server's data directory: no key file to fall back on.
            .env("CAIRN_DATA_DIR", dir.path().join("elsewhere"))
            .stdin(Stdio::null())
            .output()
            .expect("cairn runs")
    };
    exits(bare(&["workflows", "list"]), 5);
    // A wrong key is refused, and nothing is saved.
    exits(
        bare(&["login", "--server", &server.url, "--api-key", "wrong"]),
        8,
    );
    let file = config.join("cairn").join("login.toml");
    assert!(!file.exists());
    exits(
        bare(&["login", "--server", &server.url, "--api-key", &server.key]),
        0,
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file)
        .expect("saved")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "owner-only");
    assert_eq!(
        exits(bare(&["workflows", "list"]), 0).trim(),
        "No workflows."
    );
    exits(bare(&["logout"]), 0);
    exits(bare(&["workflows", "list"]), 5);
}

/// `cairn runs watch` follows a run while its server is stopped and started
/// again on the same address: it reconnects, picks up the events after the
/// last it saw, and exits as the run ended.
#[test]
fn watch_follows_a_run_across_a_server_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let plugins = plugins_dir(dir.path());
    let config = dir.path().join("config");
    let server = Server::process(&data, &plugins);
    let address = server.url.strip_prefix("http://").expect("http").to_owned();
    let workflow = common::api::create_workflow(&server, review(), "active");
    let run = common::api::start_run(&server, &workflow, json!({"topic": "restarts"}));
    poll_until(&server, &run, status_is("paused"));

    let mut watch = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["runs", "watch", &run])
        .env("CAIRN_SERVER", &server.url)
        .env("CAIRN_API_KEY", &server.key)
        .env("XDG_CONFIG_HOME", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (lines, printed) = std::sync::mpsc::channel();
    let out = watch.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    let until = |text: &str| loop {
        let line = printed
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("watch never printed {text:?}"));
        if line.contains(text) {
            break;
        }
    };
    until("Resume: cairn runs resume");

    // The server goes away and comes back on the same address.
    server.terminate();
    std::thread::sleep(Duration::from_millis(500));
    let server = Server::process_on(&data, &plugins, &[], &address);
    let reply = server.post(
        &format!("/v1/runs/{run}/resume"),
        &json!({"step": "check", "input": "approve"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);

    let status = watch.wait().expect("watch ends");
    let all = reader.join().expect("reader");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut watch.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "stdout: {all}\nstderr: {stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    assert!(all.contains("✓ publish"), "{all}");
    assert!(
        all.contains(r#"Completed: {"published":"Restarts"}"#),
        "{all}"
    );
    // Each event printed once: the reconnection resumed after the last seen.
    assert_eq!(all.matches("✓ draft").count(), 1, "{all}");
}
