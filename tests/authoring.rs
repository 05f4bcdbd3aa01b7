//! A plugin author's whole path, in each language: `cairn new`, the
//! template's own build command and unit tests (real cargo, pip with
//! componentize-py, npm with componentize-js), `cairn plugins inspect`,
//! `cairn step run` (schema checks, a guest exception's message), and then,
//! as the generated README says, upload, `workflows apply` and `runs start
//! --follow` against a real server.
//!
//! It fetches componentize-py and componentize-js from PyPI and npm (as a
//! plugin author would) and takes about a minute. It does not depend on the
//! store's backend, so `.ci/test` runs it on the SQLite pass only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::component_path;
use crate::common::server::Server;

fn cairn(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("cairn runs")
}

fn ok(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The shell line a template's README gives to build it.
fn sh(dir: &Path, line: &str, env: &[(&str, &str)]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"))
}

/// An edit an author might make: each `(from, to)` replaces text the
/// template must hold.
fn edit(file: &Path, replacements: &[(&str, &str)]) {
    let mut source = std::fs::read_to_string(file).expect("the template's source");
    for (from, to) in replacements {
        assert!(source.contains(from), "{} has no {from:?}", file.display());
        source = source.replace(from, to);
    }
    std::fs::write(file, source).expect("edit the template's source");
}

struct Built {
    name: &'static str,
    wasm: PathBuf,
}

/// `cairn new`, an edit an author might make (a guest exception to see
/// reported), the README's build command and the template's unit tests.
fn build(root: &Path, lang: &'static str) -> Built {
    let name: &'static str = match lang {
        "rust" => "count-rust",
        "python" => "count-python",
        _ => "count-js",
    };
    let said = ok("cairn new", cairn(root, &["new", name, "--lang", lang]));
    assert!(said.contains("Its SDK is the Cairn checkout's"), "{said}");
    let dir = root.join(name);
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let wasm = match lang {
        "rust" => {
            assert!(readme.contains("cargo build --release"), "{readme}");
            // The plugins' lock file and target folder: the same crate
            // versions, already compiled by the host's build script.
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/Cargo.lock"),
                dir.join("Cargo.lock"),
            )
            .expect("copy the lock file");
            let target = Path::new(env!("CAIRN_PLUGIN_DIR")).join("../..");
            let target = target.canonicalize().expect("the plugins' target folder");
            let target = target.to_str().expect("UTF-8 path");
            ok(
                "cargo build --release",
                sh(
                    &dir,
                    "cargo build --release",
                    &[("CARGO_TARGET_DIR", target)],
                ),
            );
            ok("cargo fmt --check", sh(&dir, "cargo fmt --check", &[]));
            component_path("count_rust.wasm")
        }
        "python" => {
            edit(
                &dir.join("app.py"),
                &[
                    (
                        "        text = input[\"text\"]\n",
                        concat!(
                            "        text = input[\"text\"]\n",
                            "        if text == \"boom\":\n",
                            "            raise ValueError(\"the text says boom\")\n",
                            "        if text == \"ask\":\n",
                            "            return cairn.pause(\"approval\", \"Count it?\", options=[\"yes\", \"no\"],\n",
                            "                               data={\"text\": text}, checkpoint={\"asked\": text})\n",
                        ),
                    ),
                    (
                        "\n\n# What componentize-py",
                        concat!(
                            "\n    def resume(self, ctx, config, input, checkpoint, decision):\n",
                            "        return {\"asked\": checkpoint[\"asked\"], \"decision\": decision}\n",
                            "\n\n# What componentize-py",
                        ),
                    ),
                ],
            );
            assert!(readme.contains("sh build.sh"), "{readme}");
            ok("sh build.sh", sh(&dir, "sh build.sh", &[]));
            ok(
                "the template's unit tests",
                sh(&dir, ".venv/bin/python -m unittest -q", &[]),
            );
            dir.join("count-python.wasm")
        }
        _ => {
            edit(
                &dir.join("src/index.js"),
                &[
                    (
                        "import { defineStep, StepError }",
                        "import { defineStep, pause, StepError }",
                    ),
                    (
                        "    const minLength",
                        concat!(
                            "    if (input.text === 'boom') throw new RangeError('the text says boom');\n",
                            "    if (input.text === 'ask') {\n",
                            "      return pause({ kind: 'approval', message: 'Count it?', options: ['yes', 'no'],\n",
                            "        data: { text: input.text }, checkpoint: { asked: input.text } });\n",
                            "    }\n",
                            "    const minLength",
                        ),
                    ),
                    (
                        "\n});\n",
                        concat!(
                            "\n  resume(ctx, config, input, checkpoint, decision) {\n",
                            "    return { asked: checkpoint.asked, decision };\n",
                            "  },\n});\n",
                        ),
                    ),
                ],
            );
            assert!(readme.contains("npm install && npm run build"), "{readme}");
            ok(
                "npm install && npm run build",
                sh(
                    &dir,
                    "npm install --no-audit --no-fund && npm run build",
                    &[],
                ),
            );
            ok("npm test", sh(&dir, "npm test", &[]));
            dir.join("count-js.wasm")
        }
    };
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    Built { name, wasm }
}

fn step_run(root: &Path, wasm: &Path, extra: &[&str]) -> (bool, Value, String) {
    let wasm = wasm.to_str().expect("UTF-8 path");
    let mut args = vec!["step", "run", wasm];
    args.extend_from_slice(extra);
    let output = cairn(root, &args);
    let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (
        output.status.success(),
        stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn authoring_a_plugin_in_rust_python_and_javascript() {
    let root = tempfile::tempdir().expect("tempdir");
    let home = root.path();
    // The three builds at once: pip and npm mostly wait on downloads.
    let plugins: Vec<Built> = std::thread::scope(|scope| {
        let builds: Vec<_> = ["rust", "python", "js"]
            .into_iter()
            .map(|lang| scope.spawn(move || build(home, lang)))
            .collect();
        builds
            .into_iter()
            .map(|build| build.join().expect("a build panicked"))
            .collect()
    });

    for plugin in &plugins {
        let wasm = plugin.wasm.to_str().expect("UTF-8 path");
        let inspected: Value = serde_json::from_str(&ok(
            "cairn plugins inspect",
            cairn(home, &["plugins", "inspect", wasm]),
        ))
        .expect("inspect prints JSON");
        assert_eq!(inspected["name"], plugin.name, "{inspected}");
        assert_eq!(inspected["wit"], "cairn:step@0.2.0", "{inspected}");
        assert_eq!(inspected["input_schema"]["required"], json!(["text"]));

        let (success, outcome, stderr) = step_run(
            home,
            &plugin.wasm,
            &[
                "--input",
                r#"{"text": "one two three"}"#,
                "--config",
                r#"{"min_length": 4}"#,
            ],
        );
        assert!(success, "{}: {outcome} {stderr}", plugin.name);
        assert_eq!(outcome["outcome"], "complete", "{outcome}");
        assert_eq!(outcome["output"], json!({"words": 1}), "{outcome}");
        assert_eq!(outcome["logs"][0]["message"], "1 words", "{outcome}");

        // The declared schemas hold before the guest is called.
        let (success, _, stderr) = step_run(
            home,
            &plugin.wasm,
            &[
                "--input",
                r#"{"text": 5}"#,
                "--config",
                r#"{"min_length": 0}"#,
            ],
        );
        assert!(!success);
        assert!(
            stderr.contains("--input/text: 5 is not of type \"string\""),
            "{stderr}"
        );
        assert!(
            stderr.contains("--config/min_length: 0 is less than the minimum of 1"),
            "{stderr}"
        );
    }

    // A guest runtime's exception, in its own words.
    for (name, message) in [
        (
            "count-python",
            "plugin panicked: ValueError: the text says boom (at app.py, line",
        ),
        (
            "count-js",
            "plugin panicked: RangeError: the text says boom",
        ),
    ] {
        let plugin = plugins.iter().find(|p| p.name == name).expect("built");
        let (success, outcome, _) =
            step_run(home, &plugin.wasm, &["--input", r#"{"text": "boom"}"#]);
        assert!(!success);
        let said = outcome["error"]["message"].as_str().unwrap_or_default();
        assert!(said.starts_with(message), "{name}: {outcome}");
    }

    // A pause and its resume, through each SDK: the checkpoint comes back.
    for name in ["count-python", "count-js"] {
        let plugin = plugins.iter().find(|p| p.name == name).expect("built");
        let (success, paused, stderr) =
            step_run(home, &plugin.wasm, &["--input", r#"{"text": "ask"}"#]);
        assert!(success, "{name}: {paused} {stderr}");
        assert_eq!(paused["outcome"], "pause", "{name}: {paused}");
        assert_eq!(
            paused["pending_action"]["options"],
            json!(["yes", "no"]),
            "{name}: {paused}"
        );
        assert_eq!(
            paused["pending_action"]["data"],
            json!({"text": "ask"}),
            "{name}: {paused}"
        );
        let checkpoint = paused["checkpoint"].to_string();
        let wasm = plugin.wasm.to_str().expect("UTF-8 path");
        let resumed = cairn(
            home,
            &[
                "step",
                "resume",
                wasm,
                "--input",
                r#"{"text": "ask"}"#,
                "--checkpoint",
                &checkpoint,
                "--decision",
                r#""yes""#,
            ],
        );
        let resumed: Value = serde_json::from_str(&ok("cairn step resume", resumed)).expect("JSON");
        assert_eq!(
            resumed["output"],
            json!({"asked": "ask", "decision": "yes"}),
            "{name}: {resumed}"
        );
    }

    // On a server, as each project's README says.
    let plugins_dir = home.join("server-plugins");
    std::fs::create_dir_all(&plugins_dir).expect("mkdir");
    let server = Server::start(&home.join("server-data"), &plugins_dir);
    let remote = [
        "--server",
        server.url.as_str(),
        "--api-key",
        server.key.as_str(),
    ];
    for plugin in &plugins {
        let project = home.join(plugin.name);
        let wasm = plugin.wasm.to_str().expect("UTF-8 path");
        let with_remote = |args: &[&str]| -> Vec<String> {
            args.iter()
                .chain(remote.iter())
                .map(|a| (*a).to_owned())
                .collect()
        };
        let run = |args: Vec<String>| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cairn(&project, &args)
        };
        ok(
            "cairn plugins upload",
            run(with_remote(&["plugins", "upload", wasm])),
        );
        ok(
            "cairn workflows apply",
            run(with_remote(&[
                "workflows",
                "apply",
                "workflow.json",
                "--activate",
            ])),
        );
        let demo = format!("{}-demo", plugin.name);
        let followed = ok(
            "cairn runs start --follow",
            run(with_remote(&[
                "runs",
                "start",
                &demo,
                "--input",
                r#"{"text": "counting words in workflows"}"#,
                "--follow",
                "--json",
            ])),
        );
        assert!(
            followed.contains("\"completed\""),
            "{}: {followed}",
            plugin.name
        );
        let workflow = server.get(&format!("/v1/workflows/{demo}"));
        let workflow_id = workflow.body["id"].as_str().expect("the workflow");
        let runs = server.get(&format!("/v1/runs?workflow_id={workflow_id}"));
        let run_id = runs.body["runs"][0]["id"].as_str().expect("a run");
        let run = server.get(&format!("/v1/runs/{run_id}"));
        assert_eq!(run.body["status"], "completed", "{}", run.body);
        assert_eq!(run.body["result"], json!({"words": 3}), "{}", run.body);
    }
}
