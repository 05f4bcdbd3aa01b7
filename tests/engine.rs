//! The engine through its public surface: real components built from `plugins/`,
//! run in real sandboxes. Hostile plugins must be contained, each with a specific,
//! readable reason, and the same engine must carry on.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn::engine::{
    BUNDLED, Call, Engine, EngineConfig, FaultKind, Invocation, LoadError, SandboxLimits,
    StepOutcome,
};
use common::{CLI_COMMAND, FUTURE_MAJOR, GREET, HOSTILE, bundled, component_bytes, engine, plugin};
use serde_json::{Value, json};

fn invocation(config: Value, input: Value) -> Invocation {
    Invocation::first("run-1", "step-1", config, input)
}

async fn run(
    file_or_name: &str,
    config: Value,
    input: Value,
    limits: &SandboxLimits,
) -> cairn::engine::StepReport {
    let plugin = if file_or_name.ends_with(".wasm") {
        plugin(file_or_name).await
    } else {
        bundled(file_or_name).await
    };
    engine()
        .run(
            &plugin,
            &invocation(config, input),
            &Call::Run,
            limits,
            None,
        )
        .await
}

fn output(outcome: &StepOutcome) -> &Value {
    match outcome {
        StepOutcome::Complete { output } => output,
        other => panic!("expected a completed step, got {other:?}"),
    }
}

fn failure(outcome: &StepOutcome) -> (&str, bool, Option<FaultKind>) {
    match outcome {
        StepOutcome::Fail { error } => (&error.message, error.retryable, error.fault),
        other => panic!("expected a failed step, got {other:?}"),
    }
}

async fn assert_good_step_runs() {
    let input = json!({"still": "working"});
    let report = run("noop", json!({}), input.clone(), &SandboxLimits::default()).await;
    assert_eq!(output(&report.outcome), &input);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bundled_plugin_loads_and_describes_itself() {
    for bundled in BUNDLED {
        let plugin = engine()
            .load_bundled(bundled)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", bundled.name));
        assert_eq!(plugin.info.name, bundled.name);
        assert_eq!(plugin.info.version, "0.1.0");
        assert!(
            plugin.digest.starts_with("sha256:") && plugin.digest.len() == 71,
            "{}",
            plugin.digest
        );
        assert!(!plugin.info.description.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bundled_plugins_complete_with_the_expected_output() {
    let cases = [
        (
            "noop",
            json!({}),
            json!({"a": [1, 2]}),
            json!({"a": [1, 2]}),
        ),
        (
            "transform",
            json!({"template": {"title": "{{ topic | title }}", "tags": ["{{ lang }}", 7]}}),
            json!({"topic": "wasm plugins", "lang": "rust"}),
            json!({"title": "Wasm Plugins", "tags": ["rust", 7]}),
        ),
        (
            "transform",
            json!({"template": "{{ input.items | length }} items"}),
            json!({"items": [1, 2, 3]}),
            json!("3 items"),
        ),
        (
            // The dialect's variables, as a workflow's input templates see them.
            "transform",
            json!({"template": {"at": "{{ run.id }}/{{ step.name }}", "n": "{{ input.n }}"}}),
            json!({"n": 4}),
            json!({"at": "run-1/step-1", "n": 4}),
        ),
        (
            "transform",
            json!({"template": "{\"total\": {{ a + b }}}", "format": "json"}),
            json!({"a": 2, "b": 3}),
            json!({"total": 5}),
        ),
        (
            "validate",
            json!({"schema": {"type": "object", "required": ["title"]}}),
            json!({"title": "ok"}),
            json!({"title": "ok"}),
        ),
    ];
    for (name, config, input, expected) in cases {
        let report = run(name, config.clone(), input, &SandboxLimits::default()).await;
        assert_eq!(output(&report.outcome), &expected, "{name} with {config}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bundled_plugins_fail_with_readable_reasons() {
    let cases = [
        (
            "transform",
            json!({"template": "{{ missing }}"}),
            json!({}),
            "template at '/': undefined value",
        ),
        (
            "transform",
            json!({"template": "{{ unclosed"}),
            json!({}),
            "template at '/'",
        ),
        (
            "transform",
            json!({"template": "nope", "format": "json"}),
            json!({}),
            "did not render valid JSON",
        ),
        // Refused by the host before the call: the config breaks the
        // schema transform declares.
        (
            "transform",
            json!({"no_template": 1}),
            json!({}),
            "the call does not match the schemas transform declares (2 violations), so it was \
             not called: config: Additional properties are not allowed ('no_template' was \
             unexpected); config: \"template\" is a required property",
        ),
        (
            "validate",
            json!({"schema": {"type": "object", "required": ["title"], "properties": {"n": {"type": "integer"}, "tags": {"items": {"type": "string"}}}}}),
            json!({"n": "x", "tags": ["a", 2]}),
            "input does not match the schema (3 violations): /: \"title\" is a required property; /n: \"x\" is not of type \"integer\"; /tags/1: 2 is not of type \"string\"",
        ),
        (
            "validate",
            json!({"schema": {"type": "nonsense"}}),
            json!({}),
            "invalid schema in config",
        ),
    ];
    for (name, config, input, expected) in cases {
        let report = run(name, config.clone(), input, &SandboxLimits::default()).await;
        let (message, retryable, fault) = failure(&report.outcome);
        assert!(
            message.contains(expected),
            "{name} with {config}: {message}"
        );
        assert!(!retryable, "{name} with {config}");
        assert_eq!(fault, None, "a plugin-reported failure is not a fault");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn review_pauses_and_resumes_with_the_decision() {
    let review = bundled("review").await;
    let config =
        json!({"message": "Publish this draft?", "options": ["approve", "revise", "reject"]});
    let draft = json!({"draft": "Hello world"});
    let call = invocation(config.clone(), draft.clone());
    let report = engine()
        .run(&review, &call, &Call::Run, &SandboxLimits::default(), None)
        .await;
    let StepOutcome::Pause {
        pending_action,
        checkpoint,
    } = report.outcome
    else {
        panic!("review should pause, got {:?}", report.outcome);
    };
    assert_eq!(pending_action.kind, "approval");
    assert_eq!(pending_action.message, "Publish this draft?");
    assert_eq!(pending_action.options, ["approve", "revise", "reject"]);
    assert_eq!(pending_action.data, draft);

    let resume = |decision: Value| Call::Resume {
        checkpoint: checkpoint.clone(),
        decision,
    };
    let approved = engine()
        .run(
            &review,
            &call,
            &resume(json!("approve")),
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert_eq!(
        output(&approved.outcome),
        &json!({"decision": "approve", "note": null})
    );

    let revised = engine()
        .run(
            &review,
            &call,
            &resume(json!({"decision": "revise", "note": "shorter"})),
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert_eq!(
        output(&revised.outcome),
        &json!({"decision": "revise", "note": "shorter"})
    );

    let rejected = engine()
        .run(
            &review,
            &call,
            &resume(json!({"decision": "reject", "note": "off-brand"})),
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert_eq!(
        failure(&rejected.outcome),
        ("rejected: off-brand", false, None)
    );

    let unknown = engine()
        .run(
            &review,
            &call,
            &resume(json!("maybe")),
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert!(
        failure(&unknown.outcome)
            .0
            .contains("'maybe' is not one of the options offered")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_that_never_pause_refuse_a_resume() {
    let noop = bundled("noop").await;
    // A step that never paused has no checkpoint.
    let call = Call::Resume {
        checkpoint: json!(null),
        decision: json!("approve"),
    };
    let report = engine()
        .run(
            &noop,
            &invocation(json!({}), json!({})),
            &call,
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert!(failure(&report.outcome).0.contains("never pauses"));
}

/// Each hostile behaviour, the fault it must be classified as, and words its reason must hold.
const HOSTILE_CASES: &[(&str, Option<FaultKind>, &str)] = &[
    (
        "loop",
        Some(FaultKind::Timeout),
        "wall-time limit of 500 ms",
    ),
    (
        "memory",
        Some(FaultKind::MemoryLimit),
        "memory limit of 67108864 bytes",
    ),
    (
        "recursion",
        Some(FaultKind::StackOverflow),
        "overflowed its stack",
    ),
    (
        "print",
        Some(FaultKind::StdioLimit),
        "more than 65536 bytes to stdout",
    ),
    (
        "invalid-json",
        Some(FaultKind::InvalidOutput),
        "output is not valid JSON",
    ),
    (
        "huge-output",
        Some(FaultKind::OutputTooLarge),
        "output is 10485762 bytes, over the limit of 1048576",
    ),
    (
        "huge-checkpoint",
        Some(FaultKind::OutputTooLarge),
        "checkpoint is 2097154 bytes",
    ),
    (
        "panic",
        Some(FaultKind::Panic),
        "plugin panicked: the fixture panicked on purpose (at fixtures/hostile/src/lib.rs",
    ),
    // Denied capabilities: the sandbox has no files, env vars or sockets, so the
    // plugin's own calls fail and it reports that.
    (
        "read-file",
        None,
        "cannot read /etc/passwd: No such file or directory",
    ),
    (
        "env",
        None,
        "cannot read $HOME: environment variable not found",
    ),
    ("socket", None, "cannot connect to 127.0.0.1:80"),
];

#[tokio::test(flavor = "multi_thread")]
async fn hostile_plugins_fail_with_a_specific_reason_and_the_engine_carries_on() {
    let limits = SandboxLimits {
        wall_time_ms: 500,
        ..SandboxLimits::default()
    };
    for (attack, fault, reason) in HOSTILE_CASES {
        let report = run(HOSTILE, json!({"attack": attack}), json!({}), &limits).await;
        let (message, retryable, got_fault) = failure(&report.outcome);
        assert_eq!(got_fault, *fault, "{attack}: {message}");
        assert!(
            message.contains(reason),
            "{attack}: {message:?} should contain {reason:?}"
        );
        assert_eq!(retryable, *fault == Some(FaultKind::Timeout), "{attack}");
        // Deadline obeyed, with room for a busy machine; not a speed target.
        assert!(
            report.duration < limits.wall_time() + Duration::from_secs(2),
            "{attack} took {:?}",
            report.duration
        );
        assert_good_step_runs().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fuel_limits_cpu_when_the_engine_meters_it() {
    let engine = Engine::new(EngineConfig {
        fuel: true,
        max_instances: 4,
        ..Default::default()
    })
    .expect("engine");
    let hostile = engine.load(&component_bytes(HOSTILE)).await.expect("loads");
    let limits = SandboxLimits {
        fuel: Some(5_000_000),
        ..SandboxLimits::default()
    };
    let report = engine
        .run(
            &hostile,
            &invocation(json!({"attack": "loop"}), json!({})),
            &Call::Run,
            &limits,
            None,
        )
        .await;
    assert_eq!(failure(&report.outcome).2, Some(FaultKind::FuelExhausted));
    let noop = engine.load(BUNDLED[0].wasm).await.expect("loads");
    let report = engine
        .run(
            &noop,
            &invocation(json!({}), json!(1)),
            &Call::Run,
            &limits,
            None,
        )
        .await;
    assert_eq!(output(&report.outcome), &json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_past_the_budget_are_dropped_and_the_step_completes() {
    let limits = SandboxLimits {
        log_bytes: 1000,
        ..SandboxLimits::default()
    };
    let report = run(HOSTILE, json!({"attack": "log-flood"}), json!({}), &limits).await;
    assert_eq!(output(&report.outcome), &Value::Null);
    let kept: usize = report.logs.iter().map(|line| line.message.len()).sum();
    assert!(kept <= 1000 && !report.logs.is_empty(), "kept {kept} bytes");
    assert_eq!(report.logs.len() + report.logs_dropped, 100_000);
    assert_eq!(report.logs[0].message, "line 0");
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_reaches_the_sink_as_it_happens() {
    let greet = plugin(GREET).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let report = engine()
        .run(
            &greet,
            &invocation(json!({}), json!({"name": "Ada"})),
            &Call::Run,
            &SandboxLimits::default(),
            Some(Arc::new(move |p: &cairn::engine::StepProgress| {
                sink.lock().expect("lock").push(p.clone())
            })),
        )
        .await;
    assert_eq!(output(&report.outcome), &json!({"greeting": "Hello, Ada!"}));
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].percent, seen[0].action.as_str()),
        (50, "composing a greeting")
    );
    assert_eq!(report.progress.as_ref(), seen.first());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_steps_all_complete_correctly() {
    let transform = bundled("transform").await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let transform = Arc::clone(&transform);
            tokio::spawn(async move {
                let call = invocation(
                    json!({"template": {"id": "item-{{ i }}", "double": "{{ i * 2 }}"}}),
                    json!({"i": i}),
                );
                let report = engine()
                    .run(
                        &transform,
                        &call,
                        &Call::Run,
                        &SandboxLimits::default(),
                        None,
                    )
                    .await;
                (i, report.outcome)
            })
        })
        .collect();
    for task in tasks {
        let (i, outcome) = task.await.expect("task");
        assert_eq!(
            output(&outcome),
            &json!({"id": format!("item-{i}"), "double": i * 2})
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_plugin_does_not_hold_up_other_steps() {
    let hostile = plugin(HOSTILE).await;
    let noop = bundled("noop").await;
    let runaway_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&runaway_done);
    let runaway = tokio::spawn(async move {
        let limits = SandboxLimits {
            wall_time_ms: 3000,
            ..SandboxLimits::default()
        };
        let call = invocation(json!({"attack": "loop"}), json!({}));
        let report = engine()
            .run(&hostile, &call, &Call::Run, &limits, None)
            .await;
        done.store(true, Ordering::SeqCst);
        report
    });
    let good: Vec<_> = (0..100)
        .map(|i| {
            let noop = Arc::clone(&noop);
            tokio::spawn(async move {
                engine()
                    .run(
                        &noop,
                        &invocation(json!({}), json!(i)),
                        &Call::Run,
                        &SandboxLimits::default(),
                        None,
                    )
                    .await
            })
        })
        .collect();
    for (i, task) in good.into_iter().enumerate() {
        assert_eq!(output(&task.await.expect("task").outcome), &json!(i));
    }
    assert!(
        !runaway_done.load(Ordering::SeqCst),
        "good steps waited for the runaway one"
    );
    let report = runaway.await.expect("task");
    assert_eq!(failure(&report.outcome).2, Some(FaultKind::Timeout));
}

#[tokio::test(flavor = "multi_thread")]
async fn components_that_are_not_step_plugins_are_refused_by_name() {
    let noop = BUNDLED[0].wasm;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "random bytes",
            b"this is not wasm at all".to_vec(),
            "not a WebAssembly binary",
        ),
        ("empty file", Vec::new(), "not a WebAssembly binary"),
        (
            "core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        (
            "truncated component",
            noop[..noop.len() / 2].to_vec(),
            "not a valid WebAssembly component",
        ),
        (
            "wasi:cli command",
            component_bytes(CLI_COMMAND),
            "this is a wasi:cli command, not a step plugin",
        ),
        (
            "future major",
            component_bytes(FUTURE_MAJOR),
            "built against cairn:step@1.0.0, which this host does not run",
        ),
    ];
    for (what, bytes, expected) in cases {
        let error = engine().load(&bytes).await.expect_err(what);
        assert!(error.to_string().contains(expected), "{what}: {error}");
    }
    assert!(matches!(
        engine().load(&component_bytes(CLI_COMMAND)).await,
        Err(LoadError::NotAStepPlugin { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_on_disk_and_a_bad_cache_file_is_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = EngineConfig {
        cache_dir: Some(dir.path().to_owned()),
        max_instances: 4,
        ..Default::default()
    };
    let cached_files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect()
    };
    let first = Engine::new(config.clone()).expect("engine");
    let plugin = first.load(BUNDLED[0].wasm).await.expect("loads");
    let files = cached_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(plugin.digest.trim_start_matches("sha256:")) && name.ends_with(".cwasm"),
        "{name}"
    );
    // Even the first load maps the component from the file it just wrote.
    drop((plugin, first));

    let second = Engine::new(config.clone()).expect("engine");
    // A bundled plugin's digest comes from the build: the same file.
    let plugin = second
        .load_bundled(&BUNDLED[0])
        .await
        .expect("loads from cache");
    assert_eq!(cached_files(), files);
    let report = second
        .run(
            &plugin,
            &invocation(json!({}), json!("cached")),
            &Call::Run,
            &SandboxLimits::default(),
            None,
        )
        .await;
    assert_eq!(output(&report.outcome), &json!("cached"));
    // The cached file is memory-mapped while a component from it is alive; the
    // host only ever replaces it by rename, so corrupt it with nothing mapped.
    drop((plugin, second));

    std::fs::write(&files[0], b"garbage").expect("corrupt the cache");
    let third = Engine::new(config).expect("engine");
    third
        .load_bundled(&BUNDLED[0])
        .await
        .expect("recompiles over a corrupt cache file");
    assert!(
        std::fs::read(&files[0]).expect("cache file").len() > 1000,
        "cache file rewritten"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_memory_limit_below_the_default_is_enforced() {
    let limits = SandboxLimits {
        memory_bytes: 8 << 20,
        ..SandboxLimits::default()
    };
    let report = run(HOSTILE, json!({"attack": "memory"}), json!({}), &limits).await;
    let (message, _, fault) = failure(&report.outcome);
    assert_eq!(fault, Some(FaultKind::MemoryLimit));
    assert_eq!(message, "step exceeded its memory limit of 8388608 bytes");
}
