//! `cairn runs`: a server's runs. `start --follow` and `watch` follow a run
//! live (`watch.rs`); the exit code says how it ended.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::exit::{Class, failure};
use super::output::{number, short, show, table, text, when};
use super::read_json;
use super::remote::{Body, Remote, query, segment};
use super::watch::watch;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// The tenant's runs, newest first.
    List {
        /// Only this workflow's runs (its id or name).
        #[arg(long)]
        workflow: Option<String>,
        /// Only runs with this status (pending, running, paused, completed,
        /// failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// How many (1 to 200).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run: status, progress, steps, what it waits for, result or error.
    Show {
        /// The run's id.
        run: String,
    },
    /// Start a run of a workflow (by id or name).
    Start {
        /// The workflow's id or name.
        workflow: String,
        #[command(flatten)]
        input: InputArgs,
        /// Starts the run at most once: the same key and input answer the
        /// run started the first time.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Resume a paused run with a decision.
    Resume {
        /// The run's id.
        run: String,
        #[command(flatten)]
        decision: DecisionArgs,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Cancel a pending, running or paused run.
    Cancel {
        /// The run's id.
        run: String,
    },
    /// Follow a run live: a progress bar, each step as it finishes, what it
    /// waits for when it pauses; the exit code says how it ended.
    Watch {
        /// The run's id.
        run: String,
        /// Stop when the run pauses (exit code 3) instead of waiting for a decision.
        #[arg(long)]
        until_paused: bool,
    },
}

#[derive(Args)]
pub struct InputArgs {
    /// The run's input (JSON; `@FILE`: a file's; `-`: standard input's).
    #[arg(long, default_value = "{}", conflicts_with = "input_file")]
    input: String,
    /// The run's input, from a JSON file.
    #[arg(long)]
    input_file: Option<PathBuf>,
}

impl InputArgs {
    pub fn value(&self) -> anyhow::Result<Value> {
        match &self.input_file {
            Some(file) => read_json(file),
            None => super::parse_json("--input", &self.input),
        }
    }
}

#[derive(Args)]
pub struct FollowArgs {
    /// Then follow the run, as `cairn runs watch` does.
    #[arg(long)]
    follow: bool,
    /// With --follow: stop when the run pauses (exit code 3).
    #[arg(long, requires = "follow")]
    until_paused: bool,
}

#[derive(Args)]
pub struct DecisionArgs {
    /// The decision: one of the pending action's options (`approve`), or
    /// JSON its input schema accepts (`@FILE`: a file's; `-`: standard input's).
    #[arg(long)]
    pub decision: String,
    /// A note recorded with the decision (with an option).
    #[arg(long)]
    pub note: Option<String>,
    /// The step the run waits at [default: the one step it waits at].
    #[arg(long)]
    pub step: Option<String>,
}

pub async fn run(remote: &Remote, command: RunsCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        RunsCommand::List {
            workflow,
            status,
            limit,
        } => list(remote, workflow, status, limit, json).await,
        RunsCommand::Show { run } => {
            let view = remote.get(&format!("/v1/runs/{}", segment(&run))).await?;
            show(json, &view, readable)?;
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Start {
            workflow,
            input,
            idempotency_key,
            follow,
        } => {
            let path = format!("/v1/workflows/{}/runs", segment(&workflow));
            let body = json!({ "input": input.value()? });
            let headers: Vec<(&str, String)> = idempotency_key
                .map(|key| ("idempotency-key", key))
                .into_iter()
                .collect();
            let view = remote
                .ok_with("POST", &path, Body::Json(&body), &headers)
                .await?;
            let id = text(&view["id"]);
            if follow.follow {
                return watch(remote, &id, follow.until_paused, json).await;
            }
            show(json, &view, |view| {
                say!("Started run {} of {workflow}: {id}", number(view));
            })?;
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Resume {
            run,
            decision,
            follow,
        } => {
            let view = resume(remote, &run, decision).await?;
            if follow.follow {
                return watch(remote, &run, follow.until_paused, json).await;
            }
            show(json, &view, |view| {
                say!("Resumed run {run}: now {}.", text(&view["status"]));
            })?;
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Cancel { run } => {
            let path = format!("/v1/runs/{}/cancel", segment(&run));
            let view = remote.post(&path, &json!({})).await?;
            show(json, &view, |_| say!("Cancelled run {run}."))?;
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Watch { run, until_paused } => watch(remote, &run, until_paused, json).await,
    }
}

async fn list(
    remote: &Remote,
    workflow: Option<String>,
    status: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let workflows = remote.get("/v1/workflows").await?;
    let mut pairs = vec![("limit", limit.to_string())];
    if let Some(workflow) = workflow {
        pairs.push((
            "workflow_id",
            super::workflows::id_of(remote, &workflow).await?,
        ));
    }
    if let Some(status) = status {
        pairs.push(("status", status));
    }
    let page = remote.get(&format!("/v1/runs{}", query(&pairs))).await?;
    show(json, &page, |page| {
        let name_of = |id: &Value| {
            workflows["workflows"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|w| &w["id"] == id)
                .map_or_else(|| text(id), |w| text(&w["name"]))
        };
        let rows = page["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|run| {
                vec![
                    name_of(&run["workflow_id"]),
                    number(run),
                    text(&run["status"]),
                    format!("{}%", run["progress"]["percent"]),
                    when(&run["created_at"]),
                    text(&run["id"]),
                ]
            })
            .collect();
        table(
            &["WORKFLOW", "RUN", "STATUS", "DONE", "STARTED", "ID"],
            rows,
            "No runs.",
        );
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resumes `run` with a decision; the run as the server answers.
pub async fn resume(remote: &Remote, run: &str, decision: DecisionArgs) -> anyhow::Result<Value> {
    let step = match decision.step {
        Some(step) => step,
        None => {
            let view = remote.get(&format!("/v1/runs/{}", segment(run))).await?;
            the_waiting_step(&view)?
        }
    };
    // A bare word is an option; anything that parses as JSON (from the
    // flag, `@FILE` or `-`) is sent as is.
    let value = match decision.decision.as_str() {
        "-" => super::parse_json("--decision", "-")?,
        file if file.starts_with('@') => super::parse_json("--decision", file)?,
        word => {
            serde_json::from_str::<Value>(word).unwrap_or_else(|_| Value::String(word.to_owned()))
        }
    };
    let input = match decision.note {
        Some(note) => json!({ "decision": value, "note": note }),
        None => value,
    };
    let path = format!("/v1/runs/{}/resume", segment(run));
    remote
        .post(&path, &json!({ "step": step, "input": input }))
        .await
}

/// The step a run waits at, when it waits at exactly one.
fn the_waiting_step(view: &Value) -> anyhow::Result<String> {
    let waiting: Vec<String> = view["pending_actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|action| text(&action["step"]))
        .collect();
    match waiting.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(failure(
            Class::Conflict,
            format!(
                "run {} is {}, not waiting for a decision",
                text(&view["id"]),
                text(&view["status"])
            ),
        )),
        several => Err(failure(
            Class::Usage,
            format!(
                "run {} waits at {} steps ({}): say which with --step",
                text(&view["id"]),
                several.len(),
                several.join(", ")
            ),
        )),
    }
}

/// A run as a person reads it.
pub fn readable(view: &Value) {
    say!(
        "Run {} ({}): {}, {}% done",
        number(view),
        text(&view["id"]),
        text(&view["status"]),
        view["progress"]["percent"]
    );
    say!(
        "Workflow {} version {}, started {}",
        text(&view["workflow_id"]),
        view["workflow_version"],
        when(&view["created_at"])
    );
    if let Some(action) = view["progress"]["current_action"].as_str() {
        say!("Now: {action}");
    }
    let rows = view["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|step| {
            let detail = if let Some(message) = step["error"]["message"].as_str() {
                message.to_owned()
            } else if let Some(output) = step.get("output") {
                short(output, 60)
            } else {
                String::new()
            };
            vec![
                text(&step["name"]),
                text(&step["status"]),
                step["attempts"].to_string(),
                detail,
            ]
        })
        .collect();
    table(&["STEP", "STATUS", "ATTEMPTS", "OUTPUT OR ERROR"], rows, "");
    print_pending(view);
    if !view["result"].is_null() {
        say!("Result: {}", view["result"]);
    }
    if !view["error"].is_null() {
        say!(
            "Error ({}): {}",
            text(&view["error"]["reason"]),
            text(&view["error"]["message"])
        );
    }
}

/// What a paused run waits for, and the command that resumes it.
pub fn print_pending(view: &Value) {
    let run = text(&view["id"]);
    for action in view["pending_actions"].as_array().into_iter().flatten() {
        let step = text(&action["step"]);
        say!(
            "Waiting at {step} ({}): {}",
            text(&action["kind"]),
            text(&action["message"])
        );
        if !action["data"].is_null() {
            say!("  Data: {}", short(&action["data"], 200));
        }
        if let Some(required) = action["required"].as_u64() {
            say!("  Approvals: {} of {required}", action["approvals"]);
        }
        let options: Vec<String> = action["options"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        if options.is_empty() {
            if let Some(schema) = action.get("input_schema").filter(|s| !s.is_null()) {
                say!("  Input schema: {schema}");
            }
            say!("  Resume: cairn runs resume {run} --step {step} --decision '<JSON>'");
        } else {
            for option in options {
                say!("  Resume: cairn runs resume {run} --step {step} --decision {option}");
            }
        }
    }
    if view["waiting_steps"].as_u64().unwrap_or(0)
        > view["pending_actions"]
            .as_array()
            .map_or(0, |a| a.len() as u64)
    {
        say!("(and more: {} steps wait in all)", view["waiting_steps"]);
    }
}
