//! `cairn run`, `resume`, `show` and `recover`: workflows on the embedded
//! database, without a server. Their exit codes follow the remote ones.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cairn::host::{Host, HostConfig};
use cairn::run::{ErrorReason, RunStatus};
use cairn::runner::{Actor, RunError, RunView};
use cairn::store::{Store, WorkflowStatus};
use serde_json::{Value, json};

use super::{exit, parse_json, parse_wait, print_json, read_json};

pub async fn run_workflow(
    data_dir: &Path,
    workflow: &Path,
    input: &str,
    plugins_dir: PathBuf,
    wait: &str,
    runs: usize,
) -> anyhow::Result<ExitCode> {
    let definition = read_json(workflow)?;
    let input = parse_json("--input", input)?;
    let wait = parse_wait(wait)?;
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
            return Ok(ExitCode::from(exit::Class::Usage as u8));
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
                .wait_until_state(Some(LOCAL_TENANT), id, wait, |status, _| {
                    status.is_settled()
                })
                .await?,
        );
    }
    host.stop();
    if views.len() == 1 {
        print_json(&views[0])?;
    } else {
        print_json(&views)?;
    }
    // With several runs: the first that did not complete says the code.
    Ok(views
        .iter()
        .find(|view| view.status != RunStatus::Completed)
        .map_or(ExitCode::SUCCESS, exit_code))
}

/// The exit code for where a local run stopped: paused is 3, since nobody
/// can decide while this command waits.
fn exit_code(view: &RunView) -> ExitCode {
    let timed_out = view
        .error
        .as_ref()
        .is_some_and(|error| error.reason == ErrorReason::TimedOut);
    exit::of_run(view.status, timed_out)
}

pub async fn recover(
    data_dir: &Path,
    plugins_dir: PathBuf,
    wait: &str,
) -> anyhow::Result<ExitCode> {
    let wait = parse_wait(wait)?;
    let host = local_host(data_dir, plugins_dir).await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = host.runner.subscribe();
    loop {
        let unfinished = host.store.reading(|c| c.unpaused_run_ids())?;
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
    let counts = host.runner.run_counts()?;
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
    config.database = super::database_url();
    config.plugins_dir = Some(plugins_dir);
    // Schedules are the server's to run.
    config.runner.schedules = false;
    Host::start(config).await
}

/// The tenant of local, command-line runs.
const LOCAL_TENANT: &str = "default";

pub async fn resume(
    data_dir: &Path,
    run: String,
    step: String,
    decision: String,
    plugins_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let decision = parse_json("--decision", &decision)?;
    let host = local_host(data_dir, plugins_dir).await?;
    let resumed = host
        .runner
        .resume(LOCAL_TENANT, &run, &step, decision, Actor::api("cli"))
        .await;
    let view = match resumed {
        Ok(_) => {
            host.runner
                .wait_until_state(
                    Some(LOCAL_TENANT),
                    &run,
                    Duration::from_secs(600),
                    |status, _| status.is_settled(),
                )
                .await?
        }
        Err(e) => {
            host.stop();
            return Err(exit::failure(
                exit::Class::of_refusal(&e),
                format!("cannot resume run {run}: {e}"),
            ));
        }
    };
    host.stop();
    print_json(&view)?;
    Ok(exit_code(&view))
}

pub async fn show(data_dir: &Path, run: String, events: bool) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&super::database(data_dir))?;
    if events {
        let events = store
            .reading(|c| {
                c.get_run(Some(LOCAL_TENANT), &run)?;
                c.get_events(&run, 0)
            })
            .with_context(|| format!("run {run}"))?;
        print_json(&events)?;
    } else {
        let (record, steps) = store
            .reading(|c| Ok((c.get_run(Some(LOCAL_TENANT), &run)?, c.get_steps(&run)?)))
            .with_context(|| format!("run {run}"))?;
        print_json(&RunView::new(&record, &steps, None))?;
    }
    Ok(ExitCode::SUCCESS)
}
