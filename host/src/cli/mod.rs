//! The `cairn` command line: its commands, one file per group, and the output
//! helpers they share. Wiring only; the work happens in the library (local
//! commands) or on a server (the remote groups, through `remote.rs`).

/// `println!` for a command's output. A reader that went away (`cairn plugins
/// inspect x | head`) ends the command quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            $crate::cli::stdout_failed(e)
        }
    }};
}

pub fn stdout_failed(error: std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {error}");
    std::process::exit(1);
}

mod approvals;
mod batches;
mod bench;
mod exit;
mod keys;
mod local;
mod new;
mod output;
mod plans;
mod plugins;
mod remote;
mod runs;
mod secrets;
mod watch;
mod workflows;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use cairn::server::{Settings, serve};
use clap::{Parser, Subcommand};
use serde_json::Value;

pub use exit::exit_code;
use remote::{Connection, Remote};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about,
    after_help = exit::HELP,
    after_long_help = exit::HELP
)]
pub struct Cli {
    /// Data directory: the database, compiled-code cache and key file [default: cairn-data].
    #[arg(long, global = true, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    connection: Connection,
    /// Print JSON instead of tables and text (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the main job): runs workflows for every tenant.
    Serve {
        /// Settings file (TOML); `CAIRN_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks one).
        #[arg(long)]
        listen: Option<String>,
        /// The database: a PostgreSQL URL (`postgres://user@host/db`) that
        /// several servers may share; unset, an SQLite file in the data
        /// directory.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Save a server's address and an API key for the remote commands
    /// (in an owner-only file under ~/.config/cairn).
    Login(remote::LoginArgs),
    /// Forget the saved server and key.
    Logout,
    /// A server's workflows: list, show, apply a definition file, activate, archive.
    #[command(subcommand)]
    Workflows(workflows::WorkflowsCommand),
    /// A server's runs: list, show, start, resume, cancel, watch.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Step plugins: a server's (list, show, upload, delete) and local files (inspect).
    #[command(subcommand, alias = "plugin")]
    Plugins(plugins::PluginsCommand),
    /// A server's approval queue: list, approve, reject.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
    /// A server's secrets for this tenant: set, list, delete.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Batches on a server: one run per input.
    #[command(subcommand)]
    Batches(batches::BatchesCommand),
    /// Have a server's planner write a workflow from a goal; prints the plan,
    /// and with `--approve` activates it.
    Plan(plans::PlanArgs),
    /// Manage tenants (on the data directory).
    #[command(subcommand)]
    Tenant(keys::TenantCommand),
    /// Manage a tenant's API keys (on the data directory): each key's name is
    /// its holder's identity.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Run one step in the sandbox: a plugin author's inner loop.
    #[command(subcommand)]
    Step(plugins::StepCommand),
    /// Write a new step plugin project (Rust, Python or JavaScript) that
    /// builds with one command.
    New(new::NewArgs),
    /// Run a workflow once on the embedded database, without a server, and
    /// print where the run ended: its result, its error, or what it waits for.
    Run {
        /// The workflow definition (a JSON file).
        workflow: PathBuf,
        /// The run's input (JSON; `@FILE`: a file's; `-`: standard input's).
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
        /// The decision (JSON, `@FILE` or `-`), e.g. '"approve"' or '{"decision": "reject", "note": "..."}'.
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
    /// Continue every unfinished local run (as a start does) and wait until
    /// each has finished or paused; prints how many runs are in each status.
    Recover {
        /// Directory of extra `.wasm` plugins.
        #[arg(long, default_value = "plugins.d")]
        plugins_dir: PathBuf,
        /// Longest wait, e.g. `30s`, `10m`.
        #[arg(long, default_value = "10m")]
        wait: String,
    },
    /// Print the HTTP API's OpenAPI document (what `GET /v1/openapi.json`
    /// serves), without a server: the clients in `clients/` are generated from it.
    Openapi,
    /// Print performance figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("cairn-data"));
    // Compiled plugins go to the data directory; the plugin author's
    // commands (`step`, `plugins`) that were given none use the user's cache
    // instead of writing `cairn-data/` into the plugin's folder.
    let cache_dir = Some(data_dir.join("compiled"));
    let author_cache = match cli.data_dir {
        Some(_) => cache_dir.clone(),
        None => user_cache().or_else(|| cache_dir.clone()),
    };
    let json = cli.json;
    let remote = || Remote::new(cli.connection.clone(), &data_dir);
    match cli.command {
        Command::Serve {
            config,
            listen,
            database,
        } => {
            // The data directory comes from the settings unless a flag or
            // CAIRN_DATA_DIR names one.
            let mut settings = Settings::load(config.as_deref())?;
            if let Some(data_dir) = cli.data_dir {
                settings.data_dir = data_dir;
            }
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            if database.is_some() {
                settings.database = database;
            }
            serve(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Login(args) => remote::login(cli.connection.clone(), args).await,
        Command::Logout => remote::logout(),
        Command::Workflows(command) => workflows::run(&remote()?, command, json).await,
        Command::Runs(command) => runs::run(&remote()?, command, json).await,
        Command::Plugins(command) => plugins::plugins(remote, author_cache, command, json).await,
        Command::Approvals(command) => approvals::run(&remote()?, command, json).await,
        Command::Secrets(command) => secrets::run(&remote()?, command, json).await,
        Command::Batches(command) => batches::run(&remote()?, command, json).await,
        Command::Plan(args) => plans::plan(&remote()?, args, json).await,
        Command::Tenant(command) => keys::tenant(&data_dir, command).await,
        Command::Key(command) => keys::key(&data_dir, command).await,
        Command::Step(command) => plugins::step(author_cache, command).await,
        Command::New(args) => new::new(args),
        Command::Run {
            workflow,
            input,
            plugins_dir,
            wait,
            runs,
        } => local::run_workflow(&data_dir, &workflow, &input, plugins_dir, &wait, runs).await,
        Command::Recover { plugins_dir, wait } => {
            local::recover(&data_dir, plugins_dir, &wait).await
        }
        Command::Resume {
            run,
            step,
            decision,
            plugins_dir,
        } => local::resume(&data_dir, run, step, decision, plugins_dir).await,
        Command::Show { run, events } => local::show(&data_dir, run, events).await,
        Command::Openapi => {
            print_json(cairn::api::openapi())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(command) => bench::bench(cache_dir, command).await,
    }
}

/// `$XDG_CACHE_HOME/cairn/compiled`, or `~/.cache/cairn/compiled`.
fn user_cache() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("cairn").join("compiled"))
}

/// `text` as JSON, or a usage error that names the flag.
/// The database the commands that work on the data directory itself use
/// (`tenant`, `key`, and the local `run`, `resume`, `show`, `recover`): the
/// PostgreSQL URL in `CAIRN_DATABASE`, as `cairn serve` reads it, or else the
/// data directory's SQLite file.
fn database_url() -> Option<String> {
    std::env::var("CAIRN_DATABASE")
        .ok()
        .filter(|url| !url.is_empty())
}

fn database(data_dir: &std::path::Path) -> cairn::store::Database {
    cairn::runner::database(data_dir, database_url(), cairn::store::Synchronous::Full)
}

/// A flag's JSON: the value itself, `@FILE` for a file's, or `-` for
/// standard input's (neither is valid JSON, so nothing is ambiguous).
fn parse_json(flag: &str, text: &str) -> anyhow::Result<Value> {
    if let Some(file) = text.strip_prefix('@') {
        return read_json(Path::new(file));
    }
    let text = json_text(flag, text)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{flag} is not valid JSON"))
        .map_err(exit::usage)
}

/// `text`, or standard input's when it is `-`.
fn json_text<'a>(flag: &str, text: &'a str) -> anyhow::Result<std::borrow::Cow<'a, str>> {
    if text != "-" {
        return Ok(text.into());
    }
    let mut read = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut read)
        .with_context(|| format!("{flag} -: cannot read standard input"))
        .map_err(exit::usage)?;
    Ok(read.into())
}

/// A file's JSON, or a usage failure that names it.
fn read_json(file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(exit::usage)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))
        .map_err(exit::usage)
}

/// A `--wait` duration (`30s`, `10m`), or a usage error.
fn parse_wait(text: &str) -> anyhow::Result<std::time::Duration> {
    cairn::workflow::parse_duration(text)
        .map_err(|e| exit::failure(exit::Class::Usage, format!("--wait: {e}")))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
