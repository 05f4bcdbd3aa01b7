//! `cairn plugins` and `cairn step`: a server's plugins, and a plugin
//! author's inner loop on the same engine and checks as the server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn::engine::{
    BUNDLED, Call, Engine, EngineConfig, Invocation, Plugin, SandboxLimits, StepOutcome,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::exit::{Class, failure, usage};
use super::output::{short, show, table, text};
use super::remote::{Body, Remote, segment};
use super::{parse_json, print_json};

#[derive(Subcommand)]
pub enum PluginsCommand {
    /// Load a local component, check it against the cairn:step world and
    /// print its describe() as JSON (no server needed).
    Inspect {
        /// A `.wasm` component file.
        file: PathBuf,
    },
    /// The plugins a server's tenant can use (with --local: the bundled ones
    /// and those in a plugins directory, loaded here).
    List {
        /// List the bundled plugins and a plugins directory's, without a server.
        #[arg(long)]
        local: bool,
        /// With --local: the directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d", requires = "local")]
        plugins_dir: PathBuf,
    },
    /// A server's plugin: each version, with its schemas.
    Show {
        /// The plugin's name.
        name: String,
    },
    /// Upload a component to a server, for this tenant's workflows.
    Upload {
        /// A `.wasm` component file.
        file: PathBuf,
    },
    /// Delete an uploaded plugin from a server (every version, or one).
    Delete {
        /// The plugin's name.
        name: String,
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StepCommand {
    /// Call the plugin's `run` and print the outcome as JSON.
    Run {
        #[command(flatten)]
        step: StepArgs,
    },
    /// Call the plugin's `resume` with a checkpoint and a decision and print the outcome.
    Resume {
        #[command(flatten)]
        step: StepArgs,
        /// The checkpoint the step paused with (JSON, `@FILE` or `-`).
        #[arg(long, default_value = "null")]
        checkpoint: String,
        /// The decision (JSON, `@FILE` or `-`), e.g. '"approve"'.
        #[arg(long)]
        decision: String,
    },
}

#[derive(Args)]
pub struct StepArgs {
    /// A `.wasm` component file, or the name of a bundled plugin.
    plugin: String,
    /// The step's config (JSON; `@FILE`: a file's; `-`: standard input's).
    #[arg(long, default_value = "{}")]
    config: String,
    /// The step's input (JSON; `@FILE`: a file's; `-`: standard input's).
    #[arg(long, default_value = "{}")]
    input: String,
    /// Memory limit in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Wall-time limit in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// CPU budget in fuel units (turns on fuel metering).
    #[arg(long)]
    fuel: Option<u64>,
    /// Call the plugin even when the config or input break its declared
    /// schemas (to test the plugin's own errors).
    #[arg(long)]
    skip_checks: bool,
}

pub async fn plugins(
    remote: impl FnOnce() -> anyhow::Result<Remote>,
    cache_dir: Option<PathBuf>,
    command: PluginsCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        PluginsCommand::Inspect { file } => {
            let engine = engine(EngineConfig {
                cache_dir,
                ..Default::default()
            })?;
            let plugin = load_file(&engine, &file).await?;
            print_json(&describe(&plugin, &file.display().to_string()))?;
        }
        PluginsCommand::List {
            local: true,
            plugins_dir,
        } => {
            let listed = Value::Array(local_plugins(cache_dir, &plugins_dir).await?);
            show(json, &listed, |listed| {
                let rows = listed
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| match p.get("error") {
                        Some(error) => vec![
                            "(broken)".to_owned(),
                            "-".to_owned(),
                            "-".to_owned(),
                            text(&p["source"]),
                            text(error),
                        ],
                        None => vec![
                            text(&p["name"]),
                            text(&p["version"]),
                            text(&p["wit"]),
                            text(&p["source"]),
                            short(&p["description"], 60),
                        ],
                    })
                    .collect();
                table(
                    &["NAME", "VERSION", "WIT", "SOURCE", "DESCRIPTION"],
                    rows,
                    "No plugins.",
                );
            })?;
        }
        PluginsCommand::List { local: false, .. } => {
            let list = remote()?.get("/v1/plugins").await?;
            show(json, &list, |list| {
                let rows = list["plugins"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        vec![
                            text(&p["name"]),
                            text(&p["version"]),
                            text(&p["scope"]),
                            text(&p["wit"]),
                            format!(
                                "{} KiB",
                                p["size_bytes"].as_u64().unwrap_or(0).div_ceil(1024)
                            ),
                            short(&p["description"], 60),
                        ]
                    })
                    .collect();
                table(
                    &["NAME", "VERSION", "SCOPE", "WIT", "SIZE", "DESCRIPTION"],
                    rows,
                    "No plugins.",
                );
            })?;
        }
        PluginsCommand::Show { name } => {
            let found = remote()?
                .get(&format!("/v1/plugins/{}", segment(&name)))
                .await?;
            show(json, &found, |found| {
                for version in found["versions"].as_array().into_iter().flatten() {
                    say!(
                        "{} {} ({}, {}, {} bytes, {})",
                        text(&version["name"]),
                        text(&version["version"]),
                        text(&version["scope"]),
                        text(&version["wit"]),
                        version["size_bytes"],
                        text(&version["digest"])
                    );
                    say!("  {}", text(&version["description"]));
                    for schema in ["config_schema", "input_schema", "output_schema"] {
                        if !version[schema].is_null() {
                            say!("  {schema}: {}", version[schema]);
                        }
                    }
                }
            })?;
        }
        PluginsCommand::Upload { file } => {
            let wasm = std::fs::read(&file)
                .with_context(|| format!("cannot read {}", file.display()))
                .map_err(usage)?;
            let uploaded = remote()?
                .ok("POST", "/v1/plugins", Body::Bytes(wasm, "application/wasm"))
                .await?;
            show(json, &uploaded, |p| {
                say!(
                    "Uploaded {} {} ({}).",
                    text(&p["name"]),
                    text(&p["version"]),
                    text(&p["digest"])
                );
            })?;
        }
        PluginsCommand::Delete { name, version } => {
            let mut path = format!("/v1/plugins/{}", segment(&name));
            if let Some(version) = version {
                path.push_str(&format!("?version={}", segment(&version)));
            }
            let deleted = remote()?.ok("DELETE", &path, Body::Empty).await?;
            show(json, &deleted, |d| {
                let versions: Vec<String> = d["deleted_versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                say!("Deleted {name} {}.", versions.join(", "));
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bundled plugins and a directory's, as `describe` shows them (a file
/// that does not load shows its error).
async fn local_plugins(
    cache_dir: Option<PathBuf>,
    plugins_dir: &Path,
) -> anyhow::Result<Vec<Value>> {
    let engine = engine(EngineConfig {
        cache_dir,
        ..Default::default()
    })?;
    let mut listed = Vec::new();
    for bundled in BUNDLED {
        let plugin = engine
            .load_bundled(bundled)
            .await
            .with_context(|| format!("bundled plugin {}", bundled.name))?;
        listed.push(describe(&plugin, "bundled"));
    }
    if plugins_dir.is_dir() {
        for (path, result) in engine.load_dir(plugins_dir).await? {
            match result {
                Ok(plugin) => listed.push(describe(&plugin, &path.display().to_string())),
                Err(e) => listed
                    .push(json!({ "source": path.display().to_string(), "error": e.to_string() })),
            }
        }
    }
    Ok(listed)
}

pub async fn step(cache_dir: Option<PathBuf>, command: StepCommand) -> anyhow::Result<ExitCode> {
    let (step, call) = match command {
        StepCommand::Run { step } => (step, Call::Run),
        StepCommand::Resume {
            step,
            checkpoint,
            decision,
        } => {
            let call = Call::Resume {
                checkpoint: parse_json("--checkpoint", &checkpoint)?,
                decision: parse_json("--decision", &decision)?,
            };
            (step, call)
        }
    };
    run_step(step, call, cache_dir).await
}

async fn run_step(
    step: StepArgs,
    call: Call,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let defaults = SandboxLimits::default();
    let limits = SandboxLimits {
        memory_bytes: step
            .memory_mib
            .map_or(defaults.memory_bytes, |mib| mib << 20),
        wall_time_ms: step.timeout_ms.unwrap_or(defaults.wall_time_ms),
        fuel: step.fuel,
        ..defaults
    };
    // The command line is the operator here: its limits are the caps.
    let config = EngineConfig {
        caps: limits,
        fuel: step.fuel.is_some(),
        cache_dir,
        ..Default::default()
    };
    let engine = engine(config)?;
    let plugin = if Path::new(&step.plugin).exists() || step.plugin.ends_with(".wasm") {
        load_file(&engine, Path::new(&step.plugin)).await?
    } else {
        load_bundled(&engine, &step.plugin).await?
    };
    let config = parse_json("--config", &step.config)?;
    let input = parse_json("--input", &step.input)?;
    if !step.skip_checks {
        // What a server checks before the plugin sees a call.
        let problems: Vec<String> = plugin
            .call_problems(&config, &input)
            .iter()
            .map(|p| format!("--{}{}: {}", p.what, p.path, p.message))
            .collect();
        if !problems.is_empty() {
            return Err(failure(
                Class::Usage,
                format!(
                    "{} {} does not take this call (--skip-checks calls it anyway):\n  {}",
                    plugin.info.name,
                    plugin.info.version,
                    problems.join("\n  ")
                ),
            ));
        }
    }
    let invocation = Invocation::first("local", &plugin.info.name, config, input);
    // Checked above (or skipped on purpose): the engine need not check again.
    let report = engine
        .run_unchecked(&plugin, &invocation, &call, &limits)
        .await;
    let failed = matches!(report.outcome, StepOutcome::Fail { .. });
    let mut printed = serde_json::to_value(&report.outcome)?;
    if let Value::Object(fields) = &mut printed {
        fields.insert(
            "duration_ms".into(),
            json!(report.duration.as_secs_f64() * 1e3),
        );
        fields.insert("progress".into(), serde_json::to_value(&report.progress)?);
        fields.insert("logs".into(), serde_json::to_value(&report.logs)?);
        if !report.stdout.is_empty() {
            fields.insert("stdout".into(), json!(report.stdout));
        }
        if !report.stderr.is_empty() {
            fields.insert("stderr".into(), json!(report.stderr));
        }
    }
    print_json(&printed)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn engine(config: EngineConfig) -> anyhow::Result<Engine> {
    // A command-line engine runs a handful of sandboxes, not a server's worth.
    Ok(Engine::new(EngineConfig {
        max_instances: config.max_instances.min(64),
        ..config
    })?)
}

async fn load_file(engine: &Engine, path: &Path) -> anyhow::Result<Plugin> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    engine
        .load(&wasm)
        .await
        .with_context(|| format!("{} is not a usable step plugin", path.display()))
}

pub async fn load_bundled(engine: &Engine, name: &str) -> anyhow::Result<Plugin> {
    let Some(bundled) = BUNDLED.iter().find(|bundled| bundled.name == name) else {
        let names: Vec<&str> = BUNDLED.iter().map(|bundled| bundled.name).collect();
        bail!(
            "no file {name} and no bundled plugin of that name (bundled: {})",
            names.join(", ")
        );
    };
    engine
        .load_bundled(bundled)
        .await
        .with_context(|| format!("bundled plugin {name}"))
}

fn describe(plugin: &Plugin, source: &str) -> Value {
    let mut summary = json!(plugin.summary());
    summary["source"] = json!(source);
    summary
}
