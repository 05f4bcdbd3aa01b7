//! The `cairn` command line: wiring only; the work happens in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn::engine::{
    BUNDLED, Call, Engine, EngineConfig, Invocation, Plugin, SandboxLimits, StepOutcome,
};
use cairn::host::{Host, HostConfig};
use cairn::model::RunStatus;
use cairn::runner::{Actor, RunError, RunView};
use cairn::server::{Settings, serve};
use cairn::store::{Store, Synchronous, WorkflowStatus};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// `println!` for a command's output. A reader that went away (`cairn plugin
/// inspect x | head`) ends the command quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            stdout_failed(e)
        }
    }};
}

fn stdout_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {error}");
    std::process::exit(1);
}

/// Cairn runs workflows whose steps are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "cairn", version, about)]
struct Cli {
    /// Data directory: the database, compiled-code cache and key file [default: cairn-data].
    #[arg(long, global = true, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the main job): runs workflows for every tenant.
    Serve {
        /// Settings file (TOML); `CAIRN_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks one).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's API keys: each key's name is its holder's identity.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Inspect and list step plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run one step in the sandbox: a plugin author's inner loop.
    #[command(subcommand)]
    Step(StepCommand),
    /// Run a workflow once on the embedded database and print where the run ended:
    /// its result, its error, or what it waits for.
    Run {
        /// The workflow definition (a JSON file).
        workflow: PathBuf,
        /// The run's input (JSON).
        #[arg(long, default_value = "{}")]
        input: String,
        /// Directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d")]
        plugins_dir: PathBuf,
        /// Longest wait for the run to finish or pause, e.g. `30s`, `10m`.
        #[arg(long, default_value = "10m")]
        wait: String,
        /// Start this many runs with the same input (prints a list when more than one).
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Resume a local run paused at a step with a decision, and wait for where it ends next.
    Resume {
        /// The run's id.
        run: String,
        /// The step the run is paused at.
        #[arg(long)]
        step: String,
        /// The decision (JSON), e.g. '"approve"' or '{"decision": "reject", "note": "..."}'.
        #[arg(long)]
        decision: String,
        /// Directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d")]
        plugins_dir: PathBuf,
    },
    /// Print a local run: status, progress, steps, pending action, result or error.
    Show {
        /// The run's id.
        run: String,
        /// Print its event log instead.
        #[arg(long)]
        events: bool,
    },
    /// Continue every unfinished run in the data directory (as a start does) and
    /// wait until each has finished or paused; prints how many runs are in each status.
    Recover {
        /// Directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d")]
        plugins_dir: PathBuf,
        /// Longest wait, e.g. `30s`, `10m`.
        #[arg(long, default_value = "10m")]
        wait: String,
    },
    /// Print performance figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key (shown this once).
    Create {
        /// Lowercase letters, digits, '-' and '_'.
        name: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a named API key and print it (shown this once).
    Create {
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// The holder's identity, e.g. `alice@example.com`: approvals made with
        /// the key count for this name.
        #[arg(long)]
        name: String,
        /// Let the key list and revoke the tenant's keys through the API.
        #[arg(long)]
        admin: bool,
    },
    /// List a tenant's keys (names, never keys).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key by name.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
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
enum StepCommand {
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
struct StepArgs {
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

#[derive(Subcommand)]
enum BenchCommand {
    /// Fresh-sandbox latency and throughput of the `noop` step.
    Engine {
        /// Sequential calls measured for latency.
        #[arg(long, default_value_t = 20_000)]
        samples: usize,
        /// Concurrent tasks for the throughput figure (default: two per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Seconds to measure throughput for.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Durable steps per second, step-to-step latency, and memory with paused runs.
    Runs {
        /// Concurrent runs for the throughput figure.
        #[arg(long, default_value_t = 1000)]
        runs: usize,
        /// Noop steps per run.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Paused runs to hold for the memory figure (0 to skip).
        #[arg(long, default_value_t = 100_000)]
        paused: usize,
    },
    /// The HTTP API: status reads/s, runs started/s, resume-to-next-pause latency.
    Http {
        /// Concurrent keep-alive clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds to measure reads, and then starts, for.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Resumes measured one at a time.
        #[arg(long, default_value_t = 300)]
        resumes: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// Finished runs to put in the store first (in bulk), to measure
        /// starts against a long history beside an empty store.
        #[arg(long, default_value_t = 0)]
        history: usize,
    },
    /// The API while steps burn every core: status-read latency, idle and busy.
    Isolation {
        /// Steps looping in their sandboxes at once.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Seconds to measure each phase for.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("cairn-data"));
    let cache_dir = Some(data_dir.join("compiled"));
    match cli.command {
        Command::Serve { config, listen } => {
            // The data directory comes from the settings unless a flag or
            // CAIRN_DATA_DIR names one.
            let mut settings = Settings::load(config.as_deref())?;
            if let Some(data_dir) = cli.data_dir {
                settings.data_dir = data_dir;
            }
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            serve(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::Create { name }) => {
            std::fs::create_dir_all(&data_dir)?;
            let store = Store::open(&cairn::runner::database_path(&data_dir), Synchronous::Full)?;
            let key = cairn::tenants::create_tenant(&store, &name).await?;
            say!("{key}");
            eprintln!("created tenant '{name}'; keep this key: it is not shown again");
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(command) => {
            std::fs::create_dir_all(&data_dir)?;
            let store = Store::open(&cairn::runner::database_path(&data_dir), Synchronous::Full)?;
            let keys = cairn::tenants::KeyCache::default();
            match command {
                KeyCommand::Create {
                    tenant,
                    name,
                    admin,
                } => {
                    let key = cairn::tenants::create_key(&store, &tenant, &name, admin).await?;
                    say!("{key}");
                    eprintln!(
                        "created key '{}' for tenant '{tenant}'; keep it: it is not shown again",
                        name.to_ascii_lowercase()
                    );
                }
                KeyCommand::List { tenant } => {
                    for key in keys.list(&store, &tenant)? {
                        let role = if key.admin { "admin" } else { "member" };
                        say!("{}\t{role}", key.name);
                    }
                }
                KeyCommand::Revoke { tenant, name } => {
                    keys.revoke(&store, &tenant, &name)
                        .await
                        .with_context(|| format!("tenant '{tenant}' has no key named '{name}'"))?;
                    eprintln!("revoked key '{name}' of tenant '{tenant}'");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::Inspect { file }) => {
            let engine = engine(EngineConfig {
                cache_dir,
                ..Default::default()
            })?;
            let plugin = load_file(&engine, &file).await?;
            print_json(&describe(&plugin, &file.display().to_string()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin(PluginCommand::List { plugins_dir }) => {
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
        Command::Step(command) => {
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
        Command::Run {
            workflow,
            input,
            plugins_dir,
            wait,
            runs,
        } => run_workflow(&data_dir, &workflow, &input, plugins_dir, &wait, runs).await,
        Command::Recover { plugins_dir, wait } => recover(&data_dir, plugins_dir, &wait).await,
        Command::Resume {
            run,
            step,
            decision,
            plugins_dir,
        } => {
            let decision = parse_json("--decision", &decision)?;
            let host = local_host(&data_dir, plugins_dir).await?;
            let resumed = host
                .runner
                .resume(LOCAL_TENANT, &run, &step, decision, Actor::api("cli"))
                .await;
            let view = match resumed {
                Ok(_) => {
                    host.runner
                        .wait_until(
                            Some(LOCAL_TENANT),
                            &run,
                            Duration::from_secs(600),
                            RunView::is_settled,
                        )
                        .await?
                }
                Err(e) => {
                    host.stop();
                    bail!("cannot resume run {run}: {e}");
                }
            };
            host.stop();
            print_json(&view)?;
            Ok(match view.status {
                RunStatus::Completed | RunStatus::Paused => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
        }
        Command::Show { run, events } => {
            let store = Store::open(&cairn::runner::database_path(&data_dir), Synchronous::Full)?;
            if events {
                let events = store
                    .read(|c| {
                        cairn::store::get_run(c, Some(LOCAL_TENANT), &run)?;
                        cairn::store::get_events(c, &run, 0)
                    })
                    .with_context(|| format!("run {run}"))?;
                print_json(&events)?;
            } else {
                let (record, steps) = store
                    .read(|c| {
                        Ok((
                            cairn::store::get_run(c, Some(LOCAL_TENANT), &run)?,
                            cairn::store::get_steps(c, &run)?,
                        ))
                    })
                    .with_context(|| format!("run {run}"))?;
                print_json(&RunView::new(&record, &steps, None))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Engine {
            samples,
            workers,
            seconds,
            json,
        }) => {
            let engine = Arc::new(engine(EngineConfig {
                cache_dir,
                ..Default::default()
            })?);
            let plugin = Arc::new(load_bundled(&engine, "noop").await?);
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let workers = workers.unwrap_or(cores * 2);
            let figures = cairn::bench::engine(
                engine,
                plugin,
                samples,
                workers,
                Duration::from_secs_f64(seconds),
            )
            .await?;
            if json {
                print_json(&figures)?;
            } else {
                say!("noop step, fresh sandbox per call ({cores} cores)");
                say!(
                    "  instantiate + call latency: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs ({} samples)",
                    figures.p50_us,
                    figures.p99_us,
                    figures.mean_us,
                    figures.samples
                );
                say!(
                    "  throughput: {:.0} calls/s ({} calls by {} tasks in {:.1} s)",
                    figures.calls_per_second,
                    figures.calls,
                    figures.workers,
                    figures.throughput_seconds
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Runs {
            runs,
            steps,
            paused,
        }) => {
            // Memory first, while the process has done nothing else: the
            // throughput phases leave their own garbage in the allocator.
            if paused > 0 {
                let dir = tempfile::tempdir()?;
                let mut config = HostConfig::new(dir.path());
                config.engine.cache_dir = cache_dir.clone();
                let host = Host::start(config).await?;
                let before = cairn::bench::resident_bytes();
                let (count, seconds, rss) = cairn::bench::paused(&host, paused).await?;
                say!(
                    "{count} paused runs (started in {seconds:.1} s, {:.0} runs/s): host RSS {:.1} MiB (idle before: {:.1} MiB)",
                    count as f64 / seconds,
                    rss as f64 / 1048576.0,
                    before as f64 / 1048576.0
                );
                host.stop();
            }
            for synchronous in [Synchronous::Full, Synchronous::Normal] {
                let dir = tempfile::tempdir()?;
                let mut config = HostConfig::new(dir.path());
                config.synchronous = synchronous;
                config.engine.cache_dir = cache_dir.clone();
                let host = Host::start(config).await?;
                let name = format!("{synchronous:?}").to_uppercase();
                let f = cairn::bench::runs(&host, &name, runs, steps).await?;
                say!("synchronous={name}: {runs} runs x {steps} noop steps");
                say!(
                    "  {:.0} durable steps/s ({:.2} s); step-to-step p50 {:.0} µs, p99 {:.0} µs; 40 sequential steps {:.1} ms",
                    f.durable_steps_per_second,
                    f.seconds,
                    f.step_to_step_p50_us,
                    f.step_to_step_p99_us,
                    f.sequential_40_steps_ms
                );
                host.stop();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Http {
            clients,
            seconds,
            resumes,
            json,
            history,
        }) => {
            // With a history, the same phases on an empty store first, for
            // the figures to stand beside each other.
            let histories = if history > 0 {
                vec![0, history]
            } else {
                vec![0]
            };
            let mut all = Vec::new();
            for history in histories {
                let dir = tempfile::tempdir()?;
                let mut config = HostConfig::new(dir.path());
                config.engine.cache_dir = cache_dir.clone();
                let host = Arc::new(Host::start(config).await?);
                let f = cairn::bench::http::http(
                    Arc::clone(&host),
                    clients,
                    Duration::from_secs_f64(seconds),
                    resumes,
                    history,
                )
                .await?;
                host.stop();
                if !json {
                    print_http_figures(&f);
                }
                all.push(f);
            }
            if json {
                print_json(&all)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Isolation {
            steps,
            seconds,
            json,
        }) => {
            let dir = tempfile::tempdir()?;
            let mut config = HostConfig::new(dir.path());
            config.engine.cache_dir = cache_dir;
            let host = Arc::new(Host::start(config).await?);
            let f = cairn::bench::isolation::isolation(
                Arc::clone(&host),
                steps,
                Duration::from_secs_f64(seconds),
            )
            .await?;
            host.stop();
            if json {
                print_json(&f)?;
            } else {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                say!("GET /v1/runs/{{id}} from one client on its own thread, {cores} cores");
                for (phase, l) in [("idle", &f.idle), ("busy", &f.busy)] {
                    let label = if phase == "busy" {
                        format!("{} steps looping", f.busy_steps)
                    } else {
                        "no steps running".to_owned()
                    };
                    say!(
                        "  {phase} ({label}): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} reads in {:.1} s)",
                        l.p50_us,
                        l.p99_us,
                        l.max_us,
                        l.reads,
                        f.seconds
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_http_figures(f: &cairn::bench::http::HttpFigures) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!(
        "HTTP API, {} keep-alive clients in the same process, {cores} cores, synchronous=FULL, {} finished runs in the store",
        f.clients,
        f.history
    );
    say!(
        "  GET /v1/runs/{{id}}: {:.0} reads/s, p50 {:.0} µs, p99 {:.0} µs ({} in {:.1} s)",
        f.reads_per_second,
        f.read_p50_us,
        f.read_p99_us,
        f.reads,
        f.seconds
    );
    say!(
        "  POST /v1/workflows/{{id}}/runs: {:.0} runs started/s, p50 {:.0} µs, p99 {:.0} µs ({} in {:.1} s)",
        f.starts_per_second,
        f.start_p50_us,
        f.start_p99_us,
        f.starts,
        f.seconds
    );
    say!(
        "  resume -> next pause: p50 {:.0} µs, p99 {:.0} µs ({} resumes, one at a time)",
        f.resume_to_pause_p50_us,
        f.resume_to_pause_p99_us,
        f.resumes
    );
}

async fn run_workflow(
    data_dir: &Path,
    workflow: &Path,
    input: &str,
    plugins_dir: PathBuf,
    wait: &str,
    runs: usize,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(workflow)
        .with_context(|| format!("cannot read {}", workflow.display()))?;
    let definition: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", workflow.display()))?;
    let input = parse_json("--input", input)?;
    let wait = cairn::workflow::parse_duration(wait).map_err(|e| anyhow::anyhow!("--wait: {e}"))?;
    let host = local_host(data_dir, plugins_dir).await?;
    let runner = &host.runner;
    let created = runner
        .create_workflow(LOCAL_TENANT, definition, WorkflowStatus::Active)
        .await;
    let workflow = match created {
        Ok(workflow) => workflow,
        Err(RunError::Invalid(problems)) => {
            eprintln!("error: {} is not a valid workflow:", workflow.display());
            for problem in problems {
                let path = if problem.path.is_empty() {
                    "/"
                } else {
                    &problem.path
                };
                eprintln!("  {path}: {}", problem.message);
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let mut ids = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        ids.push(
            runner
                .start_run(LOCAL_TENANT, &workflow.id, input.clone())
                .await?
                .id,
        );
    }
    let mut views = Vec::with_capacity(ids.len());
    for id in &ids {
        views.push(
            runner
                .wait_until(Some(LOCAL_TENANT), id, wait, RunView::is_settled)
                .await?,
        );
    }
    host.stop();
    let all_fine = views
        .iter()
        .all(|view| matches!(view.status, RunStatus::Completed | RunStatus::Paused));
    if views.len() == 1 {
        print_json(&views[0])?;
    } else {
        print_json(&views)?;
    }
    Ok(if all_fine {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn recover(data_dir: &Path, plugins_dir: PathBuf, wait: &str) -> anyhow::Result<ExitCode> {
    let wait = cairn::workflow::parse_duration(wait).map_err(|e| anyhow::anyhow!("--wait: {e}"))?;
    let host = local_host(data_dir, plugins_dir).await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = host.runner.subscribe();
    loop {
        let unfinished = host
            .store
            .read(|c| cairn::store::run_ids_in(c, &[RunStatus::Pending, RunStatus::Running]))?;
        if unfinished.is_empty() {
            break;
        }
        // Wake on any change, and at least every 100 ms in case notices were missed.
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.recv()).await;
        if tokio::time::Instant::now() >= deadline {
            host.stop();
            bail!(
                "{} run(s) still unfinished after {wait:?}",
                unfinished.len()
            );
        }
    }
    host.stop();
    let counts = host.store.read(cairn::store::count_runs_by_status)?;
    let counts: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(status, count)| (status, json!(count)))
        .collect();
    print_json(&counts)?;
    Ok(ExitCode::SUCCESS)
}

/// A host over a local data directory, for the commands that run workflows
/// without the server.
async fn local_host(data_dir: &Path, plugins_dir: PathBuf) -> anyhow::Result<Host> {
    let mut config = HostConfig::new(data_dir);
    config.plugins_dir = Some(plugins_dir);
    // Schedules are the server's to run.
    config.runner.schedules = false;
    Host::start(config).await
}

/// The tenant of local, command-line runs.
const LOCAL_TENANT: &str = "default";

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

fn engine(config: EngineConfig) -> anyhow::Result<Engine> {
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

async fn load_bundled(engine: &Engine, name: &str) -> anyhow::Result<Plugin> {
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
    summary["wit"] = json!(format!("cairn:step@{}", cairn::engine::WIT_VERSION));
    summary["source"] = json!(source);
    summary
}

fn parse_json(flag: &str, text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{flag} is not valid JSON"))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
