//! `cairn plugin` and `cairn step`: a plugin author's inner loop, on the same
//! engine and checks as the server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn::engine::{
    BUNDLED, Call, Engine, EngineConfig, Invocation, Plugin, SandboxLimits, StepOutcome,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{parse_json, print_json};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Load a component, check it against the cairn:step world and print its describe() as JSON.
    Inspect {
        /// A `.wasm` component file.
        file: PathBuf,
    },
    /// List the bundled plugins and those in a plugins directory.
    List {
        /// Directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d")]
        plugins_dir: PathBuf,
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
        /// The checkpoint the step paused with (JSON).
        #[arg(long, default_value = "null")]
        checkpoint: String,
        /// The decision (JSON), e.g. '"approve"'.
        #[arg(long)]
        decision: String,
    },
}

#[derive(Args)]
pub struct StepArgs {
    /// A `.wasm` component file, or the name of a bundled plugin.
    plugin: String,
    /// The step's config (JSON).
    #[arg(long, default_value = "{}")]
    config: String,
    /// The step's input (JSON).
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
}

pub async fn plugin(
    cache_dir: Option<PathBuf>,
    command: PluginCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Inspect { file } => {
            let engine = engine(EngineConfig {
                cache_dir,
                ..Default::default()
            })?;
            let plugin = load_file(&engine, &file).await?;
            print_json(&describe(&plugin, &file.display().to_string()))?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::List { plugins_dir } => {
            let engine = engine(EngineConfig {
                cache_dir,
                ..Default::default()
            })?;
            let mut listed = Vec::new();
            for (name, wasm) in BUNDLED {
                let plugin = engine
                    .load(wasm)
                    .await
                    .with_context(|| format!("bundled plugin {name}"))?;
                listed.push(describe(&plugin, "bundled"));
            }
            if plugins_dir.is_dir() {
                for (path, result) in engine.load_dir(&plugins_dir).await? {
                    match result {
                        Ok(plugin) => listed.push(describe(&plugin, &path.display().to_string())),
                        Err(e) => listed.push(
                            json!({ "source": path.display().to_string(), "error": e.to_string() }),
                        ),
                    }
                }
            }
            print_json(&Value::Array(listed))?;
            Ok(ExitCode::SUCCESS)
        }
    }
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
    let invocation = Invocation::first(
        "local",
        &plugin.info.name,
        parse_json("--config", &step.config)?,
        parse_json("--input", &step.input)?,
    );
    let report = engine.run(&plugin, &invocation, &call, &limits, None).await;
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
    let Some((_, wasm)) = BUNDLED.iter().find(|(bundled, _)| *bundled == name) else {
        let names: Vec<&str> = BUNDLED.iter().map(|(name, _)| *name).collect();
        bail!(
            "no file {name} and no bundled plugin of that name (bundled: {})",
            names.join(", ")
        );
    };
    engine
        .load(wasm)
        .await
        .with_context(|| format!("bundled plugin {name}"))
}

fn describe(plugin: &Plugin, source: &str) -> Value {
    let mut summary = json!(plugin.summary());
    summary["source"] = json!(source);
    summary
}
