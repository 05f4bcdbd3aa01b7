//! `cairn workflows`: a server's workflows. A workflow is named by its id or
//! its name wherever one is asked for.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn::workflow::{WorkflowDefinition, readable_steps};
use clap::Subcommand;
use serde_json::{Value, json};

use super::exit::{Class, failure};
use super::output::{number, show, table, text, when};
use super::read_json;
use super::remote::{Body, Remote, segment};

#[derive(Subcommand)]
pub enum WorkflowsCommand {
    /// The tenant's workflows: status, steps, schedule, latest run.
    List,
    /// One workflow: its steps, schedule and recent runs.
    Show {
        /// The workflow's id or name.
        workflow: String,
    },
    /// Create the workflow a definition file describes, or, when a workflow
    /// of that name exists, save the file as its new version.
    Apply {
        /// The workflow definition (a JSON file).
        file: PathBuf,
        /// Make it active, so that it can start runs (a new workflow is
        /// otherwise a draft; a new version keeps the workflow's status).
        #[arg(long)]
        activate: bool,
    },
    /// Let the workflow start runs (for a planned draft: approve its plan).
    Activate {
        /// The workflow's id or name.
        workflow: String,
    },
    /// Stop the workflow from starting runs; its runs carry on.
    Archive {
        /// The workflow's id or name.
        workflow: String,
    },
}

pub async fn run(
    remote: &Remote,
    command: WorkflowsCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        WorkflowsCommand::List => {
            let list = remote.get("/v1/workflows").await?;
            show(json, &list, |list| {
                let rows = list["workflows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| {
                        vec![
                            text(&w["name"]),
                            text(&w["status"]),
                            w["step_count"].to_string(),
                            schedule(w),
                            latest_run(&w["latest_run"]),
                            text(&w["id"]),
                        ]
                    })
                    .collect();
                table(
                    &["NAME", "STATUS", "STEPS", "SCHEDULE", "LATEST RUN", "ID"],
                    rows,
                    "No workflows.",
                );
            })?;
        }
        WorkflowsCommand::Show { workflow } => {
            let body = remote
                .get(&format!("/v1/workflows/{}", segment(&workflow)))
                .await?;
            show(json, &body, readable)?;
        }
        WorkflowsCommand::Apply { file, activate } => {
            let definition = read_json(&file)?;
            let name = definition["name"].as_str().unwrap_or_default().to_owned();
            let existing = existing(remote, &name).await?;
            let saved = match &existing {
                Some(id) => {
                    let path = format!("/v1/workflows/{}", segment(id));
                    let body = json!({ "definition": definition });
                    let saved = remote.ok("PUT", &path, Body::Json(&body)).await?;
                    if activate && saved["status"] != "active" {
                        remote.post(&format!("{path}/activate"), &json!({})).await?
                    } else {
                        saved
                    }
                }
                None => {
                    let status = if activate { "active" } else { "draft" };
                    let body = json!({ "definition": definition, "status": status });
                    remote.post("/v1/workflows", &body).await?
                }
            };
            show(json, &saved, |saved| {
                let verb = if existing.is_some() {
                    format!("Saved version {} of", saved["version"])
                } else {
                    "Created".to_owned()
                };
                say!(
                    "{verb} workflow {} ({}), {}.",
                    text(&saved["name"]),
                    text(&saved["id"]),
                    text(&saved["status"])
                );
                for warning in saved["warnings"].as_array().into_iter().flatten() {
                    say!(
                        "warning: {}: {}",
                        text(&warning["path"]),
                        text(&warning["message"])
                    );
                }
            })?;
        }
        WorkflowsCommand::Activate { workflow } => {
            set_status(remote, &workflow, "activate", json).await?;
        }
        WorkflowsCommand::Archive { workflow } => {
            set_status(remote, &workflow, "archive", json).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `POST /v1/workflows/{workflow}/{action}`, and what the workflow is now.
async fn set_status(
    remote: &Remote,
    workflow: &str,
    action: &str,
    json: bool,
) -> anyhow::Result<()> {
    let path = format!("/v1/workflows/{}/{action}", segment(workflow));
    let saved = remote.post(&path, &json!({})).await?;
    show(json, &saved, |saved| {
        say!(
            "Workflow {} ({}) is {}.",
            text(&saved["name"]),
            text(&saved["id"]),
            text(&saved["status"])
        );
    })
}

/// The id of the workflow `reference` (an id or a name), as the server
/// resolves it.
pub async fn id_of(remote: &Remote, reference: &str) -> anyhow::Result<String> {
    let found = remote
        .get(&format!("/v1/workflows/{}", segment(reference)))
        .await?;
    Ok(text(&found["id"]))
}

/// The id of the unarchived workflow called `name`, if there is one.
async fn existing(remote: &Remote, name: &str) -> anyhow::Result<Option<String>> {
    let list = remote.get("/v1/workflows").await?;
    let named: Vec<&Value> = list["workflows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["name"] == name && w["status"] != "archived")
        .collect();
    match named.as_slice() {
        [] => Ok(None),
        [one] => Ok(one["id"].as_str().map(str::to_owned)),
        several => Err(failure(
            Class::Conflict,
            format!(
                "{} workflows are named '{name}': update one by id with the API",
                several.len()
            ),
        )),
    }
}

fn schedule(workflow: &Value) -> String {
    let schedule = &workflow["schedule"];
    let Some(cron) = schedule["cron"].as_str() else {
        return "-".to_owned();
    };
    if schedule["paused"] == true {
        return format!("{cron} (paused)");
    }
    match schedule["next_fire"].as_str() {
        Some(_) => format!("{cron}, next {}", when(&schedule["next_fire"])),
        None => cron.to_owned(),
    }
}

fn latest_run(run: &Value) -> String {
    if run.is_null() {
        return "-".to_owned();
    }
    format!(
        "{} {} {}",
        number(run),
        text(&run["status"]),
        when(&run["created_at"])
    )
}

/// A workflow as a person reads it.
fn readable(workflow: &Value) {
    say!(
        "{} ({}), {}, version {}",
        text(&workflow["name"]),
        text(&workflow["id"]),
        text(&workflow["status"]),
        workflow["version"]
    );
    if let Some(description) = workflow["description"].as_str() {
        say!("{description}");
    }
    match WorkflowDefinition::from_value(workflow["definition"].clone()) {
        Ok(definition) => {
            say!("Steps:");
            for line in readable_steps(&definition) {
                say!("  {line}");
            }
        }
        Err(problem) => say!("The definition does not parse here: {}", problem.message),
    }
    if !workflow["schedule"].is_null() {
        let zone = workflow["schedule"]["timezone"].as_str().unwrap_or("UTC");
        say!("Schedule: {} ({zone})", schedule(workflow));
    }
    let runs: Vec<Vec<String>> = workflow["recent_runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| {
            vec![
                number(run),
                text(&run["status"]),
                when(&run["created_at"]),
                text(&run["id"]),
            ]
        })
        .collect();
    if !runs.is_empty() {
        say!("Recent runs:");
    }
    table(&["RUN", "STATUS", "STARTED", "ID"], runs, "No runs yet.");
}
