//! `cairn batches`: one run of a workflow per input, started all at once.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::exit::{Class, failure};
use super::output::{show, text, when};
use super::read_json;
use super::remote::{Body, Remote, segment};

#[derive(Subcommand)]
pub enum BatchesCommand {
    /// Start one run of a workflow (by id or name) per input: all of them, or none.
    Start {
        /// The workflow's id or name.
        workflow: String,
        /// A JSON file holding the inputs: an array, one run's input per item.
        #[arg(long)]
        inputs: PathBuf,
        /// Starts the batch at most once: the same key and inputs answer the
        /// batch started the first time.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// A batch's progress: total, completed, failed, unfinished.
    Show {
        /// The batch's id.
        batch: String,
    },
    /// Cancel a batch's unfinished runs.
    Cancel {
        /// The batch's id.
        batch: String,
    },
}

pub async fn run(remote: &Remote, command: BatchesCommand, json: bool) -> anyhow::Result<ExitCode> {
    let batch = match command {
        BatchesCommand::Start {
            workflow,
            inputs,
            idempotency_key,
        } => {
            let Value::Array(items) = read_json(&inputs)? else {
                return Err(failure(
                    Class::Usage,
                    format!("{} must hold a JSON array of inputs", inputs.display()),
                ));
            };
            let path = format!("/v1/workflows/{}/batches", segment(&workflow));
            let headers: Vec<(&str, String)> = idempotency_key
                .map(|key| ("idempotency-key", key))
                .into_iter()
                .collect();
            let body = json!({ "inputs": items });
            remote
                .ok_with("POST", &path, Body::Json(&body), &headers)
                .await?
        }
        BatchesCommand::Show { batch } => {
            remote
                .get(&format!("/v1/batches/{}", segment(&batch)))
                .await?
        }
        BatchesCommand::Cancel { batch } => {
            let path = format!("/v1/batches/{}/cancel", segment(&batch));
            remote.post(&path, &json!({})).await?
        }
    };
    show(json, &batch, readable)?;
    Ok(ExitCode::SUCCESS)
}

fn readable(batch: &Value) {
    let progress = &batch["progress"];
    say!(
        "Batch {} of workflow {}: {}, started {}",
        text(&batch["id"]),
        text(&batch["workflow_id"]),
        text(&batch["status"]),
        when(&batch["created_at"])
    );
    say!(
        "{} runs: {} completed, {} failed, {} unfinished",
        progress["total"],
        progress["completed"],
        progress["failed"],
        progress["unfinished"]
    );
}
