//! `cairn bench cluster`: several `cairn serve` processes on one PostgreSQL
//! database, driven through their HTTP API by clients in this process. Each
//! run is started through one host and followed to its end (an
//! `until=settled` long-poll) through another, so a figure also covers the
//! hints that carry a run's changes from host to host. Figures: durable
//! steps per second, a run's start-to-settled latency, and the database
//! transactions the hosts run, busy and idle (from their `/metrics`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::{Method, StatusCode};

use super::http::{Client, create, percentile, start};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterFigures {
    pub hosts: usize,
    pub runs: usize,
    pub steps_per_run: usize,
    pub clients: usize,
    pub seconds: f64,
    pub durable_steps_per_second: f64,
    pub run_p50_ms: f64,
    pub run_p99_ms: f64,
    /// A run of 40 noop steps alone, started through one host and followed
    /// through another: p50 of 10.
    pub sequential_40_steps_ms: f64,
    /// Database transactions of all hosts per second while busy.
    pub busy_transactions_per_second: f64,
    /// Database transactions per second of one idle host.
    pub idle_transactions_per_second_per_host: f64,
}

/// Where a measurement's server process writes its log: beside the data
/// directory, which several processes may share.
fn log_path(data: &Path) -> std::path::PathBuf {
    let id = crate::clock::new_id();
    data.with_file_name(format!("serve-{}.log", &id[id.len() - 12..]))
}

/// The last lines of the logs of the server processes over `data`, warnings
/// and errors only: what a failed measurement adds to its error.
pub(super) fn log_tail(data: &Path) -> String {
    let Some(dir) = data.parent() else {
        return String::new();
    };
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("serve-") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            lines.extend(
                text.lines()
                    .filter(|line| line.contains("WARN") || line.contains("ERROR"))
                    .map(str::to_owned),
            );
        }
    }
    let from = lines.len().saturating_sub(10);
    lines[from..].join("\n")
}

/// One `cairn serve` process.
pub(super) struct Serve {
    child: Child,
    pub(super) address: SocketAddr,
}

impl Serve {
    /// Starts `cairn serve` (this binary) over the `data` directory, on the
    /// PostgreSQL database at `url`, or on the directory's SQLite file.
    pub(super) fn start(
        url: Option<&str>,
        data: &Path,
        cache: Option<&Path>,
    ) -> anyhow::Result<Serve> {
        Self::start_wrapped(url, data, cache, &[])
    }

    /// [`Serve::start`] under a wrapper command (a profiler: `perf record
    /// -g --`, `heaptrack`); the process figures are then the wrapper's.
    pub(super) fn start_wrapped(
        url: Option<&str>,
        data: &Path,
        cache: Option<&Path>,
        wrapper: &[String],
    ) -> anyhow::Result<Serve> {
        let exe = std::env::current_exe()?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        // Without a URL, SQLite in `data`, whatever database the caller's
        // environment names.
        match url {
            Some(url) => command.env("CAIRN_DATABASE", url),
            None => command.env_remove("CAIRN_DATABASE"),
        };
        // A group of its own, which the stop signals as one.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CAIRN_DATA_DIR", data)
            .env("CAIRN_PLUGINS_DIR", data.join("no-plugins"))
            .env("CAIRN_MAX_ACTIVE_RUNS_PER_TENANT", "1000000")
            .stdout(Stdio::piped())
            // Its log, for a failed measurement to show.
            .stderr(match std::fs::File::create(log_path(data)) {
                Ok(file) => Stdio::from(file),
                Err(_) => Stdio::null(),
            });
        if let Some(cache) = cache {
            command.env("CAIRN_CACHE_DIR", cache);
        }
        let mut child = command.spawn().context("cannot start cairn serve")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let Some(line) = lines.next() else {
                anyhow::bail!("cairn serve ended before it listened");
            };
            if let Some(url) = line?.strip_prefix("cairn listening on http://") {
                break url.parse().context("the listening address")?;
            }
        };
        Ok(Serve { child, address })
    }

    /// The process's CPU time so far (user and system), from `/proc`.
    pub(super) fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command's name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
        let ticks = |at: usize| {
            fields
                .get(at)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // SAFETY: sysconf reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / per_second
    }

    /// The process's resident memory now, and at its peak (`/proc`).
    pub(super) fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| super::status_bytes(&status, name);
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
            anonymous: field("RssAnon:"),
        }
    }
}

/// A process's resident memory, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Memory {
    /// All of it: the heap, and the pages of files it maps.
    pub rss: u64,
    /// The most it has been.
    pub peak: u64,
    /// The heap and stacks alone (`RssAnon`). The rest is mostly the
    /// binary's code, of which the kernel maps as much as the page cache
    /// holds around each page touched, so it varies with what ran before.
    pub anonymous: u64,
}

impl Drop for Serve {
    /// A graceful stop (SIGTERM), so the host ends its lease.
    fn drop(&mut self) {
        // SAFETY: sends a signal to the process group of a child this
        // process started (the server, and a wrapper's too).
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// `hosts` processes on the database at `url`; `runs` runs of `steps` noop
/// steps, `clients` at a time.
pub async fn cluster(
    url: &str,
    hosts: usize,
    runs: usize,
    steps: usize,
    clients: usize,
    cache: Option<&Path>,
) -> anyhow::Result<ClusterFigures> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // One after the other: the first makes the key files the others read.
    let mut serves = Vec::with_capacity(hosts);
    for _ in 0..hosts.max(1) {
        serves.push(Serve::start(Some(url), &data, cache)?);
    }
    // A tenant of the measurement's own: the database may hold others'.
    let store = crate::store::Store::connect(&crate::store::Database::Postgres {
        url: url.to_owned(),
    })?;
    let id = crate::clock::new_id();
    let tenant = format!("bench-{}", &id[id.len() - 12..]);
    let key = crate::tenants::create_tenant(&store, &tenant).await;
    store.close();
    let key = key?;
    let mut first = Client::connect(serves[0].address, &key).await?;
    let workflow = create(&mut first, super::noop_workflow("cluster", steps, false)).await?;
    let addresses: Vec<SocketAddr> = serves.iter().map(|s| s.address).collect();

    let transactions = || async {
        let mut total = 0.0;
        for address in &addresses {
            total += Serve::transactions_at(*address, &key).await?;
        }
        anyhow::Ok(total)
    };
    let busy_before = transactions().await?;
    let started = Instant::now();
    let latencies = drive_runs(&addresses, &key, &workflow, runs, clients).await?;
    let seconds = started.elapsed().as_secs_f64();
    let busy_after = transactions().await?;

    let long = create(&mut first, super::noop_workflow("cluster-long", 40, false)).await?;
    let mut follower = Client::connect(addresses[1 % addresses.len()], &key).await?;
    let sequential = one_at_a_time(&mut first, &mut follower, &long, 10).await?;

    // Idle: what hosts with nothing to do ask of the database.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_before = transactions().await?;
    let idle = Duration::from_secs(10);
    tokio::time::sleep(idle).await;
    let idle_after = transactions().await?;
    drop(serves);
    Ok(ClusterFigures {
        hosts,
        runs,
        steps_per_run: steps,
        clients,
        seconds,
        durable_steps_per_second: (runs * steps) as f64 / seconds,
        run_p50_ms: percentile(&latencies, 0.5) / 1e3,
        run_p99_ms: percentile(&latencies, 0.99) / 1e3,
        sequential_40_steps_ms: percentile(&sequential, 0.5) / 1e3,
        busy_transactions_per_second: (busy_after - busy_before) / seconds,
        idle_transactions_per_second_per_host: (idle_after - idle_before)
            / idle.as_secs_f64()
            / hosts.max(1) as f64,
    })
}

impl Serve {
    /// The database transactions so far of the host at `address`
    /// (`cairn_database_transactions_total`, which counts the scrape too).
    async fn transactions_at(address: SocketAddr, key: &str) -> anyhow::Result<f64> {
        metric(address, key, "cairn_database_transactions_total ").await
    }
}

/// A figure of the host's `/metrics` at `address`: the value on the line
/// that starts with `name` (a metric's name and labels).
pub(super) async fn metric(address: SocketAddr, key: &str, name: &str) -> anyhow::Result<f64> {
    let mut client = Client::connect(address, key).await?;
    let (status, body) = client.call(Method::GET, "/metrics", None).await?;
    anyhow::ensure!(status == StatusCode::OK, "/metrics: {status}");
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .with_context(|| format!("no {} in /metrics", name.trim()))?
        .trim()
        .parse()
        .with_context(|| name.trim().to_owned())
}

/// Runs `runs` runs of `workflow`, `clients` at a time, each client with a
/// connection to a host to start runs through and one to follow them
/// through (the next host, when there are several); returns each run's
/// start-to-completed time, sorted.
pub(super) async fn drive_runs(
    addresses: &[SocketAddr],
    key: &str,
    workflow: &str,
    runs: usize,
    clients: usize,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients.max(1) {
        let starts = addresses[c % addresses.len()];
        let follows = addresses[(c + 1) % addresses.len()];
        let (key, workflow, next) = (key.to_owned(), workflow.to_owned(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut starter = Client::connect(starts, &key).await?;
            let mut follower = Client::connect(follows, &key).await?;
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < runs {
                let began = Instant::now();
                let id = start(&mut starter, &workflow).await?;
                settle(&mut follower, &id).await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(runs);
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort();
    Ok(latencies)
}

/// `count` runs of `workflow`, one at a time, started through `starter` and
/// followed through `follower`; each run's start-to-completed time, sorted.
pub(super) async fn one_at_a_time(
    starter: &mut Client,
    follower: &mut Client,
    workflow: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        let id = start(starter, workflow).await?;
        settle(follower, &id).await?;
        times.push(began.elapsed());
    }
    times.sort();
    Ok(times)
}

/// Long-polls run `id` through `client` until it completed.
pub(super) async fn settle(client: &mut Client, id: &str) -> anyhow::Result<()> {
    loop {
        let view = client
            .json(
                Method::GET,
                &format!("/v1/runs/{id}?until=settled&wait=60s"),
                None,
                StatusCode::OK,
            )
            .await?;
        match view["status"].as_str() {
            Some("completed") => return Ok(()),
            Some("pending" | "running") => continue,
            other => anyhow::bail!("run {id} ended {other:?}: {view}"),
        }
    }
}
