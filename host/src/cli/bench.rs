//! `cairn bench`: prints the figures of the library's benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use cairn::host::{Host, HostConfig};
use cairn::store::Synchronous;
use clap::Subcommand;

use super::plugins::{engine, load_bundled};
use super::print_json;
use cairn::engine::EngineConfig;

#[derive(Subcommand)]
pub enum BenchCommand {
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
        /// A PostgreSQL database (`postgres://...`) to measure too, after
        /// SQLite: its runs are kept there.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Several `cairn serve` processes on one PostgreSQL database, driven
    /// through HTTP: each run is started through one host and followed to its
    /// end through another. Durable steps/s, run latency, and the database
    /// transactions the hosts run, busy and idle.
    Cluster {
        /// The PostgreSQL database (`postgres://...`): each measurement
        /// makes a tenant of its own there.
        #[arg(long, value_name = "URL")]
        database: String,
        /// How many hosts, one measurement each (`1,2,3`).
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        hosts: Vec<usize>,
        /// Runs per measurement.
        #[arg(long, default_value_t = 2000)]
        runs: usize,
        /// Noop steps per run.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Runs in flight (each a client with a connection to its two hosts).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The workloads Cairn is compared with its peers on, through the HTTP
    /// API of a `cairn serve` process: durable steps/s (10-step runs, each
    /// started and followed to its end), 40 sequential steps, an approval
    /// chain's resume to the next pause, and the server's CPU and memory,
    /// busy and with many runs paused. On SQLite, and then on PostgreSQL
    /// when `--database` names one.
    Peers {
        /// Runs for the throughput figure.
        #[arg(long, default_value_t = 4000)]
        runs: usize,
        /// Noop steps per run.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Runs in flight, each a client with its own connection.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Decisions measured in the approval chain.
        #[arg(long, default_value_t = 300)]
        resumes: usize,
        /// Runs paused at once for the memory figure (0 to skip).
        #[arg(long, default_value_t = 100_000)]
        paused: usize,
        /// A PostgreSQL database (`postgres://...`) to measure too, after
        /// SQLite; each measurement makes a tenant of its own there.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Run the server under this command, to profile it (`--wrap 'perf
        /// record -g --'`, `--wrap heaptrack`); its CPU and memory figures
        /// are then the wrapper's.
        #[arg(long, value_name = "COMMAND")]
        wrap: Option<String>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
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
    /// The language's constructs: a map over noop items against as many
    /// one-step runs, and a step's cost at the end of a long run (a list of
    /// steps, a map) against its start.
    Language {
        /// Items of the map, and runs to compare it with.
        #[arg(long, default_value_t = 1000)]
        items: usize,
        /// Items of the map running at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Steps of the long run, and items of the large map.
        #[arg(long, default_value_t = 10_000)]
        long: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
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

fn print_runs(f: &cairn::bench::RunFigures) {
    say!(
        "  {:.0} durable steps/s ({:.2} s); step-to-step p50 {:.0} µs, p99 {:.0} µs; 40 sequential steps {:.1} ms",
        f.durable_steps_per_second,
        f.seconds,
        f.step_to_step_p50_us,
        f.step_to_step_p99_us,
        f.sequential_40_steps_ms
    );
}

fn print_peers(f: &cairn::bench::peers::PeersFigures) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!(
        "{}, one cairn serve process, driven over HTTP from another ({cores} cores)",
        if f.database == "sqlite" {
            "SQLite (synchronous=FULL)"
        } else {
            "PostgreSQL"
        }
    );
    say!(
        "  {} runs x {} noop steps, {} in flight: {:.0} durable steps/s ({:.2} s); run p50 {:.1} ms, p99 {:.1} ms",
        f.runs,
        f.steps_per_run,
        f.clients,
        f.durable_steps_per_second,
        f.seconds,
        f.run_p50_ms,
        f.run_p99_ms
    );
    say!(
        "  server: {:.0} µs CPU per step ({:.2} cores busy); RSS {:.0} MiB idle, {:.0} MiB busy, {:.0} MiB peak",
        f.server_cpu_us_per_step,
        f.server_cpu_cores,
        f.server_rss_idle_mib,
        f.server_rss_busy_mib,
        f.server_rss_peak_mib
    );
    say!(
        "  40 sequential steps: p50 {:.1} ms, p99 {:.1} ms",
        f.sequential_40_steps_p50_ms,
        f.sequential_40_steps_p99_ms
    );
    say!(
        "  approval chain, decision to next pause: p50 {:.2} ms, p99 {:.2} ms ({} decisions); \
         in one request (resume?wait&until=settled): p50 {:.2} ms, p99 {:.2} ms",
        f.resume_to_pause_p50_ms,
        f.resume_to_pause_p99_ms,
        f.resumes,
        f.resume_waiting_p50_ms,
        f.resume_waiting_p99_ms
    );
    if let (Some(rss), Some(anonymous)) = (f.paused_rss_mib, f.paused_rss_anonymous_mib) {
        say!(
            "  {} runs paused at once: server RSS {rss:.0} MiB, of which heap and stacks {anonymous:.0} MiB",
            f.paused_runs
        );
    }
    if let (Some(three), Some(five), Some(steps), Some(decision)) = (
        f.commit_3_pages_p50_us,
        f.commit_5_pages_p50_us,
        f.sequential_40_steps_floor_ms,
        f.resume_floor_ms,
    ) {
        say!(
            "  the disk alone (bare SQLite commits, FULL, beside the server's file): 3 pages p50 {three:.0} µs, \
             5 pages p50 {five:.0} µs; of the 40 steps (41 commits of 3) {steps:.1} ms, \
             {:.0} µs a step left to the host; of a decision (2 commits of 5) {decision:.2} ms",
            (f.sequential_40_steps_p50_ms - steps) * 1e3 / 40.0
        );
    }
}

fn print_cluster(f: &cairn::bench::cluster::ClusterFigures) {
    say!(
        "PostgreSQL, {} host process(es): {} runs x {} noop steps through HTTP, {} in flight{}",
        f.hosts,
        f.runs,
        f.steps_per_run,
        f.clients,
        if f.hosts > 1 {
            ", each followed through another host"
        } else {
            ""
        }
    );
    say!(
        "  {:.0} durable steps/s ({:.2} s); start to completed p50 {:.1} ms, p99 {:.1} ms; 40 sequential steps {:.1} ms",
        f.durable_steps_per_second,
        f.seconds,
        f.run_p50_ms,
        f.run_p99_ms,
        f.sequential_40_steps_ms
    );
    say!(
        "  database: {:.0} transactions/s busy (all hosts); idle {:.2} transactions/s per host",
        f.busy_transactions_per_second,
        f.idle_transactions_per_second_per_host
    );
}

pub async fn bench(cache_dir: Option<PathBuf>, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Engine {
            samples,
            workers,
            seconds,
            json,
        } => {
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
        BenchCommand::Runs {
            runs,
            steps,
            paused,
            database,
        } => {
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
                say!("SQLite, synchronous={name}: {runs} runs x {steps} noop steps");
                print_runs(&f);
                host.stop();
            }
            if let Some(url) = database {
                let dir = tempfile::tempdir()?;
                let mut config = HostConfig::new(dir.path());
                config.database = Some(url.clone());
                config.engine.cache_dir = cache_dir.clone();
                let host = Host::start(config).await?;
                let f = cairn::bench::runs(&host, "POSTGRES", runs, steps).await?;
                say!("PostgreSQL, one host: {runs} runs x {steps} noop steps");
                print_runs(&f);
                // Idle: what a host that has nothing to do asks of the database.
                tokio::time::sleep(Duration::from_secs(2)).await;
                let before = host.store.transactions().unwrap_or(0);
                let idle = Duration::from_secs(10);
                tokio::time::sleep(idle).await;
                let after = host.store.transactions().unwrap_or(0);
                say!(
                    "  idle: {:.1} transactions/s against the database over {} s",
                    (after - before) as f64 / idle.as_secs_f64(),
                    idle.as_secs()
                );
                host.stop();
                host.store.close();
                // Several processes on the database, through HTTP.
                for count in [1, 2, 3] {
                    let f = cairn::bench::cluster::cluster(
                        &url,
                        count,
                        runs,
                        steps,
                        64,
                        cache_dir.as_deref(),
                    )
                    .await?;
                    print_cluster(&f);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Language {
            items,
            concurrency,
            long,
            json,
        } => {
            let dir = tempfile::tempdir()?;
            let mut config = HostConfig::new(dir.path());
            config.engine.cache_dir = cache_dir.clone();
            let host = Host::start(config).await?;
            let f = cairn::bench::language::language(&host, items, concurrency, long).await?;
            host.stop();
            if json {
                print_json(&f)?;
            } else {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                say!("workflow language, synchronous=FULL, {cores} cores");
                say!(
                    "  map over {} noop items, concurrency {}: {:.0} items/s ({:.2} s)",
                    f.items,
                    f.concurrency,
                    f.map_items_per_second,
                    f.map_seconds
                );
                say!(
                    "  the same noops as {} one-step runs started at once: {:.0} runs/s ({:.2} s)",
                    f.items,
                    f.runs_per_second,
                    f.runs_seconds
                );
                say!(
                    "  {} noop steps in a row: {:.0} steps/s over the first tenth, {:.0} over the last",
                    f.long_steps,
                    f.long_first_per_second,
                    f.long_last_per_second
                );
                say!(
                    "  map over {} noop items: {:.0} items/s over the first tenth, {:.0} over the last",
                    f.long_steps,
                    f.wide_first_per_second,
                    f.wide_last_per_second
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Cluster {
            database,
            hosts,
            runs,
            steps,
            clients,
            json,
        } => {
            for count in hosts {
                let f = cairn::bench::cluster::cluster(
                    &database,
                    count,
                    runs,
                    steps,
                    clients,
                    cache_dir.as_deref(),
                )
                .await?;
                if json {
                    print_json(&f)?;
                    continue;
                }
                print_cluster(&f);
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Peers {
            runs,
            steps,
            clients,
            resumes,
            paused,
            database,
            wrap,
            json,
        } => {
            let wrapper: Vec<String> = wrap
                .as_deref()
                .map(|w| w.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            let databases = std::iter::once(None).chain(database.as_deref().map(Some));
            for database in databases {
                let workloads = cairn::bench::peers::Workloads {
                    runs,
                    steps,
                    clients,
                    resumes,
                    paused,
                };
                let f =
                    cairn::bench::peers::peers(database, workloads, cache_dir.as_deref(), &wrapper)
                        .await?;
                if json {
                    print_json(&f)?;
                } else {
                    print_peers(&f);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Http {
            clients,
            seconds,
            resumes,
            json,
            history,
        } => {
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
        BenchCommand::Isolation {
            steps,
            seconds,
            json,
        } => {
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
        "  resume -> next pause: p50 {:.0} µs, p99 {:.0} µs ({} resumes, one at a time, each then one until=settled long-poll)",
        f.resume_to_pause_p50_us,
        f.resume_to_pause_p99_us,
        f.resumes
    );
}
