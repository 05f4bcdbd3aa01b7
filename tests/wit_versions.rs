//! The WIT contract's versions, for real: a plugin built against the frozen
//! `cairn:step@0.1.0` WIT runs next to the bundled ones built against 0.2.0
//! (describing itself, logging, pausing and resuming through the server), a
//! future major version is refused by name, 0.2's `audience` reaches the
//! catalog, and a hand-written workflow that publishes with no approval
//! before it is saved with a warning.

use serde_json::json;

use crate::common::api::{create_workflow, plugins_dir, poll_until, start_run, status_is};
use crate::common::server::Server;
use crate::common::{FUTURE_MAJOR, WIT_0_1, component_path, engine, plugin};

#[tokio::test]
async fn the_engine_runs_plugins_of_each_version_and_refuses_a_future_major() {
    let legacy = plugin(WIT_0_1).await;
    assert_eq!(legacy.wit_version, "0.1.0");
    assert_eq!(legacy.info.name, "legacy");
    assert_eq!(legacy.info.audience, None);
    assert_eq!(legacy.summary().wit, "cairn:step@0.1.0");
    let bundled = crate::common::bundled("publish").await;
    assert_eq!(bundled.wit_version, "0.2.0");
    assert_eq!(
        bundled.info.audience.as_deref(),
        Some("the readers of the site it publishes to")
    );
    let refused = engine()
        .load(&crate::common::component_bytes(FUTURE_MAJOR))
        .await
        .expect_err("a future major version");
    let message = refused.to_string();
    assert!(
        message.contains("cairn:step@1.0.0") && message.contains("0.2.0 or 0.1.0"),
        "{message}"
    );
}

#[test]
fn a_0_1_plugin_runs_pauses_and_resumes_beside_0_2_plugins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_dir(dir.path());
    std::fs::copy(component_path(WIT_0_1), plugins.join("legacy.wasm")).expect("copy");
    let server = Server::start(&dir.path().join("data"), &plugins);

    let listed = server.get("/v1/plugins/legacy");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.body["versions"][0]["wit"], "cairn:step@0.1.0",
        "{}",
        listed.body
    );
    let publish = &server.get("/v1/plugins/publish").body["versions"][0];
    assert_eq!(publish["wit"], "cairn:step@0.2.0", "{publish}");
    assert_eq!(
        publish["audience"],
        "the readers of the site it publishes to"
    );

    // A 0.1 step between two 0.2 steps.
    let workflow = create_workflow(
        &server,
        json!({"name": "mixed", "steps": [
            {"name": "before", "type": "noop"},
            {"name": "old", "type": "legacy"},
            {"name": "after", "type": "transform", "config": {"template": {"got": "{{ input }}"}}}
        ]}),
        "active",
    );
    let run = start_run(&server, &workflow, json!({"topic": "x"}));
    let done = poll_until(&server, &run, status_is("completed"));
    assert_eq!(
        done["steps"][1]["output"],
        json!({"echo": {"topic": "x"}, "built_against": "0.1.0"})
    );
    let logs = done["steps"][1]["logs"].as_array().expect("logs");
    assert!(
        logs.iter().any(|l| l["level"] == "warn"
            && l["message"]
                .as_str()
                .unwrap_or_default()
                .contains("legacy step old")),
        "{logs:?}"
    );

    // Its pause and resume cross the 0.1 bindings both ways.
    let paused = start_run(&server, &workflow, json!({"pause": true}));
    let waiting = poll_until(&server, &paused, status_is("paused"));
    assert_eq!(waiting["pending_action"]["message"], "Go on?");
    assert_eq!(waiting["pending_action"]["options"], json!(["yes", "no"]));
    let resumed = server.post(
        &format!("/v1/runs/{paused}/resume"),
        &json!({"step": "old", "input": "yes"}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let done = poll_until(&server, &paused, status_is("completed"));
    assert_eq!(
        done["steps"][1]["output"],
        json!({"echo": {"pause": true}, "decision": "yes"})
    );
}

#[test]
fn a_step_that_reaches_an_audience_without_an_approval_before_it_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), &plugins_dir(dir.path()));
    let steps = |gated: bool| {
        let mut draft = json!({"name": "draft", "type": "transform",
            "config": {"template": {"html": "<p>{{ topic }}</p>", "title": "{{ topic }}"}}});
        if gated {
            draft["approval"] = json!({"message": "Publish this?"});
        }
        json!({"name": "site", "steps": [draft, {"name": "post", "type": "publish"}]})
    };
    let unreviewed = server.post("/v1/workflows", &json!({"definition": steps(false)}));
    assert_eq!(unreviewed.status, 201, "{}", unreviewed.body);
    let warnings = unreviewed.body["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["path"], "/steps/1");
    let message = warnings[0]["message"].as_str().expect("message");
    assert!(
        message.contains("'post' (publish) sends to the readers of the site"),
        "{message}"
    );
    let id = unreviewed.body["id"].as_str().expect("id");
    let fixed = server.call(
        "PUT",
        &format!("/v1/workflows/{id}"),
        Some(&server.key),
        Some(&json!({"definition": steps(true)})),
    );
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    assert_eq!(fixed.body.get("warnings"), None, "{}", fixed.body);
}

/// Each SDK (Rust, Python, JavaScript) carries its own copy of the latest
/// contract, so that it packages on its own; each copy is the contract, file
/// for file.
#[test]
fn each_sdks_wit_is_the_latest_contract_file_for_file() {
    fn files(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut found = std::collections::BTreeMap::new();
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("a directory") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let name = path.strip_prefix(root).expect("under root");
                    let bytes = std::fs::read(&path).expect("a file");
                    found.insert(name.to_string_lossy().into_owned(), bytes);
                }
            }
        }
        found
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let latest = std::fs::read_dir(repo.join("wit"))
        .expect("wit/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("cairn-step@"))
        .max_by_key(|name| semver::Version::parse(&name["cairn-step@".len()..]).expect("a version"))
        .expect("a contract version");
    let contract = files(&repo.join("wit").join(&latest));
    for sdk in [
        "plugins/sdk/wit",
        "plugins/sdk-python/src/cairn_sdk/wit",
        "plugins/sdk-js/wit",
    ] {
        let copy = files(&repo.join(sdk));
        assert_eq!(
            copy.keys().collect::<Vec<_>>(),
            contract.keys().collect::<Vec<_>>(),
            "{sdk} holds other files than wit/{latest}"
        );
        for (name, bytes) in &contract {
            assert!(
                copy[name] == *bytes,
                "{sdk}/{name} differs from wit/{latest}/{name}: copy it again"
            );
        }
    }
}

/// The three SDKs are released together, at the host's version: `cairn new
/// --sdk registry` asks each registry for that version.
#[test]
fn the_sdks_versions_are_the_hosts() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| std::fs::read_to_string(repo.join(path)).expect(path);
    let version = env!("CARGO_PKG_VERSION");
    let workspace: toml::Table = read("plugins/Cargo.toml").parse().expect("TOML");
    assert_eq!(
        workspace["workspace"]["package"]["version"].as_str(),
        Some(version)
    );
    let python: toml::Table = read("plugins/sdk-python/pyproject.toml")
        .parse()
        .expect("TOML");
    assert_eq!(python["project"]["version"].as_str(), Some(version));
    let init = read("plugins/sdk-python/src/cairn_sdk/__init__.py");
    assert!(init.contains(&format!("__version__ = \"{version}\"")));
    let js: serde_json::Value =
        serde_json::from_str(&read("plugins/sdk-js/package.json")).expect("JSON");
    assert_eq!(js["version"].as_str(), Some(version));
}
