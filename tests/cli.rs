//! The `cairn` binary as a plugin author uses it: inspect a component, run a step,
//! read the outcome as JSON.

use crate::common;

use std::process::{Command, Output};

use common::{CLI_COMMAND, FUTURE_MAJOR, GREET, HOSTILE, UNKNOWN_IMPORT, component_path};
use serde_json::{Value, json};

fn cairn(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .envs(crate::common::db::env(data_dir))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("cairn runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The JSON a command that succeeded printed.
fn succeeded(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout_json(output)
}

fn path(file: &str) -> String {
    component_path(file).display().to_string()
}

#[test]
fn plugin_inspect_prints_describe_as_json() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cairn(data.path(), &["plugins", "inspect", &path(GREET)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let info = stdout_json(&output);
    assert_eq!(info["name"], "greet");
    assert_eq!(info["version"], "0.1.0");
    assert_eq!(info["wit"], "cairn:step@0.2.0");
    assert_eq!(info["input_schema"]["required"], json!(["name"]));
    assert!(
        info["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    // The compiled form is cached in the data directory.
    let compiled = std::fs::read_dir(data.path().join("compiled"))
        .expect("cache dir")
        .count();
    assert_eq!(compiled, 1);
}

#[test]
fn plugin_inspect_refuses_what_is_not_a_step_plugin() {
    let data = tempfile::tempdir().expect("tempdir");
    let core = data.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let random = data.path().join("random.wasm");
    std::fs::write(&random, [7u8; 64]).expect("write");
    let cases = [
        (core.display().to_string(), "core WebAssembly module"),
        (random.display().to_string(), "not a WebAssembly binary"),
        (path(CLI_COMMAND), "wasi:cli command"),
        (path(FUTURE_MAJOR), "cairn:step@1.0.0"),
        (
            data.path().join("missing.wasm").display().to_string(),
            "cannot read",
        ),
    ];
    for (file, expected) in cases {
        let output = cairn(data.path(), &["plugins", "inspect", &file]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{file}");
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(output.stdout.is_empty(), "{file}");
    }
}

#[test]
fn step_run_prints_the_outcome_with_progress() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            &path(GREET),
            "--input",
            r#"{"name":"Grace"}"#,
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = stdout_json(&output);
    assert_eq!(outcome["outcome"], "complete");
    assert_eq!(outcome["output"], json!({"greeting": "Hello, Grace!"}));
    assert_eq!(
        outcome["progress"],
        json!({"percent": 50, "action": "composing a greeting"})
    );
}

#[test]
fn step_run_and_resume_work_with_bundled_plugins_by_name() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            "review",
            "--config",
            r#"{"message":"Ship it?"}"#,
            "--input",
            r#"{"draft":"v1"}"#,
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let paused = stdout_json(&output);
    assert_eq!(paused["outcome"], "pause");
    assert_eq!(paused["pending_action"]["message"], "Ship it?");
    assert_eq!(paused["pending_action"]["data"], json!({"draft": "v1"}));

    let checkpoint = paused["checkpoint"].to_string();
    let output = cairn(
        data.path(),
        &[
            "step",
            "resume",
            "review",
            "--checkpoint",
            &checkpoint,
            "--decision",
            r#"{"decision":"reject","note":"not yet"}"#,
        ],
    );
    assert!(!output.status.success(), "a failed step exits non-zero");
    let failed = stdout_json(&output);
    assert_eq!(failed["outcome"], "fail");
    assert_eq!(failed["error"]["message"], "rejected: not yet");
}

#[test]
fn step_run_reports_a_contained_fault() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            &path(HOSTILE),
            "--config",
            r#"{"attack":"loop"}"#,
            "--timeout-ms",
            "300",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let failed = stdout_json(&output);
    assert_eq!(failed["error"]["fault"], "timeout");
    assert_eq!(
        failed["error"]["message"],
        "step exceeded its wall-time limit of 300 ms"
    );
    assert_eq!(failed["error"]["retryable"], true);
}

#[test]
fn step_run_rejects_bad_arguments_clearly() {
    let data = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 2] = [
        (
            &["step", "run", "noop", "--input", "{oops"],
            "--input is not valid JSON",
        ),
        (
            &["step", "run", "no-such-plugin"],
            "no bundled plugin of that name (bundled: noop, transform, validate, review, http-request, \
             ai-generate, notify, markdown, publish)",
        ),
    ];
    for (args, expected) in cases {
        let output = cairn(data.path(), args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

/// `step run` checks the call as a server does before the plugin sees it:
/// the config and the input against the schemas the plugin declares.
#[test]
fn step_run_checks_config_and_input_against_the_declared_schemas() {
    let data = tempfile::tempdir().expect("tempdir");
    let greet = path(GREET);
    let output = cairn(
        data.path(),
        &["step", "run", &greet, "--input", r#"{"name": 5}"#],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("greet 0.1.0 does not take this call")
            && stderr.contains(r#"--input/name: 5 is not of type "string""#),
        "{stderr}"
    );
    let output = cairn(data.path(), &["step", "run", "transform", "--config", "{}"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(r#"--config: "template" is a required property"#),
        "{stderr}"
    );
    // With --skip-checks the plugin answers for itself.
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            &greet,
            "--input",
            r#"{"name": 5}"#,
            "--skip-checks",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output)["outcome"], "fail");
}

/// What a plugin cannot be loaded for is said in the contract's terms: an
/// import no host provides names the import and the world imports come from;
/// a fuel budget used up while it describes itself is said to be too small.
#[test]
fn a_plugin_that_cannot_load_is_told_why_in_the_contracts_terms() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = cairn(data.path(), &["plugins", "inspect", &path(UNKNOWN_IMPORT)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "this plugin imports `acme:vault/keys@1.0.0` (its function `get`), which no Cairn \
             host provides: a step plugin may import only what the `cairn:step/plugin@0.2.0` \
             world imports"
        ),
        "{stderr}"
    );
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            &path(GREET),
            "--fuel",
            "10",
            "--input",
            r#"{"name": "a"}"#,
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("describe() failed: it used up its CPU budget (10 fuel units)")
            && stderr.contains("the budget is too small for this plugin"),
        "{stderr}"
    );
}

/// JSON flags take `@FILE` for a file's JSON and `-` for standard input's.
#[test]
fn json_flags_read_files_and_standard_input() {
    let data = tempfile::tempdir().expect("tempdir");
    let greet = path(GREET);
    let input = data.path().join("input.json");
    std::fs::write(&input, r#"{"name": "file"}"#).expect("write");
    let output = cairn(
        data.path(),
        &[
            "step",
            "run",
            &greet,
            "--input",
            &format!("@{}", input.display()),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output)["output"]["greeting"], "Hello, file!");

    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .envs(crate::common::db::env(data.path()))
        .arg("--data-dir")
        .arg(data.path())
        .args(["step", "run", &greet, "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(br#"{"name": "stdin"}"#).expect("write");
    }
    let output = child.wait_with_output().expect("cairn ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output)["output"]["greeting"], "Hello, stdin!");

    let missing = cairn(
        data.path(),
        &["step", "run", &greet, "--input", "@/no/such.json"],
    );
    assert_eq!(missing.status.code(), Some(5), "a usage error");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /no/such.json"));
}

/// Without a data directory, the author's commands keep compiled plugins in
/// the user's cache, not in a `cairn-data/` under the plugin's folder.
#[test]
fn step_run_keeps_compiled_plugins_out_of_the_working_directory() {
    let folder = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["step", "run", "noop", "--input", "{}"])
        .current_dir(folder.path())
        .env_remove("CAIRN_DATA_DIR")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .expect("cairn runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!folder.path().join("cairn-data").exists());
    assert!(cache.path().join("cairn/compiled").is_dir());
}

#[test]
fn plugin_list_shows_bundled_plugins_and_explains_broken_ones() {
    let data = tempfile::tempdir().expect("tempdir");
    let extra = data.path().join("plugins.d");
    std::fs::create_dir(&extra).expect("mkdir");
    std::fs::copy(component_path(GREET), extra.join("greet.wasm")).expect("copy");
    std::fs::write(extra.join("broken.wasm"), b"nope").expect("write");
    let output = cairn(
        data.path(),
        &[
            "plugins",
            "list",
            "--local",
            "--json",
            "--plugins-dir",
            &extra.display().to_string(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = stdout_json(&output);
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "noop",
            "transform",
            "validate",
            "review",
            "http-request",
            "ai-generate",
            "notify",
            "markdown",
            "publish",
            "greet"
        ]
    );
    let broken = listed
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p.get("error").is_some())
        .expect("broken entry");
    assert!(
        broken["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("broken.wasm"))
    );
    assert!(
        broken["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a WebAssembly binary"))
    );
}

#[test]
fn bench_engine_prints_figures() {
    let data = tempfile::tempdir().expect("tempdir");
    let figures = succeeded(&cairn(
        data.path(),
        &[
            "bench",
            "engine",
            "--samples",
            "200",
            "--seconds",
            "0.2",
            "--json",
        ],
    ));
    assert_eq!(figures["samples"], 200);
    assert!(figures["calls"].as_u64().is_some_and(|calls| calls > 0));
    assert!(figures["p50_us"].as_f64().is_some_and(|p50| p50 > 0.0));
    assert!(figures["p99_us"].as_f64() >= figures["p50_us"].as_f64());
}

/// `bench peers` drives a `cairn serve` of its own over HTTP: every
/// decision of its approval chain must be answered with the run paused at
/// the next gate (the bench fails otherwise), and SQLite is measured even
/// where the environment names another database.
#[test]
fn bench_peers_drives_a_server_over_http_and_prints_figures() {
    let data = tempfile::tempdir().expect("tempdir");
    let figures = succeeded(&cairn(
        data.path(),
        &[
            "bench",
            "peers",
            "--runs",
            "24",
            "--clients",
            "8",
            "--resumes",
            "60",
            "--paused",
            "50",
            "--json",
        ],
    ));
    assert_eq!(figures["database"], "sqlite");
    assert_eq!(figures["runs"], 24);
    assert_eq!(figures["resumes"], 60);
    assert_eq!(figures["paused_runs"], 50);
    let positive = |name: &str| figures[name].as_f64().is_some_and(|v| v > 0.0);
    for name in [
        "durable_steps_per_second",
        "sequential_40_steps_p50_ms",
        "resume_to_pause_p50_ms",
        "resume_waiting_p50_ms",
        "server_cpu_us_per_step",
        "paused_rss_mib",
        "commit_3_pages_p50_us",
        "commit_5_pages_p50_us",
    ] {
        assert!(positive(name), "{name}: {}", figures[name]);
    }
    // The floors are the commits' p50 times their count.
    let floor = |name: &str| figures[name].as_f64().unwrap_or_default();
    assert!(
        (floor("sequential_40_steps_floor_ms") * 1e3 - 41.0 * floor("commit_3_pages_p50_us")).abs()
            < 1e-6
    );
    assert!((floor("resume_floor_ms") * 1e3 - 2.0 * floor("commit_5_pages_p50_us")).abs() < 1e-6);
    assert!(
        figures["resume_to_pause_p99_ms"].as_f64() >= figures["resume_to_pause_p50_ms"].as_f64()
    );
}

#[test]
fn readme_write_your_own_step_is_the_example_that_is_built_and_tested() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(root.join("plugins/examples/greet/src/lib.rs"))
        .expect("greet source");
    let start = readme
        .find("// src/lib.rs\n")
        .expect("README shows src/lib.rs")
        + "// src/lib.rs\n".len();
    let end = start + readme[start..].find("```").expect("code block ends");
    assert_eq!(
        &readme[start..end],
        source,
        "README's example and plugins/examples/greet differ"
    );
}

#[test]
fn run_pauses_at_the_gate_and_resume_completes_it() {
    let data = tempfile::tempdir().expect("tempdir");
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/review-draft.json");
    let example = example.to_str().expect("utf-8");
    let output = cairn(
        data.path(),
        &["run", example, "--input", r#"{"topic": "wasm plugins"}"#],
    );
    assert_eq!(
        output.status.code(),
        Some(3),
        "a paused run exits 3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let paused = stdout_json(&output);
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["pending_action"]["step"], "check");
    assert_eq!(paused["pending_action"]["data"]["title"], "Wasm Plugins");
    let run = paused["id"].as_str().expect("id");

    let refused = cairn(
        data.path(),
        &["resume", run, "--step", "check", "--decision", r#""maybe""#],
    );
    assert_eq!(refused.status.code(), Some(5), "refused as invalid");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("'maybe' is not one of the options: approve, reject")
    );

    let output = cairn(
        data.path(),
        &[
            "resume",
            run,
            "--step",
            "check",
            "--decision",
            r#""approve""#,
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let done = stdout_json(&output);
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["result"],
        json!({"published": "Wasm Plugins", "run": run})
    );

    let output = cairn(data.path(), &["show", run, "--events"]);
    let kinds: Vec<String> = stdout_json(&output)
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "step_started",
            "step_completed",
            "step_started",
            "paused",
            "resumed",
            "step_started",
            "step_completed",
            "completed"
        ]
    );
}

#[test]
fn run_drives_the_language_constructs_and_resumes_a_step_by_path() {
    let data = tempfile::tempdir().expect("tempdir");
    let workflow = data.path().join("tree.json");
    let definition = json!({"name": "tree", "steps": [
        {"name": "both", "parallel": {"branches": {
            "a": [{"name": "one", "type": "transform", "config": {"template": {"a": 1}}}],
            "b": [{"name": "pause", "wait": {"for": "200ms"}}]
        }}},
        {"name": "each", "map": {"items": [1, 2], "steps": [
            {"name": "route", "switch": {
                "cases": [{"name": "two", "when": "item == 2", "steps": [
                    {"name": "check", "type": "noop", "approval": {"message": "Two?"}}
                ]}],
                "default": [{"name": "pass", "type": "noop"}]
            }}
        ]}}
    ]});
    std::fs::write(&workflow, definition.to_string()).expect("write");
    let output = cairn(data.path(), &["run", workflow.to_str().expect("utf-8")]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let paused = stdout_json(&output);
    assert_eq!(paused["status"], "paused", "{paused}");
    assert_eq!(paused["pending_action"]["step"], "each[1].route.two.check");
    let run = paused["id"].as_str().expect("id");
    let output = cairn(
        data.path(),
        &[
            "resume",
            run,
            "--step",
            "each[1].route.two.check",
            "--decision",
            r#""approve""#,
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let done = stdout_json(&output);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"],
        json!([{"case": "default", "output": 1}, {"case": "two", "output": 2}])
    );
}

/// A local run's `workflow` step starts a child from a workflow an earlier
/// `cairn run` left in the same data directory, by the id it printed.
#[test]
fn run_starts_a_child_workflow_made_by_an_earlier_local_run() {
    let data = tempfile::tempdir().expect("tempdir");
    let run = |name: &str, definition: Value, input: &str| {
        let file = data.path().join(format!("{name}.json"));
        std::fs::write(&file, definition.to_string()).expect("write");
        let file = file.to_str().expect("utf-8").to_owned();
        succeeded(&cairn(data.path(), &["run", &file, "--input", input]))
    };
    let first = run(
        "child",
        json!({"name": "child", "steps": [
            {"name": "double", "type": "transform", "config": {"template": {"doubled": "{{ n * 2 }}"}}}
        ]}),
        r#"{"n": 1}"#,
    );
    assert_eq!(first["result"], json!({"doubled": 2}), "{first}");
    let child = first["workflow_id"]
        .as_str()
        .expect("the child's workflow id");

    let done = run(
        "parent",
        json!({"name": "parent", "steps": [
            {"name": "sub", "workflow": {"id": child}, "input": {"n": "{{ input.n }}"}},
            {"name": "after", "type": "transform", "config": {"template": {"got": "{{ doubled }}"}}}
        ]}),
        r#"{"n": 21}"#,
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"], json!({"got": 42}));
    let child_run = done["steps"][0]["child_run"].as_str().expect("child run");
    let shown = succeeded(&cairn(data.path(), &["show", child_run]));
    assert_eq!(shown["parent"], done["id"], "{shown}");
    assert_eq!(shown["result"], json!({"doubled": 42}));
}

#[test]
fn run_lists_every_problem_of_an_invalid_workflow() {
    let data = tempfile::tempdir().expect("tempdir");
    let workflow = data.path().join("bad.json");
    std::fs::write(
        &workflow,
        r#"{"name": "bad", "steps": [{"name": "a", "type": "nope"}, {"name": "b", "type": "noop", "input": "{{ steps.c.output }}"}]}"#,
    )
    .expect("write");
    let output = cairn(data.path(), &["run", workflow.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "a usage error: {stderr}");
    // A file that is not there, and a bad --wait, are usage errors too.
    let missing = data.path().join("missing.json");
    let output = cairn(data.path(), &["run", missing.to_str().expect("utf-8")]);
    let missing_stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{missing_stderr}");
    assert!(missing_stderr.contains("cannot read"), "{missing_stderr}");
    let output = cairn(
        data.path(),
        &["run", workflow.to_str().expect("utf-8"), "--wait", "soon"],
    );
    let wait_stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{wait_stderr}");
    assert!(wait_stderr.contains("--wait: "), "{wait_stderr}");
    assert!(
        stderr.contains("/steps/0/type: unknown step type 'nope'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/steps/1/input: refers to unknown step 'c'"),
        "{stderr}"
    );
}

#[test]
fn bench_isolation_reads_while_steps_loop_and_prints_figures() {
    let data = tempfile::tempdir().expect("tempdir");
    let args = [
        "bench",
        "isolation",
        "--steps",
        "2",
        "--seconds",
        "0.3",
        "--json",
    ];
    let output = cairn(data.path(), &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures = stdout_json(&output);
    assert_eq!(figures["busy_steps"], 2);
    for phase in ["idle", "busy"] {
        let latency = &figures[phase];
        assert!(
            latency["reads"].as_u64().is_some_and(|n| n > 0),
            "{figures}"
        );
        assert!(
            latency["p99_us"].as_f64() >= latency["p50_us"].as_f64(),
            "{figures}"
        );
        assert!(
            latency["max_us"].as_f64() >= latency["p99_us"].as_f64(),
            "{figures}"
        );
    }
}

#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    let data = tempfile::tempdir().expect("tempdir");
    // The read end is closed before the command starts, as after `| head -1`
    // has read its line: every write the command makes fails with EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["plugin", "inspect", &path(GREET)])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `cairn new` writes a project in each language, with the SDK from this
/// checkout or from the registries, and refuses what it cannot write.
#[test]
fn cairn_new_writes_a_project_and_refuses_what_it_cannot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let new = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(dir.path())
            .arg("new")
            .args(args)
            .output()
            .expect("cairn runs")
    };

    let made = new(&["word-count", "--lang", "rust"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let project = dir.path().join("word-count");
    let lib = std::fs::read_to_string(project.join("src/lib.rs")).expect("src/lib.rs");
    assert!(lib.contains("struct WordCount;") && lib.contains("export_step!(WordCount);"));
    assert!(lib.contains(r#"Info::new("word-count", "0.1.0""#));
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).expect("Cargo.toml");
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/sdk")
        .canonicalize()
        .expect("the checkout's SDK");
    assert!(
        manifest.contains(&format!("cairn-sdk = {{ path = \"{}\" }}", sdk.display())),
        "{manifest}"
    );
    assert!(manifest.contains("panic = \"abort\"") && manifest.contains("[workspace]"));
    for file in [
        ".cargo/config.toml",
        ".gitignore",
        "README.md",
        "workflow.json",
    ] {
        assert!(project.join(file).is_file(), "{file} is missing");
    }
    let workflow: Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("workflow.json")).expect("workflow.json"),
    )
    .expect("JSON");
    assert_eq!(workflow["steps"][0]["type"], "word-count");

    // From the registries: the packages' published names and versions.
    let made = new(&["publish-post", "--lang", "python", "--sdk", "registry"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let requirements = std::fs::read_to_string(dir.path().join("publish-post/requirements.txt"))
        .expect("requirements.txt");
    assert_eq!(
        requirements.trim(),
        format!("cairn-sdk=={}", env!("CARGO_PKG_VERSION"))
    );
    let app = std::fs::read_to_string(dir.path().join("publish-post/app.py")).expect("app.py");
    assert!(
        app.contains("class PublishPost(cairn.Step):")
            && app.contains("Step = cairn.export(PublishPost)")
    );
    let made = new(&["step", "--lang", "js", "--sdk", "registry"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let package: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("step/package.json")).expect("package.json"),
    )
    .expect("JSON");
    assert_eq!(
        package["dependencies"]["cairn-sdk"],
        format!("^{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !dir.path().join("step/.npmrc").exists(),
        "install-links is for a checkout's SDK only"
    );

    // Refusals: a name workflows could not use, a folder with files in it,
    // an --sdk that is not a checkout. Nothing is written.
    for (args, said) in [
        (
            &["Word_Count", "--lang", "rust"][..],
            "is not a step type name",
        ),
        (
            &["word-count", "--lang", "js"][..],
            "already exists and is not empty",
        ),
        (
            &["other", "--lang", "js", "--sdk", "/"][..],
            "is not a Cairn checkout",
        ),
    ] {
        let refused = new(args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("Word_Count").exists() && !dir.path().join("other").exists());
}
