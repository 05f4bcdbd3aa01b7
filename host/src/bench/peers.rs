//! `cairn bench peers`: the workloads Cairn is compared with its peers on
//! (Restate, Temporal, Obelisk), through the real HTTP API of a `cairn
//! serve` process, from clients in this process. The figures the README
//! quotes:
//! - durable steps/s: runs of 10 noop steps, `clients` in flight, each
//!   started (`POST`) and followed to its end with one `until=settled`
//!   long-poll;
//! - one run of 40 noop steps, start to completed;
//! - an approval chain: a decision sent, to the run paused at the next gate;
//! - the server's CPU time and resident memory, busy and with many runs
//!   paused;
//! - on SQLite, what the disk alone costs of the latency figures: bare
//!   SQLite commits of as many pages as a step's and a decision's commits
//!   write, in the same file system.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::cluster::{Memory, Serve, drive_runs, log_tail, metric, one_at_a_time, settle};
use super::http::{Client, Follow, approval_chain, create, percentile, start};

#[derive(Debug, Clone, serde::Serialize)]
pub struct PeersFigures {
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    pub runs: usize,
    pub steps_per_run: usize,
    pub clients: usize,
    pub seconds: f64,
    pub durable_steps_per_second: f64,
    pub run_p50_ms: f64,
    pub run_p99_ms: f64,
    /// The server's CPU time per durable step while busy, and its share
    /// of one core.
    pub server_cpu_us_per_step: f64,
    pub server_cpu_cores: f64,
    /// The server's resident memory once it started (its bundled plugins
    /// loaded), at the end of the busy phase, and at its peak.
    pub server_rss_idle_mib: f64,
    pub server_rss_busy_mib: f64,
    pub server_rss_peak_mib: f64,
    /// One run of 40 noop steps at a time: start to completed.
    pub sequential_40_steps_p50_ms: f64,
    pub sequential_40_steps_p99_ms: f64,
    /// A decision sent to a run paused at a gate, to the run paused at the
    /// next: the decision, then a long-poll read until the run settled.
    pub resumes: usize,
    pub resume_to_pause_p50_ms: f64,
    pub resume_to_pause_p99_ms: f64,
    /// The same, in one request: a decision that answers once the run
    /// settled (`?wait=...&until=settled`).
    pub resume_waiting_p50_ms: f64,
    pub resume_waiting_p99_ms: f64,
    /// Runs paused at a gate at once, and the server's resident memory
    /// then: all of it, and its heap and stacks alone.
    pub paused_runs: usize,
    pub paused_rss_mib: Option<f64>,
    pub paused_rss_anonymous_mib: Option<f64>,
    /// On SQLite, what the disk alone costs: a bare SQLite commit
    /// (`WAL`, `synchronous=FULL`, a file beside the server's) that
    /// changes 3 pages, as a sequential step's commit does (its run's row,
    /// its steps, its events), and one that changes 5, as each of a
    /// decision's two commits does (those three, the count of runs by
    /// status, and the index of unpaused runs, which the run enters or
    /// leaves).
    pub commit_3_pages_p50_us: Option<f64>,
    pub commit_5_pages_p50_us: Option<f64>,
    /// So much of the 40 steps (41 commits: the start, then one a step)
    /// and of a decision (2 commits) is the disk's, whatever the host does.
    pub sequential_40_steps_floor_ms: Option<f64>,
    pub resume_floor_ms: Option<f64>,
}

const MIB: f64 = 1024.0 * 1024.0;

/// How much of each workload to run.
#[derive(Debug, Clone, Copy)]
pub struct Workloads {
    /// Runs for the throughput figure, of `steps` noop steps each,
    /// `clients` in flight.
    pub runs: usize,
    pub steps: usize,
    pub clients: usize,
    /// Decisions measured in the approval chain.
    pub resumes: usize,
    /// Runs paused at once for the memory figure (0: none).
    pub paused: usize,
}

/// Runs the workloads against a fresh `cairn serve` on `database` (a
/// PostgreSQL URL), or on an SQLite file in a temporary data directory.
pub async fn peers(
    database: Option<&str>,
    workloads: Workloads,
    cache: Option<&Path>,
    wrapper: &[String],
) -> anyhow::Result<PeersFigures> {
    let dir = tempfile::tempdir()?;
    // The disk first, while nothing else runs.
    let floor = match database {
        Some(_) => None,
        None => {
            let file = dir.path().join("floor.sqlite");
            Some(tokio::task::spawn_blocking(move || commit_floor(&file)).await??)
        }
    };
    let data = dir.path().join("data");
    let serve = Serve::start_wrapped(database, &data, cache, wrapper)?;
    let measured = measure(&serve, &data, database, workloads, floor).await;
    drop(serve);
    measured.map_err(|error| match log_tail(&data) {
        tail if tail.is_empty() => error,
        tail => error.context(format!("the server's log ends:\n{tail}")),
    })
}

/// The p50 of bare SQLite commits, in µs.
#[derive(Clone, Copy)]
struct CommitFloor {
    three: f64,
    five: f64,
}

/// Commits that change 3 and 5 pages of a fresh SQLite file at `path`,
/// made with the server's settings.
fn commit_floor(path: &Path) -> anyhow::Result<CommitFloor> {
    const COMMITS: usize = 300;
    let file = crate::store::floor::BareFile::create(path)?;
    let p50 = |pages: usize| -> anyhow::Result<f64> {
        let mut times = (0..COMMITS)
            .map(|_| file.commit(pages))
            .collect::<Result<Vec<_>, _>>()?;
        times.sort();
        Ok(percentile(&times, 0.5))
    };
    Ok(CommitFloor {
        three: p50(3)?,
        five: p50(5)?,
    })
}

async fn measure(
    serve: &Serve,
    data: &Path,
    database: Option<&str>,
    workloads: Workloads,
    floor: Option<CommitFloor>,
) -> anyhow::Result<PeersFigures> {
    let Workloads {
        runs,
        steps,
        clients,
        resumes,
        paused,
    } = workloads;
    let address = serve.address;
    let rss_idle = serve.memory().rss;
    let key = match database {
        // A tenant of the measurement's own: the database may hold others'.
        Some(url) => {
            let store = crate::store::Store::connect(&crate::store::Database::Postgres {
                url: url.to_owned(),
            })?;
            let id = crate::clock::new_id();
            let key =
                crate::tenants::create_tenant(&store, &format!("peers-{}", &id[id.len() - 12..]))
                    .await;
            store.close();
            key?
        }
        None => std::fs::read_to_string(data.join("default-api-key"))
            .context("the server's default-api-key")?
            .trim()
            .to_owned(),
    };
    let mut setup = Client::connect(address, &key).await?;

    // Durable steps/s.
    let wide = create(&mut setup, super::noop_workflow("peers-wide", steps, false)).await?;
    // A few runs first, so that the plugin is compiled and loaded.
    for _ in 0..8 {
        let id = start(&mut setup, &wide).await?;
        settle(&mut setup, &id).await?;
    }
    let cpu_before = serve.cpu_seconds();
    let began = Instant::now();
    let latencies = drive_runs(&[address], &key, &wide, runs, clients).await?;
    let seconds = began.elapsed().as_secs_f64();
    let cpu = serve.cpu_seconds() - cpu_before;
    let busy = serve.memory();

    // 40 sequential steps.
    let long = create(&mut setup, super::noop_workflow("peers-long", 40, false)).await?;
    let mut follower = Client::connect(address, &key).await?;
    let sequential = one_at_a_time(&mut setup, &mut follower, &long, 20).await?;

    // An approval chain: each decision to the next pause.
    let gaps = approval_chain(&mut setup, resumes, Follow::Read).await?;
    let waited = approval_chain(&mut setup, resumes, Follow::Wait).await?;

    // Runs paused at once.
    let paused_rss = if paused > 0 {
        Some(hold_paused(serve, &key, clients, paused).await?)
    } else {
        None
    };

    let durable = (runs * steps) as f64;
    Ok(PeersFigures {
        database: if database.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        runs,
        steps_per_run: steps,
        clients,
        seconds,
        durable_steps_per_second: durable / seconds,
        run_p50_ms: percentile(&latencies, 0.5) / 1e3,
        run_p99_ms: percentile(&latencies, 0.99) / 1e3,
        server_cpu_us_per_step: cpu * 1e6 / durable,
        server_cpu_cores: cpu / seconds,
        server_rss_idle_mib: rss_idle as f64 / MIB,
        server_rss_busy_mib: busy.rss as f64 / MIB,
        server_rss_peak_mib: busy.peak as f64 / MIB,
        sequential_40_steps_p50_ms: percentile(&sequential, 0.5) / 1e3,
        sequential_40_steps_p99_ms: percentile(&sequential, 0.99) / 1e3,
        resumes: gaps.len(),
        resume_to_pause_p50_ms: percentile(&gaps, 0.5) / 1e3,
        resume_to_pause_p99_ms: percentile(&gaps, 0.99) / 1e3,
        resume_waiting_p50_ms: percentile(&waited, 0.5) / 1e3,
        resume_waiting_p99_ms: percentile(&waited, 0.99) / 1e3,
        paused_runs: paused,
        paused_rss_mib: paused_rss.map(|m| m.rss as f64 / MIB),
        paused_rss_anonymous_mib: paused_rss.map(|m| m.anonymous as f64 / MIB),
        commit_3_pages_p50_us: floor.map(|f| f.three),
        commit_5_pages_p50_us: floor.map(|f| f.five),
        sequential_40_steps_floor_ms: floor.map(|f| 41.0 * f.three / 1e3),
        resume_floor_ms: floor.map(|f| 2.0 * f.five / 1e3),
    })
}

/// Starts `count` runs that pause at a gate, `clients` at a time, waits
/// until the server counts them all paused, and returns its resident memory
/// once settled (the sample of least RSS over the last five).
async fn hold_paused(
    serve: &Serve,
    key: &str,
    clients: usize,
    count: usize,
) -> anyhow::Result<Memory> {
    let address = serve.address;
    let mut setup = Client::connect(address, key).await?;
    let gated = create(&mut setup, super::noop_workflow("peers-gated", 1, true)).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        let (key, gated, next) = (key.to_owned(), gated.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(address, &key).await?;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                start(&mut client, &gated).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let now = metric(address, key, "cairn_runs{status=\"paused\"} ").await?;
        if now as usize >= count {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {now} of {count} runs paused"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Settled: at least 3 s on, and no more than 1% apart over the last 2 s.
    let mut samples = vec![serve.memory()];
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push(serve.memory());
        let last = &samples[samples.len().saturating_sub(5)..];
        let (low, high) = (
            last.iter().min_by_key(|m| m.rss),
            last.iter().max_by_key(|m| m.rss),
        );
        if let (Some(low), Some(high)) = (low, high)
            && samples.len() > 6
            && high.rss as f64 <= low.rss as f64 * 1.01
        {
            return Ok(*low);
        }
    }
    Ok(samples.last().copied().unwrap_or_default())
}
